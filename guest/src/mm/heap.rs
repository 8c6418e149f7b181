//! The kernel heap (`alloc`): `talc` over a virtual region that grows from frames.
//!
//! The heap lives at [`KERNEL_HEAP_BASE`] (PML4 slot 320, up to [`KERNEL_HEAP_MAX`]). It starts
//! empty; when `talc` runs out, its [`Source`] hook ([`FrameSource::acquire`]) maps more 4 KiB
//! frames (any frame: the heap does not need zeroed memory, so dirty frames are reused first)
//! at the end of the region, at least [`GROW_MIN`] at a time, and extends the arena. The heap
//! never shrinks. Boot allocates nothing until something asks, so an idle boot pays nothing.
//!
//! # Why talc
//!
//! Thousands of LWPs mean many small, short-lived objects. `linked_list_allocator` (the boot
//! heap's allocator) searches its hole list first-fit: O(number of free holes) per
//! allocation, and every step is an interpreted ring-0 instruction here. `talc` is a
//! dlmalloc/TLSF-style allocator with size-class bins and an availability bitmap: allocation
//! finds a bin with one bit scan (`bsf`, no `popcnt`) and deallocation coalesces neighbours
//! through boundary tags, both O(1) in practice, and it supports growing its arena in place
//! (`extend`), which is exactly how this heap grows. `buddy_system_allocator` is also O(1)
//! but rounds every block to a power of two (up to 2× waste) and needs its heap in
//! power-of-two pieces.
//!
//! # Locking
//!
//! `talc`'s lock ([`crate::sync::RawIrqSpin`], which disables interrupts and so kernel
//! preemption while held) covers the allocator and the heap region's page tables (only
//! `acquire`, called with it held, changes them). It nests outside the frame allocator's lock
//! and inside any `IrqMutex`.

use core::alloc::Layout;
use core::ptr::NonNull;

use talc::base::binning::Binning;
use talc::base::Talc;
use talc::source::Source;

use super::frame;
use crate::arch::layout::{KERNEL_HEAP_BASE, KERNEL_HEAP_MAX, PAGE_SIZE};
use crate::arch::paging::{self, nx, PTE_W};

/// Smallest growth step.
pub const GROW_MIN: usize = 64 * 1024;

/// Where the heap's memory comes from: frames mapped at the end of the heap region.
#[derive(Debug)]
pub struct FrameSource {
    /// The arena's end as `talc` knows it (0 until the first claim).
    heap_end: u64,
    /// End of the mapped part of the region.
    mapped_end: u64,
}

// SAFETY: the source only hands `talc` memory it has just mapped, exclusively, at the end of
// the heap region; it never uses the global allocator (it calls the frame allocator and the
// page-table code, neither of which allocates).
unsafe impl Source for FrameSource {
    fn acquire<B: Binning>(talc: &mut Talc<Self, B>, layout: Layout) -> Result<(), ()> {
        // Room for the request, its alignment, and talc's metadata and tags.
        let need = layout.size() + layout.align() + 4096;
        let grow = need.max(GROW_MIN).next_multiple_of(PAGE_SIZE) as u64;
        let start = talc.source.mapped_end;
        if start + grow > KERNEL_HEAP_BASE + KERNEL_HEAP_MAX {
            return Err(());
        }
        let pages = (grow / PAGE_SIZE as u64) as usize;
        let mut got = 0usize;
        // SAFETY: the heap region's tables are changed only here, under talc's lock; the
        // pages above `mapped_end` are unmapped, and the frames are fresh from the frame
        // allocator, so the new mapping aliases nothing.
        let _ = unsafe {
            paging::map_run(
                paging::kernel_root(),
                start,
                &mut |_| {
                    let f = frame::alloc()?;
                    got += 1;
                    Some(f)
                },
                pages,
                PTE_W | nx(),
                &mut frame::alloc_zeroed,
            )
        };
        if got == 0 {
            return Err(());
        }
        let new_end = start + (got * PAGE_SIZE) as u64;
        talc.source.mapped_end = new_end;
        match NonNull::new(talc.source.heap_end as *mut u8) {
            None => {
                // SAFETY: [KERNEL_HEAP_BASE, new_end) is mapped read-write and used by
                // nothing else.
                let end =
                    unsafe { talc.claim(KERNEL_HEAP_BASE as *mut u8, (new_end - start) as usize) };
                talc.source.heap_end = end.ok_or(())?.as_ptr() as u64;
            }
            Some(end) => {
                // SAFETY: [end, new_end) was just mapped for the heap alone; `end` is the
                // arena end talc returned.
                let end = unsafe { talc.extend(end, new_end as *mut u8) };
                talc.source.heap_end = end.as_ptr() as u64;
            }
        }
        Ok(())
    }
}

#[global_allocator]
static HEAP: talc::TalcLock<crate::sync::RawIrqSpin, FrameSource> =
    talc::TalcLock::new(FrameSource {
        heap_end: 0,
        mapped_end: KERNEL_HEAP_BASE,
    });

/// Heap figures, for logs and dumps.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeapStats {
    /// Bytes of the heap region mapped.
    pub mapped: u64,
    /// Bytes in live allocations.
    pub allocated: usize,
    /// Live allocations.
    pub allocations: usize,
    /// Bytes free inside the arena.
    pub available: usize,
}

/// Current heap figures.
pub fn stats() -> HeapStats {
    let talc = HEAP.lock();
    let c = talc.counters();
    HeapStats {
        mapped: talc.source.mapped_end - KERNEL_HEAP_BASE,
        allocated: c.allocated_bytes,
        allocations: c.allocation_count,
        available: c.available_bytes,
    }
}
