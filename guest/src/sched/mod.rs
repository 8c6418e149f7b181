//! The scheduler: kernel threads, per-CPU run queues, sleep queues, the clock.
//!
//! # Threads and their states
//!
//! A thread ([`Thread`]) is a kernel stack, a saved context and a scheduling state; the LWP
//! layer will add NetBSD's LWP state machine on top (stops, suspension) and user mode. The
//! states are NetBSD's, with NetBSD's numbers (`shared_abi::lwp::LwpState`), restricted to
//! what the scheduler itself needs:
//!
//! - `LSIDL`: being created; not yet runnable (also the boot and AP contexts before they are
//!   adopted as threads).
//! - `LSRUN`: runnable, on a CPU's run queue (or, for an idle thread, not running: idle
//!   threads are never queued).
//! - `LSONPROC`: running on a CPU (it is that CPU's `current`).
//! - `LSSLEEP`: on a sleep queue, waiting for a wake-up on its wait channel, a timeout or (if
//!   interruptible) an interruption.
//! - `LSZOMB`: exited; on its CPU's dead list until its context is off the CPU, then until the
//!   last handle to it is dropped; then the slot is free.
//!
//! ```text
//!            spawn                 picked by its CPU
//!   (free) --------> LSIDL ---> LSRUN ------------------> LSONPROC ---exit---> LSZOMB --> (free)
//!                      |          ^   <-- yield/preempt --    |  |                 (reaped)
//!                      |          |                           |  |
//!                      |          +------ wakeup/timeout -----+  | sleep
//!                      |                  /interrupt      LSSLEEP <+
//!                      +-- adopted (boot thread, AP idle) --> LSONPROC
//! ```
//!
//! `Thread::set_state` checks every transition against this diagram and panics on any other.
//!
//! # Per-CPU scheduling
//!
//! Each CPU has a run queue (FIFO: round robin; O(1) enqueue at the tail and dequeue at the
//! head), an idle thread (`sti; hlt` when nothing is runnable: never a busy spin), a dead
//! list, a timeout list and counters (switches, ticks, idle ticks: [`cpu_stats`]). Placement:
//! a new thread goes to the least-loaded online CPU (ties broken round robin); a woken thread
//! goes back to the CPU it last ran on if that CPU is idle, else to any idle CPU, else to its
//! last CPU; a thread with an affinity ([`spawn_on`]) always to its CPU. Making a thread
//! runnable on an idle CPU sets that CPU's `resched` flag and, if it is another CPU, sends it
//! the reschedule IPI, which ends its `hlt`. An idle CPU steals a runnable thread without
//! affinity from another CPU's queue before it halts, and looks again at each of its ticks.
//!
//! # Preemption
//!
//! The clock tick (`clock`) sets `resched` when other threads wait on the CPU's run queue.
//! The switch happens at the next safe point: on the return from an interrupt or exception
//! to ring 3 (`userret`), and on the return to ring-0 code that had interrupts enabled and
//! `preempt_count` 0 (kernel preemption). Holding an `IrqMutex` disables interrupts and so
//! preemption; [`preempt_disable`] does it without disabling interrupts. Code holding a lock
//! that is not interrupt-safe (the boot heap's, the console's) can be preempted while holding
//! it: another thread on that CPU wanting the lock spins until the holder runs again (it
//! does, at a later tick), so such locks must never be taken with interrupts disabled.
//!
//! # The switch
//!
//! [`yield_now`], sleeping, exiting and preemption all end in `runq::switch_away`: with
//! interrupts disabled and the run queue lock held, it requeues or parks the current thread,
//! picks the next (the queue's head, else the idle thread), updates `current`, releases the
//! lock, and calls `arch::switch::switch_to`, which saves the callee-saved registers, the FPU
//! area (if the thread has one) and the FS/GS bases, sets TSS.RSP0 and gs:8, and switches
//! stacks. The run queue lock is not held across the switch: the arch layer's `on_cpu` flag
//! makes a CPU wait before running a thread whose switch-out on another CPU is not complete.
//!
//! # Locking
//!
//! | lock | covers |
//! |---|---|
//! | a timeout list (per CPU) | its list, the `deadline`/`timer_cpu` of threads on it |
//! | a sleep-queue bucket (64, hashed by channel) | its list; `wchan` of its sleepers; the `LSSLEEP` → `LSRUN` transition |
//! | a run queue (per CPU) | its queue, dead list, `current`, `idle`; `LSRUN` ↔ `LSONPROC`, `LSONPROC` → `LSZOMB`; a thread's `cpu` |
//! | the slot table | the free list |
//!
//! Lock order: (a caller's interlock) → timeout list → sleep-queue bucket → run queue →
//! (kernel stacks (`mm::kstack`), slot table). Only one lock of each kind is held at a time. All are
//! `IrqMutex`es. `LSONPROC` → `LSSLEEP` happens under the bucket lock by the thread itself.
//! Lock-free fields: `flags`, `on_cpu` (arch), the `nrun`/`idling` mirrors used for placement
//! (read racily: a wrong guess costs latency, not correctness).
//!
//! # Interrupt context
//!
//! Interrupt handlers may call [`wakeup`], [`wakeup_one`] and [`interrupt`]; they must not
//! sleep, yield or spawn. The timer handler wakes expired sleepers.

