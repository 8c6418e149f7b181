//! Signal numbers, signal sets, `sigaction` flags, `si_code` values, the POSIX-thread action
//! classes, wait statuses and `clone` flags, as Linux x86_64 defines them.
//!
//! # Sources
//!
//! | items | source |
//! |---|---|
//! | `SIGHUP`..=`SIGSYS`, `SIGRTMIN`, `SIGRTMAX`, `SA_RESTORER`, `MINSIGSTKSZ`, `SIGSTKSZ` | torvalds/linux `arch/x86/include/uapi/asm/signal.h` (commit 1260ed77…) |
//! | `NSIG` (= `_NSIG` 64) | torvalds/linux `arch/x86/include/asm/signal.h` (commit 031b6566…) |
//! | other `SA_*`, `SIG_DFL`/`SIG_IGN`/`SIG_ERR`, `SIG_BLOCK`/`UNBLOCK`/`SETMASK` | torvalds/linux `include/uapi/asm-generic/signal-defs.h` (commit 1d82b789…); `SA_UNSUPPORTED` 0x400 and `SA_EXPOSE_TAGBITS` 0x800 from the upstream patches that added them to that file (not in the stored copy) |
//! | `SA_IMMUTABLE`, [`SA_UAPI_FLAGS`] | torvalds/linux `include/linux/signal_types.h` (`UAPI_SA_FLAGS`; x86 defines no `__ARCH_UAPI_SA_FLAGS`, so the arch part is `SA_RESTORER`) |
//! | `SS_*` | torvalds/linux `include/uapi/linux/signal.h` (commit 60a5825e…: `SS_AUTODISARM (1U << 31)`; an older stored copy, 2a742138…, has `1 << 4` — a pre-release value, not what any released kernel or libc uses) |
//! | `SI_*`, `ILL_*`, `FPE_*`, `SEGV_*`, `BUS_*`, `TRAP_*`, `CLD_*`, `POLL_*`, `SYS_SECCOMP`, `NSIG*` limits | torvalds/linux `include/uapi/asm-generic/siginfo.h` (commit 018303a9…) |
//! | [`DefaultAction`] | torvalds/linux `include/linux/signal.h`: `SIG_KERNEL_ONLY_MASK`, `SIG_KERNEL_STOP_MASK`, `SIG_KERNEL_COREDUMP_MASK`, `SIG_KERNEL_IGNORE_MASK`; everything else (RT included) terminates |
//! | [`ActionClass`] table | `/work/shared/seeds/linux-shared-thread-signals.txt` (Ingo Molnar, "\[PATCH\] shared thread signals", 2.5 era), transcribed row by row |
//! | `W*` options, `P_*` | torvalds/linux `include/uapi/linux/wait.h` (commit 107d3e53…) |
//! | wait-status encoding | torvalds/linux `kernel/exit.c`: `sys_exit` stores `(code & 0xff) << 8`; `wait_task_stopped` reports `(exit_code << 8) \| 0x7f`; `wait_task_continued` reports `0xffff`; `fs/coredump.c` sets `group_exit_code \|= 0x80` after a dump |
//! | `CLONE_*`, `CSIGNAL` | torvalds/linux `include/uapi/linux/sched.h` (commit 07c3ef58…); the newest clone3-only bits of that copy (34..=36) are left out |
//!
//! # Types
//!
//! Signal numbers are `u32` (C `int`; only 1..=[`NSIG`] are valid, see [`valid`]); `si_code`
//! values are `i32` (negative codes come from user space); flags are the width of the C field
//! they live in (`sa_flags` is `unsigned long`: `u64`).
//!
//! # Seed vs. reference
//!
//! The action-class table follows the seed. signals-abi.md §2.1 lists SIGCONT's "user class"
//! as *specific*; the seed says *load-balance*, and the seed is what this module encodes.

/// Hangup.
pub const SIGHUP: u32 = 1;
/// Interrupt from keyboard.
pub const SIGINT: u32 = 2;
/// Quit from keyboard.
pub const SIGQUIT: u32 = 3;
/// Illegal instruction.
pub const SIGILL: u32 = 4;
/// Trace/breakpoint trap.
pub const SIGTRAP: u32 = 5;
/// Abort.
pub const SIGABRT: u32 = 6;
/// Alias of [`SIGABRT`].
pub const SIGIOT: u32 = 6;
/// Bus error.
pub const SIGBUS: u32 = 7;
/// Floating-point (arithmetic) exception.
pub const SIGFPE: u32 = 8;
/// Kill (cannot be caught, blocked or ignored).
pub const SIGKILL: u32 = 9;
/// User-defined signal 1.
pub const SIGUSR1: u32 = 10;
/// Invalid memory reference.
pub const SIGSEGV: u32 = 11;
/// User-defined signal 2.
pub const SIGUSR2: u32 = 12;
/// Broken pipe.
pub const SIGPIPE: u32 = 13;
/// Timer signal from `alarm`.
pub const SIGALRM: u32 = 14;
/// Termination.
pub const SIGTERM: u32 = 15;
/// Coprocessor stack fault (unused on x86).
pub const SIGSTKFLT: u32 = 16;
/// Child stopped, continued or terminated.
pub const SIGCHLD: u32 = 17;
/// Continue if stopped.
pub const SIGCONT: u32 = 18;
/// Stop (cannot be caught, blocked or ignored).
pub const SIGSTOP: u32 = 19;
/// Stop typed at terminal.
pub const SIGTSTP: u32 = 20;
/// Terminal input for background process.
pub const SIGTTIN: u32 = 21;
/// Terminal output for background process.
pub const SIGTTOU: u32 = 22;
/// Urgent condition on socket.
pub const SIGURG: u32 = 23;
/// CPU time limit exceeded.
pub const SIGXCPU: u32 = 24;
/// File size limit exceeded.
pub const SIGXFSZ: u32 = 25;
/// Virtual alarm clock.
pub const SIGVTALRM: u32 = 26;
/// Profiling timer expired.
pub const SIGPROF: u32 = 27;
/// Window resize.
pub const SIGWINCH: u32 = 28;
/// I/O now possible.
pub const SIGIO: u32 = 29;
/// Alias of [`SIGIO`].
pub const SIGPOLL: u32 = 29;
/// Power failure.
pub const SIGPWR: u32 = 30;
/// Bad system call.
pub const SIGSYS: u32 = 31;
/// Alias of [`SIGSYS`].
pub const SIGUNUSED: u32 = 31;
/// First real-time signal as the kernel numbers them (glibc reserves the first two for
/// itself; that is a libc convention, not part of this ABI).
pub const SIGRTMIN: u32 = 32;
/// Last real-time signal (= [`NSIG`]).
pub const SIGRTMAX: u32 = 64;
/// Number of signals, Linux's `_NSIG`: valid signal numbers are `1..=NSIG`. (The uapi
/// `NSIG` macro, 32, is a legacy value for libcs and is not used here.)
pub const NSIG: u32 = 64;
/// Size in bytes of the kernel's `sigset_t`; the `sigsetsize` argument of `rt_sig*` calls
/// must equal it.
pub const SIGSET_SIZE: usize = 8;

