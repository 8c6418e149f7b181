//! NetBSD lightweight processes: the `lwpctl` block, `_lwp_create` flags, LWP states, and how
//! lwpvm's `_lwp_create` reads its ucontext.
//!
//! # Sources
//!
//! | item | source |
//! |---|---|
//! | [`LwpCtl`], `LWPCTL_CPU_*`, `LWPCTL_FEATURE_*` | NetBSD/src `sys/sys/lwpctl.h` (modern: `volatile int lc_curcpu; volatile int lc_pctr;`, `LWPCTL_FEATURE_PCTR 0x2`; the 2007 copy, 180618d8…, had `lc_reserved` and only `FEATURE_CURCPU`) and `sys/kern/sys_lwp.c` (`sys__lwp_ctl` accepts exactly `CURCPU \| PCTR`, else `ENODEV`) |
//! | `LWPCTL_PER_PAGE` formula | NetBSD/src `sys/sys/lwpctl.h`: `(PAGE_SIZE / sizeof(lwpctl_t)) & ~31` |
//! | [`LWP_DETACHED`], [`LWP_SUSPENDED`], [`LwpState`] values | NetBSD/src `sys/sys/lwp.h` v1.212 (commit 00df9bd5…): "These values are set in stone and must not be reused" (6, `LSDEAD`, was removed in 5.0) |
//! | [`LWP_UNPARK_MAX`] | NetBSD/src `sys/kern/sys_lwp.c`: `#define LWP_UNPARK_MAX 1024` |
//! | NetBSD `_UC_SIGMASK` 0x01, `_UC_CPU` 0x04 (mentioned below) | NetBSD/src `sys/sys/ucontext.h` |
//! | [`LWP_PARK_ABSTIME`] | = `TIMER_ABSTIME` (0x01), torvalds/linux `include/uapi/linux/time.h` (NetBSD uses `TIMER_ABSTIME` for `___lwp_park60` flags) |
//! | [`UC_LWP_SIGMASK`], [`UC_LWP_CPU`], the ucontext rules below | **lwpvm's own** |
//!
//! # `_lwp_create` and its ucontext (lwpvm's own convention)
//!
//! NetBSD's `_lwp_create(ucp, flags, new_lid)` takes a NetBSD `ucontext_t`; lwpvm has no
//! NetBSD ucontext, so `ucp` points to a Linux-layout [`UContext`] (the one signal frames
//! use, [`super::sigframe`]), read like this:
//!
//! - `uc_flags` must contain [`UC_LWP_CPU`] (NetBSD requires `_UC_CPU`), else `EINVAL`.
//!   Bits other than `UC_LWP_CPU | UC_LWP_SIGMASK` must be zero (`EINVAL`).
//!   lwpvm does not reuse NetBSD's bit values (`_UC_SIGMASK` 0x01, `_UC_CPU` 0x04): in the
//!   Linux layout the low bits of `uc_flags` already mean `UC_FP_XSTATE`,
//!   `UC_SIGCONTEXT_SS`, `UC_STRICT_RESTORE_SS`.
//! - `uc_mcontext`: all general registers and `rsp` are taken as given; `rip` must be a
//!   lower-half user address (`rip < 1 << 47`), else `EINVAL` (so the new LWP can always be
//!   started with `sysretq`, which must never see a non-canonical `rcx`); `eflags` passes through [`super::sigframe::sigreturn_rflags`] (only `FIX_EFLAGS` bits);
//!   `cs`/`ss` are ignored (user selectors are forced); `fpstate` must be 0 (`EINVAL`
//!   otherwise): the new LWP starts with the initial FPU state. `gs`, `fs`, `err`,
//!   `trapno`, `oldmask`, `cr2`, `reserved1` are ignored.
//! - `uc_sigmask` is the new LWP's signal mask if `UC_LWP_SIGMASK` is set (SIGKILL/SIGSTOP
//!   removed), else the creator's mask is inherited.
//! - `uc_stack` and `uc_link` are ignored; the new LWP has no alternate signal stack.
//!
//! The new LWP's id is written to `*new_lid` before it can run (`EFAULT` destroys it).
//!
//! [`UContext`]: super::sigframe::UContext

use core::mem::{offset_of, size_of};