mod clock;
mod list;
mod runq;
pub mod selftest;
mod sleepq;
mod thread;

use core::sync::atomic::Ordering;

pub use self::clock::{deadline_mode, now_ns, tick_ns, DEFAULT_HZ};
#[allow(unused_imports)] // the scheduler's API for the LWP layer
pub use self::sleepq::{
    interrupt, sleep, sleep_for, sleep_interlocked, sleep_timeout, sleep_until, wakeup, wakeup_one,
    WaitChannel, Wake,
};
#[allow(unused_imports)] // the scheduler's API for the LWP layer
pub use self::thread::{
    alloc_stack, exit, reap_local, spawn, spawn_on, spawn_user, JoinHandle, SpawnError, Thread,
    ThreadId, MAX_THREADS,
};

use crate::arch::irq::{self, VECTOR_RESCHED, VECTOR_TIMER};
use crate::arch::{percpu, trap};
use crate::mm::kstack::KernelStack;

/// List ids (unique per link kind; see `list`).
mod ids {
    /// Run queue of CPU c: `RUNQ + c`.
    pub const RUNQ: u32 = 1;
    /// Dead list of CPU c.
    pub const DEAD: u32 = 1_000;
    /// Sleep-queue bucket b.
    pub const SLEEPQ: u32 = 2_000;
    /// The free-slot list.
    pub const FREE_LIST: u32 = 3_000;
    /// Timeout list of CPU c (the timer link).
    pub const TIMERS: u32 = 1;
}

/// A CPU's scheduling counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuStats {
    /// Context switches.
    pub switches: u64,
    /// Clock ticks.
    pub ticks: u64,
    /// Ticks that found the CPU idle.
    pub idle_ticks: u64,
    /// Threads waiting on its run queue now.
    pub queued: u32,
}

fn stats_of(cs: &runq::CpuSched) -> CpuStats {
    CpuStats {
        switches: cs.switches.load(Ordering::Relaxed),
        ticks: cs.ticks.load(Ordering::Relaxed),
        idle_ticks: cs.idle_ticks.load(Ordering::Relaxed),
        queued: cs.nrun.load(Ordering::Relaxed),
    }
}

/// Counters of CPU `cpu`.
pub fn cpu_stats(cpu: usize) -> CpuStats {
    runq::cpu_stats(cpu)
}

/// The running thread.
#[inline]
pub fn current() -> &'static Thread {
    runq::current()
}

/// The table slot of the running thread (what `current().slot_index()` returns, in one
/// per-CPU load): the index of per-thread tables kept by other layers (`proc`'s LWPs).
#[inline]
pub fn current_slot() -> usize {
    let v = percpu::this().sched_current();
    debug_assert!(v != 0, "no current thread");
    v.wrapping_sub(1)
}

/// Puts the running thread at the tail of its CPU's run queue and runs the next one.
pub fn yield_now() {
    runq::switch_away(runq::Why::Yield);
}

