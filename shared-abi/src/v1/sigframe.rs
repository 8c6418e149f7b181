//! The Linux x86_64 signal frame, byte for byte: `siginfo_t`, the kernel's `sigaction`,
//! `stack_t`, `sigcontext`, `ucontext`, `rt_sigframe` and the FXSAVE/XSAVE area its `fpstate`
//! points to.
//!
//! The guest kernel builds these frames on user stacks and `rt_sigreturn` reads them back; the
//! VMM decodes them from (untrusted) guest memory. Every type is `#[repr(C)]`, has no padding
//! the C type lacks (explicit `pad` fields stand for C's implicit padding), accepts every bit
//! pattern (no enums, no `bool`), and carries compile-time checks of its size and of every
//! field offset. Layouts are those of x86_64, little-endian (both sides of lwpvm are x86_64).
//!
//! # Sources
//!
//! | item | source |
//! |---|---|
//! | [`SigContext`], [`FxSave`], [`FpxSwBytes`], [`XsaveHeader`], `FP_XSTATE_MAGIC1/2` | torvalds/linux `arch/x86/include/uapi/asm/sigcontext.h` (commit 128f8257…; `struct sigcontext` 64-bit, `struct _fpstate` 64-bit, `_fpx_sw_bytes`, `_header`) |
//! | [`UContext`] | torvalds/linux `include/uapi/asm-generic/ucontext.h` (x86 includes it) |
//! | `UC_FP_XSTATE`, `UC_SIGCONTEXT_SS`, `UC_STRICT_RESTORE_SS` | torvalds/linux `arch/x86/include/uapi/asm/ucontext.h` |
//! | [`RtSigFrame`] | torvalds/linux `arch/x86/include/asm/sigframe.h` (`struct rt_sigframe { char __user *pretcode; struct ucontext uc; struct siginfo info; }`, commit 0cfa80d3…) |
//! | [`SigAction`], [`StackT`] | torvalds/linux `arch/x86/include/uapi/asm/signal.h` (the non-i386 `struct sigaction`, `stack_t`) |
//! | [`SigInfo`] and its arm offsets, [`SigInfoLayout`] | torvalds/linux `include/uapi/asm-generic/siginfo.h` (commit 018303a9…); `siginfo_layout()` in `kernel/signal.c` |
//! | [`FIX_EFLAGS`] | torvalds/linux `arch/x86/include/asm/sighandling.h` (AC\|OF\|DF\|TF\|SF\|ZF\|AF\|PF\|CF\|RF = 0x50DD5) |
//! | [`LINUX_USER_CS`], [`LINUX_USER_DS`] | torvalds/linux `arch/x86/include/asm/segment.h`, 64-bit: `GDT_ENTRY_DEFAULT_USER_DS` 5, `..._USER_CS` 6, selector = entry * 8 + 3 |
//! | [`RESTORE_RT_CODE`] | gcc-mirror/gcc `libgcc/config/i386/linux-unwind.h`: `0x48` then the u64 `0x050f0000000fc0c7`, and `ucontext_t *uc_ = context->cfa` |
//! | frame geometry (below) | signals-abi.md §1.3 (torvalds/linux `arch/x86/kernel/signal.c`, `fpu__alloc_mathframe`) |
//!
//! # The frame (signals-abi §1.1, §1.3, §1.4)
//!
//! From the interrupted `rsp` downwards: 128-byte red zone (skipped, unless switching to the
//! alternate stack), then the FP area (64-aligned: [`fpstate_addr`]), then the
//! [`RtSigFrame`] placed by [`rt_sigframe_addr`] so that at handler entry `rsp` = frame start,
//! `(rsp + 8) % 16 == 0` (as right after a `call`), and `[rsp]` = `pretcode` = `sa_restorer`.
//!
//! | frame offset | field |
//! |---:|---|
//! | 0 | `pretcode` |
//! | 8 | `uc` ([`UContext`]; `uc_mcontext` at 48, `uc_sigmask` at 304) |
//! | 312 | `info` ([`SigInfo`]) |
//! | 440 | end |
//!
//! Handler entry registers: `rdi` = signal, `rsi` = `&frame.info` (even without
//! `SA_SIGINFO`), `rdx` = `&frame.uc`, `rax` = 0, `rip` = `sa_handler`, `rsp` = frame,
//! `cs` = user CS, rflags with DF, RF and TF cleared. The handler's `ret` pops `pretcode`, so
//! the restorer runs with `rsp` = frame + 8 = `&uc`, which is where unwinders look for it.
//! `rt_sigreturn` therefore finds the frame at `rsp - 8`.

use core::mem::{offset_of, size_of};

use super::signal::SigSet;

const _: () = assert!(cfg!(target_endian = "little"));

// ---------------------------------------------------------------------------------------------
// Constants.
// ---------------------------------------------------------------------------------------------

/// RFLAGS carry flag.
pub const RFLAGS_CF: u64 = 1 << 0;
/// RFLAGS bit 1, always set.
pub const RFLAGS_FIXED: u64 = 1 << 1;
/// RFLAGS parity flag.
pub const RFLAGS_PF: u64 = 1 << 2;
/// RFLAGS auxiliary carry flag.
pub const RFLAGS_AF: u64 = 1 << 4;
/// RFLAGS zero flag.
pub const RFLAGS_ZF: u64 = 1 << 6;
/// RFLAGS sign flag.
pub const RFLAGS_SF: u64 = 1 << 7;
/// RFLAGS trap flag.
pub const RFLAGS_TF: u64 = 1 << 8;
/// RFLAGS interrupt enable flag.
pub const RFLAGS_IF: u64 = 1 << 9;
/// RFLAGS direction flag.
pub const RFLAGS_DF: u64 = 1 << 10;
/// RFLAGS overflow flag.
pub const RFLAGS_OF: u64 = 1 << 11;
/// RFLAGS I/O privilege level (2 bits).
pub const RFLAGS_IOPL: u64 = 3 << 12;
/// RFLAGS nested task flag.
pub const RFLAGS_NT: u64 = 1 << 14;
/// RFLAGS resume flag.
pub const RFLAGS_RF: u64 = 1 << 16;
/// RFLAGS virtual-8086 mode flag.
pub const RFLAGS_VM: u64 = 1 << 17;
/// RFLAGS alignment check flag.
pub const RFLAGS_AC: u64 = 1 << 18;
/// RFLAGS virtual interrupt flag.
pub const RFLAGS_VIF: u64 = 1 << 19;
/// RFLAGS virtual interrupt pending flag.
pub const RFLAGS_VIP: u64 = 1 << 20;
/// RFLAGS CPUID-available flag.
pub const RFLAGS_ID: u64 = 1 << 21;

