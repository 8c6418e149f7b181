//! `syscalls`: every initial system call of the kernel-core issue, and its error paths, with
//! Linux semantics (the Linux sources are the specification; the checks cite the function
//! that decides each result).
//!
//! Prints one line per check (`ok NAME` / `FAIL NAME: expected X got Y`, see
//! `lwpvm_user::check`) and exits with the number of failures (0: all passed). A kernel bug
//! may also end the program with a fault before the summary; that is a failure too.
//!
//! What the kernel must provide, beyond the calls themselves:
//!
//! - the Linux initial stack and auxiliary vector (`startup/*`, `auxv/*`);
//! - a readable console on fd 0 and writable ones on fds 1 and 2;
//! - `read` that validates the buffer range before it blocks (`read/efault-*` would wait for
//!   console input otherwise: Linux checks `access_ok` first);
//! - all registers but `rax`, `rcx` and `r11` preserved across a system call, `rflags`
//!   restored (`regs/*`), and the SSE registers preserved across calls and sleeps, which needs
//!   `CR4.OSFXSR` (`fpu/*`: without it the program dies with #UD there; it runs last).
//!
//! Decisions that are lwpvm's, not Linux's: `uname` reports sysname `"lwpvm"`
//! (`shared_abi::v1::utsname`); there is no x32 ABI (`unknown/x32-*`).
//!
//! The program is a static Linux executable, so the checks themselves can be checked on a
//! Linux host: run directly on the development host's Linux 6.18, all of them pass except
//! `uname/sysname` (Linux says "Linux").
#![no_std]
#![no_main]

use core::arch::asm;

use lwpvm_user::check::{Checker, Outcome};
use lwpvm_user::rt::Args;
use lwpvm_user::sys::{self, Errno, Timespec, CLOCK_MONOTONIC, CLOCK_REALTIME};
use lwpvm_user::{entry, println};
use shared_abi::current::auxv::{
    AT_BASE, AT_CLKTCK, AT_EGID, AT_ENTRY, AT_EUID, AT_EXECFN, AT_FLAGS, AT_GID, AT_HWCAP,
    AT_MINSIGSTKSZ, AT_PAGESZ, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PLATFORM, AT_RANDOM, AT_SECURE,
    AT_UID,
};
use shared_abi::current::errno::{EBADF, EEXIST, EFAULT, EINVAL, ENOMEM, ENOSYS, EPERM};
use shared_abi::current::mman::{
    MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, PROT_GROWSDOWN, PROT_GROWSUP,
    PROT_NONE, PROT_READ, PROT_SEM, PROT_WRITE, TASK_SIZE_MAX,
};
use shared_abi::current::prctl::{ARCH_GET_FS, ARCH_GET_GS};
use shared_abi::current::syscall as nr;
use shared_abi::current::time::{CLOCK_SGI_CYCLE, MAX_CLOCKS};
use shared_abi::current::utsname::{field_str, UTS_LEN, UTS_MACHINE, UTS_SYSNAME};

entry!(main);

const PAGE: usize = 4096;
/// Start of the kernel's direct map.
const KERNEL: usize = 0xffff_8000_0000_0000;
/// The kernel image.
const KERNEL_IMAGE: usize = 0xffff_ffff_8000_0000;
/// The first non-canonical address above user space.
const NONCANONICAL: usize = 0x0000_8000_0000_0000;
/// The last canonical user page, which Linux keeps unmapped (`TASK_SIZE_MAX`).
const LAST_PAGE: usize = TASK_SIZE_MAX as usize;
const RW: u32 = PROT_READ | PROT_WRITE;

fn main(args: Args) -> i32 {
    let mut c = Checker::new("syscalls");
    startup(&mut c, &args);
    ids(&mut c);
    write(&mut c);
    read(&mut c);
    clocks(&mut c);
    sleep(&mut c);
    brk(&mut c);
    mmap(&mut c);
    munmap(&mut c);
    mprotect(&mut c);
    segment_bases(&mut c);
    uname(&mut c);
    unknown(&mut c);
    registers(&mut c);
    fpu(&mut c);
    c.finish()
}

/// `raw(n, args)`: a system call with arguments chosen to fail (or to touch only memory the
/// checks own).
fn raw(n: usize, args: &[usize]) -> Result<usize, Errno> {
    // SAFETY: every call site passes pointers that are invalid on purpose, or that point at
    // pages this program mapped for the check and does not otherwise use.
    unsafe { sys::raw(n, args) }
}

/// Whether the kernel can write 16 bytes at `addr`: `clock_gettime` stores a timespec there.
/// Only for addresses of test pages.
fn kernel_can_write(addr: usize) -> Result<usize, Errno> {
    raw(nr::SYS_CLOCK_GETTIME, &[CLOCK_MONOTONIC as usize, addr])
}

/// A fresh read-write anonymous page (or `None`, reported as a failure).
fn new_pages(c: &mut Checker, what: &str, pages: usize) -> Option<usize> {
    match sys::mmap_anon(pages * PAGE, RW) {
        Ok(a) => Some(a),
        Err(e) => {
            c.fail(what, "an anonymous mapping", e);
            None
        }
    }
}

/// An address that was mapped and is not any more.
fn unmapped_page() -> usize {
    let a = sys::mmap_anon(PAGE, RW).unwrap_or(0);
    if a != 0 {
        // SAFETY: the page was just mapped and is not used.
        let _ = unsafe { sys::munmap(a, PAGE) };
    }
    a
}

// ---------------------------------------------------------------------------------------------

unsafe extern "C" {
    /// The ELF header, loaded at the start of the text segment (user.ld: FILEHDR); lld
    /// defines this symbol.
    static __ehdr_start: [u8; 64];
    /// The entry point (`rt.rs`).
    fn _start();
}

