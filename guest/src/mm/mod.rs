//! Memory management.
//!
//! # Overview
//!
//! | module | what |
//! |---|---|
//! | [`frame`] | physical 4 KiB frames over the boot memory map: O(1), known-zero vs dirty, share counts |
//! | [`heap`] | the kernel heap (`alloc`): `talc` over a region mapped from frames on demand |
//! | [`dma`] | physically contiguous zeroed frames for virtio queues |
//! | [`kstack`] | 16 KiB kernel stacks with unmapped guards, O(1) reuse |
//! | [`vmspace`] | user address spaces: PML4 + regions, demand paging, copy-on-write `fork`, `mmap`/`munmap`/`mprotect`/`brk` |
//! | [`uaccess`] | `copy_from_user`/`copy_to_user`/`read_user`/`write_user`/`strncpy_from_user` |
//! | [`fault`] | the memory-management side of `#PF`/`#DF` (demand paging, fix-ups, stack overflow) |
//! | [`selftest`] | `lwpvm.selftest=mm` / `kstack-overflow` |
//! | `arch::x86_64::paging` | 4-level page-table walks (map, unmap, protect, free tables, TLB) |
//! | `arch::x86_64::uaccess` | the copy routines in assembly and the exception table |
//! | `lwpvm_mmcore` (crate) | the pure region map and syscall semantics, host-tested |
//!
//! ## Cost model
//!
//! On the development machines' KVM every ring-0 instruction is interpreted (~0.6 µs) and
//! each iteration of a ring-0 `rep movs`/`rep stos` is emulated separately; ring 3 is native.
//! Memory management is built around that:
//!
//! - nothing is zeroed or scanned at boot: guest RAM starts zeroed, so the frame allocator
//!   keeps a watermark per RAM range (frames above it are **known-zero**) and threads its
//!   free lists through the free frames themselves; `init` costs a few hundred instructions
//!   whatever the RAM size. The heap maps frames only when something allocates;
//! - **known-zero** frames (never used, or returned all-zero such as emptied page tables)
//!   go to page tables and demand-zero user pages at no cost; **dirty** frames (returned
//!   with data) go to the heap, kernel stacks and full image pages, which overwrite them.
//!   Zeroing a dirty frame (only when `alloc_zeroed` has no known-zero frame left) is a
//!   512-iteration `rep stosq`: ~0.3–0.5 ms here;
//! - user pages are populated on first touch (a demand fault costs one exception round trip,
//!   ≥ 20 k cycles here, plus ~100–200 instructions of lookup and mapping); image pages are
//!   copied with `rep movsq` (512 iterations per full page);
//! - page-table walks skip absent tables a whole table span at a time; process teardown
//!   visits only the page tables under its regions plus a list of its table frames;
//! - measured on the development machines' KVM (TSC cycles at 2.6 GHz, ~3.5 k per ring-0
//!   instruction): `init` ≈ 1.0 M (~300 instructions); the heap's first growth (64 KiB: 16
//!   pages mapped, `talc`'s metadata) ≈ 4.5 M (~1,300); a small `talc` allocation after
//!   that ≈ 0.46 M (~130). Boot pays `init` and the first growth (the virtio console is the
//!   first to allocate): ~2 ms.
//!
//! ## Virtual layout
//!
//! ```text
//! 0x0000_0000_0000_0000 ┬ user space, one VmSpace per process (mmcore::space has the layout
//!                       │ inside: image at 0x40_0000, brk heap, mmap top-down, 8 MiB stack)
//! 0x0000_7fff_ffff_f000 ┴ USER_END (the last page below 2^47 is never mapped)
//! 0xffff_8000_0000_0000   direct map of physical 0..4 GiB (PML4 256; 3..4 GiB uncached)
//! 0xffff_a000_0000_0000   kernel heap, up to 64 GiB (PML4 320)
//! 0xffff_c000_0000_0000   kernel stacks: 32 KiB slots = 16 KiB guard + 16 KiB stack (PML4 384)
//! 0xffff_ffff_8000_0000   kernel image (PML4 511)
//! ```
//!
//! The upper half is shared: every user PML4 copies the kernel's four upper-half entries,
//! and [`init`] creates the heap's and the stacks' PDPTs before any copy exists, so kernel
//! mappings made later (heap growth, new stacks) are visible in every address space.
//!
//! ## Memory per LWP kernel stack
//!
//! 16 KiB of frames + 1/64 of a page table (64 bytes) + 32 KiB of virtual space; up to
//! 65 536 stacks. Freed stacks stay mapped in a cache of 64 for allocation without any
//! page-table work.
//!
//! ## Locks
//!
//! Spin locks (interrupts are still off in the kernel; they must become `IrqMutex`es before
//! an interrupt handler allocates). Order: VmSpace registry → one `VmSpace` → kernel-stack
//! slots → heap (talc) → frames. No user memory may be touched with a `VmSpace` lock held.
//!
//! ## Not done yet
//!
//! - **`fork` is there, its users are not**: [`vmspace::VmSpace::fork`] shares every page
//!   copy-on-write (PTE bit 9, per-frame share counts, `MAP_SHARED` regions shared); the
//!   process and LWP layers that call it come with the LWP work.
//! - **TLB shoot-down** of kernel-stack unmapping is local (`invlpg` on this CPU): a stack
//!   freed beyond the cache of 64 is unmapped without an IPI. User address spaces are shot
//!   down on every CPU that has them loaded (`vmspace`).
//! - **SMAP/SMEP** are off: a ring-0 `stac` kills the VM on the development machines' KVM
//!   (although CPUID advertises SMAP), and `qemu64` lacks SMAP. A ring-0 instruction fetch
//!   from a user address is refused by the fault handler instead of by SMEP.
//! - RAM above the 3 GiB MMIO window is ignored (logged); no huge pages, no swapping, no
//!   overcommit accounting; `mmap` is anonymous-only (files come later).
//! - The boot stack and the IST stacks have no guard pages (they are in `.bss`).

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

use crate::arch::layout::{
    pml4_slot, KERNEL_HEAP_BASE, KSTACK_MAX_SLOTS, KSTACK_REGION_BASE, KSTACK_SIZE,
    KSTACK_SLOT_SIZE,
};
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
    crate::arch::backtrace::set_slotted_stack_region(
        KSTACK_REGION_BASE,
        KSTACK_REGION_BASE + KSTACK_MAX_SLOTS * KSTACK_SLOT_SIZE,
        KSTACK_SLOT_SIZE,
        KSTACK_SIZE,
    );
    if !log::log_enabled!(log::Level::Debug) {
        return;
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
