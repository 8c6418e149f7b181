//! Port I/O (`in`/`out`): the serial port, the exit port, and nothing else so far.
//!
//! These are safe functions. A port access cannot break Rust's memory model by itself: the
//! only devices behind ports here are the 16550 UART and the exit device; a DMA-capable device
//! programmed through ports would need an `unsafe` interface of its own. Each access is a VM
//! exit (~11 µs on the development machines' KVM), so callers batch where they can.

use core::arch::asm;

/// Writes a byte to an I/O port.
#[inline]
pub fn outb(port: u16, value: u8) {
    // SAFETY: `out` touches no memory and no Rust-visible state (see the module docs).
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags))
    }
}

/// Reads a byte from an I/O port.
#[inline]
pub fn inb(port: u16) -> u8 {
    let value: u8;
    // SAFETY: `in` touches no memory and no Rust-visible state (see the module docs).
    unsafe {
        asm!("in al, dx", out("al") value, in("dx") port, options(nomem, nostack, preserves_flags))
    }
    value
}

/// Writes a 32-bit value to an I/O port.
#[inline]
pub fn outl(port: u16, value: u32) {
    // SAFETY: `out` touches no memory and no Rust-visible state (see the module docs).
    unsafe {
        asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack, preserves_flags))
    }
}
