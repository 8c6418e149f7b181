//! Architecture support behind one facade.
//!
//! Only x86_64 exists. Generic code names `crate::arch::...` and never `arch::x86_64`
//! directly, so a second architecture would add a module here and a `cfg` switch, as
//! hermit-os does. This is the only part of the kernel with assembly; it and the low parts of
//! `mm` and the virtio HAL are the only places with `unsafe` code.

#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(target_arch = "x86_64")]
pub use self::x86_64::{
    apic, backtrace, boot, boot_stack_top, cpu, exit, fpu, host, init_cpu, io, ioapic, irq, layout,
    mptable, msr, paging, percpu, phys, smp, switch, time, tlb, trap, uaccess,
};
