//! The initrd reader: the "newc" cpio format (Linux initramfs, `cpio -H newc`), strictly.
//!
//! The initrd `cargo xtask build` makes (`xtask/src/cpio.rs`) holds the ring-3 programs as
//! `bin/NAME` and the scenario files as `scenarios/NAME`. The kernel gets it as a PVH module:
//! untrusted bytes, as far as this module is concerned.
//!
//! # Format
//!
//! A sequence of members, each starting at a 4-byte-aligned offset:
//!
//! ```text
//! offset  size  field
//!      0     6  magic "070701"
//!      6  13×8  ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor
//!               namesize check — each 8 hexadecimal digits
//!    110  namesize  the path, NUL-terminated (namesize counts the NUL)
//!               NUL padding to a multiple of 4
//!               filesize bytes of data, NUL padding to a multiple of 4
//! ```
//!
//! The member named `TRAILER!!!` ends the archive; only NUL bytes may follow it (tools pad
//! archives to 512-byte blocks).
//!
//! # What "strict" means here
//!
//! [`Archive::parse`] walks the whole archive once and rejects, with the offset and the
//! reason ([`Error`]), anything that is not exactly that: a wrong magic (the CRC variant
//! "070702" and the old binary and "odc" formats included), a header field that is not 8
//! hex digits, a name that is empty, not NUL-terminated, contains a NUL, or is not UTF-8, a
//! name or data range beyond the end, non-NUL padding, a missing trailer, and non-NUL bytes
//! after it. The `check` field is not verified (it is 0 in newc archives, and Linux ignores
//! it too). Concatenated archives (Linux accepts several, separated by NUL padding) are not
//! supported: lwpvm's initrd is one archive.
//!
//! After a successful parse, iteration ([`Archive::entries`]) and lookup ([`Archive::find`])
//! cannot fail. No input makes this module panic or index out of bounds; the tests feed it
//! every truncation and thousands of corruptions of a valid archive.
//!
//! # Paths
//!
//! Names are compared after removing leading `/` and `./` (so `bin/init`, `/bin/init` and
//! `./bin/init` are the same path). When a path occurs twice, the later member wins, as when
//! Linux unpacks an initramfs.

use core::fmt;

/// The newc magic.
pub const MAGIC: &[u8; 6] = b"070701";
/// The magic of the CRC variant, recognised only to name it in the error.
pub const MAGIC_CRC: &[u8; 6] = b"070702";
/// Header size: the magic and 13 fields of 8 hex digits.
pub const HEADER_LEN: usize = 110;
/// The name of the member that ends the archive.
pub const TRAILER: &str = "TRAILER!!!";

/// Names of the 13 header fields, in order (for error messages).
const FIELDS: [&str; 13] = [
    "ino",
    "mode",
    "uid",
    "gid",
    "nlink",
    "mtime",
    "filesize",
    "devmajor",
    "devminor",
    "rdevmajor",
    "rdevminor",
    "namesize",
    "check",
];

/// Why an archive was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Fewer than [`HEADER_LEN`] bytes left where a header should start.
    TruncatedHeader,
    /// The header does not start with "070701".
    BadMagic,
    /// The CRC variant "070702" (not produced by lwpvm's tools).
    CrcFormat,
    /// A header field is not 8 hexadecimal digits.
    BadField(&'static str),
    /// `namesize` is 0: the name lacks even its NUL.
    EmptyName,
    /// The name extends past the end of the archive.
    NameOutOfBounds,
    /// The last byte of the name is not NUL.
    NameNotTerminated,
    /// The name contains a NUL before its end.
    NameHasNul,
    /// The name is not UTF-8.
    NameNotUtf8,
    /// The data extends past the end of the archive.
    DataOutOfBounds,
    /// A padding byte is not NUL.
    NonZeroPadding,
    /// The archive ends without a `TRAILER!!!` member.
    MissingTrailer,
    /// Something other than NUL padding follows the trailer.
    TrailingData,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::TruncatedHeader => write!(f, "truncated header (need {HEADER_LEN} bytes)"),
            Reason::BadMagic => write!(f, "bad magic (expected \"070701\", newc)"),
            Reason::CrcFormat => write!(f, "newc-with-CRC archive (\"070702\") not supported"),
            Reason::BadField(name) => write!(f, "header field {name} is not 8 hex digits"),
            Reason::EmptyName => write!(f, "namesize is 0"),
            Reason::NameOutOfBounds => write!(f, "name extends past the end of the archive"),
            Reason::NameNotTerminated => write!(f, "name is not NUL-terminated"),
            Reason::NameHasNul => write!(f, "name contains a NUL byte"),
            Reason::NameNotUtf8 => write!(f, "name is not UTF-8"),
            Reason::DataOutOfBounds => write!(f, "file data extends past the end of the archive"),
            Reason::NonZeroPadding => write!(f, "padding byte is not NUL"),
            Reason::MissingTrailer => write!(f, "archive ends without TRAILER!!!"),
            Reason::TrailingData => write!(f, "data after TRAILER!!!"),
        }
    }
}

