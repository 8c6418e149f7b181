//! The 16550 UART at COM1: polled output for the kernel log, polled input for the serial
//! fallback console.
//!
//! There is no interrupt handling and no state beyond the port number, so any number of
//! [`Serial`] values may exist: the logger holds one behind a lock, and the panic and fault
//! paths make their own instead of taking a lock that the failing code may hold.
//!
//! Every port access is a VM exit (~11 µs on the development machines' KVM). Output therefore
//! waits for "transmitter holding register empty" once per 16 bytes (the FIFO size) rather
//! than once per byte; the wait is bounded, so an absent or stuck UART (an unbacked port reads
//! as 0xff) cannot hang the kernel.

use core::fmt;

use shared_abi::current::ports::COM1_PORT;

use crate::arch::io::{inb, outb};

/// Register offsets from the base port.
const THR: u16 = 0; // transmit holding (write), receive buffer (read), DLL with DLAB
const IER: u16 = 1; // interrupt enable, DLM with DLAB
const FCR: u16 = 2; // FIFO control (write)
const LCR: u16 = 3; // line control
const MCR: u16 = 4; // modem control
const LSR: u16 = 5; // line status

/// LSR: a received byte is waiting.
const LSR_DATA_READY: u8 = 1 << 0;
/// LSR: the transmit FIFO is empty.
const LSR_THR_EMPTY: u8 = 1 << 5;
/// Bytes the transmit FIFO takes once it reports empty.
const FIFO_SIZE: usize = 16;
/// Status polls before giving up on "transmitter empty" and writing anyway.
const TX_POLL_LIMIT: u32 = 10_000;

/// A 16550 UART.
#[derive(Clone, Copy, Debug)]
pub struct Serial {
    base: u16,
}

impl Serial {
    /// COM1, the early-boot serial port.
    pub const COM1: Self = Self { base: COM1_PORT };

    /// Programs 115200 8N1, FIFOs on, interrupts off.
    pub fn init(&self) {
        outb(self.base + IER, 0x00); // no interrupts
        outb(self.base + LCR, 0x80); // DLAB on
        outb(self.base + THR, 0x01); // divisor 1: 115200 baud
        outb(self.base + IER, 0x00);
        outb(self.base + LCR, 0x03); // 8N1, DLAB off
        outb(self.base + FCR, 0xc7); // FIFOs on and cleared, 14-byte RX threshold
        outb(self.base + MCR, 0x03); // DTR, RTS
    }

    /// Waits (bounded) until the transmit FIFO is empty.
    fn wait_tx_empty(&self) {
        for _ in 0..TX_POLL_LIMIT {
            if inb(self.base + LSR) & LSR_THR_EMPTY != 0 {
                return;
            }
            core::hint::spin_loop();
        }
    }

    /// Writes bytes as they are (no newline translation).
    pub fn write_bytes(&self, bytes: &[u8]) {
        for chunk in bytes.chunks(FIFO_SIZE) {
            self.wait_tx_empty();
            for &b in chunk {
                outb(self.base + THR, b);
            }
        }
    }

    /// Returns a received byte, if one is waiting.
    pub fn try_read_byte(&self) -> Option<u8> {
        (inb(self.base + LSR) & LSR_DATA_READY != 0).then(|| inb(self.base + THR))
    }
}

impl fmt::Write for Serial {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}
