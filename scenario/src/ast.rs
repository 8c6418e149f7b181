//! The syntax tree of a scenario: declarations, the timeline of statements, and assertions.
//!
//! Everything is resolved at parse time: signal names are numbers, LWP and process names are
//! indices into [`Scenario::procs`] / [`Scenario::lwps`], event names index
//! [`Scenario::events`]. Each LWP (each member of an LWP array) also has a global *slot*
//! number, the actor id the runner writes into the event log ([`crate::log`]).

use alloc::string::String;
use alloc::vec::Vec;

use shared_abi::current::lwp::LwpState;
use shared_abi::current::signal::SigSet;

use crate::diag::Span;

/// Index of a process in [`Scenario::procs`].
pub type ProcId = usize;
/// Index of an LWP declaration in [`Scenario::lwps`].
pub type LwpId = usize;
/// Index of an event in [`Scenario::events`].
pub type EventId = usize;
/// Index of a dump in [`Scenario::dumps`] (the `k` of "dump k").
pub type DumpId = usize;
/// Index of a statement in [`Scenario::stmts`].
pub type StmtId = usize;
/// Global actor slot of one LWP (array members have one slot each).
pub type Slot = u32;

/// A parsed scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The file name given to the parser (used in every message).
    pub file: String,
    /// The `scenario "..."` title (the file name if absent).
    pub title: String,
    /// The machine the scenario wants.
    pub vm: Vm,
    /// How long one statement may take to settle before the runner gives up (ns).
    pub timeout_ns: u64,
    /// Processes, in declaration order.
    pub procs: Vec<Proc>,
    /// LWP declarations, in declaration order (each process's `main` comes with it).
    pub lwps: Vec<Lwp>,
    /// Events (named flags and counters used for ordering).
    pub events: Vec<Event>,
    /// Dumps, in timeline order.
    pub dumps: Vec<Dump>,
    /// The timeline: steps, dumps and assertions, in file order.
    pub stmts: Vec<Stmt>,
    /// `covers` tags: what the scenario claims to test (checked by corpus tests).
    pub covers: Vec<(Span, String)>,
    /// FNV-1a 64 of the file's bytes: the runner passes it with each dump request so that
    /// the VMM can check it evaluates the same file ([`crate::fingerprint`]).
    pub fingerprint: u64,
}

/// The `vm` statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vm {
    /// vCPUs for `cargo xtask run SCENARIO` (default 2).
    pub cpus: u32,
    /// Memory in MiB (default 256).
    pub mem_mib: u32,
    /// Fewest vCPUs the scenario makes sense on; the test driver skips (and reports) hosts
    /// with fewer. Default 1.
    pub min_cpus: u32,
}

impl Default for Vm {
    fn default() -> Self {
        Self {
            cpus: 2,
            mem_mib: 256,
            min_cpus: 1,
        }
    }
}

/// How a process comes to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcOrigin {
    /// Created by the runner before the timeline starts (a child of the runner).
    Setup,
    /// Created by a `fork` step of another process (`proc P2 forked`).
    Forked,
}

/// A process declaration (`proc P1 [forked] [pgrp=P0]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    /// Its name (`P1`).
    pub name: String,
    /// Where it is declared.
    pub span: Span,
    /// Setup or forked.
    pub origin: ProcOrigin,
    /// The process group to join (`pgrp=P0`); `None`: a setup process leads its own group, a
    /// forked one stays in its parent's.
    pub pgrp: Option<ProcId>,
    /// Its first LWP (`P1.main`).
    pub main: LwpId,
}

/// Which system call creates an LWP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// NetBSD `_lwp_create` (the default).
    NetBsd,
    /// Linux `clone` with musl's pthread_create flags.
    Linux,
}