fn startup(c: &mut Checker, args: &Args) {
    // The System V ABI: rsp % 16 == 0 at the process entry, pointing at argc.
    let sp = args.initial_sp();
    c.eq("startup/rsp-16-byte-aligned", 0, sp % 16);
    c.check("startup/argc", args.argc() >= 1, ">= 1", args.argc());
    let argv0 = args.args().next().unwrap_or("");
    println!("# argv[0] = {argv0:?}, {} environment strings", args.env().count());

    let aux = |t: u64| args.aux(t as usize);
    c.eq("auxv/pagesz", Some(PAGE), aux(AT_PAGESZ));
    c.eq("auxv/phent", Some(56), aux(AT_PHENT));
    // SAFETY: the linker script loads the ELF header; lld defines __ehdr_start at it.
    let ehdr = unsafe { &__ehdr_start };
    let e_phoff = u64::from_le_bytes(ehdr[32..40].try_into().unwrap_or([0; 8])) as usize;
    let e_phnum = u16::from_le_bytes([ehdr[56], ehdr[57]]) as usize;
    let base = ehdr.as_ptr() as usize;
    c.eq("auxv/phdr", Some(base + e_phoff), aux(AT_PHDR));
    c.eq("auxv/phnum", Some(e_phnum), aux(AT_PHNUM));
    c.eq("auxv/entry", Some(_start as *const () as usize), aux(AT_ENTRY));
    c.eq("auxv/base-no-interpreter", Some(0), aux(AT_BASE));
    c.eq("auxv/flags", Some(0), aux(AT_FLAGS));
    c.eq("auxv/secure", Some(0), aux(AT_SECURE));
    c.eq("auxv/clktck", Some(100), aux(AT_CLKTCK));
    for (name, t) in [
        ("auxv/uid-present", AT_UID),
        ("auxv/euid-present", AT_EUID),
        ("auxv/gid-present", AT_GID),
        ("auxv/egid-present", AT_EGID),
    ] {
        let v = aux(t);
        c.check(name, v.is_some(), "present", "absent");
    }
    // x86_64 always has FPU (bit 0), SSE (25) and SSE2 (26) in CPUID.1:EDX.
    let hw = aux(AT_HWCAP).unwrap_or(0);
    let need = 1 | 1 << 25 | 1 << 26;
    c.check("auxv/hwcap-cpuid1-edx", hw & need == need, "FPU|SSE|SSE2 bits", hw);
    // Linux's get_sigframe_size(): at least 1040 with FXSAVE-only frames, 16-aligned.
    let m = aux(AT_MINSIGSTKSZ).unwrap_or(0);
    c.check("auxv/minsigstksz", m >= 1040 && m % 16 == 0, ">= 1040, 16-aligned", m);

    // Pointers into the stack, above the vectors.
    let on_stack = |p: usize| p > sp && p < sp + 256 * 1024;
    let random = aux(AT_RANDOM).unwrap_or(0);
    if c.check("auxv/random-on-stack", on_stack(random), "an address above rsp", random) {
        // SAFETY: AT_RANDOM points at 16 bytes on the initial stack (checked above).
        let bytes = unsafe { core::ptr::read_unaligned(random as *const [u8; 16]) };
        c.check("auxv/random-not-zero", bytes != [0; 16], "16 random bytes", "all zero");
    }
    let execfn = aux(AT_EXECFN).unwrap_or(0);
    if c.check("auxv/execfn-on-stack", on_stack(execfn), "an address above rsp", execfn) {
        // SAFETY: AT_EXECFN points at a NUL-terminated string on the initial stack.
        let name = unsafe { cstr(execfn) };
        c.check("auxv/execfn-nonempty", !name.is_empty(), "a file name", "\"\"");
        println!("# AT_EXECFN = {:?}", core::str::from_utf8(name).unwrap_or("?"));
    }
    let platform = aux(AT_PLATFORM).unwrap_or(0);
    if c.check("auxv/platform-on-stack", on_stack(platform), "an address above rsp", platform) {
        // SAFETY: AT_PLATFORM points at a NUL-terminated string on the initial stack.
        let p = unsafe { cstr(platform) };
        c.eq("auxv/platform", "x86_64", core::str::from_utf8(p).unwrap_or("?"));
    }
}

/// # Safety
/// `p` points at a NUL-terminated string of at most 4096 bytes.
unsafe fn cstr<'a>(p: usize) -> &'a [u8] {
    let mut n = 0;
    // SAFETY: per the contract, bytes up to the NUL are readable.
    while n < 4096 && unsafe { *((p + n) as *const u8) } != 0 {
        n += 1;
    }
    // SAFETY: the n bytes were just read.
    unsafe { core::slice::from_raw_parts(p as *const u8, n) }
}

fn ids(c: &mut Checker) {
    let pid = sys::getpid();
    c.check("getpid/positive", pid > 0, "> 0", pid);
    c.eq("gettid/first-thread-is-pid", pid, sys::gettid());
    let ppid = sys::getppid();
    if pid == 1 {
        c.eq("getppid/init-has-parent-0", 0, ppid);
    } else {
        c.check("getppid/valid", ppid >= 0 && ppid != pid, ">= 0 and != pid", ppid);
    }
    c.returns("sched_yield/returns-0", 0, raw(nr::SYS_SCHED_YIELD, &[]));
}

// ---------------------------------------------------------------------------------------------
// read / write: fs/read_write.c (ksys_write/vfs_write: fdget -> EBADF, access_ok -> EFAULT,
// then the copy; drivers/tty/tty_io.c for a console).

