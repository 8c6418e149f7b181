//! Memory management, boot edition.
//!
//! Until real memory management exists (a frame allocator over the boot memory map, per-
//! process address spaces, demand-zero pages), the kernel gets by with two static regions in
//! its own `.bss`, which costs nothing at boot: never-touched guest RAM is already zero, and
//! zeroing in ring 0 is what must be avoided (every `rep stos` iteration is emulated on the
//! development machines' KVM).
//!
//! - [`frame`]: a small pool of physically contiguous, zeroed 4 KiB frames for DMA (the
//!   virtqueues and console buffers);
//! - [`heap`]: the kernel heap (`alloc`), over a fixed static region.
//!
//! Both live in the kernel image, so their physical addresses are `virtual - KERNEL_BASE`
//! (see `arch::phys::virt_to_phys`).

#[allow(unsafe_code)]
pub mod frame;
#[allow(unsafe_code)]
pub mod heap;

/// Sets up what needs setting up (the heap). Call once, early.
pub fn init() {
    heap::init();
}
