//! The kernel image: validate a PVH ELF, check that it fits, then load it with linux-loader.
//!
//! Validation is done here, before anything is created, so a bad file gets a precise message
//! (linux-loader checks the magic and endianness but not the class, machine or type, and reports
//! a missing PVH note only as a capability). Loading itself is `linux_loader::loader::Elf::load`
//! with `kernel_offset = None`: every `PT_LOAD` segment goes to its `p_paddr`, the tail up to
//! `p_memsz` stays zero (guest RAM starts zeroed).
//!
//! This module knows nothing of boot information, registers or devices; it answers "where does
//! the image go and where does it start".

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use linux_loader::loader::elf::{Elf, PvhBootCapability};
use linux_loader::loader::KernelLoader;
use shared_abi::current::inspect::{InspectNote, Record, NOTE_NAME, NT_LWPVM_INSPECT};
use vm_memory::GuestMemoryMmap;

use crate::layout::KERNEL_MIN_ADDR;
use crate::memory::RamLayout;

/// ELF header size (ELF64).
const EHDR_SIZE: usize = 64;
/// Program header size (ELF64).
const PHDR_SIZE: usize = 56;
/// `e_machine` of x86-64.
const EM_X86_64: u16 = 62;
/// `e_type` of an executable (not relocatable, not position independent).
const ET_EXEC: u16 = 2;
/// `EI_CLASS` value of a 64-bit ELF.
const ELFCLASS64: u8 = 2;
/// `EI_DATA` value of a little-endian ELF.
const ELFDATA2LSB: u8 = 1;
/// Loadable segment.
const PT_LOAD: u32 = 1;
/// Note segment.
const PT_NOTE: u32 = 4;
/// Largest note segment we read (kernels have a few hundred bytes of notes).
const MAX_NOTE_SEGMENT: u64 = 1 << 20;
/// Most program headers we accept.
const MAX_PHNUM: u16 = 256;

