//! Changes to the boot page tables.
//!
//! The boot tables (assembled in `boot.rs`, laid out in `layout.rs`) stay the kernel's page
//! tables until real memory management exists. The only change so far: once the GDT and IDT
//! live in the higher half, the identity map of low memory is removed, so the lower half of
//! the address space is free for ring-3 programs and a stray low-address access faults.

use core::arch::asm;

use super::boot::boot_pml4_table;

/// Removes the identity map (PML4 slot 0) and flushes the TLB by reloading CR3.
///
/// Call after `gdt::init` and `idt::init`: the boot GDT's base is a physical (identity-
/// mapped) address.
pub fn drop_identity_map() {
    let pml4 = boot_pml4_table().get();
    // SAFETY: boot is single-threaded and no other code holds a reference to the PML4. Slot 0
    // maps only the identity window, which nothing uses any more: the stack, code, data, GDT
    // and IDT are in the kernel window and boot data is read through the direct map.
    // Reloading CR3 with its own value flushes the stale translations.
    unsafe {
        (*pml4)[0] = 0;
        asm!(
            "mov {tmp}, cr3",
            "mov cr3, {tmp}",
            tmp = out(reg) _,
            options(nostack, preserves_flags)
        );
    }
}