fn write(c: &mut Checker) {
    let msg = b"# write to stdout\n";
    let w = |fd: usize, buf: usize, len: usize| raw(nr::SYS_WRITE, &[fd, buf, len]);
    let buf = msg.as_ptr() as usize;
    c.returns("write/stdout", msg.len(), w(1, buf, msg.len()));
    c.returns("write/stderr", msg.len(), w(2, buf, msg.len()));
    c.returns("write/len-0", 0, w(1, buf, 0));
    c.returns("write/null-len-0", 0, w(1, 0, 0));
    // fd is an `unsigned int`: the upper half of the register is ignored.
    let fd1 = b"# fd 0x1_0000_0001 is fd 1\n";
    c.returns(
        "write/fd-upper-bits-ignored",
        fd1.len(),
        w(0x1_0000_0001, fd1.as_ptr() as usize, fd1.len()),
    );
    c.errno("write/bad-fd-minus-1", EBADF, w(usize::MAX, buf, 1));
    c.errno("write/bad-fd-1000", EBADF, w(1000, buf, 1));
    c.errno("write/bad-fd-int-max", EBADF, w(0x7fff_ffff, buf, 1));
    c.errno("write/efault-null", EFAULT, w(1, 0, 8));
    c.errno("write/efault-unmapped", EFAULT, w(1, unmapped_page(), 8));
    c.errno("write/efault-kernel", EFAULT, w(1, KERNEL, 8));
    c.errno("write/efault-kernel-image", EFAULT, w(1, KERNEL_IMAGE, 8));
    c.errno("write/efault-noncanonical", EFAULT, w(1, NONCANONICAL, 8));
    c.errno("write/efault-last-user-page", EFAULT, w(1, LAST_PAGE, 8));
    c.errno("write/efault-count-past-user-space", EFAULT, w(1, buf, 1 << 62));
    c.errno("write/efault-count-max", EFAULT, w(1, buf, usize::MAX));

    // A buffer whose end lies past the end of a mapping: Linux's tty write copies the chunk
    // first and fails with EFAULT; a regular file would take the readable prefix (4 bytes).
    if let Some(two) = new_pages(c, "write/straddle-setup", 2) {
        // SAFETY: the second page is ours and unused.
        let _ = unsafe { sys::munmap(two + PAGE, PAGE) };
        let tail = two + PAGE - 4;
        // SAFETY: the 4 bytes are in the first page, which we own.
        unsafe { core::ptr::write_unaligned(tail as *mut [u8; 4], *b"#s\n\n") };
        let r = w(1, tail, 8);
        c.check(
            "write/straddling-end-of-mapping",
            r == Err(Errno(EFAULT)) || r == Ok(4),
            "EFAULT (or a short write of 4)",
            Outcome(r),
        );
        // SAFETY: our page.
        let _ = unsafe { sys::munmap(two, PAGE) };
    }

    // The kernel reads from read-only pages, and not from PROT_NONE ones.
    if let Some(p) = new_pages(c, "write/readonly-setup", 1) {
        let text = b"# written from a read-only page\n";
        // SAFETY: our page, still writable.
        unsafe { core::ptr::copy_nonoverlapping(text.as_ptr(), p as *mut u8, text.len()) };
        // SAFETY: our page; nothing writes it afterwards.
        let _ = unsafe { sys::mprotect(p, PAGE, PROT_READ) };
        c.returns("write/from-readonly-page", text.len(), w(1, p, text.len()));
        // SAFETY: our page; nothing reads it afterwards.
        let _ = unsafe { sys::mprotect(p, PAGE, PROT_NONE) };
        c.errno("write/efault-prot-none", EFAULT, w(1, p, 8));
        // SAFETY: our page.
        let _ = unsafe { sys::munmap(p, PAGE) };
    }
}

fn read(c: &mut Checker) {
    let mut byte = [0u8; 1];
    let buf = byte.as_mut_ptr() as usize;
    let r = |fd: usize, buf: usize, len: usize| raw(nr::SYS_READ, &[fd, buf, len]);
    c.errno("read/bad-fd-minus-1", EBADF, r(usize::MAX, buf, 1));
    c.errno("read/bad-fd-1000", EBADF, r(1000, buf, 1));
    // Rejected by access_ok before the console is waited for.
    c.errno("read/efault-kernel", EFAULT, r(0, KERNEL, 1));
    c.errno("read/efault-noncanonical", EFAULT, r(0, NONCANONICAL, 1));
    c.errno("read/efault-last-user-page", EFAULT, r(0, LAST_PAGE, 1));
    c.errno("read/efault-count-past-user-space", EFAULT, r(0, buf, 1 << 62));
}

// ---------------------------------------------------------------------------------------------
// clock_gettime: kernel/time/posix-timers.c (clockid_to_kclock -> EINVAL, then put_timespec64
// -> EFAULT).

fn valid(ts: &Timespec) -> bool {
    ts.tv_sec >= 0 && (0..1_000_000_000).contains(&ts.tv_nsec)
}

fn clocks(c: &mut Checker) {
    for (name, clock) in
        [("clock_gettime/monotonic", CLOCK_MONOTONIC), ("clock_gettime/realtime", CLOCK_REALTIME)]
    {
        match sys::clock_gettime(clock) {
            Ok(ts) => {
                c.check(name, valid(&ts), "a valid timespec", DebugTs(ts));
            }
            Err(e) => c.fail(name, "success", e),
        }
    }
    let mut prev = sys::clock_gettime(CLOCK_MONOTONIC).unwrap_or_default();
    let mut backwards = None;
    for _ in 0..100 {
        let now = sys::clock_gettime(CLOCK_MONOTONIC).unwrap_or_default();
        if now < prev {
            backwards = Some((prev, now));
        }
        prev = now;
    }
    c.check(
        "clock_gettime/monotonic-never-goes-back",
        backwards.is_none(),
        "non-decreasing",
        DebugOpt(backwards),
    );

    let mut ts = Timespec::default();
    let out = &mut ts as *mut Timespec as usize;
    let cg = |clock: usize, p: usize| raw(nr::SYS_CLOCK_GETTIME, &[clock, p]);
    c.errno("clock_gettime/einval-max-clocks", EINVAL, cg(MAX_CLOCKS as usize, out));
    c.errno("clock_gettime/einval-100", EINVAL, cg(100, out));
    c.errno("clock_gettime/einval-sgi-cycle", EINVAL, cg(CLOCK_SGI_CYCLE as usize, out));
    c.errno("clock_gettime/einval-before-efault", EINVAL, cg(100, 0));
    c.errno("clock_gettime/efault-null", EFAULT, cg(CLOCK_MONOTONIC as usize, 0));
    c.errno("clock_gettime/efault-kernel", EFAULT, cg(CLOCK_MONOTONIC as usize, KERNEL));
    c.errno(
        "clock_gettime/efault-noncanonical",
        EFAULT,
        cg(CLOCK_MONOTONIC as usize, NONCANONICAL),
    );
    c.errno(
        "clock_gettime/efault-straddles-canonical-end",
        EFAULT,
        cg(CLOCK_MONOTONIC as usize, NONCANONICAL - 8),
    );
    if let Some(p) = new_pages(c, "clock_gettime/readonly-setup", 1) {
        // SAFETY: our page.
        let _ = unsafe { sys::mprotect(p, PAGE, PROT_READ) };
        c.errno("clock_gettime/efault-readonly-page", EFAULT, kernel_can_write(p));
        // SAFETY: our page.
        let _ = unsafe { sys::munmap(p, PAGE) };
    }
}

