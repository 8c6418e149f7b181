//! Locks for the kernel: [`IrqMutex`], a spin lock that disables interrupts while held.
//!
//! # Why interrupts off
//!
//! Interrupt handlers take some of the same locks as thread code (the scheduler's run queues
//! and sleep queues, the IOAPIC, the kernel log). If a handler could interrupt a holder on the
//! same CPU, it would spin forever on a lock that cannot be released. Disabling interrupts
//! also disables kernel preemption (which only happens on the return from an interrupt), so
//! a holder is never switched away from while it holds the lock: critical sections are short
//! and bounded by the holder's own code. NetBSD's `mutex_spin_enter` at `IPL_HIGH` and Linux's
//! `spin_lock_irqsave` are the models.
//!
//! # Rules
//!
//! - Do not sleep, yield or wait for another CPU's interrupt handling while holding one.
//! - Allocating while holding one is fine: the heap's lock is a [`RawIrqSpin`], which also
//!   disables interrupts (and so preemption) while held, and nests inside any `IrqMutex`.
//! - Locks nest; each subsystem's overview gives its lock order. Guards must be dropped in
//!   reverse order of acquisition (each restores the interrupt state it saved), except
//!   through [`IrqMutexGuard::unlock_keep_irqs_off`], for hand-over-hand sequences.
//! - [`IrqMutex::is_held`] tells whether *this CPU* holds the lock: use it in
//!   `debug_assert!`s the way NetBSD uses `KASSERT(mutex_owned(...))`
//!   ([`assert_held!`](crate::assert_held)).
//!
//! Taking a lock this CPU already holds panics instead of deadlocking (detected on the slow
//! path only, so it costs nothing when the lock is free).
//!
//! No 128-bit atomics anywhere (`cmpxchg16b` kills the VM on the development machines' KVM).
//!
//! This module uses `unsafe` (an `UnsafeCell` behind the lock), like `arch` and the low
//! parts of `mm`: it is one of the kernel's few low-level building blocks.

use core::cell::UnsafeCell;
use core::fmt;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::arch::irq::{self, IrqState};
use crate::arch::percpu;

/// A spin lock that disables interrupts on this CPU while held (see the module docs).
pub struct IrqMutex<T: ?Sized> {
    /// 0 when free, else the holder's CPU index + 1.
    owner: AtomicU32,
    data: UnsafeCell<T>,
}

// SAFETY: the lock gives one CPU at a time access to the data, so sharing the mutex between
// CPUs is sound when the data itself may move between them.
unsafe impl<T: ?Sized + Send> Sync for IrqMutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Send for IrqMutex<T> {}

impl<T> IrqMutex<T> {
    /// A new, unlocked mutex.
    pub const fn new(value: T) -> Self {
        Self {
            owner: AtomicU32::new(0),
            data: UnsafeCell::new(value),
        }
    }
}

impl<T: ?Sized> IrqMutex<T> {
    /// Disables interrupts and takes the lock, spinning while another CPU holds it.
    ///
    /// # Panics
    ///
    /// If this CPU already holds it (a deadlock otherwise).
    #[inline]
    pub fn lock(&self) -> IrqMutexGuard<'_, T> {
        let saved = irq::save_disable();
        let me = percpu::cpu_id() as u32 + 1;
        if self
            .owner
            .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow(me);
        }
        IrqMutexGuard { lock: self, saved }
    }

    #[cold]
    fn lock_slow(&self, me: u32) {
        loop {
            let owner = self.owner.load(Ordering::Relaxed);
            assert!(owner != me, "IrqMutex: recursive lock on cpu {}", me - 1);
            if owner == 0
                && self
                    .owner
                    .compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
            core::hint::spin_loop();
        }
    }

    /// Takes the lock if it is free (interrupts disabled while held, as with [`lock`]).
    ///
    /// [`lock`]: Self::lock
    pub fn try_lock(&self) -> Option<IrqMutexGuard<'_, T>> {
        let saved = irq::save_disable();
        let me = percpu::cpu_id() as u32 + 1;
        if self
            .owner
            .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            Some(IrqMutexGuard { lock: self, saved })
        } else {
            irq::restore(saved);
            None
        }
    }

    /// Whether this CPU holds the lock (NetBSD's `mutex_owned`).
    #[inline]
    pub fn is_held(&self) -> bool {
        self.owner.load(Ordering::Relaxed) == percpu::cpu_id() as u32 + 1
    }

    /// Whether any CPU holds the lock (for reports; racy by nature).
    pub fn is_locked(&self) -> bool {
        self.owner.load(Ordering::Relaxed) != 0
    }
}