/// An LWP id (NetBSD `lwpid_t`, an `int`).
pub type LwpId = i32;

// ---------------------------------------------------------------------------------------------
// lwpctl.
// ---------------------------------------------------------------------------------------------

/// NetBSD `struct lwpctl`: the per-LWP block the kernel updates in user memory
/// (`_lwp_ctl(2)`). Same layout for 32- and 64-bit processes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LwpCtl {
    /// CPU the LWP is running on, [`LWPCTL_CPU_NONE`] when not running,
    /// [`LWPCTL_CPU_EXITED`] once it has exited. Written on every switch in and out.
    pub lc_curcpu: i32,
    /// Preemption counter: incremented on every context switch to the LWP.
    pub lc_pctr: i32,
}

const _: () = {
    assert!(size_of::<LwpCtl>() == 8);
    assert!(offset_of!(LwpCtl, lc_curcpu) == 0);
    assert!(offset_of!(LwpCtl, lc_pctr) == 4);
};

/// `lc_curcpu`: the LWP is not on a CPU.
pub const LWPCTL_CPU_NONE: i32 = -1;
/// `lc_curcpu`: the LWP has exited.
pub const LWPCTL_CPU_EXITED: i32 = -2;
/// `_lwp_ctl` feature: maintain `lc_curcpu`.
pub const LWPCTL_FEATURE_CURCPU: u32 = 0x0000_0001;
/// `_lwp_ctl` feature: maintain `lc_pctr`.
pub const LWPCTL_FEATURE_PCTR: u32 = 0x0000_0002;
/// All features `_lwp_ctl` accepts; any other bit → `ENODEV`.
pub const LWPCTL_FEATURES: u32 = LWPCTL_FEATURE_CURCPU | LWPCTL_FEATURE_PCTR;
/// `lwpctl` slots per 4 KiB page as NetBSD allocates them (a multiple of 32 for its bitmap).
pub const LWPCTL_PER_PAGE: usize = (4096 / size_of::<LwpCtl>()) & !31;
const _: () = assert!(LWPCTL_PER_PAGE == 512);

// ---------------------------------------------------------------------------------------------
// _lwp_create, _lwp_park, _lwp_unpark_all.
// ---------------------------------------------------------------------------------------------

/// `_lwp_create` flag: the LWP is created detached (cannot be `_lwp_wait`ed for; freed at
/// exit).
pub const LWP_DETACHED: u64 = 0x0000_0040;
/// `_lwp_create` flag: the LWP is created suspended (suspends itself before reaching user
/// mode; `_lwp_continue` releases it).
pub const LWP_SUSPENDED: u64 = 0x0000_0080;
/// All flags `_lwp_create` accepts; lwpvm rejects others with `EINVAL`.
pub const LWP_CREATE_FLAGS: u64 = LWP_DETACHED | LWP_SUSPENDED;

/// `_lwp_create` `uc_flags`: `uc_mcontext` holds the new LWP's registers (required).
/// lwpvm's own bit; plays the role of NetBSD's `_UC_CPU`.
pub const UC_LWP_CPU: u64 = 1 << 16;
/// `_lwp_create` `uc_flags`: `uc_sigmask` is the new LWP's signal mask. lwpvm's own bit;
/// plays the role of NetBSD's `_UC_SIGMASK`.
pub const UC_LWP_SIGMASK: u64 = 1 << 17;
/// All `uc_flags` bits `_lwp_create` accepts.
pub const UC_LWP_FLAGS: u64 = UC_LWP_CPU | UC_LWP_SIGMASK;

/// `_lwp_park` flag: `ts` is an absolute time on `clockid` (else relative, and updated with
/// the time left when the call returns early).
pub const LWP_PARK_ABSTIME: u32 = 0x1;

/// Largest number of ids `_lwp_unpark_all` accepts (`EINVAL` above it); a call with a null
/// `lids` pointer returns this value.
pub const LWP_UNPARK_MAX: usize = 1024;

// ---------------------------------------------------------------------------------------------
// LWP states.
// ---------------------------------------------------------------------------------------------

