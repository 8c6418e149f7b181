//! The kernel's address-space layout: every virtual and physical magic number in one place.
//!
//! ```text
//! virtual                                  what                                   physical
//! 0x0000_0000_0000_0000 .. 4 GiB           identity map (boot only: removed by     0 .. 4 GiB
//!                                          paging::drop_identity_map once the
//!                                          GDT/IDT live in the higher half; the
//!                                          lower half then belongs to ring 3)
//! 0xffff_8000_0000_0000 .. +4 GiB          direct map (PML4 slot 256), 2 MiB       0 .. 4 GiB
//!                                          pages; 3..4 GiB uncached (PCD|PWT):
//!                                          the MMIO hole (virtio at 0xd000_0000
//!                                          under lwpvm, 0xfeb0_0000 under QEMU)
//! 0xffff_a000_0000_0000 .. +64 GiB         kernel heap (PML4 slot 320), 4 KiB      frames
//!                                          pages mapped as the heap grows
//!                                          (mm::heap)
//! 0xffff_c000_0000_0000 .. +2 GiB          kernel stacks (PML4 slot 384): 32 KiB   frames
//!                                          slots, each a 16 KiB stack above 16 KiB
//!                                          of unmapped guard (mm::kstack)
//! 0xffff_ffff_8000_0000 .. +1 GiB          kernel image window (PML4 511, PDPT     0 .. 1 GiB
//!                                          510): the image is linked at
//!                                          KERNEL_BASE + 1 MiB
//! ```
//!
//! The upper half (PML4 slots 256..=511) is shared by every address space: a new user PML4
//! copies the kernel's upper-half entries ([`KERNEL_PML4_SLOTS`]), and those entries never
//! change after `mm::init` (it creates the PDPTs of the heap and stack regions up front), so
//! the copies never go stale.
//!
//! The boot page tables (in the image's `.data`, built by the assembler, not at run time:
//! ring-0 loops are expensive on the development machines' interpreted KVM) share one PDPT
//! between the identity map and the direct map, and the kernel window reuses the direct map's
//! first page directory. All of it is read-write-execute for now; W^X and 4 KiB mappings for
//! the image come with real memory management.
//!
//! `linker.ld` repeats [`KERNEL_BASE`] and [`KERNEL_PHYS`]; the boot assembly in `boot.rs`
//! uses them through `const` operands.

/// Virtual base of the kernel window: virtual = `KERNEL_BASE` + physical for the image.
pub const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;
/// Physical load address of the kernel image (its first PT_LOAD's p_paddr).
pub const KERNEL_PHYS: u64 = 0x10_0000;
/// Size of the kernel window (one page directory of 2 MiB pages).
pub const KERNEL_WINDOW_SIZE: u64 = 1 << 30;

/// Virtual base of the direct map of guest-physical memory (PML4 slot 256).
pub const PHYS_OFFSET: u64 = 0xffff_8000_0000_0000;
/// How much guest-physical memory the boot direct map covers.
pub const DIRECT_MAP_SIZE: u64 = 4 << 30;
/// Start of the part of the direct map mapped uncached (PCD|PWT): the 32-bit MMIO hole.
pub const MMIO_WINDOW_START: u64 = 3 << 30;
/// End (exclusive) of the uncached part of the direct map.
pub const MMIO_WINDOW_END: u64 = 4 << 30;

/// Size of the boot CPU's kernel stack.
pub const BOOT_STACK_SIZE: usize = 64 * 1024;

/// Page size used by the frame pool and virtio.
pub const PAGE_SIZE: usize = 4096;

/// Base of the kernel heap region (PML4 slot 320).
pub const KERNEL_HEAP_BASE: u64 = 0xffff_a000_0000_0000;
/// Most virtual space the kernel heap may grow to.
pub const KERNEL_HEAP_MAX: u64 = 64 << 30;

/// Base of the kernel-stack region (PML4 slot 384).
pub const KSTACK_REGION_BASE: u64 = 0xffff_c000_0000_0000;
/// Size of one kernel stack (the mapped part of a slot).
pub const KSTACK_SIZE: u64 = 16 * 1024;
/// Virtual size of one kernel-stack slot: the stack at its top, unmapped guard below.
pub const KSTACK_SLOT_SIZE: u64 = 32 * 1024;
/// Most kernel stacks (2 GiB of virtual space).
pub const KSTACK_MAX_SLOTS: u64 = 65_536;

/// The upper-half PML4 slots the kernel uses: direct map, heap, kernel stacks, image. A new
/// address space copies exactly these entries from the kernel's PML4.
pub const KERNEL_PML4_SLOTS: [usize; 4] = [256, 320, 384, 511];

/// PML4 slot of a virtual address.
pub const fn pml4_slot(va: u64) -> usize {
    ((va >> 39) & 511) as usize
}

const _: () = {
    assert!(pml4_slot(PHYS_OFFSET) == KERNEL_PML4_SLOTS[0]);
    assert!(pml4_slot(KERNEL_HEAP_BASE) == KERNEL_PML4_SLOTS[1]);
    assert!(pml4_slot(KERNEL_HEAP_BASE + KERNEL_HEAP_MAX - 1) == KERNEL_PML4_SLOTS[1]);
    assert!(pml4_slot(KSTACK_REGION_BASE) == KERNEL_PML4_SLOTS[2]);
    assert!(
        pml4_slot(KSTACK_REGION_BASE + KSTACK_MAX_SLOTS * KSTACK_SLOT_SIZE - 1)
            == KERNEL_PML4_SLOTS[2]
    );
    assert!(pml4_slot(KERNEL_BASE) == KERNEL_PML4_SLOTS[3]);
};

unsafe extern "C" {
    /// First byte of the image (linker.ld).
    static __kernel_start: u8;
    /// One past the last byte of the image, `.bss` included, page-aligned (linker.ld).
    static __kernel_end: u8;
}

/// Physical `[start, end)` of the loaded kernel image, `.bss` included: memory a future
/// frame allocator must not hand out.
pub fn kernel_image_phys() -> (u64, u64) {
    // Only the addresses of the linker-defined symbols are taken (safe); they are not read.
    let start = core::ptr::addr_of!(__kernel_start) as u64;
    let end = core::ptr::addr_of!(__kernel_end) as u64;
    debug_assert_eq!(
        start - KERNEL_BASE,
        KERNEL_PHYS,
        "linker.ld and layout.rs disagree"
    );
    (start - KERNEL_BASE, end - KERNEL_BASE)
}