/// An LWP declaration (`lwp P1.A`, `lwp P1.W[1000]`), or a process's implicit `main`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lwp {
    /// Full name (`P1.A`; `P1.W` for an array).
    pub name: String,
    /// Its process.
    pub proc: ProcId,
    /// Where it is declared (the `proc` line for `main`).
    pub span: Span,
    /// `Some(n)` for an array of `n` LWPs (`P1.W[0]` .. `P1.W[n-1]`).
    pub count: Option<u32>,
    /// Slot of the first (or only) member.
    pub first_slot: Slot,
    /// Whether this is the process's `main` LWP.
    pub is_main: bool,
    /// Created by a `create` step instead of at setup.
    pub manual: bool,
    /// `LWP_DETACHED`.
    pub detached: bool,
    /// `LWP_SUSPENDED`.
    pub suspended: bool,
    /// Signal mask the LWP starts with (`mask=`); `None`: the creator's.
    pub mask: Option<SigSet>,
    /// Creating call.
    pub api: Api,
}

impl Lwp {
    /// Number of members (1 unless an array).
    pub fn members(&self) -> u32 {
        self.count.unwrap_or(1)
    }
}

/// An event: a counter that `post` increments and `await` waits on until it reaches `count`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its name.
    pub name: String,
    /// Where it is declared or first used.
    pub span: Span,
    /// Posts needed before `await` returns (default 1).
    pub count: u32,
    /// Declared with an `event` line (else implicit at first use).
    pub declared: bool,
}

/// A `dump` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dump {
    /// Its name (`dump stopped`; `dump#k` if unnamed).
    pub name: String,
    /// Where it is.
    pub span: Span,
    /// Its statement.
    pub stmt: StmtId,
}

/// Which member(s) of an LWP declaration a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// The LWP itself (not an array).
    One,
    /// One array member (`P1.W[3]`).
    Index(u32),
    /// Every array member (`P1.W[*]`).
    All,
}

/// A reference to an LWP (or to array members).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LwpRef {
    /// The declaration.
    pub lwp: LwpId,
    /// Which member(s).
    pub member: Member,
}

/// Who performs a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// An LWP (every member, for `P1.W[*]`).
    Lwp(LwpRef),
    /// The host: the VMM injects the signal (emulated by the kernel under QEMU).
    Host,
}

/// A statement of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    /// Where it is.
    pub span: Span,
    /// What it is.
    pub kind: StmtKind,
}

/// The kinds of timeline statement.
#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    /// An actor does something.
    Step(Step),
    /// The runner asks the VMM for dump `k`.
    Dump(DumpId),
    /// An assertion, evaluated at this point of the timeline.
    Expect(Expect),
}

/// `[@label] ACTOR: action [-> expectation]`, plus `do` lines for `handle`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// `@label`, for `step @label` selectors.
    pub label: Option<String>,
    /// Who.
    pub actor: Actor,
    /// What.
    pub action: Action,
    /// `-> ...` if written; `None` means the action's default ([`Action::default_expectation`]).
    pub expect: Option<Expectation>,
    /// The `do` lines of a `handle` step: what the handler does after recording itself.
    pub body: Vec<BodyAction>,
}

/// One `do` line of a handler.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyAction {
    /// Where it is.
    pub span: Span,
    /// `do once ...`: only in the handler's first invocation in the process.
    pub once: bool,
    /// What.
    pub action: Action,
    /// `-> ...`, checked at each execution.
    pub expect: Option<Expectation>,
}

/// A `kill` target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillTarget {
    /// A process (`kill P2 SIG`: `pid > 0`).
    Proc(ProcId),
    /// `kill 0`: the caller's process group.
    OwnGroup,
    /// `kill -1`: every process the caller may signal.
    All,
    /// `kill pgrp(P2)`: `-pgid` of P2's group.
    Group(ProcId),
    /// `kill pid=N`: a raw pid (e.g. one that does not exist).
    Raw(i64),
}

/// Operations on the alternate signal stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AltstackOp {
    /// `altstack SIZE [SS_AUTODISARM]`: install a new stack of SIZE bytes.
    Set {
        /// Size in bytes.
        size: u64,
        /// `SS_AUTODISARM`.
        autodisarm: bool,
    },
    /// `altstack disable` (`SS_DISABLE`).
    Disable,
}

