//! Process and thread identity, exit, yielding.
//!
//! Linux: `kernel/exit.c` (`exit`: the calling thread; `exit_group`: the whole process, the
//! status's low 8 bits kept), `kernel/sys.c` (`getpid` = the thread group id, `gettid`,
//! `getppid`), `kernel/sched/syscalls.c` (`sched_yield`: always 0).

use super::{args, SysResult};
use crate::arch::trap::TrapFrame;
use crate::proc::{self, WaitStatus};
use crate::sched;

/// The running LWP (system calls only come from LWPs).
fn me() -> &'static proc::Lwp {
    proc::current().expect("a system call from a kernel thread")
}

/// `getpid()`.
pub fn getpid(_: &mut TrapFrame) -> SysResult {
    Ok(me().pid() as u64)
}

/// `gettid()`.
pub fn gettid(_: &mut TrapFrame) -> SysResult {
    Ok(me().tid() as u64)
}

/// `getppid()` (0 for init).
pub fn getppid(_: &mut TrapFrame) -> SysResult {
    Ok(me().process().map_or(0, |p| p.ppid()) as u64)
}

/// `sched_yield()`.
pub fn sched_yield(_: &mut TrapFrame) -> SysResult {
    sched::yield_now();
    Ok(0)
}

/// `exit(status)`: ends the calling thread; the last one ends the process.
pub fn exit(frame: &mut TrapFrame) -> SysResult {
    let [status, ..] = args(frame);
    proc::exit_lwp(WaitStatus::exited(status as i32))
}

/// `exit_group(status)`: ends the process.
pub fn exit_group(frame: &mut TrapFrame) -> SysResult {
    let [status, ..] = args(frame);
    proc::exit_group(WaitStatus::exited(status as i32))
}
