//! DMA memory for the virtio drivers: physically contiguous, zeroed 4 KiB frames.
//!
//! One frame comes from [`frame::alloc_zeroed`]; a run of several from one range's never-used
//! frames ([`frame::alloc_contiguous_zeroed`]), which are known to be zero, so neither case
//! zeroes anything in the common case. Freed frames go back to the frame allocator one by
//! one, as dirty frames. Drivers keep their queues for the kernel's lifetime, so runs are
//! rare and small (a virtqueue is 1–3 pages).

use core::ptr::NonNull;

use super::frame;

/// A run of frames handed out by [`alloc_zeroed`].
#[derive(Clone, Copy, Debug)]
pub struct Frames {
    /// Physical address of the first frame.
    pub phys: u64,
    /// Kernel virtual address of the first frame.
    pub virt: NonNull<u8>,
}

/// `pages` physically contiguous zeroed frames, or `None` if memory is exhausted.
pub fn alloc_zeroed(pages: usize) -> Option<Frames> {
    let phys = match pages {
        0 => return None,
        1 => frame::alloc_zeroed()?,
        n => frame::alloc_contiguous_zeroed(n)?,
    };
    Some(Frames {
        phys,
        virt: NonNull::new(frame::virt(phys)).expect("direct-map address is not null"),
    })
}

/// Returns frames obtained from [`alloc_zeroed`].
///
/// # Panics
///
/// If a frame of the run was not handed out by the frame allocator.
pub fn free(phys: u64, pages: usize) {
    for i in 0..pages as u64 {
        frame::free(phys + i * 4096);
    }
}
