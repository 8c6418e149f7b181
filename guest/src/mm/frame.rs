//! A pool of physically contiguous, zeroed 4 KiB frames for DMA.
//!
//! The pool is [`POOL_PAGES`] pages of the kernel's `.bss`. A page never handed out is known
//! to be zero (fresh guest RAM, and the loader zero-fills `.bss`), so the common case costs
//! no zeroing at all; a page that was freed is marked dirty and zeroed when handed out again
//! (rare: drivers keep their queues for the kernel's lifetime). Allocation is first fit over
//! a 64-bit bitmap, under a spin lock.
//!
//! This is a stopgap until a frame allocator over the boot memory map exists.

use core::cell::UnsafeCell;
use core::ptr::NonNull;

use spin::Mutex;

use crate::arch::layout::PAGE_SIZE;
use crate::arch::phys::virt_to_phys;

/// Pages in the pool (at most 64: one bitmap word).
pub const POOL_PAGES: usize = 32;

#[repr(C, align(4096))]
struct PoolMem(UnsafeCell<[u8; POOL_PAGES * PAGE_SIZE]>);

// SAFETY: the bytes are only reached through pointers handed out by `alloc_zeroed`, each
// page to one owner at a time (the bitmap under `STATE`'s lock).
unsafe impl Sync for PoolMem {}

static POOL: PoolMem = PoolMem(UnsafeCell::new([0; POOL_PAGES * PAGE_SIZE]));

struct State {
    /// Bit i: page i is handed out.
    used: u64,
    /// Bit i: page i was handed out before and may not be zero.
    dirty: u64,
}

static STATE: Mutex<State> = Mutex::new(State { used: 0, dirty: 0 });

/// A run of frames handed out by [`alloc_zeroed`].
#[derive(Clone, Copy, Debug)]
pub struct Frames {
    /// Physical address of the first frame.
    pub phys: u64,
    /// Kernel virtual address of the first frame.
    pub virt: NonNull<u8>,
}

fn run_mask(first: usize, pages: usize) -> u64 {
    let ones = if pages == 64 {
        u64::MAX
    } else {
        (1u64 << pages) - 1
    };
    ones << first
}

/// Hands out `pages` physically contiguous zeroed frames, or `None` if the pool has no such
/// run.
pub fn alloc_zeroed(pages: usize) -> Option<Frames> {
    if pages == 0 || pages > POOL_PAGES {
        return None;
    }
    let mut state = STATE.lock();
    let first = (0..=POOL_PAGES - pages).find(|&i| state.used & run_mask(i, pages) == 0)?;
    let mask = run_mask(first, pages);
    state.used |= mask;
    let dirty = state.dirty & mask;
    drop(state);

    let base = POOL.0.get().cast::<u8>();
    for page in (0..pages).filter(|p| dirty & (1 << (first + p)) != 0) {
        // SAFETY: the page lies inside POOL (first + page < POOL_PAGES) and was just marked
        // used under the lock, so this caller is its only owner.
        unsafe {
            base.add((first + page) * PAGE_SIZE)
                .write_bytes(0, PAGE_SIZE)
        };
    }
    // SAFETY: `first * PAGE_SIZE` is inside POOL, so the result is inside the same allocation.
    let virt = unsafe { base.add(first * PAGE_SIZE) };
    let phys = virt_to_phys(virt as u64).expect("the DMA pool is in the kernel image");
    Some(Frames {
        phys,
        virt: NonNull::new(virt).expect("static address is not null"),
    })
}

/// Returns frames obtained from [`alloc_zeroed`].
///
/// # Panics
///
/// If `phys`/`pages` is not a run this pool handed out.
pub fn free(phys: u64, pages: usize) {
    let base_phys = virt_to_phys(POOL.0.get() as u64).expect("the DMA pool is in the kernel image");
    let offset = phys
        .checked_sub(base_phys)
        .expect("frame not from the DMA pool") as usize;
    assert!(offset.is_multiple_of(PAGE_SIZE) && offset / PAGE_SIZE + pages <= POOL_PAGES);
    let mask = run_mask(offset / PAGE_SIZE, pages);
    let mut state = STATE.lock();
    assert_eq!(
        state.used & mask,
        mask,
        "freeing DMA frames that are not in use"
    );
    state.used &= !mask;
    state.dirty |= mask;
}