/// Errors about the kernel image. All of them are problems with the input file.
#[derive(Debug, thiserror::Error)]
pub enum LoaderError {
    /// The file cannot be opened or read.
    #[error("cannot read kernel {path}: {source}")]
    Read {
        /// The kernel path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Not a regular file.
    #[error("kernel {0} is not a regular file")]
    NotAFile(PathBuf),
    /// No ELF magic.
    #[error("kernel {0} is not an ELF file (it does not start with \\x7fELF); give a PVH ELF kernel, not a bzImage or a text file")]
    NotElf(PathBuf),
    /// 32-bit (or unknown class) ELF.
    #[error("kernel {path} is not a 64-bit ELF (EI_CLASS = {class}, expected 2 = ELFCLASS64)")]
    NotElf64 {
        /// The kernel path.
        path: PathBuf,
        /// The file's EI_CLASS.
        class: u8,
    },
    /// Big-endian (or unknown) data encoding.
    #[error("kernel {path} is not little-endian (EI_DATA = {data}, expected 1 = ELFDATA2LSB)")]
    NotLittleEndian {
        /// The kernel path.
        path: PathBuf,
        /// The file's EI_DATA.
        data: u8,
    },
    /// Not for x86-64.
    #[error("kernel {path} is for ELF machine {machine}, not x86-64 (EM_X86_64 = 62)")]
    WrongMachine {
        /// The kernel path.
        path: PathBuf,
        /// The file's e_machine.
        machine: u16,
    },
    /// Not an executable.
    #[error("kernel {path} has ELF type {e_type}, not ET_EXEC (2): the VMM loads segments at their physical addresses and does not relocate (build the kernel with -C relocation-model=static)")]
    NotExecutable {
        /// The kernel path.
        path: PathBuf,
        /// The file's e_type.
        e_type: u16,
    },
    /// Structurally broken ELF.
    #[error("kernel {path} is a malformed ELF: {what}")]
    Malformed {
        /// The kernel path.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// No PVH entry note.
    #[error("kernel {0} has no PVH entry point: it needs an ELF note named \"Xen\" of type 18 (XEN_ELFNOTE_PHYS32_ENTRY) holding the 32-bit entry address")]
    NoPvhNote(PathBuf),
    /// A segment outside guest RAM.
    #[error("kernel {path}: segment {index} at {start:#x}..{end:#x} does not fit in guest RAM at or above {min:#x} ({ram}); raise --mem or relink the kernel")]
    SegmentOutsideRam {
        /// The kernel path.
        path: PathBuf,
        /// Program header index.
        index: usize,
        /// Segment start (p_paddr).
        start: u64,
        /// Segment end (p_paddr + p_memsz).
        end: u64,
        /// Lowest allowed address.
        min: u64,
        /// Guest RAM ranges, for the message.
        ram: String,
    },
    /// The entry point is not in the image.
    #[error("kernel {path}: PVH entry {entry:#x} is not inside any loaded segment")]
    EntryOutsideImage {
        /// The kernel path.
        path: PathBuf,
        /// The PVH entry address.
        entry: u64,
    },
    /// linux-loader failed.
    #[error("cannot load kernel {path}: {source}")]
    Load {
        /// The kernel path.
        path: PathBuf,
        /// linux-loader's error.
        #[source]
        source: linux_loader::loader::Error,
    },
}

/// One `PT_LOAD` segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSegment {
    /// Program header index.
    pub index: usize,
    /// Guest-physical load address.
    pub paddr: u64,
    /// Bytes in the file.
    pub filesz: u64,
    /// Bytes in memory (≥ `filesz`).
    pub memsz: u64,
}

/// A validated PVH kernel image, opened and not yet loaded.
#[derive(Debug)]
pub struct KernelImage {
    path: PathBuf,
    file: File,
    /// The PVH 32-bit entry point (from the Xen note).
    pub pvh_entry: u64,
    /// The loadable segments.
    pub segments: Vec<LoadSegment>,
    /// The lwpvm inspection note (`shared_abi::inspect`), if the kernel has one.
    pub inspect_note: Option<InspectNote>,
}

impl KernelImage {
    /// Opens and validates `path`: an x86-64 little-endian ELF64 `ET_EXEC` with a PVH note.
    pub fn open(path: &Path) -> Result<Self, LoaderError> {
        let read_err = |source| LoaderError::Read {
            path: path.to_path_buf(),
            source,
        };
        let malformed = |what: String| LoaderError::Malformed {
            path: path.to_path_buf(),
            what,
        };
        let file = File::open(path).map_err(read_err)?;
        let meta = file.metadata().map_err(read_err)?;
        if !meta.is_file() {
            return Err(LoaderError::NotAFile(path.to_path_buf()));
        }
        let file_len = meta.len();

        let mut ehdr = [0u8; EHDR_SIZE];
        let got = read_up_to(&file, &mut ehdr, 0).map_err(read_err)?;
        if got < 4 || ehdr[..4] != *b"\x7fELF" {
            return Err(LoaderError::NotElf(path.to_path_buf()));
        }
        if got < EHDR_SIZE {
            return Err(malformed(format!(
                "the file is {got} bytes, shorter than an ELF64 header"
            )));
        }
        if ehdr[4] != ELFCLASS64 {
            return Err(LoaderError::NotElf64 {
                path: path.to_path_buf(),
                class: ehdr[4],
            });
        }
        if ehdr[5] != ELFDATA2LSB {
            return Err(LoaderError::NotLittleEndian {
                path: path.to_path_buf(),
                data: ehdr[5],
            });
        }
        let e_type = le_u16(&ehdr, 16);
        let machine = le_u16(&ehdr, 18);
        if machine != EM_X86_64 {
            return Err(LoaderError::WrongMachine {
                path: path.to_path_buf(),
                machine,
            });
        }
        if e_type != ET_EXEC {
            return Err(LoaderError::NotExecutable {
                path: path.to_path_buf(),
                e_type,
            });
        }
        let phoff = le_u64(&ehdr, 32);
        let phentsize = le_u16(&ehdr, 54);
        let phnum = le_u16(&ehdr, 56);
        if usize::from(phentsize) != PHDR_SIZE {
            return Err(malformed(format!(
                "e_phentsize is {phentsize}, expected {PHDR_SIZE}"
            )));
        }
        if phnum == 0 || phnum > MAX_PHNUM {
            return Err(malformed(format!(
                "e_phnum is {phnum}, expected 1..={MAX_PHNUM}"
            )));
        }
        let ph_bytes = u64::from(phnum) * PHDR_SIZE as u64;
        if phoff < EHDR_SIZE as u64 || phoff.checked_add(ph_bytes).is_none_or(|e| e > file_len) {
            return Err(malformed(format!(
                "program headers at {phoff:#x} ({phnum} entries) are outside the {file_len}-byte file"
            )));
        }
        let mut phdrs = vec![0u8; ph_bytes as usize];
        file.read_exact_at(&mut phdrs, phoff).map_err(read_err)?;

        let mut segments = Vec::new();
        let mut pvh_entry = None;
        let mut inspect_note = None;
        for (index, ph) in phdrs.chunks_exact(PHDR_SIZE).enumerate() {
            let p_type = le_u32(ph, 0);
            let offset = le_u64(ph, 8);
            let paddr = le_u64(ph, 24);
            let filesz = le_u64(ph, 32);
            let memsz = le_u64(ph, 40);
            if p_type != PT_LOAD && p_type != PT_NOTE {
                continue;
            }
            if offset.checked_add(filesz).is_none_or(|e| e > file_len) {
                return Err(malformed(format!(
                    "segment {index} (file offset {offset:#x}, {filesz:#x} bytes) extends past the end of the {file_len}-byte file"
                )));
            }
            if p_type == PT_LOAD {
                if filesz > memsz {
                    return Err(malformed(format!(
                        "segment {index} has p_filesz {filesz:#x} > p_memsz {memsz:#x}"
                    )));
                }
                if paddr.checked_add(memsz).is_none() {
                    return Err(malformed(format!(
                        "segment {index} at {paddr:#x} + {memsz:#x} overflows"
                    )));
                }
                if memsz > 0 {
                    segments.push(LoadSegment {
                        index,
                        paddr,
                        filesz,
                        memsz,
                    });
                }
            } else if filesz > 0 && (pvh_entry.is_none() || inspect_note.is_none()) {
                if filesz > MAX_NOTE_SEGMENT {
                    return Err(malformed(format!(
                        "note segment {index} is {filesz} bytes, more than {MAX_NOTE_SEGMENT}"
                    )));
                }
                let mut notes = vec![0u8; filesz as usize];
                file.read_exact_at(&mut notes, offset).map_err(read_err)?;
                pvh_entry = pvh_entry.or_else(|| find_pvh_entry(&notes));
                inspect_note = inspect_note.or_else(|| find_inspect_note(&notes));
            }
        }
        let Some(pvh_entry) = pvh_entry else {
            return Err(LoaderError::NoPvhNote(path.to_path_buf()));
        };
        if segments.is_empty() {
            return Err(malformed("it has no loadable (PT_LOAD) segment".into()));
        }
        if !segments
            .iter()
            .any(|s| pvh_entry >= s.paddr && pvh_entry < s.paddr + s.filesz)
        {
            return Err(LoaderError::EntryOutsideImage {
                path: path.to_path_buf(),
                entry: pvh_entry,
            });
        }
        Ok(KernelImage {
            path: path.to_path_buf(),
            file,
            pvh_entry,
            segments,
            inspect_note,
        })
    }