/// `Timespec` printed with `Debug` through `Display`.
struct DebugTs(Timespec);
impl core::fmt::Display for DebugTs {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{:09}", self.0.tv_sec, self.0.tv_nsec)
    }
}

struct DebugOpt(Option<(Timespec, Timespec)>);
impl core::fmt::Display for DebugOpt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            None => write!(f, "none"),
            Some((a, b)) => write!(f, "{} then {}", DebugTs(a), DebugTs(b)),
        }
    }
}

fn nanos(ts: Timespec) -> i128 {
    ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
}

// nanosleep: kernel/time/hrtimer.c (get_timespec64 -> EFAULT, timespec64_valid -> EINVAL;
// rmtp is written only when the sleep is interrupted).

fn sleep(c: &mut Checker) {
    let ns = |req: &Timespec, rem: usize| {
        raw(nr::SYS_NANOSLEEP, &[req as *const Timespec as usize, rem])
    };
    let t = |s: i64, n: i64| Timespec { tv_sec: s, tv_nsec: n };
    c.returns("nanosleep/zero", 0, ns(&t(0, 0), 0));

    let before = sys::clock_gettime(CLOCK_MONOTONIC).unwrap_or_default();
    let r = ns(&t(0, 10_000_000), 0);
    let after = sys::clock_gettime(CLOCK_MONOTONIC).unwrap_or_default();
    c.returns("nanosleep/10ms", 0, r);
    let slept = nanos(after) - nanos(before);
    c.check(
        "nanosleep/monotonic-advances-at-least-10ms",
        slept >= 10_000_000,
        ">= 10000000 ns",
        slept,
    );
    c.check("nanosleep/10ms-takes-less-than-5s", slept < 5_000_000_000, "< 5 s", slept);

    c.errno("nanosleep/einval-nsec-1e9", EINVAL, ns(&t(0, 1_000_000_000), 0));
    c.errno("nanosleep/einval-nsec-negative", EINVAL, ns(&t(0, -1), 0));
    c.errno("nanosleep/einval-sec-negative", EINVAL, ns(&t(-1, 0), 0));
    let raw_ns = |req: usize| raw(nr::SYS_NANOSLEEP, &[req, 0]);
    c.errno("nanosleep/efault-null", EFAULT, raw_ns(0));
    c.errno("nanosleep/efault-kernel", EFAULT, raw_ns(KERNEL));
    c.errno("nanosleep/efault-unmapped", EFAULT, raw_ns(unmapped_page()));
    // rem is not touched when the sleep is not interrupted.
    c.returns("nanosleep/bad-rem-unused", 0, ns(&t(0, 1000), KERNEL));
}

// ---------------------------------------------------------------------------------------------
// brk: mm/mmap.c SYSCALL_DEFINE1(brk): below start_brk or colliding -> unchanged; shrinking
// unmaps; the break itself need not be page-aligned.

static mut DATA: [u8; 64] = [1; 64];

fn brk(c: &mut Checker) {
    let start = sys::current_brk();
    c.check(
        "brk/initial-page-aligned",
        start != 0 && start.is_multiple_of(PAGE),
        "a non-zero page-aligned address",
        start,
    );
    let data_end = (&raw const DATA as usize + 64).next_multiple_of(PAGE);
    c.check("brk/initial-above-data", start >= data_end, ">= end of .data/.bss", start);
    // SAFETY: nothing uses the area above the break.
    let set = |a: usize| unsafe { sys::brk(a) };

    c.eq("brk/grow-3-pages", start + 3 * PAGE, set(start + 3 * PAGE));
    c.eq("brk/query", start + 3 * PAGE, sys::current_brk());
    // SAFETY: [start, start + 3 pages) is ours now.
    let area = unsafe { core::slice::from_raw_parts_mut(start as *mut u8, 3 * PAGE) };
    c.check("brk/new-memory-is-zero", area.iter().all(|&b| b == 0), "zero", "non-zero bytes");
    area.fill(0x5a);
    c.check("brk/new-memory-writable", area[3 * PAGE - 1] == 0x5a, "0x5a", area[3 * PAGE - 1]);

    c.eq("brk/unaligned-end", start + 3 * PAGE + 100, set(start + 3 * PAGE + 100));
    c.returns("brk/unaligned-end-page-usable", 0, kernel_can_write(start + 3 * PAGE));

    c.eq("brk/shrink", start + PAGE, set(start + PAGE));
    c.errno("brk/shrunk-pages-unmapped", EFAULT, kernel_can_write(start + 2 * PAGE));
    c.returns("brk/kept-page-mapped", 0, kernel_can_write(start));
    c.eq("brk/regrow", start + 3 * PAGE, set(start + 3 * PAGE));
    // SAFETY: mapped again by the regrow.
    let b = unsafe { *((start + 2 * PAGE + 8) as *const u8) };
    c.eq("brk/regrown-memory-is-zero", 0, b);

    let cur = start + 3 * PAGE;
    c.eq("brk/below-start-unchanged", cur, set(start - PAGE));
    c.eq("brk/one-unchanged", cur, set(1));
    c.eq("brk/kernel-unchanged", cur, set(KERNEL));
    c.eq("brk/noncanonical-unchanged", cur, set(NONCANONICAL));

    // Growing into another mapping fails; stopping short of it works.
    let wall = start + 64 * PAGE;
    // SAFETY: MAP_FIXED_NOREPLACE never replaces anything.
    let m = unsafe {
        sys::mmap(wall, PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0)
    };
    if c.returns("brk/wall-mapped", wall, m) {
        c.eq("brk/into-mapping-unchanged", cur, set(start + 128 * PAGE));
        c.eq("brk/up-to-mapping-gap", start + 32 * PAGE, set(start + 32 * PAGE));
        // SAFETY: our page.
        let _ = unsafe { sys::munmap(wall, PAGE) };
    }
    c.eq("brk/back-to-start", start, set(start));
}

