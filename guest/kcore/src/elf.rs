//! ELF64 x86_64 executables: validation, and the plan for loading one into a fresh address
//! space ([`LoadPlan`]).
//!
//! lwpvm runs static programs only: the ring-3 programs of `guest/user` (non-PIE `ET_EXEC`
//! at 0x400000) and, later, static musl binaries (`ET_EXEC`, or `ET_DYN` "static-pie" that
//! relocates itself). A program asking for an interpreter (`PT_INTERP`) is refused with a
//! clear error: there is no dynamic linker.
//!
//! # What is checked
//!
//! The image is untrusted. [`plan`] accepts it only if:
//!
//! - the header says ELF, 64-bit, little-endian, version 1, `EM_X86_64`, and `ET_EXEC` or
//!   `ET_DYN`; `e_phentsize` is 56 and the program header table (1 to 73 entries: at most a
//!   page, as Linux's `elf_read_phdrs`) lies inside the file;
//! - there is no `PT_INTERP`, at most one `PT_TLS`, and at least one `PT_LOAD` with a
//!   non-zero size;
//! - every `PT_LOAD` has `p_filesz <= p_memsz`, its file range inside the file, `p_align` 0,
//!   1 or a power of two, `p_vaddr ≡ p_offset` modulo the page size (and modulo `p_align`
//!   when that is larger), and, once relocated by the load bias, lies between
//!   [`MMAP_MIN_ADDR`] and [`TASK_SIZE_MAX`] without wrapping;
//! - no two `PT_LOAD`s share a page (each segment is mapped with its own protection; Linux
//!   would let the later one win, lwpvm refuses the ambiguity);
//! - the entry point lies in the file-backed part of an executable segment;
//! - `PT_TLS`'s initialisation image lies in the file-backed part of a segment;
//! - `PT_PHDR`, when present, agrees with where the headers are actually loaded.
//!
//! `e_ident[EI_OSABI]`, section headers and other program header types (`PT_NOTE`,
//! `PT_GNU_EH_FRAME`, `PT_GNU_RELRO`, `PT_GNU_PROPERTY`, `PT_DYNAMIC` of a static-pie) are
//! ignored, as Linux ignores them. Segments that are writable and executable are accepted
//! (Linux accepts them) and reported through [`Segment::flags`].
//!
//! # The load plan
//!
//! For each segment, in address order, [`Segment`] gives the page-rounded range to map with
//! the segment's protection, and the one byte range of the file to copy to the start of that
//! range: from the page-aligned file offset (`p_offset` rounded down, so the bytes before
//! `p_vaddr` in its first page are the file's, as with Linux's `mmap` of the file) to the end
//! of `p_filesz`. Every other byte of the range is zero (the `.bss`, and the tail of the last
//! file page, which Linux also clears for writable segments).
//!
//! `AT_PHDR` follows Linux (`fs/binfmt_elf.c`, since 5.18): the address of `e_phoff` inside
//! the `PT_LOAD` whose file range contains it, or none if no segment contains the headers.
//! The initial program break is the end of the highest segment, rounded up to a page.
//!
//! # Position-independent executables
//!
//! An `ET_DYN` image is loaded at the bias the caller passes (page-aligned, typically
//! [`DYN_BASE`]); an `ET_EXEC` image ignores it and loads at its link addresses. Every address
//! in the plan has the bias applied.

use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

pub use shared_abi::current::mman::{MMAP_MIN_ADDR, TASK_SIZE_MAX};

use crate::{page_ceil, page_floor, PAGE_SIZE};

/// `e_type`: executable.
pub const ET_EXEC: u16 = 2;
/// `e_type`: shared object (a position-independent executable when it has no `PT_INTERP`).
pub const ET_DYN: u16 = 3;
/// `e_machine`: AMD x86-64.
pub const EM_X86_64: u16 = 62;
/// Size of the ELF64 header.
pub const EHDR_SIZE: usize = 64;
/// Size of an ELF64 program header (`AT_PHENT`).
pub const PHDR_SIZE: usize = 56;
/// Most program headers accepted: they must fit in a page (Linux `elf_read_phdrs`).
pub const MAX_PHNUM: usize = PAGE_SIZE as usize / PHDR_SIZE;

/// Program header type: unused entry.
pub const PT_NULL: u32 = 0;
/// Program header type: loadable segment.
pub const PT_LOAD: u32 = 1;
/// Program header type: dynamic linking information.
pub const PT_DYNAMIC: u32 = 2;
/// Program header type: interpreter path.
pub const PT_INTERP: u32 = 3;
/// Program header type: notes.
pub const PT_NOTE: u32 = 4;
/// Program header type: the program header table itself.
pub const PT_PHDR: u32 = 6;
/// Program header type: thread-local storage template.
pub const PT_TLS: u32 = 7;
/// GNU: `.eh_frame_hdr`.
pub const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
/// GNU: stack permissions (executable or not).
pub const PT_GNU_STACK: u32 = 0x6474_e551;
/// GNU: read-only after relocation.
pub const PT_GNU_RELRO: u32 = 0x6474_e552;
/// GNU: program properties.
pub const PT_GNU_PROPERTY: u32 = 0x6474_e553;

/// Segment flag: executable.
pub const PF_X: u32 = 1;
/// Segment flag: writable.
pub const PF_W: u32 = 2;
/// Segment flag: readable.
pub const PF_R: u32 = 4;

