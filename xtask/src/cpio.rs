//! A writer for the cpio "newc" format (the Linux initramfs format), just enough for the initrd.

/// One archive member.
pub struct Entry {
    name: String,
    mode: u32,
    data: Vec<u8>,
}

impl Entry {
    /// A regular file with permission bits `perm`.
    pub fn file(name: String, perm: u32, data: Vec<u8>) -> Self {
        Entry {
            name,
            mode: 0o100000 | (perm & 0o7777),
            data,
        }
    }
}

/// The archive bytes: each entry, then the `TRAILER!!!` record.
pub fn archive(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        member(&mut out, i as u32 + 1, e.mode, &e.name, &e.data);
    }
    member(&mut out, 0, 0, "TRAILER!!!", &[]);
    out
}

fn member(out: &mut Vec<u8>, ino: u32, mode: u32, name: &str, data: &[u8]) {
    let fields = [
        ino,
        mode,
        0,                     // uid
        0,                     // gid
        1,                     // nlink
        0,                     // mtime: fixed, so the archive is reproducible
        data.len() as u32,     // filesize
        0,                     // devmajor
        0,                     // devminor
        0,                     // rdevmajor
        0,                     // rdevminor
        name.len() as u32 + 1, // namesize, with the NUL
        0,                     // check
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_and_alignment() {
        let a = archive(&[Entry::file("bin/x".into(), 0o755, b"abc".to_vec())]);
        assert_eq!(&a[..6], b"070701");
        // mode of the first member
        assert_eq!(&a[14..22], b"000081ed");
        // filesize
        assert_eq!(&a[54..62], b"00000003");
        // namesize = 6 ("bin/x" + NUL)
        assert_eq!(&a[94..102], b"00000006");
        // name at 110, padded to 116, then the data
        assert_eq!(&a[110..115], b"bin/x");
        assert_eq!(&a[116..119], b"abc");
        assert_eq!(a.len() % 4, 0);
        assert!(a.windows(10).any(|w| w == b"TRAILER!!!"));
    }
}
