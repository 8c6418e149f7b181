//! Sleep queues: sleeping on a wait channel, waking up, timeouts.
//!
//! A wait channel is an address-sized value (usually the address of the object waited for).
//! Sleepers are kept in [`BUCKETS`] queues hashed by channel, each behind its own lock; a
//! thread sleeps in FIFO order in its channel's bucket, so `wakeup_one` wakes the longest
//! sleeper.
//!
//! # The lost-wakeup race
//!
//! A sleeper tests its condition and enqueues itself *under the bucket lock*; a waker changes
//! the condition *before* calling [`wakeup`], which takes the same lock. So either the sleeper
//! tests after the change (and does not sleep), or it is on the queue before the waker looks
//! (and is woken). [`sleep`] takes the condition as a closure, run under the bucket lock with
//! interrupts disabled: it must be short and may only read atomics (it must not take locks:
//! wakers may hold theirs while calling `wakeup`). [`sleep_interlocked`] is the other classic
//! form: the caller holds its own `IrqMutex`, which is released only once the sleeper is on
//! the queue (lock order: the caller's mutex → bucket).
//!
//! # Spurious wake-ups
//!
//! A sleep can end although the condition still holds: a `wakeup` meant for an earlier
//! sleeper on the same channel can find a thread that went back to sleep in the meantime.
//! Callers loop: `while cond() { sleep(chan, intr, || cond()); }`.
//!
//! # Timeouts
//!
//! A timed sleep puts the thread on its CPU's timeout list (sorted by deadline) before it
//! enqueues itself, with interrupts disabled throughout, so the timeout cannot fire in
//! between (only that CPU's clock interrupt expires its list). The clock handler
//! ([`expire_timers`]) takes expired threads off the list and, under the bucket lock, wakes
//! those still asleep on their channel with `TIMED_OUT`. A sleeper always removes its own
//! timeout entry when it wakes up, for whatever reason, before its next sleep. Lock order:
//! timeout list → bucket → run queue (nobody takes a timeout list while holding a bucket).
//!
//! Resolution: with the TSC-deadline timer the LAPIC is armed for the earliest timeout, so a
//! sleep ends within the interrupt latency of its deadline; with the periodic timer (QEMU's
//! default CPU) timeouts are checked on each tick, so a sleep ends up to one tick (10 ms by
//! default) late. Never early.

use core::sync::atomic::Ordering;

use shared_abi::current::lwp::LSSLEEP;

use super::list::{List, Which};
use super::runq::{self, Why, CPUS};
use super::thread::{flag, Thread};
use super::{clock, current, ids};
use crate::arch::irq;
use crate::arch::percpu;
use crate::sync::{IrqMutex, IrqMutexGuard};

/// Number of sleep-queue buckets.
pub const BUCKETS: usize = 64;

static SLEEPQ: [IrqMutex<List>; BUCKETS] = {
    let mut a = [const { IrqMutex::new(List::new(ids::SLEEPQ, Which::Main)) }; BUCKETS];
    let mut i = 0;
    while i < BUCKETS {
        a[i] = IrqMutex::new(List::new(ids::SLEEPQ + i as u32, Which::Main));
        i += 1;
    }
    a
};

/// What a thread sleeps on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WaitChannel(usize);

impl WaitChannel {
    /// The channel named by `obj`'s address.
    pub fn of<T: ?Sized>(obj: &T) -> Self {
        Self(obj as *const T as *const u8 as usize)
    }

    /// A channel from a raw value (non-zero).
    #[allow(dead_code)] // API
    pub const fn from_raw(v: usize) -> Self {
        assert!(v != 0);
        Self(v)
    }

    fn bucket(self) -> &'static IrqMutex<List> {
        let h = (self.0 >> 4) ^ (self.0 >> 10) ^ (self.0 >> 16);
        &SLEEPQ[h % BUCKETS]
    }
}

/// How a sleep ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// By `wakeup`/`wakeup_one`.
    Woken,
    /// Its deadline passed.
    TimedOut,
    /// By [`interrupt`] (an interruptible sleep only).
    Interrupted,
    /// The condition no longer held: it did not sleep.
    NotNeeded,
}

