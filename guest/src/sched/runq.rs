//! Per-CPU run queues, the switch, placement, the idle loop and preemption.
//!
//! See the `sched` overview for the states, the locks and their order.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use shared_abi::current::lwp::{LSONPROC, LSRUN, LSZOMB};

use super::list::{List, Which};
use super::thread::{self, flag, Thread, ANY_CPU, THREADS};
use super::{ids, stats_of};
use crate::arch::irq::{self, VECTOR_RESCHED};
use crate::arch::percpu::{self, MAX_CPUS};
use crate::arch::{apic, switch};
use crate::sync::IrqMutex;

/// A CPU's run queue and the threads it owns (under [`CpuSched::rq`]).
pub(super) struct RunQueue {
    /// Runnable threads, in round-robin order.
    pub queue: List,
    /// Zombies waiting for their context to leave the CPU and be reaped.
    pub dead: List,
    /// The running thread.
    pub current: Option<&'static Thread>,
    /// This CPU's idle thread.
    pub idle: Option<&'static Thread>,
}

/// Everything the scheduler keeps per CPU.
pub(super) struct CpuSched {
    /// The run queue lock (see the lock order).
    pub rq: IrqMutex<RunQueue>,
    /// Timeouts of threads that went to sleep on this CPU, by deadline (`sleepq`).
    pub timers: IrqMutex<List>,
    /// Threads on the run queue (a lock-free mirror of `queue.len()` for placement).
    pub nrun: AtomicU32,
    /// The idle thread is running.
    pub idling: AtomicBool,
    /// Context switches.
    pub switches: AtomicU64,
    /// Clock ticks.
    pub ticks: AtomicU64,
    /// Clock ticks that found the idle thread running.
    pub idle_ticks: AtomicU64,
    /// Next tick (monotonic ns).
    pub next_tick: AtomicU64,
    /// Deadline the LAPIC timer is armed for (TSC-deadline mode; monotonic ns).
    pub armed: AtomicU64,
}

impl CpuSched {
    const fn new(cpu: u32) -> Self {
        Self {
            rq: IrqMutex::new(RunQueue {
                queue: List::new(ids::RUNQ + cpu, Which::Main),
                dead: List::new(ids::DEAD + cpu, Which::Main),
                current: None,
                idle: None,
            }),
            timers: IrqMutex::new(List::new(ids::TIMERS + cpu, Which::Timer)),
            nrun: AtomicU32::new(0),
            idling: AtomicBool::new(false),
            switches: AtomicU64::new(0),
            ticks: AtomicU64::new(0),
            idle_ticks: AtomicU64::new(0),
            next_tick: AtomicU64::new(0),
            armed: AtomicU64::new(0),
        }
    }
}

pub(super) static CPUS: [CpuSched; MAX_CPUS] = {
    let mut i = 0;
    let mut a = [const { CpuSched::new(0) }; MAX_CPUS];
    while i < MAX_CPUS {
        a[i] = CpuSched::new(i as u32);
        i += 1;
    }
    a
};

/// Round-robin start for placement ties.
static NEXT_CPU: AtomicU32 = AtomicU32::new(0);

/// Why the current thread gives up the CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Why {
    /// `yield_now`: back on the run queue's tail.
    Yield,
    /// Preempted (tick, wake-up of an idle CPU): back on the tail.
    Preempt,
    /// Going to sleep: already on a sleep queue in `LSSLEEP`.
    Sleep,
    /// Exiting: becomes a zombie on the dead list.
    Exit,
    /// The idle thread looks for work.
    Idle,
}