/// `fastblock ...`: FreeBSD `sigfastblock(2)` and its word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FastblockOp {
    /// `fastblock setptr [misaligned]`: `SIGFASTBLOCK_SETPTR` on the LWP's word.
    SetPtr {
        /// Pass a misaligned pointer (expect `EINVAL`).
        misaligned: bool,
    },
    /// `fastblock unsetptr`.
    UnsetPtr,
    /// `fastblock unblock`: the raw `SIGFASTBLOCK_UNBLOCK` call.
    Unblock,
    /// `fastblock inc`: word += `SIGFASTBLOCK_INC`, no system call.
    Inc,
    /// `fastblock dec`: word -= INC, then `UNBLOCK` if the old value was `PEND|INC`
    /// (rtld's `sig_fastunblock`).
    Dec,
    /// `fastblock dec-raw`: word -= INC, no system call whatever the old value.
    DecRaw,
}

/// A fault the LWP raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// `fault divzero`: `div` by zero (#DE → SIGFPE/FPE_INTDIV, si_addr = the instruction).
    DivZero,
    /// `fault badptr [ADDR]`: a load from an unmapped address (#PF → SIGSEGV/SEGV_MAPERR,
    /// si_addr = ADDR; default 0x10).
    BadPtr(u64),
    /// `fault ud2` (#UD → SIGILL/ILL_ILLOPN, si_addr = the instruction).
    Ud2,
    /// `fault int3` (#BP → SIGTRAP/SI_KERNEL; RIP already past the instruction).
    Int3,
}

/// Values read back by `query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// `query mask`: `rt_sigprocmask(SIG_BLOCK, NULL, &old)`.
    Mask,
    /// `query pending`: `rt_sigpending`.
    Pending,
    /// `query altstack`: `sigaltstack(NULL, &old)`'s `ss_flags`.
    Altstack,
    /// `query lwpctl [LWP]`: the LWP's (default: own) lwpctl slot (`_lwp_ctl` first).
    Lwpctl(Option<LwpRef>),
    /// `query blockallsigs`: the lpmap word.
    Blockallsigs,
    /// `query lpmap-tid`: the lpmap `tid` field.
    LpmapTid,
    /// `query fastblock`: the sigfastblock word.
    Fastblock,
    /// `query cpu`: `getcpu`.
    Cpu,
    /// `query self`: `_lwp_self`.
    LwpSelf,
    /// `query tid`: `gettid`.
    Tid,
    /// `query pid`: `getpid`.
    Pid,
}