/// Sleeps on `chan` while `still_wait()` holds (tested under the bucket lock; see the module
/// docs). Interruptible sleeps can be ended by [`interrupt`].
pub fn sleep(chan: WaitChannel, interruptible: bool, still_wait: impl FnMut() -> bool) -> Wake {
    sleep_common(
        chan,
        interruptible,
        None,
        still_wait,
        None::<IrqMutexGuard<'_, ()>>,
    )
}

/// Like [`sleep`], but gives up at monotonic time `deadline_ns`.
pub fn sleep_timeout(
    chan: WaitChannel,
    interruptible: bool,
    deadline_ns: u64,
    still_wait: impl FnMut() -> bool,
) -> Wake {
    sleep_common(
        chan,
        interruptible,
        Some(deadline_ns),
        still_wait,
        None::<IrqMutexGuard<'_, ()>>,
    )
}

/// Sleeps until monotonic time `deadline_ns` (uninterruptibly). Returns at once if it has
/// passed.
pub fn sleep_until(deadline_ns: u64) {
    let me = current();
    let chan = WaitChannel::of(me);
    while clock::now_ns() < deadline_ns {
        if sleep_timeout(chan, false, deadline_ns, || true) == Wake::TimedOut {
            break;
        }
    }
}

/// Sleeps for `ns` nanoseconds.
pub fn sleep_for(ns: u64) {
    sleep_until(clock::now_ns().saturating_add(ns));
}

/// Sleeps on `chan`, releasing `guard` (the caller's lock, whose state the caller already
/// checked) only once this thread is on the sleep queue, so a waker that takes the lock after
/// the release finds it there. Returns with the lock released; `deadline_ns` optional.
pub fn sleep_interlocked<T: ?Sized>(
    chan: WaitChannel,
    interruptible: bool,
    deadline_ns: Option<u64>,
    guard: IrqMutexGuard<'_, T>,
) -> Wake {
    sleep_common(chan, interruptible, deadline_ns, || true, Some(guard))
}

fn sleep_common<T: ?Sized>(
    chan: WaitChannel,
    interruptible: bool,
    deadline: Option<u64>,
    mut still_wait: impl FnMut() -> bool,
    interlock: Option<IrqMutexGuard<'_, T>>,
) -> Wake {
    let me = current();
    assert!(!me.is_idle(), "the idle thread cannot sleep");
    // Interrupts stay disabled from here to the switch: this CPU's clock cannot expire the
    // timeout before we are on the sleep queue.
    let (saved, interlock_saved) = match interlock {
        // The caller's lock already disabled interrupts; keep its saved state for the end.
        Some(g) => {
            let s = g.saved_state();
            (irq::save_disable(), Some((g, s)))
        }
        None => (irq::save_disable(), None),
    };
    me.clear_flag(flag::TIMED_OUT | flag::INTERRUPTED | flag::SLEEP_INTR);
    if let Some(d) = deadline {
        if clock::now_ns() >= d {
            drop(interlock_saved);
            irq::restore(saved);
            return Wake::TimedOut;
        }
        timer_insert(me, d);
    }
    let mut q = chan.bucket().lock();
    if !still_wait() {
        drop(q);
        if deadline.is_some() {
            timer_remove(me);
        }
        drop(interlock_saved);
        irq::restore(saved);
        return Wake::NotNeeded;
    }
    me.wchan.store(chan.0, Ordering::Relaxed);
    if interruptible {
        me.set_flag(flag::SLEEP_INTR);
    }
    // Inspection: an LWP shows `LSSLEEP` on `chan` with its user registers; under the
    // bucket lock, so a waker's `LSRUN` comes after.
    crate::inspect::thread_sleeping(
        me.slot_index(),
        chan.0,
        interruptible,
        me.ctx.kernel_stack_top(),
        me.ctx.fs_base(),
        me.ctx.gs_base(),
    );
    me.set_state(LSSLEEP);
    q.push_back(me);
    // Release the bucket (and the caller's interlock) but keep interrupts off until the
    // switch; the guards' saved states are superseded by `saved` / the interlock's own.
    let _ = q.unlock_keep_irqs_off();
    let outer = interlock_saved.map(|(g, s)| {
        let _ = g.unlock_keep_irqs_off();
        s
    });
    runq::switch_away(Why::Sleep);
    if deadline.is_some() {
        timer_remove(me);
    }
    me.wchan.store(0, Ordering::Relaxed);
    let r = if me.has_flag(flag::TIMED_OUT) {
        Wake::TimedOut
    } else if me.has_flag(flag::INTERRUPTED) {
        Wake::Interrupted
    } else {
        Wake::Woken
    };
    irq::restore(saved);
    if let Some(s) = outer {
        irq::restore(s);
    }
    r
}