/// Where lwpvm suggests loading an `ET_DYN` program: where Linux puts PIE programs when
/// address-space randomisation is off (`ELF_ET_DYN_BASE` = 2/3 of the 47-bit user space,
/// page-aligned).
pub const DYN_BASE: u64 = 0x5555_5555_4000;

/// Segment permissions (`p_flags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags(pub u32);

impl Flags {
    /// Readable.
    pub fn read(self) -> bool {
        self.0 & PF_R != 0
    }
    /// Writable.
    pub fn write(self) -> bool {
        self.0 & PF_W != 0
    }
    /// Executable.
    pub fn exec(self) -> bool {
        self.0 & PF_X != 0
    }
}

/// One `PT_LOAD` segment, relocated by the load bias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Index of its program header.
    pub index: usize,
    /// `p_vaddr` + bias.
    pub vaddr: u64,
    /// `p_memsz`.
    pub memsz: u64,
    /// `p_filesz`.
    pub filesz: u64,
    /// `p_offset`.
    pub offset: u64,
    /// `p_flags`.
    pub flags: Flags,
    /// `p_align`.
    pub align: u64,
    /// The pages to map: `page_floor(vaddr) .. page_ceil(vaddr + memsz)`.
    pub pages: Range<u64>,
    /// The file bytes to copy to `pages.start`: `page_floor(offset) .. offset + filesz`.
    /// Everything else in [`Segment::pages`] is zero.
    pub copy: Range<usize>,
}

/// The `PT_TLS` template, relocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tls {
    /// Address of the initialisation image.
    pub vaddr: u64,
    /// Size of the initialisation image (`.tdata`).
    pub filesz: u64,
    /// Size of the whole block (`.tdata` + `.tbss`).
    pub memsz: u64,
    /// Required alignment.
    pub align: u64,
}

/// Everything the kernel needs to map a program and start it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadPlan {
    /// `e_type`: [`ET_EXEC`] or [`ET_DYN`].
    pub e_type: u16,
    /// The bias added to every link-time address (0 for `ET_EXEC`).
    pub bias: u64,
    /// Entry point (`AT_ENTRY`, the initial `rip`).
    pub entry: u64,
    /// The `PT_LOAD` segments with a non-zero size, in address order, not sharing pages.
    pub segments: Vec<Segment>,
    /// Address of the program headers in memory (`AT_PHDR`), if a segment loads them.
    pub phdr: Option<u64>,
    /// Number of program headers (`AT_PHNUM`).
    pub phnum: u16,
    /// Size of a program header (`AT_PHENT`).
    pub phent: u16,
    /// The initial program break: the end of the highest segment, page-rounded.
    pub brk_start: u64,
    /// Whether `PT_GNU_STACK` asks for an executable stack (absent: not executable, as on
    /// Linux x86_64).
    pub exec_stack: bool,
    /// The thread-local storage template, if any.
    pub tls: Option<Tls>,
}

/// What is wrong with a `PT_LOAD` segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentProblem {
    /// `p_filesz > p_memsz`.
    FileszExceedsMemsz,
    /// `p_offset + p_filesz` is beyond the end of the file (or overflows).
    FileRangeOutOfBounds,
    /// `p_align` is neither 0, 1 nor a power of two.
    BadAlign,
    /// `p_vaddr` and `p_offset` differ modulo the page size or `p_align`.
    Misaligned,
    /// `vaddr + memsz` (after the bias) overflows.
    AddressOverflow,
    /// The segment reaches [`TASK_SIZE_MAX`] or beyond (kernel or non-canonical addresses).
    AboveUserSpace,
    /// The segment starts below [`MMAP_MIN_ADDR`].
    BelowMinAddress,
}

impl fmt::Display for SegmentProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SegmentProblem::FileszExceedsMemsz => "p_filesz exceeds p_memsz",
            SegmentProblem::FileRangeOutOfBounds => "file range beyond the end of the file",
            SegmentProblem::BadAlign => "p_align is not a power of two",
            SegmentProblem::Misaligned => {
                "p_vaddr and p_offset are not congruent modulo the page size / p_align"
            }
            SegmentProblem::AddressOverflow => "address range wraps around",
            SegmentProblem::AboveUserSpace => {
                "address range reaches beyond user space (0x7ffffffff000)"
            }
            SegmentProblem::BelowMinAddress => {
                "address below the lowest mappable address (0x10000)"
            }
        })
    }
}

