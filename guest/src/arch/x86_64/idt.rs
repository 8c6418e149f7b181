//! The interrupt descriptor table, shared by all CPUs.
//!
//! All 256 vectors are present: each points at its entry stub in [`super::trap`], as a 64-bit
//! interrupt gate (IF cleared on entry), DPL 0 (ring 3 cannot raise any vector with `int n`;
//! on the development machines' KVM `int n` from ring 3 raises `#UD` anyway) except `#BP`'s,
//! which is DPL 3 as on Linux, so that a ring-3 `int3` is a breakpoint (`SIGTRAP`) and not a
//! `#GP`, selector
//! [`KERNEL_CS`]. Three vectors switch to an IST stack (see `gdt`): `#DF` (IST1), NMI (IST2)
//! and `#MC` (IST3); their stubs take the paranoid entry (see `trap`). The vector map is in
//! `irq` and docs/ARCHITECTURE.md.
//!
//! The table is built once by the boot CPU ([`init`]) and loaded by every CPU ([`load`]).

use core::arch::asm;
use core::mem::size_of;

use super::gdt::{DescriptorTablePointer, IST_DOUBLE_FAULT, IST_MACHINE_CHECK, IST_NMI, KERNEL_CS};
use super::trap::{self, VECTOR_BREAKPOINT, VECTOR_DOUBLE_FAULT, VECTOR_MACHINE_CHECK, VECTOR_NMI};
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

    /// A present 64-bit interrupt gate (type 0xE) of privilege `dpl`, to `handler` on IST
    /// `ist` (0: none).
    fn interrupt(handler: u64, ist: u8, dpl: u8) -> Self {
        Self {
            offset_low: handler as u16,
            selector: KERNEL_CS,
            ist,
            type_attr: 0x8e | (dpl << 5),
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

static IDT: BootCell<[Gate; 256]> = BootCell::new([Gate::MISSING; 256]);

/// The IST index for `vector`'s gate.
fn ist_of(vector: usize) -> u8 {
    match vector as u8 {
        VECTOR_DOUBLE_FAULT => IST_DOUBLE_FAULT,
        VECTOR_NMI => IST_NMI,
        VECTOR_MACHINE_CHECK => IST_MACHINE_CHECK,
        _ => 0,
    }
}

/// Fills all 256 gates. Call once, on the boot CPU, before the first [`load`].
pub fn init() {
    // SAFETY: single-threaded boot: the IDT is not loaded on any CPU yet, so neither a CPU
    // nor other code reads it while it is written.
    let idt = unsafe { &mut *IDT.get() };
    for (vector, &stub) in trap::stub_addresses().iter().enumerate() {
        let dpl = if vector == usize::from(VECTOR_BREAKPOINT) {
            3
        } else {
            0
        };
        idt[vector] = Gate::interrupt(stub, ist_of(vector), dpl);
    }
}

/// Loads the IDT on this CPU.
pub fn load() {
    let idtr = DescriptorTablePointer {
        limit: (size_of::<[Gate; 256]>() - 1) as u16,
        base: IDT.get() as u64,
    };
    // SAFETY: the IDT is a static that lives forever, filled by `init` (which runs first on
    // the boot CPU); its gates point at the entry stubs with the kernel code selector, and
    // their IST indices at stacks each CPU's TSS provides.
    unsafe { asm!("lidt [{}]", in(reg) &idtr, options(readonly, nostack, preserves_flags)) }
}
