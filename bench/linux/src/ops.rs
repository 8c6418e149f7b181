//! The operations, as Linux does them. Each function sets its operation up (handlers, partner
//! threads, pinning), times it with [`measure`] and tears it down again, leaving the process as
//! it found it: handlers, masks and the alternate stack restored, partner threads joined.
//!
//! Single-CPU operations run on the thread pinned to [`Ctx::cpu`], as on the one-vCPU Linux
//! of host-kvm.md §4 (threads and children they create inherit the pinning). Two-CPU
//! operations pin the partner to [`Ctx::cpu2`]. Every operation checks that it did what it
//! claims (handlers ran as often as signals were sent, children exited as expected) and
//! fails rather than report a figure for something else.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use libc::{c_int, c_void, pid_t};
use shared_abi::current::bench::Op;

use crate::harness::{measure, Budget, Sample};
use crate::sys::{self, Handler, SigAction};

/// The operations measured on Linux, in table order: every [`Op`] except those Linux has no
/// counterpart for (`sigblockall`, `sigfastblock`: compare them with the `sigprocmask` pair;
/// the VMM dumps).
pub const LINUX_OPS: [Op; 15] = [
    Op::NullSyscall,
    Op::SigprocmaskPair,
    Op::SelfSignal,
    Op::SelfSignalAltstack,
    Op::RtSigqueue,
    Op::CrossSignal1Cpu,
    Op::CrossSignal2Cpu,
    Op::ParkPingpong1Cpu,
    Op::ParkPingpong2Cpu,
    Op::FutexPingpong1Cpu,
    Op::FutexPingpong2Cpu,
    Op::ThreadCreateJoin,
    Op::ForkExitWait,
    Op::GroupKillPerThread,
    Op::LwpctlRead,
];

/// Threads in the process the group-kill benchmark kills.
pub const GROUP_KILL_THREADS: u32 = 1000;

/// Where the benchmark runs.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Our process id.
    pub pid: pid_t,
    /// The measuring (main) thread's id.
    pub tid: pid_t,
    /// The CPU the measuring thread is pinned to.
    pub cpu: usize,
    /// A second CPU for the two-CPU operations, if the process may use one.
    pub cpu2: Option<usize>,
}

impl Ctx {
    /// Pins the calling thread to the first CPU it may use and records where it runs.
    pub fn new() -> std::io::Result<Ctx> {
        let cpus = sys::allowed_cpus()?;
        let cpu = *cpus.first().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "no CPU in our affinity mask")
        })?;
        sys::pin(cpu)?;
        Ok(Ctx {
            pid: sys::sys_getpid(),
            tid: sys::gettid(),
            cpu,
            cpu2: cpus.get(1).copied(),
        })
    }
}

/// A successful measurement.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The rounds.
    pub sample: Sample,
    /// Exactly what was timed, for the report.
    pub method: String,
    /// The CPUs it ran on.
    pub cpus: Vec<usize>,
}

/// Why an operation has no figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotMeasured {
    /// It cannot be measured here (e.g. a second CPU is missing).
    Skipped(String),
    /// Something went wrong.
    Failed(String),
}

fn failed(what: &str) -> impl Fn(std::io::Error) -> NotMeasured + '_ {
    move |e| NotMeasured::Failed(format!("{what}: {e}"))
}