// ---------------------------------------------------------------------------------------------
// mmap: arch/x86/kernel/sys_x86_64.c (offset not page-aligned -> EINVAL), mm/mmap.c
// ksys_mmap_pgoff (no MAP_ANONYMOUS and a bad fd -> EBADF) and do_mmap (len 0 -> EINVAL, len
// overflow -> ENOMEM, bad map type -> EINVAL, MAP_FIXED_NOREPLACE over a mapping -> EEXIST),
// get_unmapped_area (beyond TASK_SIZE -> ENOMEM, MAP_FIXED misaligned -> EINVAL).

fn mmap(c: &mut Checker) {
    let anon = MAP_PRIVATE | MAP_ANONYMOUS;
    // SAFETY: only the MAP_FIXED calls below can replace memory, and they target pages this
    // function mapped.
    let mm = |addr: usize, len: usize, prot: u32, flags: u32, fd: i32, off: usize| unsafe {
        sys::mmap(addr, len, prot, flags, fd, off)
    };

    match mm(0, 2 * PAGE, RW, anon, -1, 0) {
        Ok(a) => {
            c.check("mmap/anon-page-aligned", a % PAGE == 0 && a != 0, "page-aligned", a);
            // SAFETY: the two pages were just mapped for us.
            let m = unsafe { core::slice::from_raw_parts_mut(a as *mut u8, 2 * PAGE) };
            c.check("mmap/anon-zero-filled", m.iter().all(|&b| b == 0), "zero", "non-zero");
            m.fill(0xa5);
            c.eq("mmap/anon-writable", 0xa5, m[2 * PAGE - 1]);
            // SAFETY: our pages.
            c.returns("munmap/anon", 0, unsafe { sys::munmap(a, 2 * PAGE) }.map(|_| 0));
        }
        Err(e) => c.fail("mmap/anon-page-aligned", "success", e),
    }

    c.errno("mmap/einval-len-0", EINVAL, mm(0, 0, RW, anon, -1, 0));
    c.errno("mmap/einval-no-map-type", EINVAL, mm(0, PAGE, RW, MAP_ANONYMOUS, -1, 0));
    c.errno("mmap/einval-unaligned-offset", EINVAL, mm(0, PAGE, RW, anon, -1, 1));
    c.errno("mmap/ebadf-file-mapping-without-fd", EBADF, mm(0, PAGE, RW, MAP_PRIVATE, -1, 0));
    c.errno("mmap/enomem-len-overflows", ENOMEM, mm(0, usize::MAX, RW, anon, -1, 0));
    c.errno("mmap/enomem-len-2-pow-47", ENOMEM, mm(0, 1 << 47, RW, anon, -1, 0));
    if let Ok(a) = c_ok(c, "mmap/anon-ignores-fd", mm(0, PAGE, RW, anon, 1000, 0)) {
        // SAFETY: our page.
        let _ = unsafe { sys::munmap(a, PAGE) };
    }

    // MAP_FIXED and MAP_FIXED_NOREPLACE on three pages of our own.
    let Some(a) = new_pages(c, "mmap/fixed-setup", 3) else {
        return;
    };
    // SAFETY: our three pages.
    unsafe { core::ptr::write_bytes(a as *mut u8, 0xaa, 3 * PAGE) };
    let fixed = anon | MAP_FIXED;
    let noreplace = anon | MAP_FIXED_NOREPLACE;
    c.errno("mmap/einval-fixed-unaligned", EINVAL, mm(a + 1, PAGE, RW, fixed, -1, 0));
    c.errno("mmap/einval-noreplace-unaligned", EINVAL, mm(a + 1, PAGE, RW, noreplace, -1, 0));
    c.returns("mmap/fixed-replaces", a + PAGE, mm(a + PAGE, PAGE, RW, fixed, -1, 0));
    // SAFETY: all three pages are mapped (the middle one anew).
    let (first, middle, last) =
        unsafe { (*(a as *const u8), *((a + PAGE) as *const u8), *((a + 2 * PAGE) as *const u8)) };
    c.eq("mmap/fixed-replaced-page-is-zero", 0, middle);
    c.eq("mmap/fixed-neighbours-kept", (0xaa, 0xaa), (first, last));
    c.errno("mmap/eexist-noreplace-over-mapping", EEXIST, mm(a, PAGE, RW, noreplace, -1, 0));
    // SAFETY: our last page.
    let _ = unsafe { sys::munmap(a + 2 * PAGE, PAGE) };
    c.errno(
        "mmap/eexist-noreplace-partial-overlap",
        EEXIST,
        mm(a + PAGE, 2 * PAGE, RW, noreplace, -1, 0),
    );
    c.returns(
        "mmap/noreplace-free-range",
        a + 2 * PAGE,
        mm(a + 2 * PAGE, PAGE, RW, noreplace, -1, 0),
    );
    // A hint is honoured when the range is free, and ignored (not an error) when it is not.
    // SAFETY: our three pages.
    let _ = unsafe { sys::munmap(a, 3 * PAGE) };
    c.returns("mmap/hint-free-is-used", a + PAGE, mm(a + PAGE, PAGE, RW, anon, -1, 0));
    match mm(a + PAGE, PAGE, RW, anon, -1, 0) {
        Ok(b) => {
            c.check("mmap/hint-busy-goes-elsewhere", b != a + PAGE, "another address", b);
            // SAFETY: our page.
            let _ = unsafe { sys::munmap(b, PAGE) };
        }
        Err(e) => c.fail("mmap/hint-busy-goes-elsewhere", "success", e),
    }
    // SAFETY: our page.
    let _ = unsafe { sys::munmap(a + PAGE, PAGE) };

    // Never beyond user space.
    c.errno("mmap/enomem-fixed-last-user-page", ENOMEM, mm(LAST_PAGE, PAGE, RW, fixed, -1, 0));
    c.errno("mmap/enomem-fixed-noncanonical", ENOMEM, mm(NONCANONICAL, PAGE, RW, fixed, -1, 0));
    c.errno("mmap/enomem-fixed-kernel", ENOMEM, mm(KERNEL, PAGE, RW, fixed, -1, 0));
    c.errno("mmap/enomem-noreplace-kernel", ENOMEM, mm(KERNEL_IMAGE, PAGE, RW, noreplace, -1, 0));
    c.errno(
        "mmap/enomem-fixed-crosses-user-end",
        ENOMEM,
        mm(LAST_PAGE - PAGE, 2 * PAGE, RW, fixed, -1, 0),
    );

    // PROT_NONE memory exists but the kernel cannot read it.
    if let Ok(p) = c_ok(c, "mmap/prot-none", mm(0, PAGE, PROT_NONE, anon, -1, 0)) {
        c.errno("mmap/prot-none-efault", EFAULT, raw(nr::SYS_WRITE, &[1, p, 1]));
        // SAFETY: our page.
        let _ = unsafe { sys::munmap(p, PAGE) };
    }
}