/// Whether `sig` is a valid signal number (1..=[`NSIG`]; 0 is the "probe" value of `kill`).
pub const fn valid(sig: u32) -> bool {
    sig >= 1 && sig <= NSIG
}

/// Whether `sig` is a real-time signal ([`SIGRTMIN`]..=[`SIGRTMAX`]), which queue (one entry
/// per send) instead of merging.
pub const fn is_realtime(sig: u32) -> bool {
    sig >= SIGRTMIN && sig <= SIGRTMAX
}

// ---------------------------------------------------------------------------------------------
// Signal sets.
// ---------------------------------------------------------------------------------------------

/// A set of signals, laid out as the kernel's 64-bit `sigset_t`: bit `n - 1` is signal `n`.
///
/// Every bit pattern is a valid set. Operations taking a signal number ignore (or answer
/// `false` for) numbers outside 1..=64; they never panic.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SigSet(u64);

/// Bit of signal `sig` in a [`SigSet`], or 0 if `sig` is not a valid signal number.
const fn sigbit(sig: u32) -> u64 {
    if valid(sig) {
        1u64 << (sig - 1)
    } else {
        0
    }
}

impl SigSet {
    /// No signals.
    pub const EMPTY: Self = Self(0);
    /// All 64 signals.
    pub const FULL: Self = Self(u64::MAX);
    /// The standard signals 1..=31.
    pub const STANDARD: Self = Self((1u64 << 31) - 1);
    /// The real-time signals 32..=64.
    pub const REALTIME: Self = Self(!((1u64 << 31) - 1));
    /// Signals that can be neither caught, blocked nor ignored (`SIG_KERNEL_ONLY_MASK`).
    pub const KERNEL_ONLY: Self = Self(sigbit(SIGKILL) | sigbit(SIGSTOP));
    /// Signals whose default action stops the process (`SIG_KERNEL_STOP_MASK`).
    pub const STOP: Self =
        Self(sigbit(SIGSTOP) | sigbit(SIGTSTP) | sigbit(SIGTTIN) | sigbit(SIGTTOU));
    /// Signals whose default action dumps core (`SIG_KERNEL_COREDUMP_MASK`).
    pub const COREDUMP: Self = Self(
        sigbit(SIGQUIT)
            | sigbit(SIGILL)
            | sigbit(SIGTRAP)
            | sigbit(SIGABRT)
            | sigbit(SIGFPE)
            | sigbit(SIGSEGV)
            | sigbit(SIGBUS)
            | sigbit(SIGSYS)
            | sigbit(SIGXCPU)
            | sigbit(SIGXFSZ),
    );
    /// Signals whose default action is to ignore them (`SIG_KERNEL_IGNORE_MASK`).
    pub const IGNORE: Self =
        Self(sigbit(SIGCONT) | sigbit(SIGCHLD) | sigbit(SIGWINCH) | sigbit(SIGURG));
    /// Signals the kernel raises synchronously for a faulting instruction; Linux dequeues them
    /// first (`SYNCHRONOUS_MASK` in kernel/signal.c, signals-abi §2.5).
    pub const SYNCHRONOUS: Self = Self(
        sigbit(SIGSEGV)
            | sigbit(SIGBUS)
            | sigbit(SIGILL)
            | sigbit(SIGTRAP)
            | sigbit(SIGFPE)
            | sigbit(SIGSYS),
    );

    /// The set with exactly the bits of `bits` (bit `n - 1` = signal `n`).
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The raw 64-bit mask.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// The set containing only `sig` (empty if `sig` is invalid).
    pub const fn single(sig: u32) -> Self {
        Self(sigbit(sig))
    }

    /// Whether `sig` is in the set (`false` for invalid numbers).
    pub const fn contains(self, sig: u32) -> bool {
        self.0 & sigbit(sig) != 0
    }

    /// Adds `sig` (no effect if invalid).
    pub const fn add(&mut self, sig: u32) {
        self.0 |= sigbit(sig);
    }

    /// Removes `sig` (no effect if invalid).
    pub const fn del(&mut self, sig: u32) {
        self.0 &= !sigbit(sig);
    }

    /// This set plus `sig`.
    #[must_use]
    pub const fn with(self, sig: u32) -> Self {
        Self(self.0 | sigbit(sig))
    }