/// The RFLAGS bits user space may change through `rt_sigreturn` (and through the
/// `_lwp_create` ucontext). Everything else (IF, IOPL, NT, VM, VIF, VIP, ID ...) keeps the
/// kernel's value.
pub const FIX_EFLAGS: u64 = RFLAGS_AC
    | RFLAGS_OF
    | RFLAGS_DF
    | RFLAGS_TF
    | RFLAGS_SF
    | RFLAGS_ZF
    | RFLAGS_AF
    | RFLAGS_PF
    | RFLAGS_CF
    | RFLAGS_RF;
const _: () = assert!(FIX_EFLAGS == 0x50DD5);

/// The RFLAGS `rt_sigreturn` installs: `current` with the [`FIX_EFLAGS`] bits taken from the
/// user-supplied `saved` value.
pub const fn sigreturn_rflags(current: u64, saved: u64) -> u64 {
    (current & !FIX_EFLAGS) | (saved & FIX_EFLAGS)
}

/// RFLAGS bits cleared when a handler is entered.
pub const HANDLER_CLEAR_RFLAGS: u64 = RFLAGS_DF | RFLAGS_RF | RFLAGS_TF;

/// Linux's 64-bit user code selector (`__USER_CS`, GDT entry 6, RPL 3). A guest GDT that puts
/// its user segments where `sysret` wants them (user DS at STAR.SYSRET_CS + 8, user CS at
/// + 16, STAR.SYSRET_CS = entry 4) gets the same values, and frames look exactly like Linux's.
pub const LINUX_USER_CS: u16 = 0x33;
/// Linux's user data/stack selector (`__USER_DS`, GDT entry 5, RPL 3).
pub const LINUX_USER_DS: u16 = 0x2b;

/// `uc_flags`: the `fpstate` area has the XSAVE layout (`FpxSwBytes.magic1` is set).
pub const UC_FP_XSTATE: u64 = 0x1;
/// `uc_flags`: the kernel saved SS in `SigContext.ss`.
pub const UC_SIGCONTEXT_SS: u64 = 0x2;
/// `uc_flags`: the signal came from 64-bit code; `rt_sigreturn` restores SS verbatim.
pub const UC_STRICT_RESTORE_SS: u64 = 0x4;

/// `FpxSwBytes.magic1` of an XSAVE-layout FP area ("FPXS").
pub const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
/// Written as a `u32` at `fpstate + xstate_size`, just past the XSAVE data ("FPXE").
pub const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
/// Size of [`FP_XSTATE_MAGIC2`].
pub const FP_XSTATE_MAGIC2_SIZE: usize = 4;
/// Offset of the XSAVE header in an XSAVE area (just past the legacy FXSAVE region).
pub const XSAVE_HEADER_OFFSET: usize = 512;
/// Size of the XSAVE header.
pub const XSAVE_HEADER_SIZE: usize = 64;
/// Smallest `xstate_size` `rt_sigreturn` accepts for an XSAVE frame (legacy area + header).
pub const XSTATE_MIN_SIZE: usize = XSAVE_HEADER_OFFSET + XSAVE_HEADER_SIZE;
/// XSAVE feature bit: x87 state.
pub const XFEATURE_MASK_FP: u64 = 1 << 0;
/// XSAVE feature bit: SSE state (XMM registers, MXCSR).
pub const XFEATURE_MASK_SSE: u64 = 1 << 1;
/// XSAVE feature bit: upper halves of the YMM registers (AVX).
pub const XFEATURE_MASK_YMM: u64 = 1 << 2;
/// Size of the FXSAVE area ([`FxSave`]).
pub const FXSAVE_SIZE: usize = 512;

/// Bytes below the interrupted `rsp` that the frame skips (System V red zone).
pub const RED_ZONE: u64 = 128;
/// Alignment of the FP area on the signal stack.
pub const FPSTATE_ALIGN: u64 = 64;

/// Machine code of the `rt_sigreturn` restorer user space must point `sa_restorer` at:
/// `mov $15, %rax; syscall` (`48 c7 c0 0f 00 00 00 0f 05`). GCC's unwinder (and glibc's)
/// recognises a signal frame by exactly these bytes at the return address.
pub const RESTORE_RT_CODE: [u8; 9] = [0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05];

/// Address of the FP area for a frame built below `sp` (after the red zone / the switch to
/// the alternate stack): `round_down(sp - fp_frame_size, 64)`. `fp_frame_size` is
/// `xstate_size + FP_XSTATE_MAGIC2_SIZE` for an XSAVE frame, else [`FXSAVE_SIZE`].
pub const fn fpstate_addr(sp: u64, fp_frame_size: u64) -> u64 {
    sp.wrapping_sub(fp_frame_size) & !(FPSTATE_ALIGN - 1)
}

/// Address of the [`RtSigFrame`] below `sp` (the FP area's address):
/// `round_down(sp - size_of::<RtSigFrame>(), 16) - 8`.
pub const fn rt_sigframe_addr(sp: u64) -> u64 {
    (sp.wrapping_sub(size_of::<RtSigFrame>() as u64) & !15).wrapping_sub(8)
}

// ---------------------------------------------------------------------------------------------
// siginfo_t.
// ---------------------------------------------------------------------------------------------