    /// The kernel's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// End (exclusive) of the highest segment in memory.
    pub fn end(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| s.paddr + s.memsz)
            .max()
            .unwrap_or(KERNEL_MIN_ADDR)
    }

    /// Checks that every segment lies in guest RAM at or above [`KERNEL_MIN_ADDR`], so that
    /// it can neither miss RAM nor overwrite the VMM's boot data below 1 MiB.
    pub fn check_fits(&self, ram: &RamLayout) -> Result<(), LoaderError> {
        for s in &self.segments {
            if s.paddr < KERNEL_MIN_ADDR || !ram.contains(s.paddr, s.memsz) {
                let ram = ram
                    .ranges()
                    .iter()
                    .map(|r| format!("{:#x}..{:#x}", r.start, r.end()))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(LoaderError::SegmentOutsideRam {
                    path: self.path.clone(),
                    index: s.index,
                    start: s.paddr,
                    end: s.paddr + s.memsz,
                    min: KERNEL_MIN_ADDR,
                    ram: format!("RAM is {ram}"),
                });
            }
        }
        Ok(())
    }

    /// Copies the segments into guest memory with linux-loader; returns the PVH entry.
    ///
    /// [`check_fits`](Self::check_fits) must have passed for this memory's layout.
    pub fn load(&mut self, mem: &GuestMemoryMmap) -> Result<u64, LoaderError> {
        let result =
            Elf::load(mem, None, &mut self.file, None).map_err(|source| LoaderError::Load {
                path: self.path.clone(),
                source,
            })?;
        // linux-loader keeps only the answer of the *last* PT_NOTE segment it sees, so a kernel
        // with its PVH note in an earlier note segment reads as "not present" there. Our own
        // parse above is authoritative; report a disagreement for debugging.
        match result.pvh_boot_cap {
            PvhBootCapability::PvhEntryPresent(addr) if addr.0 == self.pvh_entry => {}
            other => log::debug!(
                "linux-loader reports {other} for {}; using the PVH entry {:#x} from the Xen note",
                self.path.display(),
                self.pvh_entry
            ),
        }
        Ok(self.pvh_entry)
    }
}