/// A rejected archive: where (byte offset from the start) and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    /// Offset of the offending byte or field.
    pub offset: usize,
    /// What is wrong there.
    pub reason: Reason,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cpio: at offset {:#x}: {}", self.offset, self.reason)
    }
}

/// The kind of file a member is (the `S_IFMT` bits of `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// `S_IFREG`.
    Regular,
    /// `S_IFDIR`.
    Directory,
    /// `S_IFLNK` (the data is the target).
    Symlink,
    /// `S_IFCHR`.
    CharDevice,
    /// `S_IFBLK`.
    BlockDevice,
    /// `S_IFIFO`.
    Fifo,
    /// `S_IFSOCK`.
    Socket,
    /// Any other value of the `S_IFMT` bits.
    Unknown(u32),
}

/// One member of a validated archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The path as stored (without its NUL).
    pub name: &'a str,
    /// `st_mode`: file type and permission bits.
    pub mode: u32,
    /// Inode number.
    pub ino: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Link count.
    pub nlink: u32,
    /// Modification time (seconds since the epoch).
    pub mtime: u32,
    /// The file's contents.
    pub data: &'a [u8],
    /// Offset of the member's header in the archive.
    pub offset: usize,
}

impl Entry<'_> {
    /// The file type.
    pub fn file_type(&self) -> FileType {
        match self.mode & 0o170000 {
            0o100000 => FileType::Regular,
            0o040000 => FileType::Directory,
            0o120000 => FileType::Symlink,
            0o020000 => FileType::CharDevice,
            0o060000 => FileType::BlockDevice,
            0o010000 => FileType::Fifo,
            0o140000 => FileType::Socket,
            other => FileType::Unknown(other),
        }
    }

    /// Whether this is a regular file.
    pub fn is_file(&self) -> bool {
        self.file_type() == FileType::Regular
    }

    /// The permission bits (`mode & 0o7777`).
    pub fn permissions(&self) -> u32 {
        self.mode & 0o7777
    }
}

/// A validated newc archive.
#[derive(Debug, Clone, Copy)]
pub struct Archive<'a> {
    data: &'a [u8],
    len: usize,
}

impl<'a> Archive<'a> {
    /// Validates the whole archive (see the module documentation for the rules).
    pub fn parse(data: &'a [u8]) -> Result<Self, Error> {
        let mut pos = 0;
        let mut len = 0;
        loop {
            if pos >= data.len() {
                return Err(Error {
                    offset: data.len(),
                    reason: Reason::MissingTrailer,
                });
            }
            let (entry, next) = parse_member(data, pos)?;
            if entry.name == TRAILER {
                let rest = data.get(next..).unwrap_or(&[]);
                if let Some(i) = rest.iter().position(|&b| b != 0) {
                    return Err(Error {
                        offset: next + i,
                        reason: Reason::TrailingData,
                    });
                }
                return Ok(Archive { data, len });
            }
            len += 1;
            pos = next;
        }
    }

    /// Number of members, the trailer not counted.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the archive has no member but the trailer.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The members in archive order, the trailer not included.
    pub fn entries(&self) -> Entries<'a> {
        Entries {
            data: self.data,
            pos: 0,
            left: self.len,
        }
    }

    /// The last member whose path is `path` (leading `/` and `./` ignored on both sides).
    pub fn find(&self, path: &str) -> Option<Entry<'a>> {
        let want = normalize(path);
        self.entries().filter(|e| normalize(e.name) == want).last()
    }
}

/// Iterator over the members of an [`Archive`].
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    data: &'a [u8],
    pos: usize,
    left: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        if self.left == 0 {
            return None;
        }
        // The archive was validated by `Archive::parse`, so this cannot fail; if it somehow
        // did, the iteration just ends.
        let (entry, next) = parse_member(self.data, self.pos).ok()?;
        self.pos = next;
        self.left -= 1;
        Some(entry)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// Removes leading `/` and `./` components.
