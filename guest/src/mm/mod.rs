//! Memory management.
//!
//! See the overview in [`overview`](self#overview) below; each submodule documents its own
//! locking and costs.
//!
//! # Overview
//!
//! - [`frame`]: the physical frame allocator over the boot memory map (known-zero and dirty
//!   frames, O(1) allocation, no per-frame work at boot);
//! - [`heap`]: the kernel heap (`alloc`), `talc` over a region mapped from frames on demand;
//! - [`dma`]: physically contiguous zeroed frames for virtio queues;
//! - `arch::x86_64::paging`: 4-level page tables (map/unmap/protect in any PML4).
//!
//! ## Kernel virtual layout
//!
//! See `arch::x86_64::layout`. The upper half (PML4 slots 256..=511) is shared by all
//! address spaces; [`init`] creates every upper-half PDPT the kernel will use (heap, kernel
//! stacks), so no upper-half PML4 entry is ever added later and user PML4s never go stale.

#[allow(unsafe_code)]
pub mod dma;
pub mod fault;
#[allow(unsafe_code)]
pub mod frame;
#[allow(unsafe_code)]
pub mod heap;
#[allow(unsafe_code)]
pub mod kstack;
#[allow(unsafe_code)]
pub mod selftest;
#[allow(unsafe_code)]
pub mod uaccess;
#[allow(unsafe_code)]
pub mod vmspace;

use crate::arch::layout::{pml4_slot, KERNEL_HEAP_BASE, KSTACK_REGION_BASE};
use crate::arch::paging;
use crate::boot_info::BootInfo;

/// Sets up memory management: NX detection, the frame allocator over `boot`'s memory map,
/// and the kernel's upper-half PDPTs. The heap works from here on. Call once, early, after
/// the identity map is gone.
pub fn init(boot: &BootInfo) {
    paging::init();
    let report = frame::init(boot);
    if report.ignored_high > 0 {
        log::info!(
            "{} MiB of RAM above the direct map's RAM window ignored",
            report.ignored_high >> 20
        );
    }
    if report.ignored_overflow > 0 {
        log::warn!(
            "{} KiB of RAM ignored: more than {} usable ranges",
            report.ignored_overflow >> 10,
            frame::MAX_RANGES
        );
    }
    for base in [KERNEL_HEAP_BASE, KSTACK_REGION_BASE] {
        let pdpt = frame::alloc_zeroed().expect("no memory for the kernel's PDPTs");
        let installed = paging::install_kernel_pdpt(pml4_slot(base), pdpt);
        assert!(installed, "kernel PML4 slot for {base:#x} already in use");
    }
    let s = frame::stats();
    log::debug!(
        "{} frames ({} KiB) in {} ranges, {} free, NX {}",
        s.total,
        s.total * 4,
        report.ranges,
        s.free,
        if paging::nx_enabled() { "on" } else { "off" }
    );
}