    /// This set minus `sig`.
    #[must_use]
    pub const fn without(self, sig: u32) -> Self {
        Self(self.0 & !sigbit(sig))
    }

    /// Signals in either set.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Signals in both sets.
    #[must_use]
    pub const fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// Signals in `self` but not in `other` (e.g. `pending.difference(blocked)`).
    #[must_use]
    pub const fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// Signals not in the set.
    #[must_use]
    pub const fn complement(self) -> Self {
        Self(!self.0)
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of signals in the set.
    pub const fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// The lowest-numbered signal in the set.
    pub const fn lowest(self) -> Option<u32> {
        if self.0 == 0 {
            None
        } else {
            Some(self.0.trailing_zeros() + 1)
        }
    }

    /// The signal Linux's `next_signal` would dequeue from this (already unblocked) set: the
    /// lowest-numbered [`SYNCHRONOUS`](Self::SYNCHRONOUS) signal if there is one, else the
    /// lowest-numbered signal.
    pub const fn next_to_deliver(self) -> Option<u32> {
        let sync = self.0 & Self::SYNCHRONOUS.0;
        if sync != 0 {
            Some(sync.trailing_zeros() + 1)
        } else {
            self.lowest()
        }
    }

    /// This mask with SIGKILL and SIGSTOP removed, as every mask-setting call stores it
    /// (`rt_sigprocmask`, `rt_sigreturn`, `sa_mask`).
    #[must_use]
    pub const fn blockable(self) -> Self {
        self.difference(Self::KERNEL_ONLY)
    }

    /// The signals of the set, lowest first.
    pub const fn iter(self) -> SigSetIter {
        SigSetIter(self.0)
    }
}

impl IntoIterator for SigSet {
    type Item = u32;
    type IntoIter = SigSetIter;
    fn into_iter(self) -> SigSetIter {
        self.iter()
    }
}

/// Iterator over the signals of a [`SigSet`], lowest first.
#[derive(Debug, Clone)]
pub struct SigSetIter(u64);

impl Iterator for SigSetIter {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.0 == 0 {
            return None;
        }
        let sig = self.0.trailing_zeros() + 1;
        self.0 &= self.0 - 1;
        Some(sig)
    }
}

// ---------------------------------------------------------------------------------------------
// sigaction.
// ---------------------------------------------------------------------------------------------

/// `sa_handler` value: default action.
pub const SIG_DFL: u64 = 0;
/// `sa_handler` value: ignore.
pub const SIG_IGN: u64 = 1;
/// Error return of libc `signal()`; never a valid `sa_handler`.
pub const SIG_ERR: u64 = u64::MAX;

/// Don't send SIGCHLD when children stop (or continue).
pub const SA_NOCLDSTOP: u64 = 0x0000_0001;
/// Don't create zombies on child exit (SIGCHLD only).
pub const SA_NOCLDWAIT: u64 = 0x0000_0002;
/// The handler takes `(sig, *siginfo, *ucontext)`.
pub const SA_SIGINFO: u64 = 0x0000_0004;
/// Never supported: a bit the kernel always clears, so user space can detect that unknown
/// flags are cleared (probe through `oldact`).
pub const SA_UNSUPPORTED: u64 = 0x0000_0400;
/// Expose architecture tag bits in `si_addr` (no effect on x86_64).
pub const SA_EXPOSE_TAGBITS: u64 = 0x0000_0800;
/// Kernel-internal (not settable from user space): the action was forced to the default by
/// a synchronous fault and may no longer be changed (Linux 5.16+).
pub const SA_IMMUTABLE: u64 = 0x0080_0000;
/// `sa_restorer` is valid. Required on x86_64: without it the frame cannot be set up and
/// the process gets SIGSEGV (signals-abi §1.3, step 7).
pub const SA_RESTORER: u64 = 0x0400_0000;
/// Run the handler on the alternate signal stack.
pub const SA_ONSTACK: u64 = 0x0800_0000;
/// Restart system calls interrupted by this signal (`-ERESTARTSYS`).
pub const SA_RESTART: u64 = 0x1000_0000;
/// Don't block the signal while its handler runs.
pub const SA_NODEFER: u64 = 0x4000_0000;
/// Reset the action to `SIG_DFL` when the signal is delivered.
pub const SA_RESETHAND: u64 = 0x8000_0000;
/// Historical Linux name of [`SA_NODEFER`].
pub const SA_NOMASK: u64 = SA_NODEFER;
/// Historical Linux name of [`SA_RESETHAND`].
pub const SA_ONESHOT: u64 = SA_RESETHAND;
/// The flags `rt_sigaction` keeps on x86_64 (Linux's `UAPI_SA_FLAGS`); since 5.11 every other
/// bit is cleared when the action is stored, so `oldact` reveals which flags are supported.
pub const SA_UAPI_FLAGS: u64 = SA_NOCLDSTOP
    | SA_NOCLDWAIT
    | SA_SIGINFO
    | SA_ONSTACK
    | SA_RESTART
    | SA_NODEFER
    | SA_RESETHAND
    | SA_EXPOSE_TAGBITS
    | SA_RESTORER;

/// `rt_sigprocmask` `how`: add `set` to the mask.
pub const SIG_BLOCK: u32 = 0;
/// `rt_sigprocmask` `how`: remove `set` from the mask.
pub const SIG_UNBLOCK: u32 = 1;
/// `rt_sigprocmask` `how`: replace the mask with `set`.
pub const SIG_SETMASK: u32 = 2;

// ---------------------------------------------------------------------------------------------
// sigaltstack.
// ---------------------------------------------------------------------------------------------