fn normalize(mut path: &str) -> &str {
    loop {
        if let Some(rest) = path.strip_prefix('/') {
            path = rest;
        } else if let Some(rest) = path.strip_prefix("./") {
            path = rest;
        } else {
            return path;
        }
    }
}

/// Parses one member at `pos` (4-aligned); returns it and the offset of the next one.
/// Error offsets are clamped to the archive's length (a member cut short inside its padding
/// is reported at the end of the archive).
fn parse_member(data: &[u8], pos: usize) -> Result<(Entry<'_>, usize), Error> {
    let err = |offset: usize, reason| {
        Err(Error {
            offset: offset.min(data.len()),
            reason,
        })
    };
    let Some(header) = data.get(pos..).and_then(|rest| rest.get(..HEADER_LEN)) else {
        return err(pos, Reason::TruncatedHeader);
    };
    if &header[..6] != MAGIC {
        let reason = if &header[..6] == MAGIC_CRC {
            Reason::CrcFormat
        } else {
            Reason::BadMagic
        };
        return err(pos, reason);
    }
    let mut fields = [0u32; 13];
    for (i, field) in fields.iter_mut().enumerate() {
        let at = 6 + 8 * i;
        *field = match parse_hex8(&header[at..at + 8]) {
            Some(v) => v,
            None => return err(pos + at, Reason::BadField(FIELDS[i])),
        };
    }
    let [ino, mode, uid, gid, nlink, mtime, filesize, _, _, _, _, namesize, _] = fields;

    // The name: namesize bytes, the last one NUL.
    let name_start = pos + HEADER_LEN;
    let namesize = namesize as usize;
    if namesize == 0 {
        return err(pos + 6 + 8 * 11, Reason::EmptyName);
    }
    let Some(name) = name_start
        .checked_add(namesize)
        .and_then(|end| data.get(name_start..end))
    else {
        return err(name_start, Reason::NameOutOfBounds);
    };
    let Some((&0, name)) = name.split_last() else {
        return err(name_start + namesize - 1, Reason::NameNotTerminated);
    };
    if let Some(i) = name.iter().position(|&b| b == 0) {
        return err(name_start + i, Reason::NameHasNul);
    }
    let Ok(name) = core::str::from_utf8(name) else {
        return err(name_start, Reason::NameNotUtf8);
    };
    let data_start = check_padding(data, name_start + namesize)?;

    // The data, then padding to the next member.
    let filesize = filesize as usize;
    let Some(file) = data_start
        .checked_add(filesize)
        .and_then(|end| data.get(data_start..end))
    else {
        return err(data_start, Reason::DataOutOfBounds);
    };
    let next = check_padding(data, data_start + filesize)?;
    Ok((
        Entry {
            name,
            mode,
            ino,
            uid,
            gid,
            nlink,
            mtime,
            data: file,
            offset: pos,
        },
        next,
    ))
}

/// Checks the NUL padding from `end` to the next multiple of 4 (bytes past the end of the
/// archive count as missing, which is allowed only after the last member) and returns that
/// multiple.
fn check_padding(data: &[u8], end: usize) -> Result<usize, Error> {
    let aligned = end.next_multiple_of(4);
    let padding = data.get(end..aligned.min(data.len())).unwrap_or(&[]);
    match padding.iter().position(|&b| b != 0) {
        Some(i) => Err(Error {
            offset: end + i,
            reason: Reason::NonZeroPadding,
        }),
        None => Ok(aligned),
    }
}