/// Measures `op`. `Skipped` for operations without a Linux counterpart.
pub fn run(op: Op, ctx: &Ctx, budget: &Budget) -> Result<Measured, NotMeasured> {
    let one = vec![ctx.cpu];
    let two = || {
        ctx.cpu2.map(|c| (ctx.cpu, c)).ok_or_else(|| {
            NotMeasured::Skipped("needs a second CPU in the affinity mask".to_string())
        })
    };
    let (sample, method, cpus) = match op {
        Op::NullSyscall => null_syscall(budget)?,
        Op::SigprocmaskPair => sigprocmask_pair(budget)?,
        Op::SelfSignal => self_signal(ctx, budget)?,
        Op::SelfSignalAltstack => self_signal_altstack(ctx, budget)?,
        Op::RtSigqueue => rt_sigqueue(ctx, budget)?,
        Op::CrossSignal1Cpu => cross_signal(ctx, (ctx.cpu, ctx.cpu), budget)?,
        Op::CrossSignal2Cpu => cross_signal(ctx, two()?, budget)?,
        Op::ParkPingpong1Cpu => park_pingpong((ctx.cpu, ctx.cpu), budget)?,
        Op::ParkPingpong2Cpu => park_pingpong(two()?, budget)?,
        Op::FutexPingpong1Cpu => futex_pingpong((ctx.cpu, ctx.cpu), budget)?,
        Op::FutexPingpong2Cpu => futex_pingpong(two()?, budget)?,
        Op::ThreadCreateJoin => thread_create_join(budget)?,
        Op::ForkExitWait => fork_exit_wait(budget)?,
        Op::GroupKillPerThread => group_kill(budget)?,
        Op::LwpctlRead => lwpctl_read(budget)?,
        Op::SigblockallPair | Op::SigfastblockPair => {
            return Err(NotMeasured::Skipped(
                "no Linux counterpart: compare with sigprocmask_pair".into(),
            ))
        }
        Op::Dump1000Lwps | Op::Dump10000Lwps => {
            return Err(NotMeasured::Skipped("lwpvm VMM only".into()))
        }
    };
    let cpus = match cpus {
        Cpus::One => one,
        Cpus::Two(a, b) => vec![a, b],
    };
    // Partner threads pinned themselves; make sure the measuring thread is where it was.
    sys::pin(ctx.cpu).map_err(failed("re-pinning"))?;
    Ok(Measured {
        sample,
        method: method.to_string(),
        cpus,
    })
}

/// Where an operation ran.
enum Cpus {
    One,
    Two(usize, usize),
}

type Out = Result<(Sample, &'static str, Cpus), NotMeasured>;

/// Times `n` runs of `body`.
fn timed(n: u64, mut body: impl FnMut()) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        body();
    }
    t.elapsed()
}

fn null_syscall(budget: &Budget) -> Out {
    let s = measure::<NotMeasured>(budget, 1, |n| {
        Ok(timed(n, || {
            black_box(sys::sys_getpid());
        }))
    })?;
    Ok((s, "syscall(SYS_getpid)", Cpus::One))
}

fn sigprocmask_pair(budget: &Budget) -> Out {
    let all = sys::sigset(&[], true);
    let mut old = sys::sigset(&[], false);
    let s = measure(budget, 1, |n| {
        let t = Instant::now();
        for _ in 0..n {
            sys::rt_sigprocmask(libc::SIG_BLOCK, Some(&all), Some(&mut old))
                .map_err(failed("rt_sigprocmask"))?;
            sys::rt_sigprocmask(libc::SIG_SETMASK, Some(&old), None)
                .map_err(failed("rt_sigprocmask"))?;
        }
        Ok(t.elapsed())
    })?;
    Ok((
        s,
        "rt_sigprocmask(SIG_BLOCK, all, &old) + rt_sigprocmask(SIG_SETMASK, &old), raw syscalls",
        Cpus::One,
    ))
}

// --- Signal handlers and what they share with the measuring code. -----------------------------

/// Handler runs counted by the current operation.
static HITS: AtomicU64 = AtomicU64::new(0);
/// Handler runs that were on the alternate stack / carried `SI_QUEUE`.
static GOOD_HITS: AtomicU64 = AtomicU64::new(0);
/// The alternate stack's bounds, for the on-stack check.
static ALT_LO: AtomicUsize = AtomicUsize::new(0);
static ALT_HI: AtomicUsize = AtomicUsize::new(0);
/// Cross-thread round trip: who the ping handler replies to.
static REPLY_PID: AtomicI32 = AtomicI32::new(0);
static REPLY_TID: AtomicI32 = AtomicI32::new(0);
/// Cross-thread round trip: the partner's thread id and its stop flag.
static PARTNER_TID: AtomicI32 = AtomicI32::new(0);
static PARTNER_STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn count(_: c_int) {
    HITS.fetch_add(1, Ordering::Relaxed);
}