/// Why an image was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfError {
    /// Shorter than the ELF header.
    TooShort,
    /// No `\x7fELF` magic.
    BadMagic,
    /// `EI_CLASS` is not ELFCLASS64.
    NotElf64,
    /// `EI_DATA` is not little-endian.
    NotLittleEndian,
    /// `EI_VERSION` or `e_version` is not 1.
    BadVersion,
    /// `e_machine` is not x86-64.
    WrongMachine(u16),
    /// `e_type` is neither `ET_EXEC` nor `ET_DYN`.
    NotExecutable(u16),
    /// `e_phentsize` is not 56.
    BadPhentsize(u16),
    /// `e_phnum` is 0, or more than [`MAX_PHNUM`] (`PN_XNUM` included).
    BadPhnum(u16),
    /// The program header table extends beyond the file.
    PhdrsOutOfBounds,
    /// The load bias for an `ET_DYN` image is not page-aligned.
    BadBias(u64),
    /// `PT_INTERP`: the program wants a dynamic linker.
    Interpreter,
    /// No `PT_LOAD` with a non-zero size.
    NoLoadSegments,
    /// A `PT_LOAD` is malformed.
    Segment {
        /// Program header index.
        index: usize,
        /// What is wrong.
        problem: SegmentProblem,
    },
    /// Two `PT_LOAD`s overlap or share a page.
    Overlap {
        /// Program header index of the lower segment.
        first: usize,
        /// Program header index of the other one.
        second: usize,
    },
    /// The entry point is not in the file-backed part of an executable segment.
    EntryNotExecutable(u64),
    /// More than one `PT_TLS`.
    MultipleTls,
    /// `PT_TLS` is malformed (sizes, alignment) or its image is not loaded from the file.
    BadTls,
    /// `PT_PHDR` does not match where the program headers are loaded.
    PhdrMismatch,
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::TooShort => write!(f, "shorter than an ELF header"),
            ElfError::BadMagic => write!(f, "not an ELF file (bad magic)"),
            ElfError::NotElf64 => write!(f, "not a 64-bit ELF file"),
            ElfError::NotLittleEndian => write!(f, "not little-endian"),
            ElfError::BadVersion => write!(f, "unknown ELF version"),
            ElfError::WrongMachine(m) => write!(f, "not an x86-64 program (e_machine {m})"),
            ElfError::NotExecutable(t) => {
                write!(f, "not an executable (e_type {t}; need ET_EXEC or ET_DYN)")
            }
            ElfError::BadPhentsize(s) => write!(f, "e_phentsize is {s}, not 56"),
            ElfError::BadPhnum(n) => write!(f, "e_phnum is {n} (need 1..={MAX_PHNUM})"),
            ElfError::PhdrsOutOfBounds => write!(f, "program headers beyond the end of the file"),
            ElfError::BadBias(b) => write!(f, "load bias {b:#x} is not page-aligned"),
            ElfError::Interpreter => write!(
                f,
                "dynamically linked (PT_INTERP): lwpvm has no dynamic linker; link statically"
            ),
            ElfError::NoLoadSegments => write!(f, "no loadable segment"),
            ElfError::Segment { index, problem } => {
                write!(f, "program header {index} (PT_LOAD): {problem}")
            }
            ElfError::Overlap { first, second } => write!(
                f,
                "PT_LOAD segments {first} and {second} overlap or share a page"
            ),
            ElfError::EntryNotExecutable(e) => {
                write!(f, "entry point {e:#x} is not in an executable segment")
            }
            ElfError::MultipleTls => write!(f, "more than one PT_TLS"),
            ElfError::BadTls => write!(f, "malformed PT_TLS"),
            ElfError::PhdrMismatch => write!(f, "PT_PHDR does not match the loaded headers"),
        }
    }
}