/// Parses exactly 8 hexadecimal digits (either case).
fn parse_hex8(digits: &[u8]) -> Option<u32> {
    if digits.len() != 8 {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &c| {
        let d = (c as char).to_digit(16)?;
        Some((acc << 4) | d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::String;
    use alloc::vec::Vec;

    /// A newc writer for the tests (the same layout as `xtask/src/cpio.rs`).
    fn archive(members: &[(&str, u32, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, (name, mode, data)) in members.iter().enumerate() {
            member(&mut out, i as u32 + 1, *mode, name, data);
        }
        member(&mut out, 0, 0, TRAILER, &[]);
        out
    }

    fn member(out: &mut Vec<u8>, ino: u32, mode: u32, name: &str, data: &[u8]) {
        let fields = [
            ino,
            mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0,
        ];
        out.extend_from_slice(MAGIC);
        for f in fields {
            out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        out.extend_from_slice(data);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }

    fn sample() -> Vec<u8> {
        archive(&[
            ("bin/init", 0o100755, b"\x7fELF init program"),
            ("bin/x", 0o100755, b"abc"),
            ("scenarios", 0o040755, b""),
            ("scenarios/one", 0o100644, b"line 1\nline 2\n"),
            ("bin/x", 0o100700, b"second x"),
        ])
    }

    #[test]
    fn parses_members_in_order() {
        let a = sample();
        let ar = Archive::parse(&a).unwrap();
        assert_eq!(ar.len(), 5);
        let names: Vec<&str> = ar.entries().map(|e| e.name).collect();
        assert_eq!(
            names,
            ["bin/init", "bin/x", "scenarios", "scenarios/one", "bin/x"]
        );
        let init = ar.entries().next().unwrap();
        assert_eq!(init.data, b"\x7fELF init program");
        assert!(init.is_file());
        assert_eq!(init.permissions(), 0o755);
        assert_eq!(init.ino, 1);
        assert_eq!(init.nlink, 1);
        assert_eq!(init.offset, 0);
        let dir = ar.entries().nth(2).unwrap();
        assert_eq!(dir.file_type(), FileType::Directory);
        assert!(dir.data.is_empty());
    }

    #[test]
    fn find_normalises_and_takes_the_last() {
        let a = sample();
        let ar = Archive::parse(&a).unwrap();
        assert_eq!(ar.find("bin/x").unwrap().data, b"second x");
        assert_eq!(ar.find("/bin/x").unwrap().permissions(), 0o700);
        assert_eq!(ar.find("./bin/init").unwrap().data, b"\x7fELF init program");
        assert_eq!(ar.find("//./scenarios/one").unwrap().data.len(), 14);
        assert!(ar.find("bin").is_none());
        assert!(ar.find("bin/init/").is_none());
        assert!(ar.find("").is_none());
    }

    #[test]
    fn empty_archive_and_trailing_padding() {
        let mut a = archive(&[]);
        let ar = Archive::parse(&a).unwrap();
        assert!(ar.is_empty());
        assert_eq!(ar.entries().count(), 0);
        // cpio(1) pads to 512-byte blocks with NULs.
        a.resize(512, 0);
        assert!(Archive::parse(&a).is_ok());
        a.push(1);
        assert_eq!(
            Archive::parse(&a).unwrap_err(),
            Error {
                offset: 512,
                reason: Reason::TrailingData
            }
        );
    }

    #[test]
    fn field_offsets_match_the_xtask_writer() {
        // The fixed offsets tested in xtask/src/cpio.rs, read back.
        let a = archive(&[("bin/x", 0o100755, b"abc")]);
        assert_eq!(&a[14..22], b"000081ed");
        let ar = Archive::parse(&a).unwrap();
        let e = ar.entries().next().unwrap();
        assert_eq!(e.mode, 0o100755);
        assert_eq!(e.data, b"abc");
        assert_eq!(a[116..119], *b"abc");
    }

    fn reason(bytes: &[u8]) -> (usize, Reason) {
        let e = Archive::parse(bytes).unwrap_err();
        (e.offset, e.reason)
    }

    #[test]
    fn rejections_name_offset_and_reason() {
        let good = archive(&[("bin/x", 0o100755, b"abc")]);
        // Header of the first member: 0..110, name "bin/x\0" 110..116, data 116..119, pad
        // 119..120, trailer header at 120.
        assert_eq!(reason(&[]), (0, Reason::MissingTrailer));
        assert_eq!(reason(&good[..50]), (0, Reason::TruncatedHeader));
        assert_eq!(reason(&good[..120]), (120, Reason::MissingTrailer));
        assert_eq!(reason(&good[..130]), (120, Reason::TruncatedHeader));

        let mut b = good.clone();
        b[5] = b'2';
        assert_eq!(reason(&b), (0, Reason::CrcFormat));
        b[0] = b'1';
        assert_eq!(reason(&b), (0, Reason::BadMagic));

        let mut b = good.clone();
        b[14 + 3] = b'g';
        assert_eq!(reason(&b), (14, Reason::BadField("mode")));
        let mut b = good.clone();
        b[102] = b' ';
        assert_eq!(reason(&b), (102, Reason::BadField("check")));

        // namesize 0
        let mut b = good.clone();
        b[94..102].copy_from_slice(b"00000000");
        assert_eq!(reason(&b), (94, Reason::EmptyName));
        // namesize huge
        let mut b = good.clone();
        b[94..102].copy_from_slice(b"ffffffff");
        assert_eq!(reason(&b), (110, Reason::NameOutOfBounds));
        // name not terminated (namesize one short)
        let mut b = good.clone();
        b[94..102].copy_from_slice(b"00000005");
        assert_eq!(reason(&b), (114, Reason::NameNotTerminated));
        // NUL inside the name
        let mut b = good.clone();
        b[112] = 0;
        assert_eq!(reason(&b), (112, Reason::NameHasNul));
        // not UTF-8
        let mut b = good.clone();
        b[111] = 0xff;
        assert_eq!(reason(&b), (110, Reason::NameNotUtf8));
        // filesize huge
        let mut b = good.clone();
        b[54..62].copy_from_slice(b"7fffffff");
        assert_eq!(reason(&b), (116, Reason::DataOutOfBounds));
        // padding after the name: "bin\0" is 110..114, padding 114..116
        let mut s = archive(&[("bin", 0o100755, b"abc")]);
        s[114] = 7;
        assert_eq!(reason(&s), (114, Reason::NonZeroPadding));
        // padding after the data: "abc" is 116..119, padding 119..120
        let mut b = good.clone();
        b[119] = 9;
        assert_eq!(reason(&b), (119, Reason::NonZeroPadding));
    }

    #[test]
    fn errors_display_offset_and_reason() {
        let e = Error {
            offset: 0x74,
            reason: Reason::BadField("filesize"),
        };
        assert_eq!(
            format!("{e}"),
            "cpio: at offset 0x74: header field filesize is not 8 hex digits"
        );
    }

    /// Parses, and if accepted walks everything: what matters is that no input panics, and
    /// that an error points inside (or at the end of) the input.
    fn survive(bytes: &[u8]) {
        match Archive::parse(bytes) {
            Ok(ar) => {
                let n = ar.entries().count();
                assert_eq!(n, ar.len());
                for e in ar.entries() {
                    let _ = ar.find(e.name);
                }
            }
            Err(e) => {
                assert!(e.offset <= bytes.len(), "{e} beyond {}", bytes.len());
                let _ = format!("{e}");
            }
        }
    }

    #[test]
    fn every_truncation_is_rejected_cleanly() {
        let a = sample();
        let trailer_end = a.len();
        for len in 0..trailer_end {
            // A prefix ending exactly after the last non-trailer member's padding still
            // lacks the trailer; every prefix is an error.
            assert!(Archive::parse(&a[..len]).is_err(), "prefix {len} accepted");
            survive(&a[..len]);
        }
    }

    /// xorshift64*, deterministic.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        /// A value in `0..n` (0 when `n` is 0).
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    #[test]
    fn single_byte_corruptions_never_panic() {
        let a = sample();
        for at in 0..a.len() {
            for v in [0u8, b'0', b'f', b'F', b'g', b'7', 0x80, 0xff, b'/'] {
                let mut b = a.clone();
                b[at] = v;
                survive(&b);
            }
        }
    }

    #[test]
    fn random_mutations_never_panic() {
        let base = sample();
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let hex = b"0123456789abcdefABCDEFxz";
        for _ in 0..20_000 {
            let mut b = base.clone();
            for _ in 0..1 + rng.below(4) {
                match rng.below(6) {
                    // overwrite a byte with anything
                    0 if !b.is_empty() => {
                        let i = rng.below(b.len());
                        b[i] = rng.next() as u8;
                    }
                    // overwrite a header digit with a (mostly) hex digit: sizes change
                    1 if !b.is_empty() => {
                        let i = rng.below(b.len());
                        b[i] = hex[rng.below(hex.len())];
                    }
                    0 | 1 => {}
                    // truncate
                    2 => {
                        let n = rng.below(b.len() + 1);
                        b.truncate(n);
                    }
                    // insert a byte
                    3 => {
                        let i = rng.below(b.len() + 1);
                        b.insert(i, rng.next() as u8);
                    }
                    // delete a byte
                    4 => {
                        if !b.is_empty() {
                            let i = rng.below(b.len());
                            b.remove(i);
                        }
                    }
                    // write a maximal size into a namesize/filesize field of some member
                    _ => {
                        let starts: Vec<usize> = b
                            .windows(6)
                            .enumerate()
                            .filter(|(_, w)| w == MAGIC)
                            .map(|(i, _)| i)
                            .collect();
                        if let Some(&s) = starts.get(rng.below(starts.len())) {
                            let field = if rng.below(2) == 0 { 54 } else { 94 };
                            let v: String = format!("{:08x}", rng.next() as u32);
                            if s + field + 8 <= b.len() {
                                b[s + field..s + field + 8].copy_from_slice(v.as_bytes());
                            }
                        }
                    }
                }
            }
            survive(&b);
        }
    }
}