/// `siginfo_t` (128 bytes): the 16-byte preamble, then the union as 14 little-endian words.
///
/// The union arms overlay each other; read them through the accessors, whose offsets (the
/// `OFF_*` constants, from the start of the struct) are checked at compile time against
/// `#[repr(C)]` mirrors of Linux's arms. Which arm is meaningful depends on
/// `(si_signo, si_code)`: see [`SigInfo::layout`].
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SigInfo {
    /// Signal number.
    pub si_signo: i32,
    /// Error number (usually 0).
    pub si_errno: i32,
    /// Origin of the signal (`SI_*`, or a signal-specific code).
    pub si_code: i32,
    /// Padding: the union is 8-aligned.
    pub pad0: i32,
    /// The union `_sifields`.
    pub fields: [u64; 14],
}

/// Which arm of the [`SigInfo`] union is meaningful (Linux `siginfo_layout()`, with the
/// `SIL_FAULT_*` variants folded into [`Fault`](Self::Fault)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigInfoLayout {
    /// `si_pid`, `si_uid` (`kill`, `SI_USER`, `SI_KERNEL`).
    Kill,
    /// `si_tid`, `si_overrun`, `si_value` (`SI_TIMER`).
    Timer,
    /// `si_pid`, `si_uid`, `si_value` (`SI_QUEUE`, `SI_TKILL` and other negative codes).
    Rt,
    /// `si_pid`, `si_uid`, `si_status`, `si_utime`, `si_stime` (SIGCHLD with a `CLD_*` code).
    Chld,
    /// `si_addr` (+ `si_addr_lsb` / `si_lower`, `si_upper` / `si_pkey`): fault signals.
    Fault,
    /// `si_band`, `si_fd`.
    Poll,
    /// `si_call_addr`, `si_syscall`, `si_arch` (SIGSYS).
    Sys,
}

impl SigInfo {
    /// Offset of the union.
    pub const OFF_FIELDS: usize = 16;
    /// `si_pid` (kill, rt, sigchld).
    pub const OFF_PID: usize = 16;
    /// `si_uid` (kill, rt, sigchld).
    pub const OFF_UID: usize = 20;
    /// `si_tid` (timer).
    pub const OFF_TID: usize = 16;
    /// `si_overrun` (timer).
    pub const OFF_OVERRUN: usize = 20;
    /// `si_value` (timer, rt): `sigval`, an `int` or a pointer.
    pub const OFF_VALUE: usize = 24;
    /// `_sys_private` (timer): kernel-internal, zero in user-visible copies.
    pub const OFF_SYS_PRIVATE: usize = 32;
    /// `si_status` (sigchld).
    pub const OFF_STATUS: usize = 24;
    /// `si_utime` (sigchld; `clock_t` = `long`).
    pub const OFF_UTIME: usize = 32;
    /// `si_stime` (sigchld).
    pub const OFF_STIME: usize = 40;
    /// `si_addr` (sigfault).
    pub const OFF_ADDR: usize = 16;
    /// `si_addr_lsb` (sigfault, `BUS_MCEERR_*`; a `short`).
    pub const OFF_ADDR_LSB: usize = 24;
    /// `si_lower` (sigfault, `SEGV_BNDERR`).
    pub const OFF_LOWER: usize = 32;
    /// `si_upper` (sigfault, `SEGV_BNDERR`).
    pub const OFF_UPPER: usize = 40;
    /// `si_pkey` (sigfault, `SEGV_PKUERR`).
    pub const OFF_PKEY: usize = 32;
    /// `si_band` (sigpoll; `long`).
    pub const OFF_BAND: usize = 16;
    /// `si_fd` (sigpoll).
    pub const OFF_FD: usize = 24;
    /// `si_call_addr` (sigsys).
    pub const OFF_CALL_ADDR: usize = 16;
    /// `si_syscall` (sigsys).
    pub const OFF_SYSCALL: usize = 24;
    /// `si_arch` (sigsys, `AUDIT_ARCH_*`).
    pub const OFF_ARCH: usize = 28;
    /// Bytes of `siginfo_t` Linux keeps in the kernel (`kernel_siginfo`); the remaining 80 are
    /// zero whenever the kernel copies a siginfo out.
    pub const KERNEL_SIZE: usize = 48;

    /// All zero.
    pub const fn zeroed() -> Self {
        Self {
            si_signo: 0,
            si_errno: 0,
            si_code: 0,
            pad0: 0,
            fields: [0; 14],
        }
    }

    /// A `kill`-layout siginfo (`SI_USER` from `kill`, `SI_TKILL`, `SI_KERNEL` ...).
    pub const fn kill(sig: u32, code: i32, pid: i32, uid: u32) -> Self {
        let mut s = Self::zeroed();
        s.si_signo = sig as i32;
        s.si_code = code;
        s.set_pid(pid);
        s.set_uid(uid);
        s
    }

    /// An `rt`-layout siginfo (`SI_QUEUE` ...), carrying `value`.
    pub const fn rt(sig: u32, code: i32, pid: i32, uid: u32, value: u64) -> Self {
        let mut s = Self::kill(sig, code, pid, uid);
        s.set_value(value);
        s
    }

    /// A POSIX-timer siginfo (`SI_TIMER`).
    pub const fn timer(sig: u32, tid: i32, overrun: i32, value: u64) -> Self {
        let mut s = Self::zeroed();
        s.si_signo = sig as i32;
        s.si_code = super::signal::SI_TIMER;
        s.set_u32(Self::OFF_TID, tid as u32);
        s.set_u32(Self::OFF_OVERRUN, overrun as u32);
        s.set_value(value);
        s
    }

    /// A SIGCHLD siginfo (`code` is a `CLD_*` value; `status` is the exit status or the
    /// signal number, not a wait status).
    pub const fn chld(code: i32, pid: i32, uid: u32, status: i32, utime: i64, stime: i64) -> Self {
        let mut s = Self::kill(super::signal::SIGCHLD, code, pid, uid);
        s.set_u32(Self::OFF_STATUS, status as u32);
        s.set_u64(Self::OFF_UTIME, utime as u64);
        s.set_u64(Self::OFF_STIME, stime as u64);
        s
    }

