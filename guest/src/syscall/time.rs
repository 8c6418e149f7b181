//! Clocks and sleeping: `clock_gettime`, `nanosleep`.
//!
//! Linux: `kernel/time/posix-timers.c` (`clock_gettime`: an unknown clock is `EINVAL` before
//! the pointer is looked at, then `put_timespec64` → `EFAULT`), `kernel/time/hrtimer.c`
//! (`nanosleep`: `get_timespec64` → `EFAULT`, `timespec64_valid` → `EINVAL`; `rem` is only
//! written when a signal interrupts the sleep).
//!
//! Clocks: `CLOCK_REALTIME` (the wall clock: the RTC at boot, then the TSC),
//! `CLOCK_MONOTONIC` (the TSC since boot), and Linux's aliases of them:
//! `CLOCK_MONOTONIC_RAW`, `CLOCK_BOOTTIME` (nothing suspends), the `_COARSE` clocks (exact
//! here), `CLOCK_TAI` (TAI offset 0, Linux's default), and the `_ALARM` clocks when there is
//! an RTC (Linux: `EINVAL` without one). Not yet: the CPU-time clocks (`EINVAL`, see the
//! `syscall` overview).

use shared_abi::current::errno::{EFAULT, EINVAL};
use shared_abi::current::time::*;

use super::{args, SysResult};
use crate::arch::time as clock;
use crate::arch::trap::TrapFrame;
use crate::mm::uaccess::{read_user, write_user, UserPtr};
use crate::sched::{self, WaitChannel, Wake};

/// Nanoseconds of clock `id` now, or `EINVAL` for a clock lwpvm does not have.
fn clock_ns(id: i32) -> Result<u64, i32> {
    match id {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE | CLOCK_TAI => Ok(clock::realtime_ns()),
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_MONOTONIC_COARSE | CLOCK_BOOTTIME => {
            Ok(clock::monotonic_ns())
        }
        CLOCK_REALTIME_ALARM if clock::rtc_present() => Ok(clock::realtime_ns()),
        CLOCK_BOOTTIME_ALARM if clock::rtc_present() => Ok(clock::monotonic_ns()),
        _ => Err(EINVAL),
    }
}

fn timespec(ns: u64) -> Timespec {
    Timespec {
        tv_sec: (ns / 1_000_000_000) as i64,
        tv_nsec: (ns % 1_000_000_000) as i64,
    }
}

/// `clock_gettime(clockid, tp)`.
pub fn clock_gettime(frame: &mut TrapFrame) -> SysResult {
    let [id, tp, ..] = args(frame);
    let ns = clock_ns(id as i32)?;
    write_user(UserPtr(tp), &timespec(ns)).map_err(|_| EFAULT)?;
    Ok(0)
}

/// `nanosleep(req, rem)`.
pub fn nanosleep(frame: &mut TrapFrame) -> SysResult {
    let [req, _rem, ..] = args(frame);
    let req: Timespec = read_user(UserPtr(req))?;
    let ns = req.as_nanos().ok_or(EINVAL)?;
    let deadline = sched::now_ns().saturating_add(u64::try_from(ns).unwrap_or(u64::MAX));
    // Interruptible, for the signals to come: they will end it with EINTR and `rem`.
    let chan = WaitChannel::of(sched::current());
    while sched::now_ns() < deadline {
        crate::inspect::set_wmesg(sched::current_slot(), "nanosleep");
        if sched::sleep_timeout(chan, true, deadline, || true) == Wake::TimedOut {
            break;
        }
    }
    Ok(0)
}