/// `ss_flags` (reported): currently executing on the alternate stack.
pub const SS_ONSTACK: u32 = 1;
/// `ss_flags`: the alternate stack is disabled.
pub const SS_DISABLE: u32 = 2;
/// `ss_flags` flag bit: disable the alternate stack while a handler runs on it (restored by
/// `rt_sigreturn` from `uc_stack`).
pub const SS_AUTODISARM: u32 = 1 << 31;
/// Mask of the flag bits of `ss_flags` (as opposed to the mode values).
pub const SS_FLAG_BITS: u32 = SS_AUTODISARM;
/// Smallest alternate stack `sigaltstack` accepts (else `ENOMEM`).
pub const MINSIGSTKSZ: usize = 2048;
/// Suggested alternate stack size.
pub const SIGSTKSZ: usize = 8192;

// ---------------------------------------------------------------------------------------------
// si_code values.
// ---------------------------------------------------------------------------------------------

/// Sent by `kill`, `raise`.
pub const SI_USER: i32 = 0;
/// Sent by the kernel.
pub const SI_KERNEL: i32 = 0x80;
/// Sent by `sigqueue` (`rt_sigqueueinfo`).
pub const SI_QUEUE: i32 = -1;
/// Sent by POSIX timer expiration.
pub const SI_TIMER: i32 = -2;
/// Sent by a POSIX message queue state change.
pub const SI_MESGQ: i32 = -3;
/// Sent by AIO completion.
pub const SI_ASYNCIO: i32 = -4;
/// Sent by queued SIGIO.
pub const SI_SIGIO: i32 = -5;
/// Sent by `tkill`/`tgkill`.
pub const SI_TKILL: i32 = -6;
/// Sent by `execve` killing subsidiary threads.
pub const SI_DETHREAD: i32 = -7;
/// Sent by glibc async name lookup completion.
pub const SI_ASYNCNL: i32 = -60;

/// Whether `si_code` says the signal was sent from user space (`SI_FROMUSER`: `code <= 0`).
pub const fn si_fromuser(code: i32) -> bool {
    code <= 0
}

/// SIGILL: illegal opcode.
pub const ILL_ILLOPC: i32 = 1;
/// SIGILL: illegal operand.
pub const ILL_ILLOPN: i32 = 2;
/// SIGILL: illegal addressing mode.
pub const ILL_ILLADR: i32 = 3;
/// SIGILL: illegal trap.
pub const ILL_ILLTRP: i32 = 4;
/// SIGILL: privileged opcode.
pub const ILL_PRVOPC: i32 = 5;
/// SIGILL: privileged register.
pub const ILL_PRVREG: i32 = 6;
/// SIGILL: coprocessor error.
pub const ILL_COPROC: i32 = 7;
/// SIGILL: internal stack error.
pub const ILL_BADSTK: i32 = 8;
/// SIGILL: unimplemented instruction address.
pub const ILL_BADIADDR: i32 = 9;
/// Highest SIGILL code (including the ia64-only 10, 11).
pub const NSIGILL: i32 = 11;

/// SIGFPE: integer divide by zero.
pub const FPE_INTDIV: i32 = 1;
/// SIGFPE: integer overflow.
pub const FPE_INTOVF: i32 = 2;
/// SIGFPE: floating-point divide by zero.
pub const FPE_FLTDIV: i32 = 3;
/// SIGFPE: floating-point overflow.
pub const FPE_FLTOVF: i32 = 4;
/// SIGFPE: floating-point underflow.
pub const FPE_FLTUND: i32 = 5;
/// SIGFPE: floating-point inexact result.
pub const FPE_FLTRES: i32 = 6;
/// SIGFPE: floating-point invalid operation.
pub const FPE_FLTINV: i32 = 7;
/// SIGFPE: subscript out of range.
pub const FPE_FLTSUB: i32 = 8;
/// SIGFPE: undiagnosed floating-point exception.
pub const FPE_FLTUNK: i32 = 14;
/// SIGFPE: trap on condition.
pub const FPE_CONDTRAP: i32 = 15;
/// Highest SIGFPE code.
pub const NSIGFPE: i32 = 15;

/// SIGSEGV: address not mapped to object.
pub const SEGV_MAPERR: i32 = 1;
/// SIGSEGV: invalid permissions for mapped object.
pub const SEGV_ACCERR: i32 = 2;
/// SIGSEGV: failed address bound checks (MPX).
pub const SEGV_BNDERR: i32 = 3;
/// SIGSEGV: failed protection key checks.
pub const SEGV_PKUERR: i32 = 4;
/// Highest SIGSEGV code in the source read (5..=7 are SPARC ADI codes).
pub const NSIGSEGV: i32 = 7;

/// SIGBUS: invalid address alignment.
pub const BUS_ADRALN: i32 = 1;
/// SIGBUS: non-existent physical address.
pub const BUS_ADRERR: i32 = 2;
/// SIGBUS: object-specific hardware error.
pub const BUS_OBJERR: i32 = 3;
/// SIGBUS: hardware memory error consumed on a machine check: action required.
pub const BUS_MCEERR_AR: i32 = 4;
/// SIGBUS: hardware memory error detected but not consumed: action optional.
pub const BUS_MCEERR_AO: i32 = 5;
/// Highest SIGBUS code.
pub const NSIGBUS: i32 = 5;

/// SIGTRAP: process breakpoint.
pub const TRAP_BRKPT: i32 = 1;
/// SIGTRAP: process trace trap.
pub const TRAP_TRACE: i32 = 2;
/// SIGTRAP: process taken branch trap.
pub const TRAP_BRANCH: i32 = 3;
/// SIGTRAP: hardware breakpoint/watchpoint.
pub const TRAP_HWBKPT: i32 = 4;
/// SIGTRAP: undiagnosed trap.
pub const TRAP_UNK: i32 = 5;
/// Highest SIGTRAP code in the source read (later kernels add `TRAP_PERF` = 6; not used here).
pub const NSIGTRAP: i32 = 5;