/// What an action does. Each has a [`ResultKind`] that says which expectations fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    // --- dispositions and masks ---
    /// `handle SIG [flags=F] [mask=SET] [norestorer]`: install the runner's recording handler.
    Handle {
        /// Signal.
        sig: u32,
        /// `sa_flags` (default `SA_SIGINFO`); the runner adds `SA_RESTORER` unless `norestorer`.
        flags: u64,
        /// `sa_mask`.
        mask: SigSet,
        /// Pass `SA_RESTORER` and a restorer (clear: expect SIGSEGV at delivery).
        restorer: bool,
    },
    /// `ignore SIG`: `SIG_IGN`.
    Ignore(u32),
    /// `default SIG`: `SIG_DFL`.
    Default(u32),
    /// `block SET`.
    Block(SigSet),
    /// `unblock SET`.
    Unblock(SigSet),
    /// `setmask SET`.
    SetMask(SigSet),
    /// `query ...`.
    Query(Query),
    /// `altstack ...`.
    Altstack(AltstackOp),
    /// `sigblockall`: DragonFly libc's, no system call.
    SigBlockAll,
    /// `sigunblockall [raw]`: libc's (a `getpid` when the result is exactly bit 31, then
    /// clear bit 31), or just the decrement.
    SigUnblockAll {
        /// Only the atomic decrement.
        raw: bool,
    },
    /// `fastblock ...`.
    Fastblock(FastblockOp),
    /// `lwpctl`: `_lwp_ctl(CURCPU|PCTR, &p)`.
    LwpCtl,
    /// `rlimit sigpending N`: `setrlimit(RLIMIT_SIGPENDING)` for the process's user.
    RlimitSigpending(u64),

    // --- waiting and ordering ---
    /// `pause`.
    Pause,
    /// `sigsuspend SET`.
    Sigsuspend(SigSet),
    /// `sigtimedwait SET [timeout=D]`: records a `waited` event for the dequeued signal.
    Sigtimedwait {
        /// The set.
        set: SigSet,
        /// Timeout (ns); `None`: wait forever.
        timeout_ns: Option<u64>,
    },
    /// `sleep D`: `nanosleep`.
    Sleep(u64),
    /// `park [timeout=D] [unpark=LWP]`: `_lwp_park`.
    Park {
        /// Relative timeout.
        timeout_ns: Option<u64>,
        /// LWP to unpark first.
        unpark: Option<LwpRef>,
    },
    /// `unpark LWP`.
    Unpark(LwpRef),
    /// `unpark-all LWP...`.
    UnparkAll(Vec<LwpRef>),
    /// `wakeup LWP`: `_lwp_wakeup`.
    Wakeup(LwpRef),
    /// `futex-wait E`: one `FUTEX_WAIT` on E's counter while it is below its count; an
    /// interruptible sleep that returns `-ERESTARTSYS` to the kernel on a signal.
    FutexWait(EventId),
    /// `await E`: ordering; waits (retrying after signals) until E is complete.
    Await(EventId),
    /// `post E`: add one to E's counter and wake its waiters.
    Post(EventId),
    /// `spin [until E]`: a ring-3 busy loop (never a system call).
    Spin {
        /// Stop when E is complete; `None`: spin until killed.
        until: Option<EventId>,
    },
    /// `watch-lwpctl until E`: a ring-3 loop (no system call) that reads the LWP's own
    /// lwpctl slot until E completes. Fails with `EPROTO` if `lc_curcpu` is ever not a CPU
    /// number (the LWP is running while it reads it) or `lc_pctr` ever decreases; otherwise
    /// returns how many times `lc_curcpu` changed (migrations seen).
    WatchLwpctl {
        /// When to stop.
        until: EventId,
    },
    /// `yield`: `sched_yield`.
    Yield,

    // --- LWPs ---
    /// `create LWP`: create a `manual` LWP now.
    Create(LwpRef),
    /// `lwp-exit`: `_lwp_exit`.
    LwpExit,
    /// `thread-exit [N]`: Linux `exit` (one thread).
    ThreadExit(i32),
    /// `lwp-wait LWP|any`: `_lwp_wait`.
    LwpWait(Option<LwpRef>),
    /// `suspend LWP`.
    Suspend(LwpRef),
    /// `continue LWP`.
    Continue(LwpRef),
    /// `detach LWP`.
    Detach(LwpRef),
    /// `lwp-kill LWP SIG`: `_lwp_kill`.
    LwpKill {
        /// Target (same process).
        target: LwpRef,
        /// Signal (0 probes).
        sig: u32,
    },

    // --- sending ---
    /// `kill TARGET SIG [xN]`.
    Kill {
        /// Target.
        target: KillTarget,
        /// Signal (0 probes).
        sig: u32,
        /// Repetitions.
        times: u32,
    },
    /// `tkill LWP SIG [xN]`.
    Tkill {
        /// Target.
        target: LwpRef,
        /// Signal.
        sig: u32,
        /// Repetitions.
        times: u32,
    },
    /// `tgkill LWP SIG [tgid=P] [xN]`.
    Tgkill {
        /// Target thread.
        target: LwpRef,
        /// Thread group passed (default the target's process; another one tests `ESRCH`).
        tgid: Option<ProcId>,
        /// Signal.
        sig: u32,
        /// Repetitions.
        times: u32,
    },
    /// `sigqueue P SIG value=V[..W] [code=C]`: `rt_sigqueueinfo`, once per value.
    Sigqueue {
        /// Target process (or raw pid).
        target: KillTarget,
        /// Signal.
        sig: u32,
        /// First and last value (inclusive).
        values: (i64, i64),
        /// `si_code` to pass (default `SI_QUEUE`).
        code: i32,
    },
    /// `tgsigqueue LWP SIG value=V[..W] [code=C]`: `rt_tgsigqueueinfo`.
    TgSigqueue {
        /// Target thread.
        target: LwpRef,
        /// Signal.
        sig: u32,
        /// Values.
        values: (i64, i64),
        /// `si_code`.
        code: i32,
    },
    /// `raise SIG`: `tgkill(getpid(), gettid(), SIG)`.
    Raise(u32),

    // --- faults ---
    /// `fault KIND`.
    Fault(FaultKind),
    /// `skip-fault` (handler bodies only): advance `uc_mcontext.rip` past the faulting
    /// instruction so that `rt_sigreturn` resumes after it.
    SkipFault,

    // --- processes ---
    /// `fork P`: P is the child (declared `forked`).
    Fork(ProcId),
    /// `exec`: re-execute the runner image; this LWP continues its steps in the new image.
    Exec,
    /// `exit N`: `exit_group(N)`.
    Exit(i32),
    /// `wait P|any [WNOHANG|WUNTRACED|WCONTINUED]`: `wait4`.
    Wait {
        /// Child (None: any).
        target: Option<ProcId>,
        /// Options.
        options: u64,
    },
}