    /// A fault siginfo (SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGTRAP with a signal-specific code).
    pub const fn fault(sig: u32, code: i32, addr: u64) -> Self {
        let mut s = Self::zeroed();
        s.si_signo = sig as i32;
        s.si_code = code;
        s.set_u64(Self::OFF_ADDR, addr);
        s
    }

    /// The union arm that `(si_signo, si_code)` selects (Linux `siginfo_layout()`).
    pub const fn layout(&self) -> SigInfoLayout {
        siginfo_layout(self.si_signo as u32, self.si_code)
    }

    // Word access. `off` is a byte offset from the start of the struct; callers pass the
    // OFF_* constants. Out-of-range offsets read 0 and write nothing (never panic).
    const fn get_u32(&self, off: usize) -> u32 {
        if off < Self::OFF_FIELDS || off + 4 > size_of::<Self>() {
            return 0;
        }
        let rel = off - Self::OFF_FIELDS;
        (self.fields[rel / 8] >> ((rel % 8) * 8)) as u32
    }

    const fn set_u32(&mut self, off: usize, v: u32) {
        if off < Self::OFF_FIELDS || off + 4 > size_of::<Self>() {
            return;
        }
        let rel = off - Self::OFF_FIELDS;
        let shift = (rel % 8) * 8;
        let w = &mut self.fields[rel / 8];
        *w = (*w & !(0xffff_ffff << shift)) | ((v as u64) << shift);
    }

    const fn get_u64(&self, off: usize) -> u64 {
        if off < Self::OFF_FIELDS || off + 8 > size_of::<Self>() || off & 7 != 0 {
            return 0;
        }
        self.fields[(off - Self::OFF_FIELDS) / 8]
    }

    const fn set_u64(&mut self, off: usize, v: u64) {
        if off < Self::OFF_FIELDS || off + 8 > size_of::<Self>() || off & 7 != 0 {
            return;
        }
        self.fields[(off - Self::OFF_FIELDS) / 8] = v;
    }

    /// `si_pid`.
    pub const fn pid(&self) -> i32 {
        self.get_u32(Self::OFF_PID) as i32
    }
    /// Sets `si_pid`.
    pub const fn set_pid(&mut self, pid: i32) {
        self.set_u32(Self::OFF_PID, pid as u32);
    }
    /// `si_uid`.
    pub const fn uid(&self) -> u32 {
        self.get_u32(Self::OFF_UID)
    }
    /// Sets `si_uid`.
    pub const fn set_uid(&mut self, uid: u32) {
        self.set_u32(Self::OFF_UID, uid);
    }
    /// `si_value` (`sival_ptr`; `sival_int` is its low 32 bits).
    pub const fn value(&self) -> u64 {
        self.get_u64(Self::OFF_VALUE)
    }
    /// Sets `si_value`.
    pub const fn set_value(&mut self, value: u64) {
        self.set_u64(Self::OFF_VALUE, value);
    }
    /// `si_tid` (timer id).
    pub const fn tid(&self) -> i32 {
        self.get_u32(Self::OFF_TID) as i32
    }
    /// `si_overrun`.
    pub const fn overrun(&self) -> i32 {
        self.get_u32(Self::OFF_OVERRUN) as i32
    }
    /// `si_status`.
    pub const fn status(&self) -> i32 {
        self.get_u32(Self::OFF_STATUS) as i32
    }
    /// `si_utime`.
    pub const fn utime(&self) -> i64 {
        self.get_u64(Self::OFF_UTIME) as i64
    }
    /// `si_stime`.
    pub const fn stime(&self) -> i64 {
        self.get_u64(Self::OFF_STIME) as i64
    }
    /// `si_addr`.
    pub const fn addr(&self) -> u64 {
        self.get_u64(Self::OFF_ADDR)
    }
    /// `si_addr_lsb`.
    pub const fn addr_lsb(&self) -> i16 {
        self.get_u32(Self::OFF_ADDR_LSB) as u16 as i16
    }
    /// `si_pkey`.
    pub const fn pkey(&self) -> u32 {
        self.get_u32(Self::OFF_PKEY)
    }
    /// `si_band`.
    pub const fn band(&self) -> i64 {
        self.get_u64(Self::OFF_BAND) as i64
    }
    /// `si_fd`.
    pub const fn fd(&self) -> i32 {
        self.get_u32(Self::OFF_FD) as i32
    }
    /// `si_syscall`.
    pub const fn syscall(&self) -> i32 {
        self.get_u32(Self::OFF_SYSCALL) as i32
    }
    /// `si_arch`.
    pub const fn arch(&self) -> u32 {
        self.get_u32(Self::OFF_ARCH)
    }
}

/// Linux `siginfo_layout(sig, si_code)`: which union arm a siginfo with this signal and code
/// uses (folding the `SIL_FAULT_*` variants into [`SigInfoLayout::Fault`]).
pub const fn siginfo_layout(sig: u32, code: i32) -> SigInfoLayout {
    use super::signal::*;
    if code > SI_USER && code < SI_KERNEL {
        // sig_sicodes[]: signals with signal-specific codes, and their highest code.
        let (limit, layout) = match sig {
            SIGILL => (NSIGILL, SigInfoLayout::Fault),
            SIGFPE => (NSIGFPE, SigInfoLayout::Fault),
            SIGSEGV => (NSIGSEGV, SigInfoLayout::Fault),
            SIGBUS => (NSIGBUS, SigInfoLayout::Fault),
            SIGTRAP => (NSIGTRAP, SigInfoLayout::Fault),
            SIGCHLD => (NSIGCHLD, SigInfoLayout::Chld),
            SIGPOLL => (NSIGPOLL, SigInfoLayout::Poll),
            SIGSYS => (NSIGSYS, SigInfoLayout::Sys),
            _ => (0, SigInfoLayout::Kill),
        };
        if code <= limit {
            layout
        } else if code <= NSIGPOLL {
            SigInfoLayout::Poll
        } else {
            SigInfoLayout::Kill
        }
    } else if code == SI_TIMER {
        SigInfoLayout::Timer
    } else if code == SI_SIGIO {
        SigInfoLayout::Poll
    } else if code < 0 {
        SigInfoLayout::Rt
    } else {
        SigInfoLayout::Kill
    }
}