/// SIGCHLD: child has exited.
pub const CLD_EXITED: i32 = 1;
/// SIGCHLD: child was killed.
pub const CLD_KILLED: i32 = 2;
/// SIGCHLD: child terminated abnormally (dumped core).
pub const CLD_DUMPED: i32 = 3;
/// SIGCHLD: traced child has trapped.
pub const CLD_TRAPPED: i32 = 4;
/// SIGCHLD: child has stopped.
pub const CLD_STOPPED: i32 = 5;
/// SIGCHLD: stopped child has continued.
pub const CLD_CONTINUED: i32 = 6;
/// Highest SIGCHLD code.
pub const NSIGCHLD: i32 = 6;

/// SIGPOLL: data input available.
pub const POLL_IN: i32 = 1;
/// SIGPOLL: output buffers available.
pub const POLL_OUT: i32 = 2;
/// SIGPOLL: input message available.
pub const POLL_MSG: i32 = 3;
/// SIGPOLL: I/O error.
pub const POLL_ERR: i32 = 4;
/// SIGPOLL: high-priority input available.
pub const POLL_PRI: i32 = 5;
/// SIGPOLL: device disconnected.
pub const POLL_HUP: i32 = 6;
/// Highest SIGPOLL code.
pub const NSIGPOLL: i32 = 6;

/// SIGSYS: seccomp triggered.
pub const SYS_SECCOMP: i32 = 1;
/// Highest SIGSYS code.
pub const NSIGSYS: i32 = 1;

// ---------------------------------------------------------------------------------------------
// Names.
// ---------------------------------------------------------------------------------------------

// Index = signal number - 1.
const NAMES: [&str; 64] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
    "SIGRTMIN",
    "SIGRTMIN+1",
    "SIGRTMIN+2",
    "SIGRTMIN+3",
    "SIGRTMIN+4",
    "SIGRTMIN+5",
    "SIGRTMIN+6",
    "SIGRTMIN+7",
    "SIGRTMIN+8",
    "SIGRTMIN+9",
    "SIGRTMIN+10",
    "SIGRTMIN+11",
    "SIGRTMIN+12",
    "SIGRTMIN+13",
    "SIGRTMIN+14",
    "SIGRTMIN+15",
    "SIGRTMIN+16",
    "SIGRTMIN+17",
    "SIGRTMIN+18",
    "SIGRTMIN+19",
    "SIGRTMIN+20",
    "SIGRTMIN+21",
    "SIGRTMIN+22",
    "SIGRTMIN+23",
    "SIGRTMIN+24",
    "SIGRTMIN+25",
    "SIGRTMIN+26",
    "SIGRTMIN+27",
    "SIGRTMIN+28",
    "SIGRTMIN+29",
    "SIGRTMIN+30",
    "SIGRTMIN+31",
    "SIGRTMAX",
];

/// The name of signal `sig` (`"SIGHUP"` ...; real-time signals as `"SIGRTMIN"`,
/// `"SIGRTMIN+1"` ... `"SIGRTMIN+31"`, `"SIGRTMAX"` in the kernel's numbering), or `None` if
/// `sig` is not a valid signal number.
pub const fn name(sig: u32) -> Option<&'static str> {
    if valid(sig) {
        Some(NAMES[(sig - 1) as usize])
    } else {
        None
    }
}

/// The number of the signal called `name` (the inverse of [`name`]; also accepts the
/// aliases `SIGIOT`, `SIGPOLL`, `SIGUNUSED`).
pub fn number(name: &str) -> Option<u32> {
    match name {
        "SIGIOT" => Some(SIGIOT),
        "SIGPOLL" => Some(SIGPOLL),
        "SIGUNUSED" => Some(SIGUNUSED),
        _ => NAMES.iter().position(|&n| n == name).map(|i| i as u32 + 1),
    }
}

// ---------------------------------------------------------------------------------------------
// Actions.
// ---------------------------------------------------------------------------------------------

/// The seven kinds of action of the 2.5 "shared thread signals" design (seed table): which
/// thread(s) of a thread group a process-directed signal affects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionClass {
    /// Delivered to the thread that caused it or was targeted (faults, `tgkill`).
    Specific,
    /// Delivered to any one thread that does not block it.
    LoadBalance,
    /// Terminates every thread of the group.
    KillAll,
    /// Dumps core, then terminates every thread of the group.
    KillAllCore,
    /// Stops every thread of the group.
    StopAll,
    /// Continues every thread of the group.
    ContinueAll,
    /// Discarded.
    Ignore,
}

/// The "userspace" column of the seed table: how a signal with a handler installed is
/// directed within the thread group. `None` for SIGKILL and SIGSTOP (no handler can be
/// installed: "n/a") and for invalid numbers. Handled signals are never broadcast: the class
/// is always [`ActionClass::Specific`] or [`ActionClass::LoadBalance`].
pub const fn handler_class(sig: u32) -> Option<ActionClass> {
    use ActionClass::*;
    match sig {
        SIGKILL | SIGSTOP => None,
        SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | SIGPIPE | SIGSTKFLT | SIGXCPU
        | SIGXFSZ | SIGPROF | SIGSYS => Some(Specific),
        SIGHUP | SIGINT | SIGQUIT | SIGUSR1 | SIGUSR2 | SIGALRM | SIGTERM | SIGCHLD | SIGCONT
        | SIGTSTP | SIGTTIN | SIGTTOU | SIGURG | SIGVTALRM | SIGWINCH | SIGIO | SIGPWR => {
            Some(LoadBalance)
        }
        SIGRTMIN..=SIGRTMAX => Some(LoadBalance),
        _ => None,
    }
}