extern "C" fn count_on_altstack(_: c_int, _: *mut libc::siginfo_t, _: *mut c_void) {
    HITS.fetch_add(1, Ordering::Relaxed);
    let here = black_box(0u8);
    let at = &here as *const u8 as usize;
    if (ALT_LO.load(Ordering::Relaxed)..ALT_HI.load(Ordering::Relaxed)).contains(&at) {
        GOOD_HITS.fetch_add(1, Ordering::Relaxed);
    }
}

extern "C" fn count_queued(_: c_int, info: *mut libc::siginfo_t, _: *mut c_void) {
    HITS.fetch_add(1, Ordering::Relaxed);
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    if unsafe { (*info).si_code } == libc::SI_QUEUE {
        GOOD_HITS.fetch_add(1, Ordering::Relaxed);
    }
}

extern "C" fn reply(_: c_int) {
    HITS.fetch_add(1, Ordering::Relaxed);
    let _ = sys::tgkill(
        REPLY_PID.load(Ordering::Relaxed),
        REPLY_TID.load(Ordering::Relaxed),
        libc::SIGUSR2,
    );
}

fn reset_hits() {
    HITS.store(0, Ordering::SeqCst);
    GOOD_HITS.store(0, Ordering::SeqCst);
}

/// Fails unless the handler ran `want` times (and, with `good`, each run passed its check).
fn check_hits(want: u64, good: bool) -> Result<(), NotMeasured> {
    let (hits, good_hits) = (
        HITS.load(Ordering::SeqCst),
        GOOD_HITS.load(Ordering::SeqCst),
    );
    if hits != want || (good && good_hits != want) {
        return Err(NotMeasured::Failed(format!(
            "expected {want} handler runs, saw {hits} ({good_hits} passing their check)"
        )));
    }
    Ok(())
}

/// Times `tgkill(self, sig)` calls (each delivered before the call returns); returns the
/// figures and how many signals were sent.
fn signal_self(ctx: &Ctx, budget: &Budget, sig: c_int) -> Result<(Sample, u64), NotMeasured> {
    let mut sent = 0u64;
    let s = measure(budget, 1, |n| {
        sent += n;
        let t = Instant::now();
        for _ in 0..n {
            sys::tgkill(ctx.pid, ctx.tid, sig).map_err(failed("tgkill"))?;
        }
        Ok(t.elapsed())
    })?;
    Ok((s, sent))
}

fn self_signal(ctx: &Ctx, budget: &Budget) -> Out {
    let _h =
        SigAction::install(libc::SIGUSR1, Handler::Plain(count), 0).map_err(failed("sigaction"))?;
    reset_hits();
    let (s, sent) = signal_self(ctx, budget, libc::SIGUSR1)?;
    check_hits(sent, false)?;
    Ok((
        s,
        "tgkill(self, SIGUSR1) delivered to a plain handler on return from the call, rt_sigreturn",
        Cpus::One,
    ))
}

fn self_signal_altstack(ctx: &Ctx, budget: &Budget) -> Out {
    const ALT_SIZE: usize = 64 * 1024;
    // Dropped last (declared first): the handler is gone before its stack is.
    let _alt = sys::AltStack::install(ALT_SIZE).map_err(failed("sigaltstack"))?;
    let _h = SigAction::install(
        libc::SIGUSR2,
        Handler::Info(count_on_altstack),
        libc::SA_ONSTACK,
    )
    .map_err(failed("sigaction"))?;
    // Bounds of the stack we installed (read back, so they are exactly the kernel's).
    // SAFETY: stack_t is plain old data; sigaltstack(NULL, &cur) only writes `cur`.
    let mut cur: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::sigaltstack(std::ptr::null(), &mut cur) };
    ALT_LO.store(cur.ss_sp as usize, Ordering::SeqCst);
    ALT_HI.store(cur.ss_sp as usize + cur.ss_size, Ordering::SeqCst);
    reset_hits();
    let (s, sent) = signal_self(ctx, budget, libc::SIGUSR2)?;
    check_hits(sent, true)?;
    Ok((
        s,
        "tgkill(self, SIGUSR2), SA_SIGINFO|SA_ONSTACK handler on a 64 KiB sigaltstack, rt_sigreturn",
        Cpus::One,
    ))
}