/// NetBSD LWP states (`l_stat`), with NetBSD's numbers so that dumps read like NetBSD's.
///
/// The VMM decodes these from guest memory: use [`TryFrom<u32>`], which rejects unknown
/// values (0, 6, > 8) with an error instead of panicking.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LwpState {
    /// Being created (`LSIDL`).
    Idle = 1,
    /// Runnable, on a run queue, not running (`LSRUN`).
    Run = 2,
    /// Sleeping on a wait channel (`LSSLEEP`).
    Sleep = 3,
    /// Stopped by a job-control signal or the debugger (`LSSTOP`).
    Stop = 4,
    /// Exited, awaiting collection (`LSZOMB`).
    Zombie = 5,
    /// Running on a CPU (`LSONPROC`).
    OnProc = 7,
    /// Suspended by `_lwp_suspend`; not running, not signalable (`LSSUSPENDED`).
    Suspended = 8,
}

/// An LWP state number that is not a [`LwpState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InvalidLwpState(pub u32);

impl core::fmt::Display for InvalidLwpState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "invalid LWP state {}", self.0)
    }
}

impl LwpState {
    /// NetBSD's name of the state (`"LSIDL"` ...).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Idle => "LSIDL",
            Self::Run => "LSRUN",
            Self::Sleep => "LSSLEEP",
            Self::Stop => "LSSTOP",
            Self::Zombie => "LSZOMB",
            Self::OnProc => "LSONPROC",
            Self::Suspended => "LSSUSPENDED",
        }
    }

    /// The state numbered `v`, if any (the `const` form of `TryFrom`).
    pub const fn from_u32(v: u32) -> Option<Self> {
        match v {
            1 => Some(Self::Idle),
            2 => Some(Self::Run),
            3 => Some(Self::Sleep),
            4 => Some(Self::Stop),
            5 => Some(Self::Zombie),
            7 => Some(Self::OnProc),
            8 => Some(Self::Suspended),
            _ => None,
        }
    }
}

impl TryFrom<u32> for LwpState {
    type Error = InvalidLwpState;
    fn try_from(v: u32) -> Result<Self, InvalidLwpState> {
        Self::from_u32(v).ok_or(InvalidLwpState(v))
    }
}

impl From<LwpState> for u32 {
    fn from(s: LwpState) -> u32 {
        s as u32
    }
}

/// `LSIDL`.
pub const LSIDL: u32 = LwpState::Idle as u32;
/// `LSRUN`.
pub const LSRUN: u32 = LwpState::Run as u32;
/// `LSSLEEP`.
pub const LSSLEEP: u32 = LwpState::Sleep as u32;
/// `LSSTOP`.
pub const LSSTOP: u32 = LwpState::Stop as u32;
/// `LSZOMB`.
pub const LSZOMB: u32 = LwpState::Zombie as u32;
/// `LSONPROC`.
pub const LSONPROC: u32 = LwpState::OnProc as u32;
/// `LSSUSPENDED`.
pub const LSSUSPENDED: u32 = LwpState::Suspended as u32;

const _: () = {
    assert!(LSIDL == 1 && LSRUN == 2 && LSSLEEP == 3 && LSSTOP == 4 && LSZOMB == 5);
    assert!(LSONPROC == 7 && LSSUSPENDED == 8);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        for v in 0..=16u32 {
            match LwpState::try_from(v) {
                Ok(s) => {
                    assert_eq!(u32::from(s), v);
                    assert!(s.name().starts_with("LS"));
                }
                Err(e) => {
                    assert_eq!(e, InvalidLwpState(v));
                    assert!(matches!(v, 0 | 6 | 9..));
                }
            }
        }
        assert_eq!(LwpState::try_from(u32::MAX), Err(InvalidLwpState(u32::MAX)));
        assert_eq!(LwpState::try_from(6), Err(InvalidLwpState(6)));
        assert_eq!(LwpState::try_from(7), Ok(LwpState::OnProc));
    }

    #[test]
    fn flag_values() {
        assert_eq!(LWP_DETACHED, 0x40);
        assert_eq!(LWP_SUSPENDED, 0x80);
        assert_eq!(LWPCTL_FEATURES, 3);
        assert_eq!(UC_LWP_FLAGS & 0x7, 0, "must not overlap UC_FP_XSTATE etc.");
    }
}
