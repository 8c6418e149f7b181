//! The `virtio-drivers` HAL: DMA memory from `mm::dma`, addresses through the direct map.
//!
//! There is no IOMMU and no bounce buffering: the device sees guest-physical addresses, and
//! every kernel buffer is physically contiguous (the kernel window and the direct map are
//! linear), so sharing a buffer is just translating its address.

use core::ptr::NonNull;

use virtio_drivers::{BufferDirection, Hal, PhysAddr};

use crate::arch::phys::{phys_to_virt, virt_to_phys};
use crate::mm::dma;

/// The kernel's implementation of [`Hal`].
pub struct KernelHal;

// SAFETY: `dma_alloc` returns zeroed, page-aligned, physically contiguous frames that nobody
// else owns until `dma_dealloc` (see `mm::dma`); `mmio_phys_to_virt` returns the direct-map
// address of the given physical range; `share` returns the physical address of a buffer that
// stays where it is (the kernel never moves memory) and `unshare` has nothing to undo.
unsafe impl Hal for KernelHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        match dma::alloc_zeroed(pages) {
            Some(f) => (f.phys, f.virt),
            None => {
                log::error!("virtio: out of DMA memory ({pages} pages wanted)");
                // `Dma::new` treats a zero physical address as failure.
                (0, NonNull::dangling())
            }
        }
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, _vaddr: NonNull<u8>, pages: usize) -> i32 {
        dma::free(paddr, pages);
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        let va = phys_to_virt(paddr).expect("MMIO address outside the direct map");
        NonNull::new(va as *mut u8).expect("direct-map address is not null")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        let va = buffer.as_ptr().cast::<u8>() as u64;
        virt_to_phys(va).expect("virtio buffer outside the kernel window and the direct map")
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}