/// Wakes every thread sleeping on `chan`; returns how many.
pub fn wakeup(chan: WaitChannel) -> usize {
    let mut q = chan.bucket().lock();
    let mut n = 0;
    while let Some(t) = q.remove_first(|t| t.wchan.load(Ordering::Relaxed) == chan.0) {
        crate::inspect::thread_woken(t.slot_index());
        runq::make_runnable(t);
        n += 1;
    }
    n
}

/// Wakes the longest sleeper on `chan`; returns whether there was one.
pub fn wakeup_one(chan: WaitChannel) -> bool {
    let mut q = chan.bucket().lock();
    match q.remove_first(|t| t.wchan.load(Ordering::Relaxed) == chan.0) {
        Some(t) => {
            crate::inspect::thread_woken(t.slot_index());
            runq::make_runnable(t);
            true
        }
        None => false,
    }
}

/// Ends `t`'s sleep if it sleeps interruptibly (for signals); returns whether it did.
pub fn interrupt(t: &'static Thread) -> bool {
    wake_if_asleep(t, flag::INTERRUPTED, true)
}

/// Takes `t` off its channel's queue and makes it runnable with `why` set, if it is asleep
/// there (and, if `need_intr`, sleeping interruptibly).
fn wake_if_asleep(t: &'static Thread, why: u32, need_intr: bool) -> bool {
    let chan = t.wchan.load(Ordering::Relaxed);
    if chan == 0 {
        return false;
    }
    let mut q = WaitChannel(chan).bucket().lock();
    if !q.contains(t) || t.raw_state() != LSSLEEP || (need_intr && !t.has_flag(flag::SLEEP_INTR)) {
        return false;
    }
    q.remove(t);
    t.set_flag(why);
    crate::inspect::thread_woken(t.slot_index());
    runq::make_runnable(t);
    true
}

/// Puts `me` on this CPU's timeout list (interrupts disabled by the caller).
fn timer_insert(me: &'static Thread, deadline: u64) {
    let cpu = percpu::cpu_id();
    me.deadline.store(deadline, Ordering::Relaxed);
    me.timer_cpu.store(cpu as u32, Ordering::Relaxed);
    let mut l = CPUS[cpu].timers.lock();
    let mut at = l.front();
    while let Some(t) = at {
        if t.deadline.load(Ordering::Relaxed) > deadline {
            break;
        }
        at = l.next_of(t);
    }
    l.insert_before(at, me);
    let first = l.front().is_some_and(|f| core::ptr::eq(f, me));
    drop(l);
    if first {
        clock::rearm(cpu);
    }
}

/// Takes `me` off the timeout list it is on, if any.
fn timer_remove(me: &'static Thread) {
    let cpu = me.timer_cpu.load(Ordering::Relaxed) as usize;
    CPUS[cpu].timers.lock().remove(me);
}

/// Wakes the threads on this CPU's timeout list whose deadline is at or before `now`
/// (the clock interrupt). Returns the next deadline, if any.
pub(super) fn expire_timers(cpu: usize, now: u64) -> Option<u64> {
    let mut l = CPUS[cpu].timers.lock();
    while let Some(t) = l.front() {
        let d = t.deadline.load(Ordering::Relaxed);
        if d > now {
            return Some(d);
        }
        l.remove(t);
        wake_if_asleep(t, flag::TIMED_OUT, false);
    }
    None
}

/// The earliest deadline on `cpu`'s timeout list.
pub(super) fn first_deadline(cpu: usize) -> Option<u64> {
    CPUS[cpu]
        .timers
        .lock()
        .front()
        .map(|t| t.deadline.load(Ordering::Relaxed))
}