/// Reads as much of `buf` as the file has at `offset`.
fn read_up_to(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Walks the notes of a note segment; returns the first `Some` that `f(name, type, desc)`
/// gives. Stops at the first malformed note.
fn find_note<T>(notes: &[u8], mut f: impl FnMut(&[u8], u32, &[u8]) -> Option<T>) -> Option<T> {
    let align4 = |n: usize| n.checked_add(3).map(|n| n & !3);
    let mut pos = 0usize;
    while pos.checked_add(12)? <= notes.len() {
        let namesz = le_u32(notes, pos) as usize;
        let descsz = le_u32(notes, pos + 4) as usize;
        let n_type = le_u32(notes, pos + 8);
        let name_start = pos + 12;
        let desc_start = name_start.checked_add(align4(namesz)?)?;
        let next = desc_start.checked_add(align4(descsz)?)?;
        if desc_start.checked_add(descsz)? > notes.len() {
            return None;
        }
        let name = notes.get(name_start..name_start.checked_add(namesz)?)?;
        if let Some(v) = f(name, n_type, &notes[desc_start..desc_start + descsz]) {
            return Some(v);
        }
        pos = next;
    }
    None
}

/// Finds the `XEN_ELFNOTE_PHYS32_ENTRY` note in a note segment and returns its entry address.
/// The descriptor is 4 bytes (or 8 on kernels that use `.quad`); the low 32 bits are the entry.
fn find_pvh_entry(notes: &[u8]) -> Option<u64> {
    find_note(notes, |name, n_type, desc| {
        (n_type == shared_abi::current::boot::XEN_ELFNOTE_PHYS32_ENTRY
            && name == b"Xen\0"
            && desc.len() >= 4)
            .then(|| u64::from(le_u32(desc, 0)))
    })
}

/// Finds the lwpvm inspection note (name `lwpvm`, type `NT_LWPVM_INSPECT`).
fn find_inspect_note(notes: &[u8]) -> Option<InspectNote> {
    find_note(notes, |name, n_type, desc| {
        (n_type == NT_LWPVM_INSPECT && name == NOTE_NAME.as_slice())
            .then(|| InspectNote::decode(desc))
            .flatten()
    })
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from(le_u32(b, at)) | (u64::from(le_u32(b, at + 4)) << 32)
}

/// Builders of small ELF images for tests (here and in other modules).
#[cfg(test)]
pub mod test_elf {
    /// What to put in a test image.
    #[derive(Debug, Clone)]
    pub struct ElfSpec {
        /// EI_CLASS.
        pub class: u8,
        /// EI_DATA.
        pub data: u8,
        /// e_type.
        pub e_type: u16,
        /// e_machine.
        pub machine: u16,
        /// Whether to include the PVH note.
        pub pvh_note: bool,
        /// Load address of the single PT_LOAD segment.
        pub load_addr: u64,
        /// Segment contents.
        pub code: Vec<u8>,
        /// Extra zero-filled memory after the code (BSS).
        pub bss: u64,
    }

    impl Default for ElfSpec {
        fn default() -> Self {
            ElfSpec {
                class: 2,
                data: 1,
                e_type: 2,
                machine: 62,
                pvh_note: true,
                load_addr: 0x10_0000,
                code: vec![0xf4; 16],
                bss: 0,
            }
        }
    }

    /// Builds the image: ELF header, PT_LOAD, PT_NOTE (an unrelated note, then maybe the PVH
    /// note pointing at the first code byte), then the code.
    pub fn build(spec: &ElfSpec) -> Vec<u8> {
        let phnum = 2u16;
        let phoff = 64u64;
        let notes_off = phoff + 56 * u64::from(phnum);
        let mut notes = Vec::new();
        // An unrelated GNU note first, so the parser has to skip one.
        notes.extend_from_slice(&4u32.to_le_bytes());
        notes.extend_from_slice(&4u32.to_le_bytes());
        notes.extend_from_slice(&3u32.to_le_bytes());
        notes.extend_from_slice(b"GNU\0");
        notes.extend_from_slice(&[1, 2, 3, 4]);
        if spec.pvh_note {
            notes.extend_from_slice(&4u32.to_le_bytes());
            notes.extend_from_slice(&4u32.to_le_bytes());
            notes.extend_from_slice(&18u32.to_le_bytes());
            notes.extend_from_slice(b"Xen\0");
            notes.extend_from_slice(&(spec.load_addr as u32).to_le_bytes());
        }
        let code_off = (notes_off + notes.len() as u64 + 15) & !15;

        let mut f = Vec::new();
        f.extend_from_slice(b"\x7fELF");
        f.extend_from_slice(&[spec.class, spec.data, 1, 0]);
        f.resize(16, 0);
        f.extend_from_slice(&spec.e_type.to_le_bytes());
        f.extend_from_slice(&spec.machine.to_le_bytes());
        f.extend_from_slice(&1u32.to_le_bytes()); // e_version
        f.extend_from_slice(&spec.load_addr.to_le_bytes()); // e_entry
        f.extend_from_slice(&phoff.to_le_bytes());
        f.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
        f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
        f.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
        f.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
        f.extend_from_slice(&phnum.to_le_bytes());
        f.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
        f.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
        f.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
        assert_eq!(f.len(), 64);

        let mut phdr = |p_type: u32, flags: u32, off: u64, addr: u64, filesz: u64, memsz: u64| {
            f.extend_from_slice(&p_type.to_le_bytes());
            f.extend_from_slice(&flags.to_le_bytes());
            f.extend_from_slice(&off.to_le_bytes());
            f.extend_from_slice(&addr.to_le_bytes()); // vaddr
            f.extend_from_slice(&addr.to_le_bytes()); // paddr
            f.extend_from_slice(&filesz.to_le_bytes());
            f.extend_from_slice(&memsz.to_le_bytes());
            f.extend_from_slice(&16u64.to_le_bytes());
        };
        let code_len = spec.code.len() as u64;
        phdr(
            1,
            5,
            code_off,
            spec.load_addr,
            code_len,
            code_len + spec.bss,
        );
        phdr(4, 4, notes_off, 0, notes.len() as u64, notes.len() as u64);
        f.extend_from_slice(&notes);
        f.resize(code_off as usize, 0);
        f.extend_from_slice(&spec.code);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::test_elf::{build, ElfSpec};
    use super::*;
    use vm_memory::{Bytes, GuestAddress};
    use vmm_sys_util::tempdir::TempDir;

    fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.as_path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn open_spec(spec: ElfSpec) -> Result<KernelImage, LoaderError> {
        let dir = TempDir::new().unwrap();
        let p = write(&dir, "k.elf", &build(&spec));
        KernelImage::open(&p)
    }

    #[test]
    fn valid_image_is_accepted_and_loads() {
        let code = vec![0xb0, 0x2a, 0xe6, 0xf4, 0xf4];
        let mut k = open_spec(ElfSpec {
            code: code.clone(),
            bss: 0x1000,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(k.pvh_entry, 0x10_0000);
        assert_eq!(k.segments.len(), 1);
        assert_eq!(k.end(), 0x10_0000 + 5 + 0x1000);
        let ram = RamLayout::new(16 << 20);
        k.check_fits(&ram).unwrap();
        let mem = ram.create_guest_memory().unwrap();
        assert_eq!(k.load(&mem).unwrap(), 0x10_0000);
        let mut got = vec![0u8; code.len()];
        mem.read_slice(&mut got, GuestAddress(0x10_0000)).unwrap();
        assert_eq!(got, code);
    }

    #[test]
    fn missing_file() {
        let e = KernelImage::open(Path::new("/nonexistent/kernel")).unwrap_err();
        assert!(matches!(e, LoaderError::Read { .. }), "{e}");
        assert!(e.to_string().contains("/nonexistent/kernel"));
    }

    #[test]
    fn directory_is_rejected() {
        let dir = TempDir::new().unwrap();
        let e = KernelImage::open(dir.as_path()).unwrap_err();
        assert!(matches!(e, LoaderError::NotAFile(_)), "{e}");
    }

    #[test]
    fn text_and_empty_files_are_not_elf() {
        let dir = TempDir::new().unwrap();
        for (name, bytes) in [
            ("text", b"#!/bin/sh\necho hello\n".as_slice()),
            ("empty", b"".as_slice()),
            ("short", b"\x7fE".as_slice()),
        ] {
            let p = write(&dir, name, bytes);
            let e = KernelImage::open(&p).unwrap_err();
            assert!(matches!(e, LoaderError::NotElf(_)), "{name}: {e}");
        }
    }

    #[test]
    fn truncated_header_is_malformed() {
        let dir = TempDir::new().unwrap();
        let p = write(&dir, "trunc", b"\x7fELF\x02\x01\x01");
        let e = KernelImage::open(&p).unwrap_err();
        assert!(matches!(e, LoaderError::Malformed { .. }), "{e}");
    }

    #[test]
    fn elf32_is_rejected() {
        let e = open_spec(ElfSpec {
            class: 1,
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(e, LoaderError::NotElf64 { class: 1, .. }), "{e}");
    }

    #[test]
    fn big_endian_is_rejected() {
        let e = open_spec(ElfSpec {
            data: 2,
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            matches!(e, LoaderError::NotLittleEndian { data: 2, .. }),
            "{e}"
        );
    }

    #[test]
    fn wrong_machine_is_rejected() {
        let e = open_spec(ElfSpec {
            machine: 183, // aarch64
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            matches!(e, LoaderError::WrongMachine { machine: 183, .. }),
            "{e}"
        );
    }

    #[test]
    fn et_dyn_is_rejected() {
        let e = open_spec(ElfSpec {
            e_type: 3,
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            matches!(e, LoaderError::NotExecutable { e_type: 3, .. }),
            "{e}"
        );
    }

    #[test]
    fn missing_pvh_note_is_rejected() {
        let e = open_spec(ElfSpec {
            pvh_note: false,
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(e, LoaderError::NoPvhNote(_)), "{e}");
        assert!(e.to_string().contains("type 18"));
    }

    #[test]
    fn segments_must_fit_in_ram() {
        let ram = RamLayout::new(16 << 20);
        let k = open_spec(ElfSpec {
            load_addr: 0x80_0000,
            bss: 16 << 20,
            ..Default::default()
        })
        .unwrap();
        let e = k.check_fits(&ram).unwrap_err();
        assert!(matches!(e, LoaderError::SegmentOutsideRam { .. }), "{e}");

        // Below 1 MiB would overwrite the boot data.
        let k = open_spec(ElfSpec {
            load_addr: 0xf_0000,
            ..Default::default()
        })
        .unwrap();
        assert!(k.check_fits(&ram).is_err());
    }

    #[test]
    fn truncated_segment_is_malformed() {
        let mut bytes = build(&ElfSpec::default());
        bytes.truncate(bytes.len() - 4);
        let dir = TempDir::new().unwrap();
        let p = write(&dir, "k", &bytes);
        let e = KernelImage::open(&p).unwrap_err();
        assert!(matches!(e, LoaderError::Malformed { .. }), "{e}");
    }

    #[test]
    fn note_parser_handles_garbage() {
        assert_eq!(find_pvh_entry(&[]), None);
        assert_eq!(find_pvh_entry(&[0xff; 11]), None);
        // namesz/descsz huge: no overflow, no panic.
        let mut n = Vec::new();
        n.extend_from_slice(&u32::MAX.to_le_bytes());
        n.extend_from_slice(&u32::MAX.to_le_bytes());
        n.extend_from_slice(&18u32.to_le_bytes());
        assert_eq!(find_pvh_entry(&n), None);
        // Xen note with an 8-byte descriptor.
        let mut n = Vec::new();
        n.extend_from_slice(&4u32.to_le_bytes());
        n.extend_from_slice(&8u32.to_le_bytes());
        n.extend_from_slice(&18u32.to_le_bytes());
        n.extend_from_slice(b"Xen\0");
        n.extend_from_slice(&0x1234_5678u64.to_le_bytes());
        assert_eq!(find_pvh_entry(&n), Some(0x1234_5678));
        // Too-short descriptor.
        let mut n = Vec::new();
        n.extend_from_slice(&4u32.to_le_bytes());
        n.extend_from_slice(&2u32.to_le_bytes());
        n.extend_from_slice(&18u32.to_le_bytes());
        n.extend_from_slice(b"Xen\0");
        n.extend_from_slice(&[1, 2, 0, 0]);
        assert_eq!(find_pvh_entry(&n), None);
    }

    #[test]
    fn inspect_note_is_found_among_others() {
        let note = |name: &[u8], ty: u32, desc: &[u8]| {
            let mut n = Vec::new();
            n.extend_from_slice(&(name.len() as u32).to_le_bytes());
            n.extend_from_slice(&(desc.len() as u32).to_le_bytes());
            n.extend_from_slice(&ty.to_le_bytes());
            n.extend_from_slice(name);
            n.resize(n.len().next_multiple_of(4), 0);
            n.extend_from_slice(desc);
            n.resize(n.len().next_multiple_of(4), 0);
            n
        };
        let mut desc = [0u8; 16];
        InspectNote {
            header_gpa: 0x12_3000,
            abi_version: 1,
            header_size: 1280,
        }
        .encode_into(&mut desc);
        let mut notes = note(b"Xen\0", 18, &0x10_0000u32.to_le_bytes());
        notes.extend(note(b"lwpvm\0", 0x1234, &desc)); // wrong type
        notes.extend(note(b"lwpvx\0", NT_LWPVM_INSPECT, &desc)); // wrong name
        assert_eq!(find_inspect_note(&notes), None);
        notes.extend(note(b"lwpvm\0", NT_LWPVM_INSPECT, &desc[..8])); // short
        assert_eq!(find_inspect_note(&notes), None);
        notes.extend(note(b"lwpvm\0", NT_LWPVM_INSPECT, &desc));
        let n = find_inspect_note(&notes).unwrap();
        assert_eq!(
            (n.header_gpa, n.abi_version, n.header_size),
            (0x12_3000, 1, 1280)
        );
        assert_eq!(find_pvh_entry(&notes), Some(0x10_0000));
    }
}