/// `siginfo_t` as `rt_sigqueueinfo` reads it for `SI_QUEUE` (glibc's layout on x86_64).
#[repr(C)]
struct QueueInfo {
    signo: c_int,
    errno: c_int,
    code: c_int,
    _pad: c_int,
    pid: pid_t,
    uid: libc::uid_t,
    value: usize,
    _rest: [u64; 12],
}

const _: () = assert!(std::mem::size_of::<QueueInfo>() == std::mem::size_of::<libc::siginfo_t>());

fn rt_sigqueue(ctx: &Ctx, budget: &Budget) -> Out {
    let sig = libc::SIGRTMIN();
    let _h =
        SigAction::install(sig, Handler::Info(count_queued), 0).map_err(failed("sigaction"))?;
    // What glibc's sigqueue() builds on every call (with a getpid and a getuid system call
    // each time): built once here so that only rt_sigqueueinfo is timed.
    let info = QueueInfo {
        signo: sig,
        errno: 0,
        code: libc::SI_QUEUE,
        _pad: 0,
        pid: ctx.pid,
        // SAFETY: getuid cannot fail and touches no memory.
        uid: unsafe { libc::getuid() },
        value: 42,
        _rest: [0; 12],
    };
    reset_hits();
    let mut sent = 0u64;
    let s = measure(budget, 1, |n| {
        sent += n;
        let t = Instant::now();
        for _ in 0..n {
            // SAFETY: `info` is a complete siginfo_t-sized structure that outlives the call.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_rt_sigqueueinfo,
                    ctx.pid,
                    sig,
                    &info as *const QueueInfo,
                )
            };
            if r != 0 {
                return Err(failed("rt_sigqueueinfo")(std::io::Error::last_os_error()));
            }
        }
        Ok(t.elapsed())
    })?;
    check_hits(sent, true)?;
    Ok((
        s,
        "rt_sigqueueinfo(own pid, SIGRTMIN, SI_QUEUE info built once) delivered to an SA_SIGINFO handler",
        Cpus::One,
    ))
}