/// The "kernel" column of the seed table: what the default action (`SIG_DFL`) does to the
/// thread group. `None` for invalid numbers.
pub const fn default_class(sig: u32) -> Option<ActionClass> {
    use ActionClass::*;
    match sig {
        SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | SIGXCPU | SIGXFSZ
        | SIGSYS => Some(KillAllCore),
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => Some(StopAll),
        SIGCONT => Some(ContinueAll),
        SIGCHLD | SIGURG | SIGWINCH => Some(Ignore),
        SIGHUP | SIGINT | SIGKILL | SIGUSR1 | SIGUSR2 | SIGPIPE | SIGALRM | SIGTERM | SIGSTKFLT
        | SIGVTALRM | SIGPROF | SIGIO | SIGPWR => Some(KillAll),
        SIGRTMIN..=SIGRTMAX => Some(KillAll),
        _ => None,
    }
}

/// A signal's default action as Linux (and `signal(7)`) names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefaultAction {
    /// Terminate the process.
    Term,
    /// Terminate the process and dump core.
    Core,
    /// Stop the process.
    Stop,
    /// Continue the process if it is stopped. In Linux SIGCONT is also in the ignore mask:
    /// the continuing happens when the signal is *sent*, and the signal itself is then
    /// discarded if its action is `SIG_DFL`.
    Cont,
    /// Ignore the signal.
    Ign,
}

/// The Linux default action of `sig`, or `None` for invalid numbers.
pub const fn default_action(sig: u32) -> Option<DefaultAction> {
    if !valid(sig) {
        None
    } else if sig == SIGCONT {
        Some(DefaultAction::Cont)
    } else if SigSet::COREDUMP.contains(sig) {
        Some(DefaultAction::Core)
    } else if SigSet::STOP.contains(sig) {
        Some(DefaultAction::Stop)
    } else if SigSet::IGNORE.contains(sig) {
        Some(DefaultAction::Ign)
    } else {
        Some(DefaultAction::Term)
    }
}

// ---------------------------------------------------------------------------------------------
// wait4 / waitid.
// ---------------------------------------------------------------------------------------------

/// Return immediately if no child has changed state.
pub const WNOHANG: u32 = 0x0000_0001;
/// Also report stopped children (`wait4`).
pub const WUNTRACED: u32 = 0x0000_0002;
/// Report stopped children (`waitid`; same bit as [`WUNTRACED`]).
pub const WSTOPPED: u32 = WUNTRACED;
/// Report exited children (`waitid`).
pub const WEXITED: u32 = 0x0000_0004;
/// Report continued children.
pub const WCONTINUED: u32 = 0x0000_0008;
/// Leave the child waitable (`waitid`).
pub const WNOWAIT: u32 = 0x0100_0000;
/// Linux `__WNOTHREAD`: don't wait on children of other threads of the group.
pub const WNOTHREAD: u32 = 0x2000_0000;
/// Linux `__WALL`: wait on all children, regardless of exit signal.
pub const WALL: u32 = 0x4000_0000;
/// Linux `__WCLONE`: wait only on children whose exit signal is not SIGCHLD.
pub const WCLONE: u32 = 0x8000_0000;

/// `waitid` id type: any child.
pub const P_ALL: u32 = 0;
/// `waitid` id type: the child with process id `id`.
pub const P_PID: u32 = 1;
/// `waitid` id type: any child in process group `id`.
pub const P_PGID: u32 = 2;

/// Bit of a wait status set when the process dumped core.
pub const WCOREFLAG: u32 = 0x80;
/// Wait status reported (by `wait4` with [`WCONTINUED`]) for a continued child.
pub const W_CONTINUED: u32 = 0xffff;
/// Low 7 bits of a status that mean "stopped".
const W_STOPPED_LOW: u32 = 0x7f;

/// Wait status of a process that exited with `exit(ret)` (`ret` is truncated to 8 bits,
/// as `sys_exit` does) or was terminated by signal `sig` (pass `ret = 0`); glibc's
/// `W_EXITCODE(ret, sig)`.
pub const fn w_exitcode(ret: u32, sig: u32) -> u32 {
    ((ret & 0xff) << 8) | (sig & 0x7f)
}

/// Wait status of a process terminated by signal `sig`, with [`WCOREFLAG`] if it dumped core.
pub const fn w_termcode(sig: u32, core_dumped: bool) -> u32 {
    w_exitcode(0, sig) | if core_dumped { WCOREFLAG } else { 0 }
}

/// Wait status of a process stopped by signal `sig`: `(sig << 8) | 0x7f` (glibc's
/// `W_STOPCODE`).
pub const fn w_stopcode(sig: u32) -> u32 {
    ((sig & 0xff) << 8) | W_STOPPED_LOW
}

/// `WIFEXITED`: the process exited normally.
pub const fn wifexited(status: u32) -> bool {
    status & 0x7f == 0
}

/// `WEXITSTATUS`: the exit status (valid if [`wifexited`]).
pub const fn wexitstatus(status: u32) -> u32 {
    (status >> 8) & 0xff
}

/// `WIFSIGNALED`: the process was terminated by a signal.
pub const fn wifsignaled(status: u32) -> bool {
    let low = status & 0x7f;
    low != 0 && low != W_STOPPED_LOW
}

/// `WTERMSIG`: the terminating signal (valid if [`wifsignaled`]).
pub const fn wtermsig(status: u32) -> u32 {
    status & 0x7f
}

/// `WCOREDUMP`: the process dumped core (valid if [`wifsignaled`]).
pub const fn wcoredump(status: u32) -> bool {
    status & WCOREFLAG != 0
}