/// `#[repr(C)]` transcriptions of the arms of Linux's `siginfo_t` union, used only to check
/// the `SigInfo::OFF_*` constants at compile time.
#[allow(dead_code)]
mod c_siginfo {
    #[repr(C)]
    pub struct Preamble {
        pub si_signo: i32,
        pub si_errno: i32,
        pub si_code: i32,
        pub union_: [u64; 14],
    }
    #[repr(C)]
    pub struct Kill {
        pub pid: i32,
        pub uid: u32,
    }
    #[repr(C)]
    pub struct Timer {
        pub tid: i32,
        pub overrun: i32,
        pub sigval: u64,
        pub sys_private: i32,
    }
    #[repr(C)]
    pub struct Rt {
        pub pid: i32,
        pub uid: u32,
        pub sigval: u64,
    }
    #[repr(C)]
    pub struct Chld {
        pub pid: i32,
        pub uid: u32,
        pub status: i32,
        pub utime: i64,
        pub stime: i64,
    }
    // __ADDR_BND_PKEY_PAD = max(alignof(void *), sizeof(short)) = 8.
    #[repr(C)]
    pub struct AddrBnd {
        pub dummy: [u8; 8],
        pub lower: u64,
        pub upper: u64,
    }
    #[repr(C)]
    pub struct AddrPkey {
        pub dummy: [u8; 8],
        pub pkey: u32,
    }
    #[repr(C)]
    pub struct FaultLsb {
        pub addr: u64,
        pub addr_lsb: i16,
    }
    #[repr(C)]
    pub struct FaultBnd {
        pub addr: u64,
        pub bnd: AddrBnd,
    }
    #[repr(C)]
    pub struct FaultPkey {
        pub addr: u64,
        pub pkey: AddrPkey,
    }
    #[repr(C)]
    pub struct Poll {
        pub band: i64,
        pub fd: i32,
    }
    #[repr(C)]
    pub struct Sys {
        pub call_addr: u64,
        pub syscall: i32,
        pub arch: u32,
    }
}

const _: () = {
    use c_siginfo as c;
    let u = offset_of!(c::Preamble, union_);
    assert!(u == SigInfo::OFF_FIELDS);
    assert!(size_of::<SigInfo>() == 128);
    assert!(core::mem::align_of::<SigInfo>() == 8);
    assert!(offset_of!(SigInfo, si_signo) == 0);
    assert!(offset_of!(SigInfo, si_errno) == 4);
    assert!(offset_of!(SigInfo, si_code) == 8);
    assert!(offset_of!(SigInfo, fields) == 16);
    assert!(SigInfo::OFF_PID == u + offset_of!(c::Kill, pid));
    assert!(SigInfo::OFF_UID == u + offset_of!(c::Kill, uid));
    assert!(SigInfo::OFF_TID == u + offset_of!(c::Timer, tid));
    assert!(SigInfo::OFF_OVERRUN == u + offset_of!(c::Timer, overrun));
    assert!(SigInfo::OFF_VALUE == u + offset_of!(c::Timer, sigval));
    assert!(SigInfo::OFF_SYS_PRIVATE == u + offset_of!(c::Timer, sys_private));
    assert!(SigInfo::OFF_PID == u + offset_of!(c::Rt, pid));
    assert!(SigInfo::OFF_UID == u + offset_of!(c::Rt, uid));
    assert!(SigInfo::OFF_VALUE == u + offset_of!(c::Rt, sigval));
    assert!(SigInfo::OFF_PID == u + offset_of!(c::Chld, pid));
    assert!(SigInfo::OFF_UID == u + offset_of!(c::Chld, uid));
    assert!(SigInfo::OFF_STATUS == u + offset_of!(c::Chld, status));
    assert!(SigInfo::OFF_UTIME == u + offset_of!(c::Chld, utime));
    assert!(SigInfo::OFF_STIME == u + offset_of!(c::Chld, stime));
    assert!(SigInfo::OFF_ADDR == u + offset_of!(c::FaultLsb, addr));
    assert!(SigInfo::OFF_ADDR_LSB == u + offset_of!(c::FaultLsb, addr_lsb));
    assert!(SigInfo::OFF_LOWER == u + offset_of!(c::FaultBnd, bnd) + offset_of!(c::AddrBnd, lower));
    assert!(SigInfo::OFF_UPPER == u + offset_of!(c::FaultBnd, bnd) + offset_of!(c::AddrBnd, upper));
    assert!(
        SigInfo::OFF_PKEY == u + offset_of!(c::FaultPkey, pkey) + offset_of!(c::AddrPkey, pkey)
    );
    assert!(SigInfo::OFF_BAND == u + offset_of!(c::Poll, band));
    assert!(SigInfo::OFF_FD == u + offset_of!(c::Poll, fd));
    assert!(SigInfo::OFF_CALL_ADDR == u + offset_of!(c::Sys, call_addr));
    assert!(SigInfo::OFF_SYSCALL == u + offset_of!(c::Sys, syscall));
    assert!(SigInfo::OFF_ARCH == u + offset_of!(c::Sys, arch));
    // signals-abi §1.7 values, spelled out.
    assert!(SigInfo::OFF_PID == 16 && SigInfo::OFF_UID == 20 && SigInfo::OFF_VALUE == 24);
    assert!(SigInfo::OFF_ADDR == 16 && SigInfo::OFF_STATUS == 24 && SigInfo::OFF_UTIME == 32);
};

// ---------------------------------------------------------------------------------------------
// sigaction, stack_t.
// ---------------------------------------------------------------------------------------------