/// Gives up the CPU (see [`Why`]) and returns when the thread runs again. The interrupt state
/// is saved and restored around it; the switch itself runs with interrupts disabled.
pub(super) fn switch_away(why: Why) {
    let saved = irq::save_disable();
    let me = percpu::cpu_id();
    let cs = &CPUS[me];
    let pc = percpu::this();
    let mut rq = cs.rq.lock();
    pc.take_resched();
    let prev = rq.current.expect("switch_away without a current thread");
    let prev_idle = prev.is_idle();
    match why {
        Why::Yield | Why::Preempt | Why::Idle => {
            if !prev_idle {
                prev.set_state(LSRUN);
                rq.queue.push_back(prev);
                cs.nrun.fetch_add(1, Ordering::Relaxed);
            }
        }
        Why::Sleep => {}
        Why::Exit => {
            prev.set_state(LSZOMB);
            rq.dead.push_back(prev);
        }
    }
    let next = match rq.queue.pop_front() {
        Some(t) => {
            cs.nrun.fetch_sub(1, Ordering::Relaxed);
            t
        }
        None => rq.idle.expect("no idle thread"),
    };
    if core::ptr::eq(next, prev) {
        if prev.raw_state() == LSRUN {
            prev.set_state(LSONPROC);
        }
        let _ = rq.unlock_keep_irqs_off();
        irq::restore(saved);
        return;
    }
    if next.raw_state() == LSRUN {
        next.set_state(LSONPROC);
    } else {
        // The idle thread between two runs (never queued) is LSRUN or, first time, LSIDL.
        debug_assert!(next.is_idle());
        next.set_state(LSONPROC);
    }
    if prev_idle && why != Why::Exit && prev.raw_state() == LSONPROC {
        prev.set_state(LSRUN);
    }
    // Inspection (LWPs only; a load and a test for kernel threads): a preempted or yielding
    // LWP shows `LSRUN` with its user registers (a sleeping one published itself in
    // `sleepq`, an exiting one in `proc`), and `next` shows `LSONPROC` here. Under the run
    // queue lock, so a CPU stealing `prev` writes its record only after this.
    if !prev_idle && matches!(why, Why::Yield | Why::Preempt) {
        let ctx = &prev.ctx;
        crate::inspect::thread_preempted(
            prev.slot_index(),
            ctx.kernel_stack_top(),
            ctx.fs_base(),
            ctx.gs_base(),
        );
    }
    crate::inspect::thread_on_cpu(next.slot_index(), me as u32);
    next.cpu.store(me as u32, Ordering::Relaxed);
    next.switches.fetch_add(1, Ordering::Relaxed);
    rq.current = Some(next);
    cs.idling.store(next.is_idle(), Ordering::Relaxed);
    cs.switches.fetch_add(1, Ordering::Relaxed);
    pc.set_sched_current(next.slot_index() + 1);
    // The run queue lock is not held across the switch: `switch::switch_to` waits for the
    // incoming context to be off its old CPU (`on_cpu`), which is what the lock would
    // otherwise have to guarantee. Interrupts stay disabled until we run again.
    let _ = rq.unlock_keep_irqs_off();
    switch::switch_to(&next.ctx);
    irq::restore(saved);
}

/// Chooses a CPU for a thread becoming runnable: its affinity if it has one; else the CPU it
/// last ran on if that CPU is idle; else an idle CPU; else the CPU it last ran on.
fn select_cpu(t: &Thread) -> usize {
    let aff = t.affinity.load(Ordering::Relaxed);
    if aff != ANY_CPU {
        return aff as usize;
    }
    let online = percpu::online_mask();
    let last = t.cpu();
    if online & (1 << last) != 0 && CPUS[last].idling.load(Ordering::Relaxed) {
        return last;
    }
    let n = percpu::ncpus().max(1);
    let start = NEXT_CPU.fetch_add(1, Ordering::Relaxed) as usize;
    for i in 0..MAX_CPUS.min(64) {
        let c = (start + i) % MAX_CPUS;
        if online & (1 << c) != 0 && CPUS[c].idling.load(Ordering::Relaxed) {
            return c;
        }
    }
    if online & (1 << last) != 0 {
        return last;
    }
    // Never ran (or its CPU is gone): the least-loaded online CPU.
    least_loaded(online, start % n)
}

/// The online CPU with the fewest runnable threads (ties: the first from `start`).
fn least_loaded(online: u64, start: usize) -> usize {
    let mut best = (u32::MAX, 0);
    for i in 0..MAX_CPUS {
        let c = (start + i) % MAX_CPUS;
        if online & (1 << c) == 0 {
            continue;
        }
        let load = CPUS[c].nrun.load(Ordering::Relaxed)
            + u32::from(!CPUS[c].idling.load(Ordering::Relaxed));
        if load < best.0 {
            best = (load, c);
        }
    }
    best.1
}

/// Puts `t` (`LSIDL` new, or `LSSLEEP` just taken off its sleep queue) on a run queue, and
/// pokes the CPU if it is idle: a reschedule request, plus an IPI if it is another CPU.
pub(super) fn make_runnable(t: &'static Thread) {
    let target = if t.raw_state() == shared_abi::current::lwp::LSIDL
        && t.affinity.load(Ordering::Relaxed) == ANY_CPU
    {
        // New threads: the least-loaded CPU.
        let start = NEXT_CPU.fetch_add(1, Ordering::Relaxed) as usize;
        least_loaded(percpu::online_mask(), start % MAX_CPUS)
    } else {
        select_cpu(t)
    };
    let cs = &CPUS[target];
    let kick = {
        let mut rq = cs.rq.lock();
        t.set_state(LSRUN);
        t.cpu.store(target as u32, Ordering::Relaxed);
        rq.queue.push_back(t);
        cs.nrun.fetch_add(1, Ordering::Relaxed);
        rq.current.is_none_or(Thread::is_idle)
    };
    if kick {
        let pc = percpu::get(target);
        pc.set_resched();
        if target != percpu::cpu_id() {
            apic::send_ipi(apic::Dest::Apic(pc.apic_id()), VECTOR_RESCHED);
        }
    }
}