/// `WIFSTOPPED`: the process is stopped.
pub const fn wifstopped(status: u32) -> bool {
    status & 0xff == W_STOPPED_LOW
}

/// `WSTOPSIG`: the stopping signal (valid if [`wifstopped`]).
pub const fn wstopsig(status: u32) -> u32 {
    wexitstatus(status)
}

/// `WIFCONTINUED`: the process was continued.
pub const fn wifcontinued(status: u32) -> bool {
    status == W_CONTINUED
}

// ---------------------------------------------------------------------------------------------
// clone.
// ---------------------------------------------------------------------------------------------

/// Mask of the exit signal in `clone`'s flags.
pub const CSIGNAL: u64 = 0x0000_00ff;
/// Share the address space.
pub const CLONE_VM: u64 = 0x0000_0100;
/// Share filesystem information.
pub const CLONE_FS: u64 = 0x0000_0200;
/// Share the file descriptor table.
pub const CLONE_FILES: u64 = 0x0000_0400;
/// Share signal handlers (requires [`CLONE_VM`]).
pub const CLONE_SIGHAND: u64 = 0x0000_0800;
/// Return a pidfd to the parent.
pub const CLONE_PIDFD: u64 = 0x0000_1000;
/// Let tracing continue on the child.
pub const CLONE_PTRACE: u64 = 0x0000_2000;
/// The parent sleeps until the child execs or exits.
pub const CLONE_VFORK: u64 = 0x0000_4000;
/// Same parent as the caller.
pub const CLONE_PARENT: u64 = 0x0000_8000;
/// Same thread group (requires [`CLONE_SIGHAND`]).
pub const CLONE_THREAD: u64 = 0x0001_0000;
/// New mount namespace.
pub const CLONE_NEWNS: u64 = 0x0002_0000;
/// Share System V `SEM_UNDO` semantics.
pub const CLONE_SYSVSEM: u64 = 0x0004_0000;
/// Set the child's TLS (`fs` base).
pub const CLONE_SETTLS: u64 = 0x0008_0000;
/// Store the child's TID in the parent's memory.
pub const CLONE_PARENT_SETTID: u64 = 0x0010_0000;
/// Clear (and futex-wake) the child's TID word when it exits.
pub const CLONE_CHILD_CLEARTID: u64 = 0x0020_0000;
/// Unused, ignored.
pub const CLONE_DETACHED: u64 = 0x0040_0000;
/// The tracer cannot force [`CLONE_PTRACE`].
pub const CLONE_UNTRACED: u64 = 0x0080_0000;
/// Store the child's TID in the child's memory.
pub const CLONE_CHILD_SETTID: u64 = 0x0100_0000;
/// New cgroup namespace.
pub const CLONE_NEWCGROUP: u64 = 0x0200_0000;
/// New UTS namespace.
pub const CLONE_NEWUTS: u64 = 0x0400_0000;
/// New IPC namespace.
pub const CLONE_NEWIPC: u64 = 0x0800_0000;
/// New user namespace.
pub const CLONE_NEWUSER: u64 = 0x1000_0000;
/// New PID namespace.
pub const CLONE_NEWPID: u64 = 0x2000_0000;
/// New network namespace.
pub const CLONE_NEWNET: u64 = 0x4000_0000;
/// Clone the I/O context.
pub const CLONE_IO: u64 = 0x8000_0000;
/// `clone3` only: reset every handler to `SIG_DFL` in the child.
pub const CLONE_CLEAR_SIGHAND: u64 = 1 << 32;
/// `clone3` only: create the child in the cgroup given by `clone_args.cgroup`.
pub const CLONE_INTO_CGROUP: u64 = 1 << 33;
/// New time namespace (`clone3`/`unshare` only: it overlaps [`CSIGNAL`]).
pub const CLONE_NEWTIME: u64 = 0x0000_0080;

#[cfg(test)]
mod tests {
    use super::*;
    use ActionClass::*;

    #[test]
    fn numbers() {
        assert_eq!(SIGHUP, 1);
        assert_eq!(SIGKILL, 9);
        assert_eq!(SIGSEGV, 11);
        assert_eq!(SIGCHLD, 17);
        assert_eq!(SIGCONT, 18);
        assert_eq!(SIGSTOP, 19);
        assert_eq!(SIGSYS, 31);
        assert!(!valid(0));
        assert!(valid(1) && valid(64));
        assert!(!valid(65));
        assert!(is_realtime(32) && is_realtime(64) && !is_realtime(31));
    }

    #[test]
    fn sigset_ops() {
        let mut s = SigSet::EMPTY;
        assert!(s.is_empty());
        s.add(SIGINT);
        s.add(SIGRTMAX);
        s.add(0); // ignored
        s.add(65); // ignored
        assert_eq!(s.bits(), (1 << 1) | (1 << 63));
        assert!(s.contains(SIGINT) && s.contains(64));
        assert!(!s.contains(0) && !s.contains(65) && !s.contains(SIGHUP));
        assert_eq!(s.len(), 2);
        s.del(SIGINT);
        assert_eq!(s, SigSet::single(SIGRTMAX));
        let a = SigSet::EMPTY.with(SIGUSR1).with(SIGUSR2);
        let b = SigSet::single(SIGUSR2).with(SIGTERM);
        assert!(a.union(b).iter().eq([10, 12, 15]));
        assert_eq!(a.intersection(b), SigSet::single(SIGUSR2));
        assert_eq!(a.difference(b), SigSet::single(SIGUSR1));
        assert_eq!(a.without(SIGUSR1), SigSet::single(SIGUSR2));
        assert_eq!(a.complement().complement(), a);
        assert!(!a.complement().contains(SIGUSR1));
        assert_eq!(SigSet::FULL.blockable().len(), 62);
        assert!(!SigSet::FULL.blockable().contains(SIGKILL));
        assert_eq!(SigSet::STANDARD.len(), 31);
        assert_eq!(SigSet::REALTIME.len(), 33);
        assert_eq!(SigSet::STANDARD.union(SigSet::REALTIME), SigSet::FULL);
        assert_eq!(SigSet::EMPTY.lowest(), None);
        assert_eq!(b.lowest(), Some(SIGUSR2));
        // A synchronous signal goes first even if a lower-numbered one is pending.
        let p = SigSet::single(SIGHUP).with(SIGSEGV).with(SIGRTMIN);
        assert_eq!(p.next_to_deliver(), Some(SIGSEGV));
        assert_eq!(p.without(SIGSEGV).next_to_deliver(), Some(SIGHUP));
        assert_eq!(SigSet::FULL.iter().count(), 64);
        assert_eq!(core::mem::size_of::<SigSet>(), SIGSET_SIZE);
    }