/// What an action returns, which decides the expectations it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultKind {
    /// Never returns (`exit`, `lwp-exit`, `thread-exit`); no expectation allowed.
    NoReturn,
    /// 0 or an errno.
    Unit,
    /// An integer (or an errno).
    Int,
    /// A signal number (sigtimedwait) or an errno.
    Sig,
    /// A signal set.
    Set,
    /// An LWP (lwp-wait's departed id, `query self`) or an errno.
    Lwp,
    /// A wait status or an errno.
    Status,
    /// lwpctl fields.
    Lwpctl,
    /// `ss_flags`.
    SsFlags,
}

impl Action {
    /// The action's result kind.
    pub fn result_kind(&self) -> ResultKind {
        use Action::*;
        match self {
            Exit(_) | LwpExit | ThreadExit(_) => ResultKind::NoReturn,
            Query(q) => match q {
                self::Query::Mask | self::Query::Pending => ResultKind::Set,
                self::Query::Altstack => ResultKind::SsFlags,
                self::Query::Lwpctl(_) => ResultKind::Lwpctl,
                self::Query::LwpSelf => ResultKind::Lwp,
                _ => ResultKind::Int,
            },
            SigBlockAll | SigUnblockAll { .. } | WatchLwpctl { .. } => ResultKind::Int,
            Sigtimedwait { .. } => ResultKind::Sig,
            LwpWait(_) => ResultKind::Lwp,
            Wait { .. } => ResultKind::Status,
            _ => ResultKind::Unit,
        }
    }

    /// What is checked when a step has no `->`: `pause` and `sigsuspend` must end with
    /// `EINTR`, actions that do not return check nothing, everything else must succeed.
    pub fn default_expectation(&self) -> Expectation {
        match self {
            Action::Pause | Action::Sigsuspend(_) => {
                Expectation::Errno(shared_abi::current::errno::EINTR)
            }
            Action::Fault(_)
            | Action::Exit(_)
            | Action::LwpExit
            | Action::ThreadExit(_)
            | Action::Spin { .. } => Expectation::Any,
            _ => Expectation::Ok,
        }
    }

    /// Whether the step may legitimately sleep in the kernel: the runner then treats an
    /// actor seen in `LSSLEEP` as settled (see docs/SCENARIOS.md, "Execution model").
    pub fn may_block(&self) -> bool {
        use Action::*;
        matches!(
            self,
            Pause
                | Sigsuspend(_)
                | Sigtimedwait { .. }
                | Sleep(_)
                | Park { .. }
                | FutexWait(_)
                | Await(_)
                | LwpWait(_)
                | Suspend(_)
                | Wait { .. }
                | Fork(_)
                | Exec
        )
    }

    /// Whether the action is allowed in a handler body (`do`): no process or LWP structure
    /// changes other than exiting, no `handle`, no spinning.
    pub fn allowed_in_handler(&self) -> bool {
        use Action::*;
        !matches!(
            self,
            Handle { .. }
                | Fork(_)
                | Exec
                | Spin { .. }
                | WatchLwpctl { .. }
                | Create(_)
                | LwpCtl
                | Fault(_)
        )
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `==` (or `=` in filters)
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `has` (set contains every signal of the right side)
    Has,
    /// `lacks` (set contains none of the right side)
    Lacks,
    /// `in` (value is one of the right side)
    In,
}

impl Op {
    /// The operator's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Has => "has",
            Op::Lacks => "lacks",
            Op::In => "in",
        }
    }

    /// Applies an ordering operator to two integers (`Has`/`Lacks`/`In` are false).
    pub fn int(self, a: i64, b: i64) -> bool {
        match self {
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Has | Op::Lacks | Op::In => false,
        }
    }
}