/// `struct sigaction` as `rt_sigaction` (13) reads and writes it on x86_64 (not glibc's
/// layout, which puts the mask second).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SigAction {
    /// Handler address, or `SIG_DFL` (0) / `SIG_IGN` (1).
    pub sa_handler: u64,
    /// `SA_*` flags.
    pub sa_flags: u64,
    /// Restorer address (required: `SA_RESTORER`).
    pub sa_restorer: u64,
    /// Signals blocked while the handler runs.
    pub sa_mask: SigSet,
}

const _: () = {
    assert!(size_of::<SigAction>() == 32);
    assert!(offset_of!(SigAction, sa_handler) == 0);
    assert!(offset_of!(SigAction, sa_flags) == 8);
    assert!(offset_of!(SigAction, sa_restorer) == 16);
    assert!(offset_of!(SigAction, sa_mask) == 24);
};

/// `stack_t` (`sigaltstack`, `uc_stack`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StackT {
    /// Lowest address of the stack.
    pub ss_sp: u64,
    /// `SS_ONSTACK`, `SS_DISABLE`, optionally with `SS_AUTODISARM` (C `int`).
    pub ss_flags: u32,
    /// Padding (C's implicit padding before the 8-aligned `ss_size`).
    pub pad0: u32,
    /// Size in bytes.
    pub ss_size: u64,
}

impl StackT {
    /// Linux's `__on_sig_stack` for a downward-growing stack: whether `sp` is on this stack
    /// (`sp > ss_sp && sp - ss_sp <= ss_size`).
    pub const fn contains_sp(&self, sp: u64) -> bool {
        sp > self.ss_sp && sp - self.ss_sp <= self.ss_size
    }
}

const _: () = {
    assert!(size_of::<StackT>() == 24);
    assert!(offset_of!(StackT, ss_sp) == 0);
    assert!(offset_of!(StackT, ss_flags) == 8);
    assert!(offset_of!(StackT, ss_size) == 16);
};

// ---------------------------------------------------------------------------------------------
// sigcontext, ucontext, rt_sigframe.
// ---------------------------------------------------------------------------------------------

/// 64-bit `struct sigcontext` (`uc_mcontext`), 256 bytes; glibc's `gregs[]` use the same
/// order (`REG_R8` = 0 ... `REG_RIP` = 16, `REG_EFL` = 17, `REG_CSGSFS` = 18 ...).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SigContext {
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub rdx: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rsp: u64,
    pub rip: u64,
    /// RFLAGS.
    pub eflags: u64,
    pub cs: u16,
    /// Always written 0.
    pub gs: u16,
    /// Always written 0.
    pub fs: u16,
    /// SS; Linux's old name is `__pad0`. Valid iff `uc_flags` has [`UC_SIGCONTEXT_SS`].
    pub ss: u16,
    /// Error code of the exception (the kernel's `thread.error_code`).
    pub err: u64,
    /// Exception vector.
    pub trapno: u64,
    /// Low 64 bits of the saved signal mask (the same value as `uc_sigmask`).
    pub oldmask: u64,
    /// Fault address (CR2) of a page fault.
    pub cr2: u64,
    /// User address of the FP area ([`FxSave`], possibly an XSAVE area); 0 = no FP state.
    pub fpstate: u64,
    pub reserved1: [u64; 8],
}

const _: () = {
    assert!(size_of::<SigContext>() == 256);
    assert!(offset_of!(SigContext, r8) == 0);
    assert!(offset_of!(SigContext, r9) == 8);
    assert!(offset_of!(SigContext, r10) == 16);
    assert!(offset_of!(SigContext, r11) == 24);
    assert!(offset_of!(SigContext, r12) == 32);
    assert!(offset_of!(SigContext, r13) == 40);
    assert!(offset_of!(SigContext, r14) == 48);
    assert!(offset_of!(SigContext, r15) == 56);
    assert!(offset_of!(SigContext, rdi) == 64);
    assert!(offset_of!(SigContext, rsi) == 72);
    assert!(offset_of!(SigContext, rbp) == 80);
    assert!(offset_of!(SigContext, rbx) == 88);
    assert!(offset_of!(SigContext, rdx) == 96);
    assert!(offset_of!(SigContext, rax) == 104);
    assert!(offset_of!(SigContext, rcx) == 112);
    assert!(offset_of!(SigContext, rsp) == 120);
    assert!(offset_of!(SigContext, rip) == 128);
    assert!(offset_of!(SigContext, eflags) == 136);
    assert!(offset_of!(SigContext, cs) == 144);
    assert!(offset_of!(SigContext, gs) == 146);
    assert!(offset_of!(SigContext, fs) == 148);
    assert!(offset_of!(SigContext, ss) == 150);
    assert!(offset_of!(SigContext, err) == 152);
    assert!(offset_of!(SigContext, trapno) == 160);
    assert!(offset_of!(SigContext, oldmask) == 168);
    assert!(offset_of!(SigContext, cr2) == 176);
    assert!(offset_of!(SigContext, fpstate) == 184);
    assert!(offset_of!(SigContext, reserved1) == 192);
};

/// The kernel's `struct ucontext` (304 bytes; glibc's `ucontext_t` is larger and is not what
/// the frame holds).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct UContext {
    /// `UC_*` flags.
    pub uc_flags: u64,
    /// Always 0 in signal frames.
    pub uc_link: u64,
    /// The alternate-stack settings at the time of the signal (restored by `rt_sigreturn`).
    pub uc_stack: StackT,
    /// Saved registers.
    pub uc_mcontext: SigContext,
    /// The signal mask to restore.
    pub uc_sigmask: SigSet,
}

const _: () = {
    assert!(size_of::<UContext>() == 304);
    assert!(offset_of!(UContext, uc_flags) == 0);
    assert!(offset_of!(UContext, uc_link) == 8);
    assert!(offset_of!(UContext, uc_stack) == 16);
    assert!(offset_of!(UContext, uc_mcontext) == 40);
    assert!(offset_of!(UContext, uc_sigmask) == 296);
};