impl<T: Default> Default for IrqMutex<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T: ?Sized> fmt::Debug for IrqMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.owner.load(Ordering::Relaxed) {
            0 => f.write_str("IrqMutex(free)"),
            n => write!(f, "IrqMutex(held by cpu {})", n - 1),
        }
    }
}

/// Access to an [`IrqMutex`]'s data; dropping it unlocks and restores the interrupt state
/// saved when it was taken.
#[must_use = "dropping the guard unlocks at once"]
pub struct IrqMutexGuard<'a, T: ?Sized> {
    lock: &'a IrqMutex<T>,
    saved: IrqState,
}

impl<T: ?Sized> IrqMutexGuard<'_, T> {
    /// Unlocks but leaves interrupts disabled; returns the interrupt state to restore later
    /// with `arch::irq::restore` (for sequences that take a second lock before releasing the
    /// first, then release the first out of order).
    pub fn unlock_keep_irqs_off(self) -> IrqState {
        let saved = self.saved;
        self.lock.owner.store(0, Ordering::Release);
        core::mem::forget(self);
        saved
    }

    /// The interrupt state saved when the lock was taken.
    pub fn saved_state(&self) -> IrqState {
        self.saved
    }
}

impl<T: ?Sized> Deref for IrqMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this CPU holds the lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for IrqMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while this CPU holds the lock, and `&mut self`
        // makes this the only reference through it.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for IrqMutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.owner.store(0, Ordering::Release);
        irq::restore(self.saved);
    }
}

/// Asserts (in debug builds) that this CPU holds `lock`, like NetBSD's
/// `KASSERT(mutex_owned(lock))`.
#[macro_export]
macro_rules! assert_held {
    ($lock:expr) => {
        debug_assert!(
            $lock.is_held(),
            concat!("lock not held: ", stringify!($lock))
        )
    };
}

/// A raw spin lock that disables interrupts while held, for code that takes a
/// `lock_api::RawMutex` (the heap's `talc`).
///
/// It knows nothing of per-CPU data, so it works from the first heap allocation at boot,
/// before GS is set up. The interrupt state saved by `lock` is kept in the lock itself (only
/// its holder writes it) and restored by `unlock`.
pub struct RawIrqSpin {
    locked: AtomicBool,
    /// Whether interrupts were enabled when the holder locked.
    saved_if: AtomicBool,
}

// SAFETY: `lock` returns only once this CPU has set `locked` from false to true with Acquire
// ordering, and `unlock` clears it with Release: one holder at a time, with the usual
// happens-before between holders.
unsafe impl lock_api::RawMutex for RawIrqSpin {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawIrqSpin {
        locked: AtomicBool::new(false),
        saved_if: AtomicBool::new(false),
    };

    type GuardMarker = lock_api::GuardNoSend;

    fn lock(&self) {
        let saved = irq::save_disable();
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        self.saved_if.store(saved.was_enabled(), Ordering::Relaxed);
    }

    fn try_lock(&self) -> bool {
        let saved = irq::save_disable();
        if self
            .locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            self.saved_if.store(saved.was_enabled(), Ordering::Relaxed);
            true
        } else {
            irq::restore(saved);
            false
        }
    }

    unsafe fn unlock(&self) {
        let saved = IrqState::from_enabled(self.saved_if.load(Ordering::Relaxed));
        self.locked.store(false, Ordering::Release);
        irq::restore(saved);
    }
}