/// Takes a zombie whose context is off the CPU from this CPU's dead list.
pub(super) fn pop_dead() -> Option<&'static Thread> {
    let cs = &CPUS[percpu::cpu_id()];
    let mut rq = cs.rq.lock();
    let t = rq.dead.front()?;
    if t.ctx.on_cpu() {
        return None;
    }
    rq.dead.remove(t);
    Some(t)
}

/// Moves one runnable thread without affinity from another CPU's run queue to this CPU's
/// (an idle CPU's work stealing). Takes one run queue lock at a time. Interrupts disabled.
fn try_steal(me: usize) -> bool {
    let online = percpu::online_mask();
    for i in 1..MAX_CPUS {
        let c = (me + i) % MAX_CPUS;
        if online & (1 << c) == 0 || CPUS[c].nrun.load(Ordering::Relaxed) == 0 {
            continue;
        }
        let stolen = {
            let mut rq = CPUS[c].rq.lock();
            let t = rq
                .queue
                .remove_first(|t| t.affinity.load(Ordering::Relaxed) == ANY_CPU);
            if t.is_some() {
                CPUS[c].nrun.fetch_sub(1, Ordering::Relaxed);
            }
            t
        };
        if let Some(t) = stolen {
            let mut rq = CPUS[me].rq.lock();
            t.cpu.store(me as u32, Ordering::Relaxed);
            rq.queue.push_back(t);
            CPUS[me].nrun.fetch_add(1, Ordering::Relaxed);
            return true;
        }
    }
    false
}

/// The idle loop: reap, look for work (its own queue, then other CPUs' queues), halt with
/// interrupts enabled. Never spins. A halted CPU looks again at each of its own ticks.
pub(super) fn idle_loop() -> ! {
    loop {
        thread::reap_local();
        irq::disable();
        let me = percpu::cpu_id();
        let cs = &CPUS[me];
        if cs.nrun.load(Ordering::Relaxed) > 0 || percpu::this().resched_pending() || try_steal(me)
        {
            switch_away(Why::Idle);
            irq::enable();
            continue;
        }
        // `sti; hlt`: a wake-up IPI arriving after the check still ends the halt.
        irq::enable_and_halt();
    }
}

/// Entry of an idle thread created as a new context (the boot CPU's).
pub(super) extern "C" fn idle_entry(_: usize) -> ! {
    idle_loop()
}

/// Kernel preemption (the trap path calls this on return to ring-0 code that had interrupts
/// enabled, when a reschedule is pending and `preempt_count` is 0; interrupts disabled).
pub(super) fn preempt_kernel() {
    switch_away(Why::Preempt);
}

/// The return-to-user hook: reschedule while a reschedule is pending (later: signals, LWP
/// suspension, which will use the CPU's `ast` request: cleared here, where nothing else
/// uses it yet). Interrupts are disabled on entry and on return.
pub(super) fn userret(_frame: &mut crate::arch::trap::TrapFrame) {
    let pc = percpu::this();
    pc.take_ast();
    while pc.resched_pending() {
        switch_away(Why::Preempt);
    }
}

/// The reschedule IPI's handler: nothing to do; the trap path's exit checks `resched`.
pub(super) fn resched_ipi(_frame: &mut crate::arch::trap::TrapFrame) {}

/// Installs `t` as the running thread of this CPU (boot thread or AP idle thread), adopting
/// the context that is already running on `stack_top`.
pub(super) fn adopt_current(t: &'static Thread, stack_top: u64) {
    let me = percpu::cpu_id();
    let cs = &CPUS[me];
    {
        let mut rq = cs.rq.lock();
        t.set_state(LSONPROC);
        t.cpu.store(me as u32, Ordering::Relaxed);
        rq.current = Some(t);
        cs.idling.store(t.is_idle(), Ordering::Relaxed);
    }
    percpu::this().set_sched_current(t.slot_index() + 1);
    switch::adopt(&t.ctx, stack_top);
}

/// Sets this CPU's idle thread.
pub(super) fn set_idle(t: &'static Thread) {
    t.set_flag(flag::IDLE);
    t.affinity.store(percpu::cpu_id() as u32, Ordering::Relaxed);
    CPUS[percpu::cpu_id()].rq.lock().idle = Some(t);
}

/// The running thread of this CPU.
#[inline]
pub(super) fn current() -> &'static Thread {
    let v = percpu::this().sched_current();
    assert!(v != 0, "no current thread");
    &THREADS[v - 1]
}

/// Per-CPU counters, for reports and the later VMM dump.
pub(super) fn cpu_stats(cpu: usize) -> super::CpuStats {
    stats_of(&CPUS[cpu])
}