/// `struct rt_sigframe` (440 bytes). The FP area lives above it (higher addresses).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RtSigFrame {
    /// Return address of the handler: `sa_restorer`.
    pub pretcode: u64,
    pub uc: UContext,
    /// Written only with `SA_SIGINFO`; the space is reserved either way.
    pub info: SigInfo,
}

impl RtSigFrame {
    /// Offset of `uc` in the frame (`rdx` at handler entry = frame + this).
    pub const UC_OFFSET: usize = offset_of!(RtSigFrame, uc);
    /// Offset of `info` in the frame (`rsi` at handler entry = frame + this).
    pub const INFO_OFFSET: usize = offset_of!(RtSigFrame, info);
    /// Offset of `uc.uc_mcontext` in the frame.
    pub const MCONTEXT_OFFSET: usize = Self::UC_OFFSET + offset_of!(UContext, uc_mcontext);
    /// Offset of `uc.uc_sigmask` in the frame.
    pub const SIGMASK_OFFSET: usize = Self::UC_OFFSET + offset_of!(UContext, uc_sigmask);
    /// Offset of `uc.uc_mcontext.fpstate` in the frame.
    pub const FPSTATE_PTR_OFFSET: usize = Self::MCONTEXT_OFFSET + offset_of!(SigContext, fpstate);
}

const _: () = {
    assert!(size_of::<RtSigFrame>() == 440);
    assert!(offset_of!(RtSigFrame, pretcode) == 0);
    assert!(RtSigFrame::UC_OFFSET == 8);
    assert!(RtSigFrame::MCONTEXT_OFFSET == 48);
    assert!(RtSigFrame::SIGMASK_OFFSET == 304);
    assert!(RtSigFrame::INFO_OFFSET == 312);
    assert!(RtSigFrame::FPSTATE_PTR_OFFSET == 232);
};

// ---------------------------------------------------------------------------------------------
// FP state.
// ---------------------------------------------------------------------------------------------

/// `struct _fpx_sw_bytes`: software-defined bytes 464..512 of the FXSAVE area, describing
/// the extended (XSAVE) state that follows it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FpxSwBytes {
    /// [`FP_XSTATE_MAGIC1`] for an XSAVE frame, 0 for a legacy (FXSAVE-only) frame.
    pub magic1: u32,
    /// Total size of the FP area: `xstate_size + FP_XSTATE_MAGIC2_SIZE` (XSAVE), else 512.
    pub extended_size: u32,
    /// XSAVE feature bits present in the layout.
    pub xfeatures: u64,
    /// Size of the XSAVE data proper.
    pub xstate_size: u32,
    pub padding: [u32; 7],
}

const _: () = {
    assert!(size_of::<FpxSwBytes>() == 48);
    assert!(offset_of!(FpxSwBytes, magic1) == 0);
    assert!(offset_of!(FpxSwBytes, extended_size) == 4);
    assert!(offset_of!(FpxSwBytes, xfeatures) == 8);
    assert!(offset_of!(FpxSwBytes, xstate_size) == 16);
    assert!(offset_of!(FpxSwBytes, padding) == 20);
};

/// The 512-byte FXSAVE area (64-bit `struct _fpstate`), 16-aligned as `fxsave`/`fxrstor`
/// require (an XSAVE area starting with it must be 64-aligned: see [`fpstate_addr`]).
#[repr(C, align(16))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FxSave {
    /// x87 control word.
    pub cwd: u16,
    /// x87 status word.
    pub swd: u16,
    /// Abridged x87 tag word (one bit per register, not the FSAVE tag word).
    pub twd: u16,
    /// Last x87 opcode.
    pub fop: u16,
    /// Last x87 instruction pointer.
    pub rip: u64,
    /// Last x87 data pointer.
    pub rdp: u64,
    /// SSE control/status. `rt_sigreturn` must AND it with the CPU's MXCSR mask: reserved
    /// bits make `fxrstor` fault.
    pub mxcsr: u32,
    pub mxcsr_mask: u32,
    /// ST0..ST7 / MM0..MM7, 16 bytes each.
    pub st_space: [u32; 32],
    /// XMM0..XMM15, 16 bytes each.
    pub xmm_space: [u32; 64],
    pub reserved2: [u32; 12],
    pub sw_reserved: FpxSwBytes,
}

impl FxSave {
    /// All zero.
    pub const fn zeroed() -> Self {
        Self {
            cwd: 0,
            swd: 0,
            twd: 0,
            fop: 0,
            rip: 0,
            rdp: 0,
            mxcsr: 0,
            mxcsr_mask: 0,
            st_space: [0; 32],
            xmm_space: [0; 64],
            reserved2: [0; 12],
            sw_reserved: FpxSwBytes {
                magic1: 0,
                extended_size: 0,
                xfeatures: 0,
                xstate_size: 0,
                padding: [0; 7],
            },
        }
    }
}

const _: () = {
    assert!(size_of::<FxSave>() == FXSAVE_SIZE);
    assert!(core::mem::align_of::<FxSave>() == 16);
    assert!(offset_of!(FxSave, cwd) == 0);
    assert!(offset_of!(FxSave, swd) == 2);
    assert!(offset_of!(FxSave, twd) == 4);
    assert!(offset_of!(FxSave, fop) == 6);
    assert!(offset_of!(FxSave, rip) == 8);
    assert!(offset_of!(FxSave, rdp) == 16);
    assert!(offset_of!(FxSave, mxcsr) == 24);
    assert!(offset_of!(FxSave, mxcsr_mask) == 28);
    assert!(offset_of!(FxSave, st_space) == 32);
    assert!(offset_of!(FxSave, xmm_space) == 160);
    assert!(offset_of!(FxSave, reserved2) == 416);
    assert!(offset_of!(FxSave, sw_reserved) == 464);
};

