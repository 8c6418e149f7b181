//! The interrupt descriptor table.
//!
//! Vectors 0..31 (the CPU exceptions) point at the entry stubs in [`super::trap`], as
//! interrupt gates (IF cleared on entry), DPL 0 (ring 3 cannot raise them with `int n`), on
//! the current stack, except `#DF`, which switches to IST1 so that a kernel stack overflow
//! still produces a report. Vectors 32..255 are not present yet: an interrupt there would
//! raise `#NP` (and be reported as such). Interrupts stay disabled until the APIC code
//! exists. The table is the boot CPU's; all CPUs will share it.

use core::arch::asm;
use core::mem::size_of;

use super::gdt::{DescriptorTablePointer, DOUBLE_FAULT_IST, KERNEL_CS};
use super::trap::{self, VECTOR_DOUBLE_FAULT};
use super::BootCell;

/// One 16-byte IDT gate descriptor.
#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

const _: () = assert!(size_of::<Gate>() == 16);

impl Gate {
    const MISSING: Self = Self {
        offset_low: 0,
        selector: 0,
        ist: 0,
        type_attr: 0,
        offset_mid: 0,
        offset_high: 0,
        reserved: 0,
    };

    /// A present 64-bit interrupt gate (type 0xE), DPL 0, to `handler` on IST `ist` (0: none).
    fn interrupt(handler: u64, ist: u8) -> Self {
        Self {
            offset_low: handler as u16,
            selector: KERNEL_CS,
            ist,
            type_attr: 0x8e,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

static IDT: BootCell<[Gate; 256]> = BootCell::new([Gate::MISSING; 256]);

/// Fills the exception gates and loads the IDT. Call once, after `gdt::init` (the IST
/// index refers to its TSS).
pub fn init() {
    // SAFETY: single-threaded boot: the IDT is not loaded yet, so neither the CPU nor any
    // other code reads it while it is written.
    let idt = unsafe { &mut *IDT.get() };
    for (vector, &stub) in trap::stub_addresses().iter().enumerate() {
        let ist = if vector == usize::from(VECTOR_DOUBLE_FAULT) {
            DOUBLE_FAULT_IST
        } else {
            0
        };
        idt[vector] = Gate::interrupt(stub, ist);
    }
    let idtr = DescriptorTablePointer {
        limit: (size_of::<[Gate; 256]>() - 1) as u16,
        base: IDT.get() as u64,
    };
    // SAFETY: the IDT is a static that lives forever; its present gates point at the entry
    // stubs with the kernel code selector of the loaded GDT.
    unsafe { asm!("lidt [{}]", in(reg) &idtr, options(readonly, nostack, preserves_flags)) }
}
