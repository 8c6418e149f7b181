//! System calls: the table and the dispatcher; handlers live in topic files.
//!
//! Both gates (`arch::syscall`) hand over the caller's [`TrapFrame`] with interrupts
//! enabled: RAX = the number, RDI RSI RDX R10 R8 R9 = the arguments ([`args`]). The number
//! is the **low 32 bits** of RAX, as on Linux (`do_syscall_64` treats it as an `int`): the
//! upper half is ignored, and anything outside the table, negative numbers and the x32 bit
//! (`0x4000_0000`) included, returns `-ENOSYS`. The Linux calls 0..=462 and lwpvm's own
//! calls 1000..=1016 (`shared_abi::syscall`, reserved for the `_lwp_*` family, lpmap,
//! sigfastblock and the VMM calls) have a slot each, `-ENOSYS` unless implemented.
//!
//! A handler is `fn(&mut TrapFrame) -> SysResult`: it reads its arguments from the frame,
//! may change the frame (a later `rt_sigreturn` replaces it), and returns a value or an
//! errno; its table entry stores `value` or `-errno` in RAX. Handlers touch user memory only
//! through `mm::uaccess` (a bad pointer is `EFAULT`, never a kernel fault) and follow
//! Linux's order of checks, so the same bad call fails with the same errno (the ring-3
//! program `syscalls` is the specification; each handler names the Linux function it
//! follows).
//!
//! | file | calls |
//! |---|---|
//! | [`io`] | `read`, `write` (the console on fds 0, 1, 2) |
//! | [`proc`] | `exit`, `exit_group`, `getpid`, `gettid`, `getppid`, `sched_yield` |
//! | [`mem`] | `brk`, `mmap` (anonymous), `munmap`, `mprotect` |
//! | [`time`] | `clock_gettime`, `nanosleep` |
//! | [`misc`] | `uname`, `arch_prctl`, `lwpvm_dump` |
//!
//! # Deviations from Linux
//!
//! - Only the console exists as a file: fds 0, 1 and 2 (init's standard streams, opened read
//!   and write like Linux's `/dev/console`); every other fd is `EBADF`. Reads are canonical
//!   (a line at a time, no echo), polled every 10 ms.
//! - `clock_gettime` has no CPU-time clocks yet (`CLOCK_PROCESS_CPUTIME_ID`,
//!   `CLOCK_THREAD_CPUTIME_ID` and the negative per-pid/per-thread ids: `EINVAL`): the
//!   scheduler does not account CPU time.
//! - No signals yet: `nanosleep` and `read` cannot be interrupted (no `EINTR`), so
//!   `nanosleep`'s `rem` is never written.

mod io;
mod mem;
mod misc;
mod proc;
mod time;

use shared_abi::current::errno::ENOSYS;
use shared_abi::current::syscall::*;

use crate::arch::trap::TrapFrame;

/// A handler's result: the value for RAX, or an errno.
pub type SysResult = Result<u64, i32>;

/// A table entry: a handler with its result encoded for RAX (`value` or `-errno`).
type Handler = fn(&mut TrapFrame) -> u64;

/// `value`, or `-errno` as an unsigned register value.
#[inline(always)]
fn encode(r: SysResult) -> u64 {
    match r {
        Ok(v) => v,
        Err(e) => (-i64::from(e)) as u64,
    }
}

/// The table entry for handler `$h`: a closure coerced to a function pointer, into which the
/// handler and [`encode`] are inlined (a `Result` returned through memory costs interpreted
/// ring-0 instructions on every call).
macro_rules! entry {
    ($h:path) => {
        |frame: &mut TrapFrame| -> u64 { encode($h(frame)) }
    };
}

/// The six arguments of the call in `frame`.
#[inline(always)]
pub fn args(frame: &TrapFrame) -> [u64; 6] {
    [
        frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9,
    ]
}

fn enosys(_: &mut TrapFrame) -> u64 {
    encode(Err(ENOSYS))
}

/// The Linux calls, by number.
static LINUX: [Handler; LINUX_MAX + 1] = {
    let mut t: [Handler; LINUX_MAX + 1] = [enosys; LINUX_MAX + 1];
    t[SYS_READ] = entry!(io::read);
    t[SYS_WRITE] = entry!(io::write);
    t[SYS_MMAP] = entry!(mem::mmap);
    t[SYS_MPROTECT] = entry!(mem::mprotect);
    t[SYS_MUNMAP] = entry!(mem::munmap);
    t[SYS_BRK] = entry!(mem::brk);
    t[SYS_SCHED_YIELD] = entry!(proc::sched_yield);
    t[SYS_NANOSLEEP] = entry!(time::nanosleep);
    t[SYS_GETPID] = entry!(proc::getpid);
    t[SYS_EXIT] = entry!(proc::exit);
    t[SYS_UNAME] = entry!(misc::uname);
    t[SYS_GETPPID] = entry!(proc::getppid);
    t[SYS_ARCH_PRCTL] = entry!(misc::arch_prctl);
    t[SYS_GETTID] = entry!(proc::gettid);
    t[SYS_CLOCK_GETTIME] = entry!(time::clock_gettime);
    t[SYS_EXIT_GROUP] = entry!(proc::exit_group);
    t
};

/// lwpvm's calls, by number - [`EXT_BASE`].
static EXT: [Handler; EXT_MAX - EXT_BASE + 1] = {
    let mut t: [Handler; EXT_MAX - EXT_BASE + 1] = [enosys; EXT_MAX - EXT_BASE + 1];
    t[SYS_LWPVM_DUMP - EXT_BASE] = entry!(misc::lwpvm_dump);
    t
};

/// Runs the system call in `frame` and stores its result in RAX (interrupts enabled).
#[inline]
pub fn dispatch(frame: &mut TrapFrame) {
    let nr = frame.rax as u32 as usize;
    let handler = if let Some(h) = LINUX.get(nr) {
        *h
    } else if let Some(h) = nr.checked_sub(EXT_BASE).and_then(|i| EXT.get(i)) {
        *h
    } else {
        enosys
    };
    frame.rax = handler(frame);
}