fn cross_signal(ctx: &Ctx, (a, b): (usize, usize), budget: &Budget) -> Out {
    // Both threads keep the two signals blocked and take them only in sigsuspend; the
    // partner inherits the mask from us at creation.
    let _mask =
        sys::MaskGuard::block(&[libc::SIGUSR1, libc::SIGUSR2]).map_err(failed("sigprocmask"))?;
    let _ping =
        SigAction::install(libc::SIGUSR1, Handler::Plain(reply), 0).map_err(failed("sigaction"))?;
    let _pong =
        SigAction::install(libc::SIGUSR2, Handler::Plain(count), 0).map_err(failed("sigaction"))?;
    let wait_pong = sys::sigset_without(
        sys::current_mask().map_err(failed("sigprocmask"))?,
        libc::SIGUSR2,
    );
    REPLY_PID.store(ctx.pid, Ordering::SeqCst);
    REPLY_TID.store(ctx.tid, Ordering::SeqCst);
    PARTNER_TID.store(0, Ordering::SeqCst);
    PARTNER_STOP.store(false, Ordering::SeqCst);
    reset_hits();
    let partner = thread::spawn(move || -> std::io::Result<()> {
        sys::pin(b)?;
        let wait_ping = sys::sigset_without(sys::current_mask()?, libc::SIGUSR1);
        PARTNER_TID.store(sys::gettid(), Ordering::SeqCst);
        while !PARTNER_STOP.load(Ordering::SeqCst) {
            sys::sigsuspend(&wait_ping);
        }
        Ok(())
    });
    while PARTNER_TID.load(Ordering::SeqCst) == 0 && !partner.is_finished() {
        thread::yield_now();
    }
    let b_tid = PARTNER_TID.load(Ordering::SeqCst);
    let mut round_trips = 0u64;
    let result = if b_tid == 0 {
        Err(NotMeasured::Failed(
            "the partner thread did not start".into(),
        ))
    } else {
        measure(budget, 1, |n| {
            let t = Instant::now();
            for _ in 0..n {
                round_trips += 1;
                sys::tgkill(ctx.pid, b_tid, libc::SIGUSR1).map_err(failed("tgkill"))?;
                // Each round trip adds two handler runs (the partner's and ours).
                while HITS.load(Ordering::Relaxed) < 2 * round_trips {
                    sys::sigsuspend(&wait_pong);
                }
            }
            Ok(t.elapsed())
        })
    };
    let hits = HITS.load(Ordering::SeqCst);
    // Stop the partner: set the flag, then ping it so that it leaves sigsuspend. It may
    // already have seen the flag after its last reply and gone without taking this ping (a
    // signal pending for a thread that exits is discarded), so wait for it by joining, not
    // for a reply.
    PARTNER_STOP.store(true, Ordering::SeqCst);
    if b_tid != 0 {
        let _ = sys::tgkill(ctx.pid, b_tid, libc::SIGUSR1);
    }
    let joined = join_partner(partner);
    // A reply still pending would be delivered after the handlers are restored: take it now.
    if sys::is_pending(libc::SIGUSR2) {
        sys::sigsuspend(&wait_pong);
    }
    joined?;
    let s = result?;
    if hits != 2 * round_trips {
        return Err(NotMeasured::Failed(format!(
            "expected {} handler runs for {round_trips} round trips, saw {hits}",
            2 * round_trips
        )));
    }
    let cpus = if a == b { Cpus::One } else { Cpus::Two(a, b) };
    Ok((
        s,
        "A: tgkill(B, SIGUSR1), sigsuspend; B's handler: tgkill(A, SIGUSR2); both wait in sigsuspend",
        cpus,
    ))
}

/// State shared by the two sides of a ping-pong.
#[derive(Default)]
struct PingPong {
    ping: AtomicU32,
    pong: AtomicU32,
    stop: AtomicBool,
    /// The partner's start: 0 not yet, 1 pinned and serving, 2 failed (and gone).
    ready: AtomicU32,
}

impl PingPong {
    /// The partner's side of the start: pins it to `cpu` and says how that went.
    fn start_partner(&self, cpu: usize) -> std::io::Result<()> {
        let r = sys::pin(cpu);
        self.ready
            .store(if r.is_ok() { 1 } else { 2 }, Ordering::Release);
        r
    }

    /// Waits until the partner has started; `false` if it failed.
    fn wait_partner(&self) -> bool {
        loop {
            match self.ready.load(Ordering::Acquire) {
                0 => thread::yield_now(),
                r => return r == 1,
            }
        }
    }
}

/// Joins a partner thread, turning its failure into ours.
fn join_partner(partner: thread::JoinHandle<std::io::Result<()>>) -> Result<(), NotMeasured> {
    match partner.join() {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(failed("partner")(e)),
        Err(_) => Err(NotMeasured::Failed("the partner thread panicked".into())),
    }
}