/// Passes if `r` is a success, and returns it.
fn c_ok(c: &mut Checker, name: &str, r: Result<usize, Errno>) -> Result<usize, Errno> {
    c.success(name, r);
    r
}

// munmap: mm/vma.c do_vmi_munmap (misaligned, beyond TASK_SIZE or empty -> EINVAL; unmapping
// nothing succeeds).

fn munmap(c: &mut Checker) {
    let un = |addr: usize, len: usize| raw(nr::SYS_MUNMAP, &[addr, len]);
    let Some(a) = new_pages(c, "munmap/setup", 3) else {
        return;
    };
    c.errno("munmap/einval-unaligned", EINVAL, un(a + 1, PAGE));
    c.errno("munmap/einval-len-0", EINVAL, un(a, 0));
    c.errno("munmap/einval-kernel", EINVAL, un(KERNEL, PAGE));
    c.errno("munmap/einval-noncanonical", EINVAL, un(NONCANONICAL, PAGE));
    c.errno("munmap/einval-len-past-user-space", EINVAL, un(a, usize::MAX - a));
    c.returns("munmap/middle-page", 0, un(a + PAGE, PAGE));
    c.errno("munmap/middle-gone", EFAULT, kernel_can_write(a + PAGE));
    c.returns("munmap/first-kept", 0, kernel_can_write(a));
    c.returns("munmap/last-kept", 0, kernel_can_write(a + 2 * PAGE));
    c.returns("munmap/nothing-mapped-is-ok", 0, un(a + PAGE, PAGE));
    c.returns("munmap/len-rounds-up", 0, un(a, 1));
    c.errno("munmap/len-rounded-page-gone", EFAULT, kernel_can_write(a));
    c.returns("munmap/range-with-holes", 0, un(a, 3 * PAGE));
    c.errno("munmap/range-with-holes-gone", EFAULT, kernel_can_write(a + 2 * PAGE));
}

// mprotect: mm/mprotect.c do_mprotect_pkey (both GROWS bits, misaligned -> EINVAL; len 0 -> 0
// before the prot check; wrap -> ENOMEM; bad prot -> EINVAL; holes -> ENOMEM).

fn mprotect(c: &mut Checker) {
    let mp =
        |addr: usize, len: usize, prot: u32| raw(nr::SYS_MPROTECT, &[addr, len, prot as usize]);
    let Some(a) = new_pages(c, "mprotect/setup", 3) else {
        return;
    };
    c.errno("mprotect/einval-unaligned", EINVAL, mp(a + 1, PAGE, PROT_READ));
    c.errno("mprotect/einval-bad-prot", EINVAL, mp(a, PAGE, 0x10));
    c.errno(
        "mprotect/einval-growsdown-and-growsup",
        EINVAL,
        mp(a, PAGE, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP),
    );
    c.returns("mprotect/len-0-is-a-no-op", 0, mp(a, 0, 0x10));
    c.errno("mprotect/enomem-len-wraps", ENOMEM, mp(a, usize::MAX, PROT_READ));
    c.errno("mprotect/enomem-unmapped", ENOMEM, mp(unmapped_page(), PAGE, PROT_READ));
    c.errno("mprotect/enomem-kernel", ENOMEM, mp(KERNEL, PAGE, PROT_READ));
    c.returns("mprotect/prot-sem-accepted", 0, mp(a, PAGE, RW | PROT_SEM));

    c.returns("mprotect/middle-read-only", 0, mp(a + PAGE, PAGE, PROT_READ));
    c.returns("mprotect/first-still-writable", 0, kernel_can_write(a));
    c.errno("mprotect/middle-not-writable", EFAULT, kernel_can_write(a + PAGE));
    c.returns("mprotect/last-still-writable", 0, kernel_can_write(a + 2 * PAGE));
    c.returns("mprotect/back-to-rw", 0, mp(a + PAGE, PAGE, RW));
    c.returns("mprotect/writable-again", 0, kernel_can_write(a + PAGE));
    c.returns("mprotect/none", 0, mp(a, PAGE, PROT_NONE));
    c.errno("mprotect/none-unreadable", EFAULT, raw(nr::SYS_WRITE, &[1, a, 1]));

    // SAFETY: our pages.
    let _ = unsafe { sys::munmap(a + 2 * PAGE, PAGE) };
    c.errno("mprotect/enomem-range-with-hole", ENOMEM, mp(a, 3 * PAGE, PROT_READ));
    // SAFETY: our pages.
    let _ = unsafe { sys::munmap(a, 2 * PAGE) };
}

// ---------------------------------------------------------------------------------------------
// arch_prctl: arch/x86/kernel/process_64.c do_arch_prctl_64 (SET_FS/SET_GS >= TASK_SIZE_MAX ->
// EPERM; GET_* -> put_user, EFAULT; unknown -> EINVAL).

static mut FS_BLOCK: [usize; 2] = [0; 2];
static mut GS_BLOCK: [usize; 2] = [0; 2];

fn fs_word(offset: usize) -> usize {
    let v: usize;
    // SAFETY: reads 8 bytes at FS base + offset, which the caller set to FS_BLOCK.
    unsafe {
        asm!("mov {v}, qword ptr fs:[{o}]", v = out(reg) v, o = in(reg) offset,
             options(nostack, readonly, preserves_flags));
    }
    v
}

fn gs_word(offset: usize) -> usize {
    let v: usize;
    // SAFETY: reads 8 bytes at GS base + offset, which the caller set to GS_BLOCK.
    unsafe {
        asm!("mov {v}, qword ptr gs:[{o}]", v = out(reg) v, o = in(reg) offset,
             options(nostack, readonly, preserves_flags));
    }
    v
}