/// A wait status pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusSpec {
    /// `exited N`.
    Exited(i32),
    /// `killed SIG` (no core).
    Killed(u32),
    /// `dumped SIG` (killed with the core flag).
    Dumped(u32),
    /// `stopped SIG`.
    Stopped(u32),
    /// `continued`.
    Continued,
    /// `none`: `WNOHANG` and no child changed state (`wait4` returned 0).
    Nothing,
}

impl StatusSpec {
    /// Whether raw `wait4` status `st` matches (not meaningful for [`StatusSpec::Nothing`]).
    pub fn matches(self, st: u32) -> bool {
        use shared_abi::current::signal::*;
        match self {
            StatusSpec::Exited(n) => wifexited(st) && wexitstatus(st) == (n as u32 & 0xff),
            StatusSpec::Killed(s) => wifsignaled(st) && wtermsig(st) == s && !wcoredump(st),
            StatusSpec::Dumped(s) => wifsignaled(st) && wtermsig(st) == s && wcoredump(st),
            StatusSpec::Stopped(s) => wifstopped(st) && wstopsig(st) == s,
            StatusSpec::Continued => wifcontinued(st),
            StatusSpec::Nothing => false,
        }
    }
}

/// What a step's `->` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// `any`: nothing is checked.
    Any,
    /// `ok`: no error.
    Ok,
    /// An errno name: the call failed with exactly this error.
    Errno(i32),
    /// An integer comparison (`-> 3`, `-> >= 1`, `-> 0x80000001`).
    Int(Op, i64),
    /// A signal (sigtimedwait's return).
    Sig(u32),
    /// A signal set (`query mask`, `query pending`).
    Set(SigSet),
    /// An LWP (lwp-wait's departed LWP, `query self`).
    Lwp(LwpRef),
    /// A wait status.
    Status(StatusSpec),
    /// lwpctl fields: `curcpu OP N` and/or `pctr OP N` (`NONE` = -1, `EXITED` = -2,
    /// `oncpu` = `>= 0`).
    Lwpctl {
        /// Check of `lc_curcpu`.
        curcpu: Option<(Op, i64)>,
        /// Check of `lc_pctr`.
        pctr: Option<(Op, i64)>,
    },
    /// `ss_flags` (`SS_DISABLE`, `SS_ONSTACK|SS_AUTODISARM`, `0`).
    SsFlags(u64),
}

/// The kinds of event a selector matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelKind {
    /// A handler invocation.
    Handler,
    /// A signal returned by `sigtimedwait`.
    Waited,
    /// Either.
    Delivered,
    /// The completion of the labelled step (`step @label`).
    Step(StmtId),
}

/// Fields of a handler/waited event a filter can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvField {
    /// `si_code`.
    Code,
    /// `si_errno`.
    Errno,
    /// `si_pid` (compare with a process name, `0`, or a number).
    Pid,
    /// `si_uid`.
    Uid,
    /// `si_value`.
    Value,
    /// `si_addr` (compare with a number or `fault-ip`).
    Addr,
    /// `si_status`.
    Status,
    /// Handler nesting depth (1 = not nested).
    Depth,
    /// Whether the handler runs on the alternate stack (`on`/`off`).
    Altstack,
    /// `uc_sigmask`: the mask the handler's return restores.
    Mask,
    /// `uc_stack.ss_flags` saved in the frame.
    UcStack,
    /// Whether `(rsp + 8) % 16 == 0` at entry (`yes`/`no`).
    Aligned,
}

/// A filter's right-hand side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FVal {
    /// A number.
    Int(i64),
    /// The pid of a process.
    Pid(ProcId),
    /// The faulting instruction of the LWP's last `fault` step.
    FaultIp,
    /// A signal set.
    Set(SigSet),
    /// A truth value.
    Bool(bool),
}

/// `FIELD OP VALUE` in a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Where it is.
    pub span: Span,
    /// Field.
    pub field: EvField,
    /// Operator (`=` is `==`).
    pub op: Op,
    /// Value.
    pub value: FVal,
}