fn park_pingpong((a, b): (usize, usize), budget: &Budget) -> Out {
    let st = Arc::new(PingPong::default());
    let me = thread::current();
    let partner = {
        let st = st.clone();
        thread::spawn(move || -> std::io::Result<()> {
            st.start_partner(b)?;
            let mut seen = 0;
            loop {
                let v = st.ping.load(Ordering::Acquire);
                if v == seen {
                    thread::park();
                    continue;
                }
                seen = v;
                if st.stop.load(Ordering::Acquire) {
                    return Ok(());
                }
                st.pong.store(v, Ordering::Release);
                me.unpark();
            }
        })
    };
    let bt = partner.thread().clone();
    if !st.wait_partner() {
        join_partner(partner)?;
        return Err(NotMeasured::Failed(
            "the partner thread did not start".into(),
        ));
    }
    let mut seq = 0u32;
    let result = measure::<NotMeasured>(budget, 1, |n| {
        let t = Instant::now();
        for _ in 0..n {
            seq = seq.wrapping_add(1);
            st.ping.store(seq, Ordering::Release);
            bt.unpark();
            while st.pong.load(Ordering::Acquire) != seq {
                thread::park();
            }
        }
        Ok(t.elapsed())
    });
    st.stop.store(true, Ordering::Release);
    st.ping.store(seq.wrapping_add(1), Ordering::Release);
    bt.unpark();
    join_partner(partner)?;
    let cpus = if a == b { Cpus::One } else { Cpus::Two(a, b) };
    Ok((
        result?,
        "std::thread park/unpark (a per-thread futex word with a wake-up token, as _lwp_park): \
         A unparks B and parks until B's reply, B the reverse",
        cpus,
    ))
}

fn futex_pingpong((a, b): (usize, usize), budget: &Budget) -> Out {
    let st = Arc::new(PingPong::default());
    let partner = {
        let st = st.clone();
        thread::spawn(move || -> std::io::Result<()> {
            st.start_partner(b)?;
            let mut seen = 0;
            loop {
                let v = st.ping.load(Ordering::Acquire);
                if v == seen {
                    sys::futex_wait(&st.ping, v);
                    continue;
                }
                seen = v;
                if st.stop.load(Ordering::Acquire) {
                    return Ok(());
                }
                st.pong.store(v, Ordering::Release);
                sys::futex_wake(&st.pong, 1);
            }
        })
    };
    if !st.wait_partner() {
        join_partner(partner)?;
        return Err(NotMeasured::Failed(
            "the partner thread did not start".into(),
        ));
    }
    let mut seq = 0u32;
    let result = measure::<NotMeasured>(budget, 1, |n| {
        let t = Instant::now();
        for _ in 0..n {
            seq = seq.wrapping_add(1);
            st.ping.store(seq, Ordering::Release);
            sys::futex_wake(&st.ping, 1);
            loop {
                let v = st.pong.load(Ordering::Acquire);
                if v == seq {
                    break;
                }
                sys::futex_wait(&st.pong, v);
            }
        }
        Ok(t.elapsed())
    });
    st.stop.store(true, Ordering::Release);
    st.ping.store(seq.wrapping_add(1), Ordering::Release);
    sys::futex_wake(&st.ping, 1);
    join_partner(partner)?;
    let cpus = if a == b { Cpus::One } else { Cpus::Two(a, b) };
    Ok((
        result?,
        "A: store ping, FUTEX_WAKE_PRIVATE, FUTEX_WAIT_PRIVATE on pong until it changes; B the reverse",
        cpus,
    ))
}

extern "C" fn return_at_once(_: *mut c_void) -> *mut c_void {
    std::ptr::null_mut()
}

fn thread_create_join(budget: &Budget) -> Out {
    let s = measure(budget, 1, |n| {
        let t = Instant::now();
        for _ in 0..n {
            let th = sys::pthread_spawn(return_at_once, 0).map_err(failed("pthread_create"))?;
            sys::pthread_join(th).map_err(failed("pthread_join"))?;
        }
        Ok(t.elapsed())
    })?;
    Ok((
        s,
        "pthread_create (default attributes: glibc reuses cached stacks) of a thread that returns at once + pthread_join",
        Cpus::One,
    ))
}

