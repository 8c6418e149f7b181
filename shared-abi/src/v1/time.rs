//! Clocks and `struct timespec` (Linux x86_64).
//!
//! # Sources
//!
//! | items | source |
//! |---|---|
//! | `CLOCK_*`, `MAX_CLOCKS`, `TIMER_ABSTIME`, `struct timespec` | torvalds/linux `include/uapi/linux/time.h` (commit 2cc2c3cb…, read in full) |
//!
//! # Linux semantics (kernel/time/posix-timers.c, kernel/time/hrtimer.c)
//!
//! - `clock_gettime` with an id that names no clock is `EINVAL` (checked before the result
//!   pointer, which is `EFAULT` if not writable). Ids `0..MAX_CLOCKS` without a clock
//!   ([`CLOCK_SGI_CYCLE`] 10, 12..=15) are `EINVAL` too; negative ids encode CPU-time clocks
//!   of other processes and threads.
//! - A timespec is valid when `tv_sec >= 0` and `0 <= tv_nsec < 1_000_000_000`
//!   (`timespec64_valid`); `nanosleep` with an invalid one is `EINVAL`, with an unreadable one
//!   `EFAULT`. The remaining-time pointer is written only when the sleep is interrupted.

/// Wall-clock time (settable).
pub const CLOCK_REALTIME: i32 = 0;
/// Time since an unspecified start, never set back.
pub const CLOCK_MONOTONIC: i32 = 1;
/// CPU time of the process.
pub const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
/// CPU time of the thread.
pub const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
/// Monotonic time without NTP adjustment.
pub const CLOCK_MONOTONIC_RAW: i32 = 4;
/// Coarse, cheaper [`CLOCK_REALTIME`].
pub const CLOCK_REALTIME_COARSE: i32 = 5;
/// Coarse, cheaper [`CLOCK_MONOTONIC`].
pub const CLOCK_MONOTONIC_COARSE: i32 = 6;
/// Monotonic time including suspend.
pub const CLOCK_BOOTTIME: i32 = 7;
/// Realtime alarm clock.
pub const CLOCK_REALTIME_ALARM: i32 = 8;
/// Boottime alarm clock.
pub const CLOCK_BOOTTIME_ALARM: i32 = 9;
/// Removed (its driver is gone); kept as a placeholder, always `EINVAL`.
pub const CLOCK_SGI_CYCLE: i32 = 10;
/// International Atomic Time.
pub const CLOCK_TAI: i32 = 11;
/// Number of clock ids reserved for static clocks.
pub const MAX_CLOCKS: i32 = 16;

/// `clock_nanosleep`/`timer_settime` flag: the time is absolute.
pub const TIMER_ABSTIME: u32 = 0x01;

/// Nanoseconds in a second: `tv_nsec` is in `0..NSEC_PER_SEC`.
pub const NSEC_PER_SEC: i64 = 1_000_000_000;

/// `struct timespec` (x86_64: two `long`s).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timespec {
    /// Seconds.
    pub tv_sec: i64,
    /// Nanoseconds, `0..NSEC_PER_SEC` in a valid value.
    pub tv_nsec: i64,
}

const _: () = {
    assert!(core::mem::size_of::<Timespec>() == 16);
    assert!(core::mem::offset_of!(Timespec, tv_nsec) == 8);
};

impl Timespec {
    /// Whether Linux accepts this as a duration or time (`timespec64_valid`).
    pub const fn is_valid(&self) -> bool {
        self.tv_sec >= 0 && self.tv_nsec >= 0 && self.tv_nsec < NSEC_PER_SEC
    }

    /// The value in nanoseconds, saturating; `None` if invalid.
    pub const fn as_nanos(&self) -> Option<u128> {
        if !self.is_valid() {
            return None;
        }
        Some(self.tv_sec as u128 * NSEC_PER_SEC as u128 + self.tv_nsec as u128)
    }
}