/// The XSAVE header (`struct _header`) at [`XSAVE_HEADER_OFFSET`] of an XSAVE area.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct XsaveHeader {
    /// XSTATE_BV: components present. The kernel sets FP|SSE when saving and ANDs the value
    /// with its own enabled mask when restoring.
    pub xfeatures: u64,
    /// Must be zero on restore (XCOMP_BV and reserved words).
    pub reserved1: [u64; 2],
    pub reserved2: [u64; 5],
}

const _: () = {
    assert!(size_of::<XsaveHeader>() == XSAVE_HEADER_SIZE);
    assert!(offset_of!(XsaveHeader, xfeatures) == 0);
    assert!(offset_of!(XsaveHeader, reserved1) == 8);
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::signal::*;

    #[test]
    fn siginfo_accessors_hit_the_right_bytes() {
        let mut s = SigInfo::rt(
            SIGUSR1,
            SI_QUEUE,
            0x1122_3344,
            0x5566_7788,
            0xdead_beef_cafe,
        );
        assert_eq!(s.pid(), 0x1122_3344);
        assert_eq!(s.uid(), 0x5566_7788);
        assert_eq!(s.value(), 0xdead_beef_cafe);
        // Little-endian: si_pid is the low half of the first union word.
        assert_eq!(s.fields[0], 0x5566_7788_1122_3344);
        assert_eq!(s.fields[1], 0xdead_beef_cafe);
        s.set_pid(-1);
        assert_eq!(s.pid(), -1);
        assert_eq!(s.uid(), 0x5566_7788);

        let c = SigInfo::chld(CLD_EXITED, 42, 1000, 7, 11, 22);
        assert_eq!(c.si_signo, SIGCHLD as i32);
        assert_eq!(
            (c.pid(), c.uid(), c.status(), c.utime(), c.stime()),
            (42, 1000, 7, 11, 22)
        );
        assert_eq!(c.fields[1] as u32, 7);
        assert_eq!(c.fields[2], 11);
        assert_eq!(c.fields[3], 22);

        let f = SigInfo::fault(SIGSEGV, SEGV_MAPERR, 0x7fff_0000_1000);
        assert_eq!(f.addr(), 0x7fff_0000_1000);
        assert_eq!(f.fields[0], 0x7fff_0000_1000);

        let t = SigInfo::timer(SIGALRM, 3, 2, 9);
        assert_eq!((t.tid(), t.overrun(), t.value()), (3, 2, 9));
        assert_eq!(t.si_code, SI_TIMER);

        let k = SigInfo::kill(SIGTERM, SI_USER, 5, 0);
        assert_eq!(k.fields[1..], [0; 13]);
    }

    #[test]
    fn siginfo_layouts() {
        use SigInfoLayout::*;
        let cases = [
            (SIGTERM, SI_USER, Kill),
            (SIGTERM, SI_KERNEL, Kill),
            (SIGUSR1, SI_QUEUE, Rt),
            (SIGUSR1, SI_TKILL, Rt),
            (SIGALRM, SI_TIMER, Timer),
            (SIGIO, SI_SIGIO, Poll),
            (SIGSEGV, SEGV_MAPERR, Fault),
            (SIGSEGV, SEGV_PKUERR, Fault),
            (SIGBUS, BUS_MCEERR_AO, Fault),
            (SIGFPE, FPE_CONDTRAP, Fault),
            (SIGCHLD, CLD_CONTINUED, Chld),
            (SIGSYS, SYS_SECCOMP, Sys),
            (SIGPOLL, POLL_HUP, Poll),
            // A positive code on a signal without specific codes: poll if <= NSIGPOLL.
            (SIGUSR2, 3, Poll),
            (SIGUSR2, 7, Kill),
            // Above the signal's own limit.
            (SIGCHLD, 7, Kill),
        ];
        for (sig, code, want) in cases {
            assert_eq!(siginfo_layout(sig, code), want, "{sig} {code}");
        }
    }

    #[test]
    fn frame_geometry() {
        // An arbitrary interrupted rsp; follow get_sigframe.
        let sp = 0x7fff_ffff_e123 - RED_ZONE;
        let fp = fpstate_addr(sp, FXSAVE_SIZE as u64);
        assert_eq!(fp % 64, 0);
        assert!(fp + FXSAVE_SIZE as u64 <= sp);
        let frame = rt_sigframe_addr(fp);
        assert_eq!((frame + 8) % 16, 0);
        assert!(frame + size_of::<RtSigFrame>() as u64 <= fp);
        assert!(fp - (frame + size_of::<RtSigFrame>() as u64) < 16 + 8);
    }

    #[test]
    fn rflags_sanitising() {
        let kernel = RFLAGS_IF | RFLAGS_FIXED;
        let user = u64::MAX;
        let r = sigreturn_rflags(kernel, user);
        assert_eq!(r, kernel | FIX_EFLAGS);
        assert_eq!(r & (RFLAGS_IOPL | RFLAGS_NT | RFLAGS_VM | RFLAGS_ID), 0);
        assert_eq!(sigreturn_rflags(kernel, 0), kernel);
    }

    #[test]
    fn altstack_containment() {
        let ss = StackT {
            ss_sp: 0x1000,
            ss_flags: 0,
            pad0: 0,
            ss_size: 0x1000,
        };
        assert!(!ss.contains_sp(0x1000));
        assert!(ss.contains_sp(0x1001));
        assert!(ss.contains_sp(0x2000));
        assert!(!ss.contains_sp(0x2001));
        assert!(!StackT::default().contains_sp(0));
    }

    #[test]
    fn restorer_bytes_match_libgcc_pattern() {
        assert_eq!(RESTORE_RT_CODE[0], 0x48);
        let mut w = [0u8; 8];
        w.copy_from_slice(&RESTORE_RT_CODE[1..9]);
        assert_eq!(u64::from_le_bytes(w), 0x050f_0000_000f_c0c7);
        // The immediate is the rt_sigreturn number.
        assert_eq!(
            RESTORE_RT_CODE[3] as usize,
            crate::v1::syscall::SYS_RT_SIGRETURN
        );
    }
}