fn fork_exit_wait(budget: &Budget) -> Out {
    let s = measure(budget, 1, |n| {
        let t = Instant::now();
        for _ in 0..n {
            // SAFETY: the child only calls _exit.
            let pid = unsafe { sys::fork() }.map_err(failed("fork"))?;
            if pid == 0 {
                sys::exit_now(0);
            }
            let st = sys::waitpid(pid).map_err(failed("waitpid"))?;
            if !libc::WIFEXITED(st) || libc::WEXITSTATUS(st) != 0 {
                return Err(NotMeasured::Failed(format!(
                    "child ended with status {st:#x}"
                )));
            }
        }
        Ok(t.elapsed())
    })?;
    Ok((s, "fork(), child _exit(0), parent waitpid", Cpus::One))
}

/// Threads of the group-kill child that have started (in the child's copy of memory).
static STARTED: AtomicU32 = AtomicU32::new(0);

extern "C" fn block_forever(_: *mut c_void) -> *mut c_void {
    STARTED.fetch_add(1, Ordering::SeqCst);
    loop {
        // SAFETY: pause takes no arguments; it returns only after a handled signal.
        unsafe { libc::pause() };
    }
}

/// The group-kill child: starts the threads, reports, blocks. Never returns.
fn group_kill_child(ready: c_int) -> ! {
    STARTED.store(0, Ordering::SeqCst);
    for _ in 0..GROUP_KILL_THREADS {
        if sys::pthread_spawn(block_forever, 64 * 1024).is_err() {
            sys::write_byte(ready, b'E');
            sys::exit_now(1);
        }
    }
    while STARTED.load(Ordering::SeqCst) < GROUP_KILL_THREADS {
        // SAFETY: sched_yield takes no arguments.
        unsafe { libc::sched_yield() };
    }
    sys::write_byte(ready, b'R');
    loop {
        // SAFETY: as in block_forever.
        unsafe { libc::pause() };
    }
}

/// One group kill: the time from `kill(SIGKILL)` to `waitpid` returning.
fn group_kill_once() -> Result<Duration, NotMeasured> {
    let (r, w) = sys::pipe().map_err(failed("pipe"))?;
    // SAFETY: the benchmark process is single-threaded here (every operation joins its
    // threads), so the child may create threads of its own.
    let pid = match unsafe { sys::fork() } {
        Ok(0) => group_kill_child(w),
        Ok(pid) => pid,
        Err(e) => {
            sys::close(r);
            sys::close(w);
            return Err(failed("fork")(e));
        }
    };
    sys::close(w);
    let ready = sys::read_byte(r);
    sys::close(r);
    if ready.as_ref().ok() != Some(&Some(b'R')) {
        let _ = sys::kill(pid, libc::SIGKILL);
        let _ = sys::waitpid(pid);
        return Err(NotMeasured::Failed(format!(
            "the child could not start {GROUP_KILL_THREADS} threads ({ready:?})"
        )));
    }
    let t = Instant::now();
    sys::kill(pid, libc::SIGKILL).map_err(failed("kill"))?;
    let st = sys::waitpid(pid).map_err(failed("waitpid"))?;
    let took = t.elapsed();
    if !libc::WIFSIGNALED(st) || libc::WTERMSIG(st) != libc::SIGKILL {
        return Err(NotMeasured::Failed(format!(
            "child ended with status {st:#x}, not by SIGKILL"
        )));
    }
    Ok(took)
}

fn group_kill(budget: &Budget) -> Out {
    // One kill of 1,000 threads per round: the setup (1,000 thread creations) is not timed
    // but costs far more than the kill.
    let s = measure(&budget.capped(1), u64::from(GROUP_KILL_THREADS), |n| {
        let mut total = Duration::ZERO;
        for _ in 0..n {
            total += group_kill_once()?;
        }
        Ok(total)
    })?;
    Ok((
        s,
        "fork a child that starts 1,000 threads blocked in pause(); time kill(child, SIGKILL) until waitpid returns; / 1,000",
        Cpus::One,
    ))
}