/// A raw program header.
#[derive(Debug, Clone, Copy)]
struct Phdr {
    p_type: u32,
    p_flags: u32,
    p_offset: u64,
    p_vaddr: u64,
    p_filesz: u64,
    p_memsz: u64,
    p_align: u64,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

/// Validates `image` and describes how to load it. `dyn_bias` is where an `ET_DYN` image is
/// loaded (page-aligned; ignored for `ET_EXEC`).
pub fn plan(image: &[u8], dyn_bias: u64) -> Result<LoadPlan, ElfError> {
    // The header.
    let Some(eh) = image.get(..EHDR_SIZE) else {
        return Err(ElfError::TooShort);
    };
    if eh[..4] != *b"\x7fELF" {
        return Err(ElfError::BadMagic);
    }
    if eh[4] != 2 {
        return Err(ElfError::NotElf64);
    }
    if eh[5] != 1 {
        return Err(ElfError::NotLittleEndian);
    }
    if eh[6] != 1 || u32_at(eh, 20) != 1 {
        return Err(ElfError::BadVersion);
    }
    let e_type = u16_at(eh, 16);
    let e_machine = u16_at(eh, 18);
    let e_entry = u64_at(eh, 24);
    let e_phoff = u64_at(eh, 32);
    let e_phentsize = u16_at(eh, 54);
    let e_phnum = u16_at(eh, 56);
    if e_machine != EM_X86_64 {
        return Err(ElfError::WrongMachine(e_machine));
    }
    let bias = match e_type {
        ET_EXEC => 0,
        ET_DYN if dyn_bias.is_multiple_of(PAGE_SIZE) => dyn_bias,
        ET_DYN => return Err(ElfError::BadBias(dyn_bias)),
        t => return Err(ElfError::NotExecutable(t)),
    };
    if e_phentsize as usize != PHDR_SIZE {
        return Err(ElfError::BadPhentsize(e_phentsize));
    }
    if e_phnum == 0 || e_phnum as usize > MAX_PHNUM {
        return Err(ElfError::BadPhnum(e_phnum));
    }
    let table_len = e_phnum as usize * PHDR_SIZE;
    let Some(table) = usize::try_from(e_phoff)
        .ok()
        .and_then(|off| Some(off..off.checked_add(table_len)?))
        .and_then(|r| image.get(r))
    else {
        return Err(ElfError::PhdrsOutOfBounds);
    };
    let phdrs = table.chunks_exact(PHDR_SIZE).map(|p| Phdr {
        p_type: u32_at(p, 0),
        p_flags: u32_at(p, 4),
        p_offset: u64_at(p, 8),
        p_vaddr: u64_at(p, 16),
        p_filesz: u64_at(p, 32),
        p_memsz: u64_at(p, 40),
        p_align: u64_at(p, 48),
    });

    // The program headers.
    let mut segments = Vec::new();
    let mut exec_stack = false;
    let mut tls_phdr = None;
    let mut phdr_phdr = None;
    for (index, ph) in phdrs.clone().enumerate() {
        match ph.p_type {
            PT_INTERP => return Err(ElfError::Interpreter),
            PT_LOAD => {
                if let Some(seg) = segment(image, index, &ph, bias)? {
                    segments.push(seg);
                }
            }
            PT_GNU_STACK => exec_stack = ph.p_flags & PF_X != 0,
            PT_TLS if tls_phdr.is_some() => return Err(ElfError::MultipleTls),
            PT_TLS => tls_phdr = Some(ph),
            PT_PHDR => phdr_phdr = Some(ph),
            _ => {}
        }
    }
    if segments.is_empty() {
        return Err(ElfError::NoLoadSegments);
    }
    segments.sort_unstable_by_key(|s| s.vaddr);
    for pair in segments.windows(2) {
        if pair[0].pages.end > pair[1].pages.start {
            let (a, b) = (pair[0].index, pair[1].index);
            return Err(ElfError::Overlap {
                first: a.min(b),
                second: a.max(b),
            });
        }
    }

    // The file-backed part of the segment containing [addr, addr + len), if any.
    let file_backed = |addr: u64, len: u64| {
        segments.iter().find(|s| {
            addr >= s.vaddr
                && addr
                    .checked_add(len)
                    .is_some_and(|end| end <= s.vaddr + s.filesz)
        })
    };

    let entry = e_entry.wrapping_add(bias);
    if !file_backed(entry, 1).is_some_and(|s| s.flags.exec()) {
        return Err(ElfError::EntryNotExecutable(entry));
    }

    // AT_PHDR: Linux's rule, on the unsorted program headers.
    let phdr = phdrs
        .filter(|ph| ph.p_type == PT_LOAD && ph.p_memsz != 0)
        .find(|ph| ph.p_offset <= e_phoff && e_phoff - ph.p_offset < ph.p_filesz)
        .map(|ph| e_phoff - ph.p_offset + ph.p_vaddr + bias);
    if let Some(pp) = phdr_phdr {
        if phdr != Some(pp.p_vaddr.wrapping_add(bias)) {
            return Err(ElfError::PhdrMismatch);
        }
    }

    let tls = match tls_phdr {
        None => None,
        Some(t) => {
            let vaddr = t.p_vaddr.wrapping_add(bias);
            let sound = t.p_filesz <= t.p_memsz
                && (t.p_align <= 1 || t.p_align.is_power_of_two())
                && t.p_vaddr.checked_add(bias).is_some()
                && vaddr.checked_add(t.p_memsz).is_some()
                && (t.p_filesz == 0 || file_backed(vaddr, t.p_filesz).is_some());
            if !sound {
                return Err(ElfError::BadTls);
            }
            Some(Tls {
                vaddr,
                filesz: t.p_filesz,
                memsz: t.p_memsz,
                align: t.p_align,
            })
        }
    };

    let brk_start = segments.iter().map(|s| s.pages.end).max().unwrap_or(0);
    Ok(LoadPlan {
        e_type,
        bias,
        entry,
        segments,
        phdr,
        phnum: e_phnum,
        phent: PHDR_SIZE as u16,
        brk_start,
        exec_stack,
        tls,
    })
}

/// Checks one `PT_LOAD`; `None` for an empty one (`p_memsz == 0`), which is ignored.
fn segment(image: &[u8], index: usize, ph: &Phdr, bias: u64) -> Result<Option<Segment>, ElfError> {
    let bad = |problem| Err(ElfError::Segment { index, problem });
    if ph.p_filesz > ph.p_memsz {
        return bad(SegmentProblem::FileszExceedsMemsz);
    }
    let file_end = ph.p_offset.checked_add(ph.p_filesz);
    if file_end.is_none_or(|end| end > image.len() as u64) {
        return bad(SegmentProblem::FileRangeOutOfBounds);
    }
    if ph.p_align > 1 && !ph.p_align.is_power_of_two() {
        return bad(SegmentProblem::BadAlign);
    }
    let modulus = ph.p_align.max(PAGE_SIZE);
    if ph.p_vaddr % PAGE_SIZE != ph.p_offset % PAGE_SIZE
        || (ph.p_align > PAGE_SIZE && ph.p_vaddr % modulus != ph.p_offset % modulus)
    {
        return bad(SegmentProblem::Misaligned);
    }
    if ph.p_memsz == 0 {
        return Ok(None);
    }
    let Some(vaddr) = ph.p_vaddr.checked_add(bias) else {
        return bad(SegmentProblem::AddressOverflow);
    };
    let Some(end) = vaddr.checked_add(ph.p_memsz).and_then(page_ceil) else {
        return bad(SegmentProblem::AddressOverflow);
    };
    if end > TASK_SIZE_MAX {
        return bad(SegmentProblem::AboveUserSpace);
    }
    let start = page_floor(vaddr);
    if start < MMAP_MIN_ADDR {
        return bad(SegmentProblem::BelowMinAddress);
    }
    // Both fit in usize: they are at most the image length.
    let copy_start = page_floor(ph.p_offset) as usize;
    let copy_end = (ph.p_offset + ph.p_filesz) as usize;
    Ok(Some(Segment {
        index,
        vaddr,
        memsz: ph.p_memsz,
        filesz: ph.p_filesz,
        offset: ph.p_offset,
        flags: Flags(ph.p_flags),
        align: ph.p_align,
        pages: start..end,
        copy: copy_start..copy_end,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::vec;

    /// One program header for [`Image`].
    #[derive(Clone, Copy)]
    struct Ph {
        p_type: u32,
        flags: u32,
        offset: u64,
        vaddr: u64,
        filesz: u64,
        memsz: u64,
        align: u64,
    }

    fn load(flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> Ph {
        Ph {
            p_type: PT_LOAD,
            flags,
            offset,
            vaddr,
            filesz,
            memsz,
            align: PAGE_SIZE,
        }
    }

    fn other(p_type: u32, flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> Ph {
        Ph {
            p_type,
            flags,
            offset,
            vaddr,
            filesz,
            memsz,
            align: 8,
        }
    }

    /// A small ELF image: header, program headers at offset 64, a file of `len` bytes.
    struct Image {
        e_type: u16,
        entry: u64,
        phs: Vec<Ph>,
        len: usize,
    }

    impl Image {
        /// The layout of `guest/user/user.ld`: text (headers included) at 0x400000, rodata
        /// and data in their own pages, data with a .bss.
        fn typical() -> Self {
            Image {
                e_type: ET_EXEC,
                entry: 0x400100,
                phs: vec![
                    other(PT_PHDR, PF_R, 64, 0x400040, 4 * 56, 4 * 56),
                    load(PF_R | PF_X, 0, 0x400000, 0x1234, 0x1234),
                    load(PF_R, 0x2000, 0x402000, 0x300, 0x300),
                    load(PF_R | PF_W, 0x3000, 0x403000, 0x40, 0x2010),
                ],
                len: 0x3040,
            }
        }

        fn bytes(&self) -> Vec<u8> {
            let mut b = vec![0u8; self.len.max(64 + self.phs.len() * 56)];
            b[..4].copy_from_slice(b"\x7fELF");
            b[4] = 2;
            b[5] = 1;
            b[6] = 1;
            b[16..18].copy_from_slice(&self.e_type.to_le_bytes());
            b[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
            b[20..24].copy_from_slice(&1u32.to_le_bytes());
            b[24..32].copy_from_slice(&self.entry.to_le_bytes());
            b[32..40].copy_from_slice(&64u64.to_le_bytes());
            b[52..54].copy_from_slice(&64u16.to_le_bytes());
            b[54..56].copy_from_slice(&56u16.to_le_bytes());
            b[56..58].copy_from_slice(&(self.phs.len() as u16).to_le_bytes());
            for (i, ph) in self.phs.iter().enumerate() {
                let o = 64 + 56 * i;
                b[o..o + 4].copy_from_slice(&ph.p_type.to_le_bytes());
                b[o + 4..o + 8].copy_from_slice(&ph.flags.to_le_bytes());
                b[o + 8..o + 16].copy_from_slice(&ph.offset.to_le_bytes());
                b[o + 16..o + 24].copy_from_slice(&ph.vaddr.to_le_bytes());
                b[o + 24..o + 32].copy_from_slice(&ph.vaddr.to_le_bytes());
                b[o + 32..o + 40].copy_from_slice(&ph.filesz.to_le_bytes());
                b[o + 40..o + 48].copy_from_slice(&ph.memsz.to_le_bytes());
                b[o + 48..o + 56].copy_from_slice(&ph.align.to_le_bytes());
            }
            b
        }

        fn plan(&self) -> Result<LoadPlan, ElfError> {
            plan(&self.bytes(), DYN_BASE)
        }
    }

    #[test]
    fn typical_program() {
        let p = Image::typical().plan().unwrap();
        assert_eq!(p.e_type, ET_EXEC);
        assert_eq!(p.bias, 0);
        assert_eq!(p.entry, 0x400100);
        assert_eq!(p.phdr, Some(0x400040));
        assert_eq!((p.phnum, p.phent), (4, 56));
        assert_eq!(p.segments.len(), 3);
        let [text, ro, data] = &p.segments[..] else {
            panic!()
        };
        assert_eq!(text.pages, 0x400000..0x402000);
        assert_eq!(text.copy, 0..0x1234);
        assert!(text.flags.read() && text.flags.exec() && !text.flags.write());
        assert_eq!(ro.pages, 0x402000..0x403000);
        assert_eq!(ro.copy, 0x2000..0x2300);
        assert_eq!(data.pages, 0x403000..0x406000);
        assert_eq!(data.copy, 0x3000..0x3040);
        assert!(data.flags.write() && !data.flags.exec());
        assert_eq!(p.brk_start, 0x406000);
        assert!(!p.exec_stack);
        assert_eq!(p.tls, None);
    }

    #[test]
    fn copy_starts_at_the_page_of_an_unaligned_segment() {
        // A segment starting mid-page (lld's default without FILEHDR): the bytes before it in
        // its first page come from the file, as with mmap.
        let mut img = Image::typical();
        img.phs = vec![load(PF_R | PF_X, 0xf0, 0x4000f0, 0x100, 0x100)];
        img.entry = 0x4000f0;
        let p = img.plan().unwrap();
        assert_eq!(p.segments[0].pages, 0x400000..0x401000);
        assert_eq!(p.segments[0].copy, 0..0x1f0);
        // e_phoff (64) is below the segment's p_offset: Linux's rule finds no AT_PHDR.
        assert_eq!(p.phdr, None);
    }

    #[test]
    fn static_pie_is_relocated() {
        let mut img = Image::typical();
        img.e_type = ET_DYN;
        img.entry = 0x100;
        for ph in &mut img.phs {
            ph.vaddr -= 0x400000;
        }
        let p = img.plan().unwrap();
        assert_eq!(p.bias, DYN_BASE);
        assert_eq!(p.entry, DYN_BASE + 0x100);
        assert_eq!(p.phdr, Some(DYN_BASE + 0x40));
        assert_eq!(p.segments[0].pages.start, DYN_BASE);
        assert_eq!(p.brk_start, DYN_BASE + 0x6000);
        // A PIE needs a bias that keeps it above page zero and is page-aligned.
        assert_eq!(
            plan(&img.bytes(), 0),
            Err(ElfError::Segment {
                index: 1,
                problem: SegmentProblem::BelowMinAddress
            })
        );
        assert_eq!(plan(&img.bytes(), 0x1001), Err(ElfError::BadBias(0x1001)));
        // ET_EXEC ignores the bias.
        let exec = Image::typical();
        assert_eq!(plan(&exec.bytes(), 0x1001).unwrap().entry, 0x400100);
    }

    #[test]
    fn stack_and_tls_are_reported() {
        let mut img = Image::typical();
        img.phs.push(other(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0));
        img.phs
            .push(other(PT_TLS, PF_R, 0x3000, 0x403000, 0x10, 0x30));
        let p = img.plan().unwrap();
        assert!(!p.exec_stack);
        assert_eq!(
            p.tls,
            Some(Tls {
                vaddr: 0x403000,
                filesz: 0x10,
                memsz: 0x30,
                align: 8
            })
        );
        img.phs[4].flags |= PF_X;
        assert!(img.plan().unwrap().exec_stack);
    }

    #[test]
    fn empty_segments_and_unknown_headers_are_ignored() {
        let mut img = Image::typical();
        img.phs.push(load(PF_R, 0, 0x900000, 0, 0));
        img.phs.push(other(PT_NOTE, PF_R, 0, 0, 0, 0));
        img.phs.push(other(0x7000_0000, 0, 0, 0, 0, 0));
        img.phs
            .push(other(PT_GNU_RELRO, PF_R, 0x3000, 0x403000, 0x40, 0x40));
        let p = img.plan().unwrap();
        assert_eq!(p.segments.len(), 3);
        assert_eq!(p.phnum, 8);
    }

    #[test]
    fn segments_are_sorted_by_address() {
        let mut img = Image::typical();
        img.phs.swap(1, 3);
        let p = img.plan().unwrap();
        let starts: Vec<u64> = p.segments.iter().map(|s| s.vaddr).collect();
        assert_eq!(starts, [0x400000, 0x402000, 0x403000]);
        assert_eq!(p.segments[0].index, 3);
    }

    fn with(f: impl FnOnce(&mut Image)) -> Result<LoadPlan, ElfError> {
        let mut img = Image::typical();
        f(&mut img);
        img.plan()
    }

    fn seg_err(index: usize, problem: SegmentProblem) -> Result<LoadPlan, ElfError> {
        Err(ElfError::Segment { index, problem })
    }

    #[test]
    fn header_rejections() {
        let good = Image::typical().bytes();
        assert_eq!(plan(&good[..63], 0), Err(ElfError::TooShort));
        let patch = |at: usize, v: &[u8]| {
            let mut b = good.clone();
            b[at..at + v.len()].copy_from_slice(v);
            plan(&b, DYN_BASE)
        };
        assert_eq!(patch(0, b"\x7fELG"), Err(ElfError::BadMagic));
        assert_eq!(patch(4, &[1]), Err(ElfError::NotElf64));
        assert_eq!(patch(5, &[2]), Err(ElfError::NotLittleEndian));
        assert_eq!(patch(6, &[0]), Err(ElfError::BadVersion));
        assert_eq!(patch(20, &[2]), Err(ElfError::BadVersion));
        assert_eq!(
            patch(18, &3u16.to_le_bytes()),
            Err(ElfError::WrongMachine(3))
        );
        assert_eq!(
            patch(16, &1u16.to_le_bytes()),
            Err(ElfError::NotExecutable(1))
        );
        assert_eq!(
            patch(16, &4u16.to_le_bytes()),
            Err(ElfError::NotExecutable(4))
        );
        assert_eq!(
            patch(54, &32u16.to_le_bytes()),
            Err(ElfError::BadPhentsize(32))
        );
        assert_eq!(patch(56, &0u16.to_le_bytes()), Err(ElfError::BadPhnum(0)));
        assert_eq!(
            patch(56, &0xffffu16.to_le_bytes()),
            Err(ElfError::BadPhnum(0xffff))
        );
        assert_eq!(patch(56, &74u16.to_le_bytes()), Err(ElfError::BadPhnum(74)));
        assert_eq!(
            patch(32, &(good.len() as u64 - 100).to_le_bytes()),
            Err(ElfError::PhdrsOutOfBounds)
        );
        assert_eq!(
            patch(32, &u64::MAX.to_le_bytes()),
            Err(ElfError::PhdrsOutOfBounds)
        );
        // OS/ABI is ignored, as by Linux.
        assert!(patch(7, &[3]).is_ok());
        // Some e_phnum is fine as long as the table fits: 73 entries of which most are
        // PT_NULL.
        let mut img = Image::typical();
        img.len = 64 + 73 * 56 + 0x3040;
        while img.phs.len() < MAX_PHNUM {
            img.phs.push(other(PT_NULL, 0, 0, 0, 0, 0));
        }
        // The headers grow past the text segment's file size: move PT_PHDR off it.
        img.phs[0].p_type = PT_NULL;
        assert!(img.plan().is_ok());
    }

    #[test]
    fn interpreter_is_refused_clearly() {
        let r = with(|i| i.phs.push(other(PT_INTERP, PF_R, 0x2000, 0x402000, 28, 28)));
        assert_eq!(r, Err(ElfError::Interpreter));
        assert!(format!("{}", ElfError::Interpreter).contains("no dynamic linker"));
    }

    #[test]
    fn segment_rejections() {
        assert_eq!(
            with(|i| i.phs[2].filesz = 0x301 + 0x300),
            seg_err(2, SegmentProblem::FileszExceedsMemsz)
        );
        assert_eq!(
            with(|i| {
                i.phs[3].filesz = 0x41;
            }),
            seg_err(3, SegmentProblem::FileRangeOutOfBounds)
        );
        assert_eq!(
            with(|i| i.phs[3].offset = u64::MAX - 0xfff),
            seg_err(3, SegmentProblem::FileRangeOutOfBounds)
        );
        assert_eq!(
            with(|i| i.phs[2].align = 0x3000),
            seg_err(2, SegmentProblem::BadAlign)
        );
        assert_eq!(
            with(|i| i.phs[2].vaddr += 8),
            seg_err(2, SegmentProblem::Misaligned)
        );
        // Page-congruent but not p_align-congruent.
        assert_eq!(
            with(|i| {
                i.phs[2].align = 0x20_0000;
                i.phs[2].offset = 0x1000;
            }),
            seg_err(2, SegmentProblem::Misaligned)
        );
        assert!(with(|i| i.phs[2].align = 0x20_0000).is_ok());
        // 0 and 1 mean "no constraint".
        assert!(with(|i| i.phs[2].align = 0).is_ok());
        assert!(with(|i| i.phs[2].align = 1).is_ok());
        assert_eq!(
            with(|i| i.phs[3].vaddr = 0xffff_ffff_ffff_f000),
            seg_err(3, SegmentProblem::AddressOverflow)
        );
        // The last user page, the canonical boundary, kernel addresses.
        assert_eq!(
            with(|i| i.phs[3].vaddr = TASK_SIZE_MAX - 0x1000),
            seg_err(3, SegmentProblem::AboveUserSpace)
        );
        assert!(with(|i| i.phs[3].vaddr = TASK_SIZE_MAX - 0x3000).is_ok());
        assert_eq!(
            with(|i| i.phs[3].vaddr = 0x0000_8000_0000_0000),
            seg_err(3, SegmentProblem::AboveUserSpace)
        );
        assert_eq!(
            with(|i| i.phs[3].vaddr = 0xffff_8000_0000_0000),
            seg_err(3, SegmentProblem::AboveUserSpace)
        );
        assert_eq!(
            with(|i| i.phs[3].vaddr = 0xffff_ffff_8000_0000),
            seg_err(3, SegmentProblem::AboveUserSpace)
        );
        assert_eq!(
            with(|i| i.phs[2].vaddr = 0x2000),
            seg_err(2, SegmentProblem::BelowMinAddress)
        );
    }

    #[test]
    fn overlapping_and_page_sharing_segments_are_refused() {
        // Byte overlap.
        assert_eq!(
            with(|i| i.phs[2].vaddr = 0x401000),
            Err(ElfError::Overlap {
                first: 1,
                second: 2
            })
        );
        // No byte overlap, but rodata in text's last page (text ends at 0x401234).
        assert_eq!(
            with(|i| {
                i.phs[2].offset = 0x2800;
                i.phs[2].vaddr = 0x401800;
            }),
            Err(ElfError::Overlap {
                first: 1,
                second: 2
            })
        );
        // Adjacent pages are fine.
        assert!(with(|i| {
            i.phs[2].offset = 0x2000;
            i.phs[2].vaddr = 0x402000;
        })
        .is_ok());
    }

    #[test]
    fn entry_must_be_executable_and_file_backed() {
        assert_eq!(
            with(|i| i.entry = 0x402010),
            Err(ElfError::EntryNotExecutable(0x402010))
        );
        assert_eq!(
            with(|i| i.entry = 0x401234),
            Err(ElfError::EntryNotExecutable(0x401234))
        );
        assert!(with(|i| i.entry = 0x401233).is_ok());
        assert_eq!(with(|i| i.entry = 0), Err(ElfError::EntryNotExecutable(0)));
        // An executable .bss is not code.
        assert_eq!(
            with(|i| {
                i.phs[3].flags |= PF_X;
                i.entry = 0x404000;
            }),
            Err(ElfError::EntryNotExecutable(0x404000))
        );
    }

    #[test]
    fn tls_and_phdr_rejections() {
        let tls = other(PT_TLS, PF_R, 0x3000, 0x403000, 0x10, 0x30);
        assert_eq!(
            with(|i| {
                i.phs.push(tls);
                i.phs.push(tls);
            }),
            Err(ElfError::MultipleTls)
        );
        let mut t = tls;
        t.filesz = 0x31;
        assert_eq!(with(|i| i.phs.push(t)), Err(ElfError::BadTls));
        let mut t = tls;
        t.align = 3;
        assert_eq!(with(|i| i.phs.push(t)), Err(ElfError::BadTls));
        let mut t = tls;
        t.vaddr = 0x403038; // image beyond the data segment's file part (0x40 bytes)
        assert_eq!(with(|i| i.phs.push(t)), Err(ElfError::BadTls));
        let mut t = tls;
        t.memsz = u64::MAX;
        assert_eq!(with(|i| i.phs.push(t)), Err(ElfError::BadTls));
        // A .tbss-only template needs no file bytes.
        let mut t = tls;
        t.filesz = 0;
        t.vaddr = 0x999000;
        assert!(with(|i| i.phs.push(t)).is_ok());

        assert_eq!(
            with(|i| i.phs[0].vaddr = 0x400048),
            Err(ElfError::PhdrMismatch)
        );
        // PT_PHDR while no segment loads the headers.
        assert_eq!(
            with(|i| {
                i.phs[1].offset = 0x1000;
                i.phs[1].vaddr = 0x401000;
                i.phs[1].filesz = 0x100;
                i.phs[1].memsz = 0x100;
                i.entry = 0x401000;
            }),
            Err(ElfError::PhdrMismatch)
        );
    }

    #[test]
    fn no_load_segments() {
        assert_eq!(
            with(|i| {
                i.phs.retain(|p| p.p_type != PT_LOAD);
            }),
            Err(ElfError::NoLoadSegments)
        );
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
    }

    #[test]
    fn corrupted_images_never_panic() {
        let mut img = Image::typical();
        img.phs
            .push(other(PT_TLS, PF_R, 0x3000, 0x403000, 0x10, 0x30));
        img.phs.push(other(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0));
        let good = img.bytes();
        let header_len = 64 + img.phs.len() * 56;
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..50_000 {
            let mut b = good.clone();
            for _ in 0..1 + rng.next() % 3 {
                let at = (rng.next() as usize) % header_len;
                b[at] = match round % 3 {
                    0 => rng.next() as u8,
                    1 => 0xff,
                    _ => 0,
                };
            }
            if round % 7 == 0 {
                b.truncate(rng.next() as usize % b.len());
            }
            if let Ok(p) = plan(&b, DYN_BASE) {
                for s in &p.segments {
                    assert!(s.copy.end <= b.len());
                    assert!(s.pages.end <= TASK_SIZE_MAX && s.pages.start >= MMAP_MIN_ADDR);
                    assert!(s.copy.end - s.copy.start <= (s.pages.end - s.pages.start) as usize);
                }
                assert!(p.brk_start <= TASK_SIZE_MAX);
            }
        }
    }

    /// The real ring-3 programs (every `guest/user/src/bin/*.rs`), when they have been built
    /// (`cargo xtask test` builds them first and sets `LWPVM_USER_PROGRAMS`; without it, the
    /// default build directory is tried and the test is skipped if it is empty).
    #[test]
    fn real_user_programs() {
        extern crate std;
        use std::path::PathBuf;
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let (dir, required) = match std::env::var_os("LWPVM_USER_PROGRAMS") {
            Some(d) => (PathBuf::from(d), true),
            None => (
                manifest.join("../target/x86_64-unknown-none/release"),
                false,
            ),
        };
        let mut names: Vec<std::string::String> =
            std::fs::read_dir(manifest.join("../user/src/bin"))
                .unwrap()
                .filter_map(|e| {
                    let name = e.ok()?.file_name().into_string().ok()?;
                    Some(name.strip_suffix(".rs")?.into())
                })
                .collect();
        names.sort();
        assert!(names.iter().any(|n| n == "init"));
        let mut checked = 0;
        for name in &names {
            let Ok(bytes) = std::fs::read(dir.join(name)) else {
                assert!(!required, "{name} not found in {}", dir.display());
                continue;
            };
            let p = plan(&bytes, DYN_BASE).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(p.e_type, ET_EXEC, "{name}");
            assert_eq!(p.segments[0].pages.start, 0x400000, "{name}");
            assert_eq!(p.phdr, Some(0x400040), "{name}: headers are loaded");
            assert!(!p.exec_stack, "{name}");
            assert!(p
                .segments
                .iter()
                .all(|s| !(s.flags.write() && s.flags.exec())));
            checked += 1;
        }
        if checked == 0 {
            std::eprintln!(
                "real_user_programs: none built in {}, skipped",
                dir.display()
            );
        }
    }
}
