//! The legacy 8259 PIC pair: moved out of the way and masked, never used.
//!
//! KVM's in-kernel PIC (and a PC's after reset) routes ISA IRQs with vector base 0 through
//! the BSP's LINT0 (virtual-wire mode): an unmasked PIC would deliver device interrupts as
//! vectors 0..15, i.e. as exceptions (observed under the lwpvm VMM: a virtio interrupt then
//! triple-faults). [`disable`] therefore re-initialises both PICs with vector bases 32 and 40
//! (the range the vector map reserves for them, so even a spurious IRQ 7/15 lands on a
//! harmless vector) and masks every line; `apic` also masks LINT0. Device interrupts go
//! through the IOAPIC. Ten port writes, once, on the boot CPU, before interrupts are enabled.

use super::io::outb;
use super::irq::IRQ_BASE;

const MASTER_CMD: u16 = 0x20;
const MASTER_DATA: u16 = 0x21;
const SLAVE_CMD: u16 = 0xa0;
const SLAVE_DATA: u16 = 0xa1;

/// Vector base of the master PIC (IRQ 0..7 → 32..39); the slave follows at 40.
const PIC_BASE: u8 = 32;
const _: () = assert!(PIC_BASE + 16 == IRQ_BASE);

/// Re-initialises both PICs at vectors 32..47 and masks all their lines.
pub fn disable() {
    outb(MASTER_CMD, 0x11); // ICW1: edge, cascade, ICW4 follows
    outb(SLAVE_CMD, 0x11);
    outb(MASTER_DATA, PIC_BASE); // ICW2: vector base
    outb(SLAVE_DATA, PIC_BASE + 8);
    outb(MASTER_DATA, 0x04); // ICW3: slave on IRQ 2
    outb(SLAVE_DATA, 0x02); // ICW3: cascade identity
    outb(MASTER_DATA, 0x01); // ICW4: 8086 mode
    outb(SLAVE_DATA, 0x01);
    outb(MASTER_DATA, 0xff); // OCW1: mask everything
    outb(SLAVE_DATA, 0xff);
}
