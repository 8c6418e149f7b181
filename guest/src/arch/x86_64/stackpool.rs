//! A temporary pool of kernel-thread stacks in `.bss`, until `mm::kstack` (stacks with guard
//! pages in their own region) replaces it.
//!
//! [`POOL_STACKS`] stacks of [`STACK_SIZE`] bytes: free until handed out, so unused stacks cost
//! nothing at boot (fresh guest RAM is zero and is never touched). The boot heap (256 KiB)
//! cannot hold the per-CPU idle stacks plus test threads, hence a pool. There is no guard
//! page: an overflow corrupts the neighbouring stack. The region is registered with the
//! backtrace code.

use core::sync::atomic::{AtomicBool, Ordering};

use super::{backtrace, StackMem};
use crate::sync::IrqMutex;

/// Bytes per stack.
pub const STACK_SIZE: usize = 16 * 1024;
/// Stacks in the pool.
pub const POOL_STACKS: usize = 128;

static POOL: StackMem<{ STACK_SIZE * POOL_STACKS }> = StackMem::new();
/// Bit i: stack i is handed out.
static USED: IrqMutex<[u64; POOL_STACKS / 64]> = IrqMutex::new([0; POOL_STACKS / 64]);
static REGISTERED: AtomicBool = AtomicBool::new(false);

/// A kernel stack owned by whoever holds the handle; returned to the pool on drop.
#[derive(Debug)]
pub struct KernelStack {
    index: usize,
}

impl KernelStack {
    /// Lowest address.
    pub fn bottom(&self) -> u64 {
        POOL.bottom() + (self.index * STACK_SIZE) as u64
    }

    /// One past the highest address (16-byte aligned): the initial stack pointer.
    pub fn top(&self) -> u64 {
        self.bottom() + STACK_SIZE as u64
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        let mut used = USED.lock();
        used[self.index / 64] &= !(1 << (self.index % 64));
    }
}

/// A free stack, or `None` when all [`POOL_STACKS`] are in use.
pub fn alloc() -> Option<KernelStack> {
    if !REGISTERED.swap(true, Ordering::Relaxed) {
        backtrace::add_stack_region(POOL.bottom(), POOL.top());
    }
    let mut used = USED.lock();
    for (w, word) in used.iter_mut().enumerate() {
        if *word != u64::MAX {
            let bit = (!*word).trailing_zeros() as usize;
            *word |= 1 << bit;
            return Some(KernelStack {
                index: w * 64 + bit,
            });
        }
    }
    None
}

/// Stacks in use.
pub fn in_use() -> usize {
    USED.lock().iter().map(|w| w.count_ones() as usize).sum()
}