fn segment_bases(c: &mut Checker) {
    let fs = &raw mut FS_BLOCK as usize;
    let gs = &raw mut GS_BLOCK as usize;
    // SAFETY: the blocks are only used by this function; the x86_64 TLS ABI's self-pointer
    // convention: the first word holds the block's own address.
    unsafe {
        FS_BLOCK = [fs, 0x1234_5678];
        GS_BLOCK = [gs, 0x8765_4321];
    }
    if !c.returns("arch_prctl/set-fs", 0, sys::set_fs(fs).map(|_| 0)) {
        return;
    }
    c.eq("arch_prctl/fs-0-is-self-pointer", fs, fs_word(0));
    c.eq("arch_prctl/fs-8", 0x1234_5678, fs_word(8));
    c.eq("arch_prctl/get-fs", Ok(fs), sys::get_fs());
    let gs_set = c.returns("arch_prctl/set-gs", 0, sys::set_gs(gs).map(|_| 0));
    if gs_set {
        c.eq("arch_prctl/gs-0-is-self-pointer", gs, gs_word(0));
        c.eq("arch_prctl/get-gs", Ok(gs), sys::get_gs());
    }

    // The bases survive system calls, sleeps and other programs running meanwhile.
    let _ = raw(nr::SYS_SCHED_YIELD, &[]);
    let _ = sys::nanosleep(&Timespec { tv_sec: 0, tv_nsec: 2_000_000 });
    c.eq("arch_prctl/fs-survives-sleep", fs, fs_word(0));
    if gs_set {
        c.eq("arch_prctl/gs-survives-sleep", gs, gs_word(0));
    }

    for (name, bad) in [
        ("arch_prctl/eperm-fs-noncanonical", NONCANONICAL),
        ("arch_prctl/eperm-fs-kernel", KERNEL),
        ("arch_prctl/eperm-fs-task-size-max", LAST_PAGE),
        ("arch_prctl/eperm-fs-minus-1", usize::MAX),
    ] {
        c.errno(name, EPERM, sys::set_fs(bad).map(|_| 0));
    }
    c.errno("arch_prctl/eperm-gs-noncanonical", EPERM, sys::set_gs(NONCANONICAL).map(|_| 0));
    c.eq("arch_prctl/failed-set-keeps-fs", fs, fs_word(0));
    let get = |code: u32, p: usize| raw(nr::SYS_ARCH_PRCTL, &[code as usize, p]);
    c.errno("arch_prctl/efault-get-fs-null", EFAULT, get(ARCH_GET_FS, 0));
    c.errno("arch_prctl/efault-get-fs-kernel", EFAULT, get(ARCH_GET_FS, KERNEL));
    c.errno("arch_prctl/efault-get-gs-kernel", EFAULT, get(ARCH_GET_GS, KERNEL));
    c.errno("arch_prctl/einval-unknown-code", EINVAL, get(0x9999, 0));

    c.returns("arch_prctl/set-fs-0", 0, sys::set_fs(0).map(|_| 0));
    c.eq("arch_prctl/get-fs-0", Ok(0), sys::get_fs());
    if gs_set {
        c.returns("arch_prctl/set-gs-0", 0, sys::set_gs(0).map(|_| 0));
    }
}

// ---------------------------------------------------------------------------------------------
// uname: kernel/sys.c SYSCALL_DEFINE1(newuname): copy_to_user of struct new_utsname.

fn uname(c: &mut Checker) {
    match sys::uname() {
        Ok(u) => {
            c.pass("uname/ok");
            let fields = [
                ("sysname", &u.sysname),
                ("nodename", &u.nodename),
                ("release", &u.release),
                ("version", &u.version),
                ("machine", &u.machine),
                ("domainname", &u.domainname),
            ];
            let all_terminated = fields.iter().all(|(_, f)| field_str(f).len() <= UTS_LEN);
            c.check("uname/fields-nul-terminated", all_terminated, "NULs", "a full field");
            c.eq("uname/sysname", UTS_SYSNAME, text(&u.sysname));
            c.eq("uname/machine", UTS_MACHINE, text(&u.machine));
            c.check("uname/release-nonempty", !field_str(&u.release).is_empty(), "text", "\"\"");
            println!(
                "# uname: {} {} {} {} {} {}",
                text(&u.sysname),
                text(&u.nodename),
                text(&u.release),
                text(&u.version),
                text(&u.machine),
                text(&u.domainname)
            );
        }
        Err(e) => c.fail("uname/ok", "success", e),
    }
    c.errno("uname/efault-null", EFAULT, raw(nr::SYS_UNAME, &[0]));
    c.errno("uname/efault-kernel", EFAULT, raw(nr::SYS_UNAME, &[KERNEL]));
    // 390 bytes from 10 bytes below the end of a mapping.
    if let Some(p) = new_pages(c, "uname/straddle-setup", 1) {
        c.errno("uname/efault-straddling", EFAULT, raw(nr::SYS_UNAME, &[p + PAGE - 10]));
        // SAFETY: our page.
        let _ = unsafe { sys::munmap(p, PAGE) };
    }
}

/// A utsname field as text.
fn text(f: &[u8; UTS_LEN + 1]) -> &str {
    core::str::from_utf8(field_str(f)).unwrap_or("?")
}

// Numbers: arch/x86/entry/entry_64.S sign-extends the low 32 bits of rax ("syscall numbers
// are treated as int"), and do_syscall_64 returns -ENOSYS for anything outside the table.

fn unknown(c: &mut Checker) {
    for (name, n) in [
        ("unknown/999", 999),
        ("unknown/5000", 5000),
        ("unknown/minus-1", usize::MAX),
        ("unknown/low-32-bits-5000", 0xffff_ffff_0000_0000 | 5000),
        ("unknown/lwpvm-unassigned-1017", nr::EXT_MAX + 1),
        ("unknown/lwpvm-unassigned-1020", 1020),
        ("unknown/x32-getpid", 0x4000_0000 + nr::SYS_GETPID),
    ] {
        c.errno(name, ENOSYS, raw(n, &[]));
    }
    let pid = sys::getpid() as usize;
    c.returns("syscall/nr-upper-32-bits-ignored", pid, raw((1 << 32) + nr::SYS_GETPID, &[]));
}