/// `KIND [SIG] [on LWPS] [FIELD=VALUE ...]`: which log events an assertion is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// Where it starts.
    pub span: Span,
    /// Kind of event.
    pub kind: SelKind,
    /// Signal, if given.
    pub sig: Option<u32>,
    /// The LWP that ran the handler / dequeued the signal must be one of these slots.
    pub on: Option<Vec<Slot>>,
    /// Field filters, all of which must hold.
    pub filters: Vec<Filter>,
}

/// How many events must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Exactly n (`expect SEL` = exactly 1; `expect no SEL` = 0; `times n`).
    Exactly(u32),
    /// At least n (`times >= n`).
    AtLeast(u32),
    /// At most n (`times <= n`).
    AtMost(u32),
}

/// An assertion (`expect ...`).
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// `expect [no] SEL [times N]`.
    Count {
        /// Which events.
        sel: Selector,
        /// How many.
        count: Count,
    },
    /// `expect SEL then SEL [then ...]`: the events matching any of the selectors, in log
    /// order, are exactly one per selector, in this order.
    Order(Vec<Selector>),
    /// `expect P exited 0` / `killed SIG` / `dumped SIG` ...: the process's final status.
    Exit {
        /// Process.
        proc: ProcId,
        /// Status.
        status: StatusSpec,
    },
    /// `expect lwp(...).FIELD OP VALUE` / `expect proc(...).FIELD OP VALUE`: evaluated by the
    /// VMM on the preceding dump.
    Dump(DumpAssert),
}

/// Process-level dump fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcField {
    /// `state`: `active`, `stopped`, `zombie`.
    State,
    /// `pending`: the shared pending set.
    Pending,
    /// `queue`: the shared siginfo queue.
    Queue,
    /// `nlwps`.
    Nlwps,
    /// `nrlwps`.
    Nrlwps,
    /// `nzlwps`.
    Nzlwps,
    /// `ndlwps`.
    Ndlwps,
    /// `nlwpwait`.
    Nlwpwait,
    /// `pgid` (compare with a process name).
    Pgid,
    /// `action(SIG)`: `SIG_DFL`, `SIG_IGN` or `handler`.
    Action(u32),
    /// `sa_flags(SIG)`.
    SaFlags(u32),
    /// `sa_mask(SIG)`.
    SaMask(u32),
}

/// LWP-level dump fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LwpField {
    /// `state`.
    State,
    /// `mask`: the blocked set.
    Mask,
    /// `pending`: the private pending set.
    Pending,
    /// `queue`: the private siginfo queue.
    Queue,
    /// `cpu`: the CPU it runs on or last ran on.
    Cpu,
    /// `lwpctl.curcpu`.
    LwpctlCurcpu,
    /// `lwpctl.pctr`.
    LwpctlPctr,
    /// `lpmap.blockallsigs`.
    LpmapBlockallsigs,
    /// `lpmap.tid`.
    LpmapTid,
    /// `fastblock`: the registered sigfastblock word.
    Fastblock,
    /// `altstack.flags`.
    AltstackFlags,
    /// `edge(FROM,TO)`: how many times this LWP made that state transition (needs per-LWP
    /// transition counters in the inspection table).
    Edge(LwpState, LwpState),
}

/// Process states as dumps name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcState {
    /// Running normally.
    Active,
    /// Group-stopped.
    Stopped,
    /// Exiting or exited, not yet reaped.
    Zombie,
}

/// Dispositions as dumps name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// `SIG_DFL`.
    Default,
    /// `SIG_IGN`.
    Ignore,
    /// A handler.
    Handler,
}

/// What follows a queue field: nothing (compare the signals), `.len`, or `[i].FIELD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueSub {
    /// `queue` itself: compared as the list of signal numbers.
    Whole,
    /// `queue.len`.
    Len,
    /// `queue[i].signo|code|value|pid`.
    Item(u32, QueueItemField),
}

/// Fields of a queued siginfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueItemField {
    /// `si_signo`.
    Signo,
    /// `si_code`.
    Code,
    /// `si_value`.
    Value,
    /// `si_pid`.
    Pid,
}

