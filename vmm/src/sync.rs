//! Locking helper shared by the device model and the threads that drive it.
//!
//! A device mutex is poisoned only if a thread panicked while holding it; the VMM must still be
//! able to stop the VM, drain output and report, so poisoning is ignored rather than turned into
//! a second panic.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, recovering the guard if another thread panicked while holding it.
pub fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