// ---------------------------------------------------------------------------------------------
// The system call convention: everything but rax, rcx and r11 survives; rflags is restored
// from r11 (DF and CF set before the call are still set after it).

const GPRS: [&str; 12] =
    ["rbx", "rbp", "rdi", "rsi", "rdx", "r8", "r9", "r10", "r12", "r13", "r14", "r15"];

fn registers(c: &mut Checker) {
    let pattern: [u64; 12] = core::array::from_fn(|i| 0x0101_0101_0101_0101 * (i as u64 + 1));
    let mut after = [0u64; 12];
    // SAFETY: loads the patterns (through rax, overwritten last), makes a getpid (which takes
    // no arguments), and stores the registers to `after`, whose address waits on the stack;
    // rbx and rbp (reserved by Rust) are saved and restored, the rest declared clobbered.
    unsafe {
        asm!(
            "push rbx", "push rbp", "push {after}",
            "mov rbx, [rax]", "mov rbp, [rax + 8]", "mov rdi, [rax + 16]", "mov rsi, [rax + 24]",
            "mov rdx, [rax + 32]", "mov r8, [rax + 40]", "mov r9, [rax + 48]",
            "mov r10, [rax + 56]", "mov r12, [rax + 64]", "mov r13, [rax + 72]",
            "mov r14, [rax + 80]", "mov r15, [rax + 88]",
            "mov eax, {getpid}",
            "syscall",
            "mov rax, [rsp]",
            "mov [rax], rbx", "mov [rax + 8], rbp", "mov [rax + 16], rdi", "mov [rax + 24], rsi",
            "mov [rax + 32], rdx", "mov [rax + 40], r8", "mov [rax + 48], r9",
            "mov [rax + 56], r10", "mov [rax + 64], r12", "mov [rax + 72], r13",
            "mov [rax + 80], r14", "mov [rax + 88], r15",
            "add rsp, 8", "pop rbp", "pop rbx",
            after = in(reg) after.as_mut_ptr(),
            inout("rax") pattern.as_ptr() => _,
            getpid = const nr::SYS_GETPID,
            lateout("rcx") _, lateout("r11") _,
            lateout("rdi") _, lateout("rsi") _, lateout("rdx") _, lateout("r8") _,
            lateout("r9") _, lateout("r10") _, lateout("r12") _, lateout("r13") _,
            lateout("r14") _, lateout("r15") _,
        );
    }
    let changed = GPRS.iter().zip(pattern.iter().zip(&after)).find(|(_, (p, a))| p != a);
    match changed {
        None => c.pass("regs/preserved-across-syscall"),
        Some((name, (p, a))) => {
            c.fail("regs/preserved-across-syscall", format_args!("{name} = {p:#x}"), a)
        }
    }

    let flags: usize;
    // SAFETY: sets DF and CF for the duration of one getpid and clears DF again before any
    // compiled code runs.
    unsafe {
        asm!(
            "pushfq", "or qword ptr [rsp], 0x401", "popfq",
            "syscall",
            "pushfq", "pop {f}", "cld",
            f = out(reg) flags,
            inout("rax") nr::SYS_GETPID => _,
            out("rcx") _, out("r11") _,
        );
    }
    c.eq("regs/rflags-df-cf-restored", 0x401, flags & 0x401);
}

// The SSE registers: saved and restored for each LWP (eagerly), and untouched by system calls.

fn fpu(c: &mut Checker) {
    println!("# fpu: an #UD here means the kernel did not enable SSE (CR4.OSFXSR)");
    let ts = Timespec { tv_sec: 0, tv_nsec: 3_000_000 };
    let pattern: [u64; 16] = core::array::from_fn(|i| 0x1111_1111_1111_1111 * (i as u64 + 1));
    for (name, n, arg) in [
        ("fpu/xmm-preserved-across-getpid", nr::SYS_GETPID, 0),
        ("fpu/xmm-preserved-across-sleep", nr::SYS_NANOSLEEP, &ts as *const Timespec as usize),
    ] {
        let mut after = [0u64; 16];
        // SAFETY: the xmm registers are not used by this soft-float program's compiled code;
        // the call is getpid or a 3 ms nanosleep of a valid timespec; `after` is written.
        unsafe {
            asm!(
                "movq xmm0, [{p}]", "movq xmm1, [{p} + 8]", "movq xmm2, [{p} + 16]",
                "movq xmm3, [{p} + 24]", "movq xmm4, [{p} + 32]", "movq xmm5, [{p} + 40]",
                "movq xmm6, [{p} + 48]", "movq xmm7, [{p} + 56]", "movq xmm8, [{p} + 64]",
                "movq xmm9, [{p} + 72]", "movq xmm10, [{p} + 80]", "movq xmm11, [{p} + 88]",
                "movq xmm12, [{p} + 96]", "movq xmm13, [{p} + 104]", "movq xmm14, [{p} + 112]",
                "movq xmm15, [{p} + 120]",
                "xor esi, esi",
                "syscall",
                "movq [{a}], xmm0", "movq [{a} + 8], xmm1", "movq [{a} + 16], xmm2",
                "movq [{a} + 24], xmm3", "movq [{a} + 32], xmm4", "movq [{a} + 40], xmm5",
                "movq [{a} + 48], xmm6", "movq [{a} + 56], xmm7", "movq [{a} + 64], xmm8",
                "movq [{a} + 72], xmm9", "movq [{a} + 80], xmm10", "movq [{a} + 88], xmm11",
                "movq [{a} + 96], xmm12", "movq [{a} + 104], xmm13", "movq [{a} + 112], xmm14",
                "movq [{a} + 120], xmm15",
                p = in(reg) pattern.as_ptr(),
                a = in(reg) after.as_mut_ptr(),
                inout("rax") n => _,
                in("rdi") arg,
                out("rcx") _, out("rsi") _, out("r11") _,
            );
        }
        match (0..16).find(|&i| pattern[i] != after[i]) {
            None => c.pass(name),
            Some(i) => c.fail(name, format_args!("xmm{i} = {:#x}", pattern[i]), after[i]),
        }
    }
}
