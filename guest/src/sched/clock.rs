//! The scheduler's clock: the per-CPU tick, timeouts, round-robin preemption.
//!
//! Each CPU's LAPIC timer interrupts on `irq::VECTOR_TIMER`. With the TSC-deadline timer
//! (CPUID.1:ECX[24]: the development machines' KVM) the handler re-arms it for the earlier of
//! the next tick and the CPU's earliest timeout, so timed sleeps end close to their deadline;
//! otherwise (QEMU's default CPU) the timer is periodic and timeouts are checked on each tick.
//! The tick period is `1 / hz` (`lwpvm.hz=`, default [`DEFAULT_HZ`], at most [`MAX_HZ`]; the
//! development machines' KVM raises any periodic LAPIC period below 200 µs to 200 µs).
//!
//! On a tick: count it (and whether the idle thread was running); if other threads wait on
//! this CPU's run queue, ask for a reschedule (round robin, one tick quantum). The switch
//! happens on the way out of the interrupt (kernel preemption or `userret`).

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::runq::CPUS;
use super::sleepq;
use crate::arch::irq::VECTOR_TIMER;
use crate::arch::trap::TrapFrame;
use crate::arch::{apic, percpu, time};

/// Default tick rate.
pub const DEFAULT_HZ: u64 = 100;
/// Highest tick rate accepted.
pub const MAX_HZ: u64 = 1000;

static PERIOD_NS: AtomicU64 = AtomicU64::new(1_000_000_000 / DEFAULT_HZ);
static DEADLINE_MODE: AtomicBool = AtomicBool::new(false);
/// Periodic mode: LAPIC timer count per tick (divide by 16).
static PERIODIC_COUNT: AtomicU32 = AtomicU32::new(0);

/// CPU 0's tick count at which to log the scheduler's state (0: never): a hang detector for
/// self-tests.
pub(super) static DUMP_AT_TICK: AtomicU64 = AtomicU64::new(0);

/// Monotonic nanoseconds.
#[inline]
pub fn now_ns() -> u64 {
    time::monotonic_ns()
}

/// The tick period in nanoseconds.
pub fn tick_ns() -> u64 {
    PERIOD_NS.load(Ordering::Relaxed)
}

/// Whether the TSC-deadline timer is used.
pub fn deadline_mode() -> bool {
    DEADLINE_MODE.load(Ordering::Relaxed)
}

/// Chooses the timer mode and the period (boot CPU, once). Returns a description for the
/// log.
pub(super) fn init(hz: u64) -> (bool, u64, u64) {
    let hz = hz.clamp(1, MAX_HZ);
    PERIOD_NS.store(1_000_000_000 / hz, Ordering::Relaxed);
    let deadline = apic::tsc_deadline_available() && time::tsc_khz() > 0;
    DEADLINE_MODE.store(deadline, Ordering::Relaxed);
    let mut lapic_hz = 0;
    if !deadline {
        // Calibrate the LAPIC timer against the TSC over 5 ms.
        let window = time::ns_to_tsc(5_000_000);
        lapic_hz = apic::timer_calibrate(time::tsc_khz(), window);
        let count = (u128::from(lapic_hz) * u128::from(tick_ns()) / 1_000_000_000) as u64;
        PERIODIC_COUNT.store(
            count.clamp(1, u64::from(u32::MAX)) as u32,
            Ordering::Relaxed,
        );
    }
    (deadline, hz, lapic_hz)
}

/// Starts this CPU's tick.
pub(super) fn start_this_cpu() {
    let cpu = percpu::cpu_id();
    let now = now_ns();
    CPUS[cpu]
        .next_tick
        .store(now + tick_ns(), Ordering::Relaxed);
    if deadline_mode() {
        apic::timer_deadline_mode(VECTOR_TIMER);
        rearm(cpu);
    } else {
        apic::timer_periodic(VECTOR_TIMER, PERIODIC_COUNT.load(Ordering::Relaxed));
    }
}

/// Arms the TSC-deadline timer for the earlier of the next tick and the first timeout
/// (a no-op in periodic mode). Interrupts disabled, on `cpu`.
pub(super) fn rearm(cpu: usize) {
    if !deadline_mode() {
        return;
    }
    let cs = &CPUS[cpu];
    let mut at = cs.next_tick.load(Ordering::Relaxed);
    if let Some(d) = sleepq::first_deadline(cpu) {
        at = at.min(d);
    }
    if cs.armed.swap(at, Ordering::Relaxed) != at {
        apic::timer_set_deadline(time::tsc_at(at));
    }
}

/// The timer interrupt.
pub(super) fn tick(_frame: &mut TrapFrame) {
    let cpu = percpu::cpu_id();
    let cs = &CPUS[cpu];
    let now = now_ns();
    let next = cs.next_tick.load(Ordering::Relaxed);
    if !deadline_mode() || now >= next {
        let t = cs.ticks.fetch_add(1, Ordering::Relaxed) + 1;
        if cpu == 0 && t == DUMP_AT_TICK.load(Ordering::Relaxed) {
            super::dump();
        }
        let idle = cs.idling.load(Ordering::Relaxed);
        if idle {
            cs.idle_ticks.fetch_add(1, Ordering::Relaxed);
        }
        let period = tick_ns();
        let mut n = next + period;
        if n <= now {
            n = now + period;
        }
        cs.next_tick.store(n, Ordering::Relaxed);
        if !idle && cs.nrun.load(Ordering::Relaxed) > 0 {
            percpu::this().set_resched();
        }
        // The VMM's view of this CPU, at most one tick old (a handful of stores; this CPU is
        // the record's only writer, in its interrupt handler).
        if let Some(rec) = crate::inspect::cpu(cpu as u32) {
            let switches = cs.switches.load(Ordering::Relaxed);
            let idle_ticks = cs.idle_ticks.load(Ordering::Relaxed);
            rec.update(|r| {
                r.ticks = t;
                r.idle_ticks = idle_ticks;
                r.context_switches = switches;
                r.idle = u32::from(idle);
            });
        }
    }
    sleepq::expire_timers(cpu, now);
    if deadline_mode() {
        // Force a re-arm: the deadline that fired is spent.
        cs.armed.store(0, Ordering::Relaxed);
        rearm(cpu);
    }
}
