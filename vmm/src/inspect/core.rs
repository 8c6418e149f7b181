//! ELF core files of one guest process, for `gdb` and `readelf`.
//!
//! The file is what Linux writes for an x86_64 process (`fs/binfmt_elf.c`), built from the
//! dump and guest memory alone:
//!
//! - an `ET_CORE` ELF64 header (`EM_X86_64`);
//! - one `PT_NOTE` segment, with (all named `"CORE"`) the first LWP's `NT_PRSTATUS`, then
//!   `NT_PRPSINFO`, `NT_SIGINFO` (when a signal is the cause), then `NT_PRSTATUS` of every other
//!   LWP — gdb takes the first `NT_PRSTATUS` as the current thread;
//! - one `PT_LOAD` per run of user memory mapped in the process's page tables
//!   ([`paging::user_mappings`] from the process's CR3: permissions from the page tables,
//!   contiguous pages merged, bounded by a byte budget), each page-aligned in the file.
//!
//! Registers: an LWP's saved user registers when it is off CPU; the vCPU's registers when the
//! LWP is current on a CPU whose vCPU was parked in ring 3; zeros otherwise (the note is still
//! written so that gdb lists the thread).
//!
//! Layouts (`struct elf_prstatus`, `struct elf_prpsinfo`, `user_regs_struct` for x86_64) are
//! from torvalds/linux `include/uapi/linux/elfcore.h`, `include/linux/elfcore.h` and
//! `arch/x86/include/asm/user_64.h`.

use std::io::{self, Write};

use super::mem::GuestPhys;
use super::model::{CpuRegs, Dump, LwpDump, ProcDump, UserRegsDump};
use super::paging::{self, Budget};

/// `ET_CORE`.
const ET_CORE: u16 = 4;
/// `EM_X86_64`.
const EM_X86_64: u16 = 62;
/// `PT_LOAD`.
const PT_LOAD: u32 = 1;
/// `PT_NOTE`.
const PT_NOTE: u32 = 4;
/// Segment flags.
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;
/// Note types.
pub const NT_PRSTATUS: u32 = 1;
/// `NT_PRPSINFO`.
pub const NT_PRPSINFO: u32 = 3;
/// `NT_SIGINFO` ("SIGI").
pub const NT_SIGINFO: u32 = 0x5349_4749;
/// Size of `struct elf_prstatus` on x86_64.
const PRSTATUS_SIZE: usize = 336;
/// Offset of `pr_reg` in it.
const PR_REG: usize = 112;
/// Size of `struct elf_prpsinfo` on x86_64.
const PRPSINFO_SIZE: usize = 136;
/// Size of `siginfo_t`.
const SIGINFO_SIZE: usize = 128;
/// Largest amount of memory a core file includes.
pub const DEFAULT_MEMORY_BUDGET: u64 = 256 << 20;

/// The signal that caused the core, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreSignal {
    /// Signal number.
    pub signo: i32,
    /// si_code.
    pub code: i32,
    /// si_addr (faults) or 0.
    pub addr: u64,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreSummary {
    /// LWPs with an `NT_PRSTATUS`.
    pub threads: usize,
    /// `PT_LOAD` segments.
    pub segments: usize,
    /// Bytes of memory included.
    pub memory_bytes: u64,
    /// Problems met while walking the page tables.
    pub problems: Vec<String>,
}

/// `user_regs_struct` in its order: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi
/// orig_rax rip cs eflags rsp ss fs_base gs_base ds es fs gs. `$r` is any register set with
/// those general-purpose fields (the saved user registers of an LWP, or a paused vCPU's);
/// orig_rax is unknown (all-ones) and ds/es/fs/gs are 0 in 64-bit mode.
macro_rules! user_regs_struct {
    ($r:expr, cs: $cs:expr, ss: $ss:expr) => {{
        let r = $r;
        [
            r.r15.0,
            r.r14.0,
            r.r13.0,
            r.r12.0,
            r.rbp.0,
            r.rbx.0,
            r.r11.0,
            r.r10.0,
            r.r9.0,
            r.r8.0,
            r.rax.0,
            r.rcx.0,
            r.rdx.0,
            r.rsi.0,
            r.rdi.0,
            u64::MAX,
            r.rip.0,
            $cs,
            r.rflags.0,
            r.rsp.0,
            $ss,
            r.fs_base.0,
            r.gs_base.0,
            0,
            0,
            0,
            0,
        ]
    }};
}