    #[test]
    fn names_round_trip() {
        for sig in 1..=NSIG {
            let n = name(sig).unwrap();
            assert_eq!(number(n), Some(sig), "{n}");
        }
        assert_eq!(name(0), None);
        assert_eq!(name(65), None);
        assert_eq!(name(SIGSEGV), Some("SIGSEGV"));
        assert_eq!(name(SIGRTMIN), Some("SIGRTMIN"));
        assert_eq!(name(33), Some("SIGRTMIN+1"));
        assert_eq!(name(63), Some("SIGRTMIN+31"));
        assert_eq!(name(SIGRTMAX), Some("SIGRTMAX"));
        assert_eq!(number("SIGIOT"), Some(SIGABRT));
        assert_eq!(number("SIGPOLL"), Some(SIGIO));
        assert_eq!(number("SIGFOO"), None);
    }

    /// Rows of the seed table (`linux-shared-thread-signals.txt`), verbatim.
    #[test]
    fn action_classes_match_seed() {
        let rows: [(u32, Option<ActionClass>, ActionClass); 12] = [
            (SIGHUP, Some(LoadBalance), KillAll),
            (SIGQUIT, Some(LoadBalance), KillAllCore),
            (SIGILL, Some(Specific), KillAllCore),
            (SIGKILL, None, KillAll),
            (SIGPIPE, Some(Specific), KillAll),
            (SIGCHLD, Some(LoadBalance), Ignore),
            (SIGCONT, Some(LoadBalance), ContinueAll),
            (SIGSTOP, None, StopAll),
            (SIGTTOU, Some(LoadBalance), StopAll),
            (SIGPROF, Some(Specific), KillAll),
            (SIGSTKFLT, Some(Specific), KillAll),
            (SIGRTMIN + 5, Some(LoadBalance), KillAll),
        ];
        for (sig, user, kernel) in rows {
            assert_eq!(handler_class(sig), user, "{sig}");
            assert_eq!(default_class(sig), Some(kernel), "{sig}");
        }
        assert_eq!(handler_class(0), None);
        assert_eq!(default_class(65), None);
    }

    #[test]
    fn every_signal_has_classes_consistent_with_linux_defaults() {
        for sig in 1..=NSIG {
            let class = default_class(sig).unwrap();
            let action = default_action(sig).unwrap();
            let want = match action {
                DefaultAction::Term => KillAll,
                DefaultAction::Core => KillAllCore,
                DefaultAction::Stop => StopAll,
                DefaultAction::Cont => ContinueAll,
                DefaultAction::Ign => Ignore,
            };
            assert_eq!(class, want, "{sig}");
            match handler_class(sig) {
                None => assert!(SigSet::KERNEL_ONLY.contains(sig)),
                Some(c) => assert!(matches!(c, Specific | LoadBalance)),
            }
        }
        // Every synchronous (fault) signal is thread-specific when handled.
        for sig in SigSet::SYNCHRONOUS {
            assert_eq!(handler_class(sig), Some(Specific));
        }
    }

    #[test]
    fn wait_status_encodings() {
        let s = w_exitcode(3, 0);
        assert_eq!(s, 0x0300);
        assert!(wifexited(s) && !wifsignaled(s) && !wifstopped(s) && !wifcontinued(s));
        assert_eq!(wexitstatus(s), 3);
        assert_eq!(wexitstatus(w_exitcode(0x1ff, 0)), 0xff);

        let s = w_termcode(SIGKILL, false);
        assert_eq!(s, 9);
        assert!(wifsignaled(s) && !wifexited(s) && !wcoredump(s));
        assert_eq!(wtermsig(s), SIGKILL);

        let s = w_termcode(SIGSEGV, true);
        assert_eq!(s, 0x8b);
        assert!(wifsignaled(s) && wcoredump(s));
        assert_eq!(wtermsig(s), SIGSEGV);

        let s = w_stopcode(SIGTSTP);
        assert_eq!(s, 0x147f);
        assert!(wifstopped(s) && !wifsignaled(s) && !wifexited(s));
        assert_eq!(wstopsig(s), SIGTSTP);

        assert!(wifcontinued(W_CONTINUED));
        assert!(!wifexited(W_CONTINUED) && !wifsignaled(W_CONTINUED));
        assert!(!wifstopped(W_CONTINUED));
    }

    #[test]
    fn flag_values() {
        assert_eq!(SA_UAPI_FLAGS, 0xdc00_0807);
        assert_eq!(SA_UAPI_FLAGS & SA_UNSUPPORTED, 0);
        assert_eq!(SS_AUTODISARM, 0x8000_0000);
        assert_eq!(WSTOPPED, WUNTRACED);
        assert_eq!(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0x10900);
    }
}