/// The left side of a dump assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpLhs {
    /// `proc(P).FIELD`.
    Proc {
        /// Process.
        proc: ProcId,
        /// Field.
        field: ProcField,
        /// Queue sub-field.
        sub: QueueSub,
    },
    /// `lwp(SEL).FIELD`; every selected LWP must satisfy the comparison.
    Lwp {
        /// Slots of the selected LWPs.
        slots: Vec<Slot>,
        /// Field (`None`: `.exists`).
        field: Option<LwpField>,
        /// Queue sub-field.
        sub: QueueSub,
    },
}

/// A dump assertion's right side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DVal {
    /// A number (also `NONE`/`EXITED` for lwpctl, flag names).
    Int(i64),
    /// A set of signals.
    Set(SigSet),
    /// LWP states (one for `==`/`!=`, several for `in`).
    States(Vec<LwpState>),
    /// A process state.
    ProcState(ProcState),
    /// A disposition.
    Action(ActionKind),
    /// `true`/`false` (for `.exists`).
    Bool(bool),
    /// `none`: the field is not mapped (no lpmap, no lwpctl, no sigfastblock word).
    Unmapped,
    /// The pid of a process (for `pgid`, `queue[i].pid`).
    Pid(ProcId),
    /// A list of signals (for `queue == [SIGRTMIN, SIGRTMIN+1]`).
    Sigs(Vec<u32>),
}

/// `expect lwp(...).FIELD OP VALUE` attached to a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpAssert {
    /// The dump it is evaluated on (the preceding `dump`).
    pub dump: DumpId,
    /// Left side.
    pub lhs: DumpLhs,
    /// Operator.
    pub op: Op,
    /// Right side.
    pub rhs: DVal,
}

impl Scenario {
    /// Total number of LWP slots.
    pub fn slot_count(&self) -> u32 {
        self.lwps.iter().map(Lwp::members).sum()
    }

    /// The declaration and member index of `slot`.
    pub fn slot_lwp(&self, slot: Slot) -> Option<(LwpId, Option<u32>)> {
        self.lwps.iter().enumerate().find_map(|(i, l)| {
            let n = l.members();
            (slot >= l.first_slot && slot < l.first_slot + n)
                .then(|| (i, l.count.map(|_| slot - l.first_slot)))
        })
    }

    /// The name of `slot` (`P1.A`, `P1.W[3]`).
    pub fn slot_name(&self, slot: Slot) -> String {
        match self.slot_lwp(slot) {
            Some((l, None)) => self.lwps[l].name.clone(),
            Some((l, Some(i))) => alloc::format!("{}[{}]", self.lwps[l].name, i),
            None => alloc::format!("slot {slot}"),
        }
    }

    /// The process of `slot`.
    pub fn slot_proc(&self, slot: Slot) -> Option<ProcId> {
        self.slot_lwp(slot).map(|(l, _)| self.lwps[l].proc)
    }

    /// The slots an LWP reference names.
    pub fn slots(&self, r: LwpRef) -> Vec<Slot> {
        let l = &self.lwps[r.lwp];
        match r.member {
            Member::One => alloc::vec![l.first_slot],
            Member::Index(i) => alloc::vec![l.first_slot + i],
            Member::All => (l.first_slot..l.first_slot + l.members()).collect(),
        }
    }

    /// The name of an LWP reference (`P1.A`, `P1.W[3]`, `P1.W[*]`).
    pub fn lwp_ref_name(&self, r: LwpRef) -> String {
        let l = &self.lwps[r.lwp];
        match r.member {
            Member::One => l.name.clone(),
            Member::Index(i) => alloc::format!("{}[{}]", l.name, i),
            Member::All => alloc::format!("{}[*]", l.name),
        }
    }

    /// The dump assertions attached to dump `k`, with their statements.
    pub fn dump_asserts(&self, k: DumpId) -> impl Iterator<Item = (&Stmt, &DumpAssert)> {
        self.stmts.iter().filter_map(move |s| match &s.kind {
            StmtKind::Expect(Expect::Dump(d)) if d.dump == k => Some((s, d)),
            _ => None,
        })
    }

    /// The statement labelled `label`.
    pub fn label(&self, label: &str) -> Option<StmtId> {
        self.stmts.iter().position(
            |s| matches!(&s.kind, StmtKind::Step(st) if st.label.as_deref() == Some(label)),
        )
    }
}