/// An LWP's registers saved while off CPU: user selectors are Linux's (0x33, 0x2b).
fn gregs_from_saved(r: &UserRegsDump) -> [u64; 27] {
    user_regs_struct!(r, cs: 0x33, ss: 0x2b)
}

/// A paused vCPU's registers, selectors as the vCPU has them.
fn gregs_from_vcpu(r: &CpuRegs) -> [u64; 27] {
    user_regs_struct!(r, cs: u64::from(r.cs), ss: u64::from(r.ss))
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Appends one note (name `"CORE"`).
fn note(out: &mut Vec<u8>, n_type: u32, desc: &[u8]) {
    out.extend_from_slice(&5u32.to_le_bytes());
    out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    out.extend_from_slice(&n_type.to_le_bytes());
    out.extend_from_slice(b"CORE\0\0\0\0");
    out.extend_from_slice(desc);
    out.resize(out.len().next_multiple_of(4), 0);
}

fn prstatus(p: &ProcDump, l: &LwpDump, regs: &[u64; 27], sig: Option<CoreSignal>) -> Vec<u8> {
    let mut b = vec![0u8; PRSTATUS_SIZE];
    if let Some(s) = sig {
        put32(&mut b, 0, s.signo as u32);
        put32(&mut b, 4, s.code as u32);
        b[12..14].copy_from_slice(&(s.signo as u16).to_le_bytes());
    }
    put64(&mut b, 16, l.pending.bits.0);
    put64(&mut b, 24, l.sigmask.bits.0);
    // pr_pid is the thread's id; lwpvm's LWP ids are per process, so the core shows lid.
    put32(&mut b, 32, l.lid as u32);
    put32(&mut b, 36, p.ppid as u32);
    put32(&mut b, 40, p.pgid as u32);
    put32(&mut b, 44, p.sid as u32);
    for (i, v) in regs.iter().enumerate() {
        put64(&mut b, PR_REG + i * 8, *v);
    }
    b
}

fn prpsinfo(p: &ProcDump) -> Vec<u8> {
    let mut b = vec![0u8; PRPSINFO_SIZE];
    let (state, sname) = match p.state.as_str() {
        "SACTIVE" => (0u8, b'R'),
        "SSTOP" => (3, b'T'),
        "SZOMB" | "SDYING" | "SDEAD" => (4, b'Z'),
        _ => (1, b'S'),
    };
    b[0] = state;
    b[1] = sname;
    b[2] = u8::from(sname == b'Z');
    put32(&mut b, 24, p.pid as u32);
    put32(&mut b, 28, p.ppid as u32);
    put32(&mut b, 32, p.pgid as u32);
    put32(&mut b, 36, p.sid as u32);
    let name = p.name.as_bytes();
    let n = name.len().min(15);
    b[40..40 + n].copy_from_slice(&name[..n]);
    b[56..56 + n].copy_from_slice(&name[..n]);
    b
}

fn siginfo(s: CoreSignal) -> Vec<u8> {
    let mut b = vec![0u8; SIGINFO_SIZE];
    put32(&mut b, 0, s.signo as u32);
    put32(&mut b, 8, s.code as u32);
    put64(&mut b, 16, s.addr);
    b
}

/// The registers for LWP `l`: saved ones, else its vCPU's if it runs in ring 3, else zeros.
fn lwp_regs(dump: &Dump, l: &LwpDump) -> [u64; 27] {
    if let Some(r) = &l.regs {
        return gregs_from_saved(r);
    }
    let on_cpu = dump.cpus.iter().find(|c| {
        c.current
            .is_some_and(|cur| cur.pid == l.pid && cur.lid == l.lid)
    });
    if let Some(c) = on_cpu {
        if let Some(v) = dump
            .vcpus
            .iter()
            .find(|v| Some(u32::from(v.id)) == c.apic_id)
        {
            if let Some(r) = v.regs.filter(|r| r.cpl == 3) {
                return gregs_from_vcpu(&r);
            }
        }
    }
    [0; 27]
}

/// Writes the core file of process `pid` of `dump` (guest memory `mem`) to `out`.
pub fn write_core(
    mem: &dyn GuestPhys,
    dump: &Dump,
    pid: i32,
    sig: Option<CoreSignal>,
    memory_budget: u64,
    out: &mut dyn Write,
) -> io::Result<CoreSummary> {
    let p = dump
        .processes
        .iter()
        .find(|p| p.pid == pid)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no process {pid} in the dump"),
            )
        })?;
    let space = if p.cr3.0 == 0 {
        paging::AddressSpace {
            mappings: Vec::new(),
            problems: vec!["the process has no address space (CR3 0): no memory included".into()],
        }
    } else {
        paging::user_mappings(
            mem,
            p.cr3.0,
            Budget {
                bytes: memory_budget,
                ..Budget::default()
            },
        )
    };

    // Notes.
    let mut notes = Vec::new();
    let mut lwps = p.lwps.iter();
    if let Some(first) = lwps.next() {
        note(
            &mut notes,
            NT_PRSTATUS,
            &prstatus(p, first, &lwp_regs(dump, first), sig),
        );
    }
    note(&mut notes, NT_PRPSINFO, &prpsinfo(p));
    if let Some(s) = sig {
        note(&mut notes, NT_SIGINFO, &siginfo(s));
    }
    for l in lwps {
        note(
            &mut notes,
            NT_PRSTATUS,
            &prstatus(p, l, &lwp_regs(dump, l), sig),
        );
    }

    // Layout: ELF header, program headers, notes, then page-aligned segments.
    let phnum = 1 + space.mappings.len();
    let phoff = 64u64;
    let notes_off = phoff + 56 * phnum as u64;
    let mut data_off = (notes_off + notes.len() as u64).next_multiple_of(4096);
    let mut ehdr = vec![0u8; 64];
    ehdr[..4].copy_from_slice(b"\x7fELF");
    ehdr[4] = 2; // ELFCLASS64
    ehdr[5] = 1; // little-endian
    ehdr[6] = 1; // EV_CURRENT
    ehdr[16..18].copy_from_slice(&ET_CORE.to_le_bytes());
    ehdr[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
    put32(&mut ehdr, 20, 1);
    put64(&mut ehdr, 32, phoff);
    ehdr[52..54].copy_from_slice(&64u16.to_le_bytes());
    ehdr[54..56].copy_from_slice(&56u16.to_le_bytes());
    ehdr[56..58].copy_from_slice(&(phnum as u16).to_le_bytes());

    let mut phdrs = Vec::with_capacity(56 * phnum);
    let mut phdr = |p_type: u32, flags: u32, off: u64, vaddr: u64, size: u64, align: u64| {
        let mut b = [0u8; 56];
        put32(&mut b, 0, p_type);
        put32(&mut b, 4, flags);
        put64(&mut b, 8, off);
        put64(&mut b, 16, vaddr);
        put64(&mut b, 32, size);
        put64(&mut b, 40, size);
        put64(&mut b, 48, align);
        phdrs.extend_from_slice(&b);
    };
    phdr(PT_NOTE, 0, notes_off, 0, notes.len() as u64, 4);
    let mut offsets = Vec::with_capacity(space.mappings.len());
    for m in &space.mappings {
        let flags = PF_R | if m.writable { PF_W } else { 0 } | if m.nx { 0 } else { PF_X };
        phdr(PT_LOAD, flags, data_off, m.va, m.len, 4096);
        offsets.push(data_off);
        data_off += m.len;
    }

    out.write_all(&ehdr)?;
    out.write_all(&phdrs)?;
    out.write_all(&notes)?;
    let mut written = notes_off + notes.len() as u64;
    let mut problems = space.problems.clone();
    let mut memory_bytes = 0;
    let mut page = vec![0u8; 4096];
    for (m, off) in space.mappings.iter().zip(offsets) {
        let pad = off - written;
        out.write_all(&vec![0u8; pad as usize])?;
        for i in 0..m.len / 4096 {
            if !mem.read_phys(m.gpa + i * 4096, &mut page) {
                problems.push(format!(
                    "page at {:#x} (gpa {:#x}) is outside guest RAM; written as zeros",
                    m.va + i * 4096,
                    m.gpa + i * 4096
                ));
                page.fill(0);
            }
            out.write_all(&page)?;
        }
        written = off + m.len;
        memory_bytes += m.len;
    }
    out.flush()?;
    Ok(CoreSummary {
        threads: p.lwps.len(),
        segments: space.mappings.len(),
        memory_bytes,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::model::Reason;
    use crate::inspect::testkit::{sample_guest, LPMAP_VA};
    use shared_abi::current::signal;
    use std::process::Command;

    fn core_file(name: &str) -> (std::path::PathBuf, CoreSummary) {
        let g = sample_guest();
        // Something recognisable in the lpmap page's title.
        let dump = crate::inspect::capture(&g.mem, Some(g.header_gpa), Reason::Control, Vec::new());
        let path = std::env::temp_dir().join(format!("lwpvm-core-{}-{name}", std::process::id()));
        let mut f = std::fs::File::create(&path).unwrap();
        let summary = write_core(
            &g.mem,
            &dump,
            1,
            Some(CoreSignal {
                signo: signal::SIGSEGV as i32,
                code: 1,
                addr: 0xdead_0000,
            }),
            DEFAULT_MEMORY_BUDGET,
            &mut f,
        )
        .unwrap();
        (path, summary)
    }

    #[test]
    fn readelf_reads_the_core() {
        let (path, summary) = core_file("readelf");
        assert_eq!(summary.threads, 4);
        assert_eq!(
            summary.segments, 1,
            "three contiguous pages merge into one PT_LOAD"
        );
        assert_eq!(summary.memory_bytes, 3 * 4096);
        assert!(summary.problems.is_empty(), "{:?}", summary.problems);
        let out = Command::new("readelf")
            .args(["-h", "-l", "-n", "-W"])
            .arg(&path)
            .output()
            .expect("readelf is installed");
        let text = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && err.trim().is_empty(),
            "{text}\n{err}"
        );
        assert!(text.contains("CORE (Core file)"), "{text}");
        assert!(text.contains("Advanced Micro Devices X86-64"), "{text}");
        assert_eq!(text.matches("NT_PRSTATUS").count(), 4, "{text}");
        assert!(text.contains("NT_PRPSINFO"), "{text}");
        assert!(text.contains("NT_SIGINFO"), "{text}");
        assert!(
            text.contains("LOAD") && text.contains("0x0000000070000000"),
            "{text}"
        );
        // The lpmap page's title is in the file at its virtual address's offset.
        let bytes = std::fs::read(&path).unwrap();
        let needle = b"worker";
        assert!(bytes.windows(needle.len()).any(|w| w == needle));
        let _ = LPMAP_VA;
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn gdb_reads_the_core() {
        if Command::new("gdb").arg("--version").output().is_err() {
            eprintln!("gdb not installed; skipped");
            return;
        }
        let (path, _) = core_file("gdb");
        let out = Command::new("gdb")
            .args([
                "-nx",
                "-batch",
                "-ex",
                "info threads",
                "-ex",
                "info registers rip",
                "-ex",
            ])
            .arg(format!("x/s {:#x}", LPMAP_VA + 272))
            .arg("-c")
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(text.contains("0x402000"), "rip of LWP 1\n{text}\n{err}");
        assert!(text.contains("\"worker\""), "{text}\n{err}");
        assert_eq!(text.matches("[New LWP ").count(), 4, "{text}\n{err}");
        assert!(
            err.contains("SIGSEGV") || text.contains("SIGSEGV"),
            "{text}\n{err}"
        );
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_missing_process_is_an_error() {
        let g = sample_guest();
        let dump = crate::inspect::capture(&g.mem, Some(g.header_gpa), Reason::Control, Vec::new());
        let mut out = Vec::new();
        assert!(write_core(&g.mem, &dump, 99, None, DEFAULT_MEMORY_BUDGET, &mut out).is_err());
        // A process without an address space gives a core with notes only.
        let s = write_core(&g.mem, &dump, 2, None, DEFAULT_MEMORY_BUDGET, &mut out).unwrap();
        assert_eq!((s.threads, s.segments), (0, 0));
        assert!(s.problems[0].contains("CR3 0"), "{:?}", s.problems);
    }
}