/// `struct rseq`'s `cpu_id` (torvalds/linux `include/uapi/linux/rseq.h`): offset 4, `u32`,
/// the CPU the thread runs on, written by the kernel whenever it returns to user space after
/// the thread was preempted or migrated.
const RSEQ_CPU_ID_OFFSET: usize = 4;

/// The calling thread's `rseq->cpu_id`, if glibc registered an rseq area (glibc 2.35+ does
/// unless `glibc.pthread.rseq=0`): glibc exports the area's offset from the thread pointer as
/// `__rseq_offset` and its size as `__rseq_size` (0 when not registered). Looked up at run
/// time so that the program also links against older C libraries.
fn rseq_cpu_id_ptr() -> Option<*const u32> {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only reads the name.
        let off = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_offset".as_ptr()) };
        // SAFETY: as above.
        let size = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_size".as_ptr()) };
        if off.is_null() || size.is_null() {
            return None;
        }
        // SAFETY: glibc defines __rseq_size as `const unsigned int` and __rseq_offset as
        // `const ptrdiff_t`; both are initialised before main.
        let (off, size) = unsafe { (*(off as *const isize), *(size as *const u32)) };
        if size == 0 {
            return None;
        }
        let tp: usize;
        // SAFETY: on x86_64 glibc, fs:0 holds the thread control block's own address (the
        // thread pointer); reading it has no side effects.
        unsafe {
            std::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) tp,
                options(nostack, readonly, preserves_flags));
        }
        let p = (tp as isize + off) as usize + RSEQ_CPU_ID_OFFSET;
        Some(p as *const u32)
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

fn lwpctl_read(budget: &Budget) -> Out {
    if let Some(p) = rseq_cpu_id_ptr() {
        // SAFETY: `p` points into the calling thread's registered rseq area, which lives as
        // long as the thread; the kernel writes it concurrently, hence the volatile read.
        let first = unsafe { std::ptr::read_volatile(p) };
        let cpu = sys::sched_getcpu();
        if i64::from(first) != i64::from(cpu) {
            return Err(NotMeasured::Failed(format!(
                "rseq cpu_id {first} disagrees with sched_getcpu {cpu}"
            )));
        }
        let s = measure::<NotMeasured>(budget, 1, |n| {
            let mut acc = 0u32;
            let t = Instant::now();
            for _ in 0..n {
                // SAFETY: as above; the measuring thread is the one that owns the area.
                acc = acc.wrapping_add(unsafe { std::ptr::read_volatile(p) });
            }
            let took = t.elapsed();
            black_box(acc);
            Ok(took)
        })?;
        return Ok((
            s,
            "load of rseq->cpu_id (glibc's registered rseq area at thread pointer + __rseq_offset): \
             kernel-maintained per-thread memory, read without entering the kernel, as lwpctl->lc_curcpu",
            Cpus::One,
        ));
    }
    let s = measure::<NotMeasured>(budget, 1, |n| {
        Ok(timed(n, || {
            black_box(sys::sched_getcpu());
        }))
    })?;
    Ok((
        s,
        "sched_getcpu() (no rseq area registered: vDSO getcpu)",
        Cpus::One,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_ops_are_distinct_and_in_table_order() {
        let mut last = None;
        for op in LINUX_OPS {
            let i = Op::ALL.iter().position(|o| *o == op).unwrap();
            assert!(last.is_none_or(|l| l < i), "{op} out of order");
            last = Some(i);
        }
        assert!(!LINUX_OPS.contains(&Op::SigblockallPair));
        assert!(!LINUX_OPS.contains(&Op::Dump1000Lwps));
    }

    #[test]
    fn queue_info_matches_the_kernel_layout() {
        assert_eq!(std::mem::offset_of!(QueueInfo, code), 8);
        assert_eq!(std::mem::offset_of!(QueueInfo, pid), 16);
        assert_eq!(std::mem::offset_of!(QueueInfo, uid), 20);
        assert_eq!(std::mem::offset_of!(QueueInfo, value), 24);
    }
}