/// Forbids kernel preemption on this CPU until the matching [`preempt_enable`].
pub fn preempt_disable() {
    percpu::this().preempt_disable();
}

/// Allows kernel preemption again; reschedules at once if one is pending and allowed.
pub fn preempt_enable() {
    let pc = percpu::this();
    if pc.preempt_enable() == 0 && pc.resched_pending() && irq::enabled() {
        runq::switch_away(runq::Why::Preempt);
    }
}

/// Starts the scheduler on the boot CPU: the running boot code becomes thread "main", CPU 0
/// gets its idle thread, the trap hooks and the timer and reschedule handlers are installed,
/// and CPU 0's clock starts. Interrupts are still disabled; the caller enables them.
///
/// # Panics
///
/// If the thread table or kernel-stack memory is exhausted (cannot happen at boot).
pub fn init_bsp(hz: u64, boot_stack_top: u64) {
    let (deadline, hz, lapic_hz) = clock::init(hz);
    if deadline {
        log::info!("clock: TSC-deadline LAPIC timer, {hz} Hz tick; timeouts armed exactly");
    } else {
        log::info!(
            "clock: periodic LAPIC timer ({lapic_hz} Hz after /16), {hz} Hz tick; timeouts checked per tick"
        );
    }
    irq::register(VECTOR_TIMER, clock::tick);
    irq::register(VECTOR_RESCHED, runq::resched_ipi);
    trap::set_userret(runq::userret);
    trap::set_kernel_preempt(runq::preempt_kernel);

    let main = thread::alloc_slot("main").expect("thread table");
    runq::adopt_current(main, boot_stack_top);
    let idle = thread::alloc_slot("idle0").expect("thread table");
    let stack = alloc_stack().expect("a kernel stack");
    idle.ctx.prepare(stack.top(), 0, runq::idle_entry, 0);
    thread::set_stack(idle, stack);
    runq::set_idle(idle);
    percpu::mark_online();
    clock::start_this_cpu();
}

/// Names of the AP idle threads (`&'static str` without allocating).
const IDLE_NAMES: [&str; 16] = [
    "idle0", "idle1", "idle2", "idle3", "idle4", "idle5", "idle6", "idle7", "idle8", "idle9",
    "idle10", "idle11", "idle12", "idle13", "idle14", "idle15",
];

/// Makes the running AP start-up code this CPU's idle thread (its stack: `stack`), starts the
/// CPU's clock, marks the CPU online and enters the idle loop. Interrupts are disabled on
/// entry; the idle loop enables them.
pub fn run_ap(stack: KernelStack) -> ! {
    let cpu = percpu::cpu_id();
    let name = IDLE_NAMES.get(cpu).copied().unwrap_or("idle");
    let idle = thread::alloc_slot(name).expect("thread table");
    let top = stack.top();
    thread::set_stack(idle, stack);
    runq::set_idle(idle);
    runq::adopt_current(idle, top);
    clock::start_this_cpu();
    // Published before `mark_online`, which the boot CPU waits for: a dump taken as soon as
    // the boot CPU goes on already shows this CPU online.
    crate::inspect::cpu_online(cpu as u32, percpu::this().apic_id());
    percpu::mark_online();
    runq::idle_loop()
}

/// Logs every thread and every CPU's scheduling state (for debugging hangs).
pub fn dump() {
    for t in thread::live_threads() {
        log::info!(
            "thread {} {:?} {:?} cpu {} wchan {:#x} flags {:#x} on_cpu {} switches {}",
            t.id(),
            t.name(),
            t.state(),
            t.cpu(),
            t.wchan.load(Ordering::Relaxed),
            t.flags.load(Ordering::Relaxed),
            t.ctx.on_cpu(),
            t.switch_count()
        );
    }
    let (live, cached) = crate::mm::kstack::counts();
    log::info!("kernel stacks: {live} in use, {cached} cached");
    for cpu in 0..percpu::ncpus() {
        let s = cpu_stats(cpu);
        log::info!(
            "cpu {cpu}: {:?}, resched {}, preempt {}",
            s,
            percpu::get(cpu).resched_pending(),
            percpu::get(cpu).preempt_count()
        );
    }
}
