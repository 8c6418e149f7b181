//! The console: where the banner and (later) user programs' output go, and where their input
//! comes from.
//!
//! The console is the virtio console when the host offers one, otherwise the serial port
//! (the fallback is logged). Kernel log lines never go here: they stay on the serial port
//! (see `klog`), so console output is exactly what tests compare.
//!
//! Output is formatted into a small buffer and handed to the device in chunks: each virtio
//! transmit is a VM exit plus a round trip to the host, so one per formatting fragment would
//! be wasteful.
//!
//! [`Emergency`] is the writer of the panic and fault reports: serial always, plus the
//! console if it is a virtio console whose lock is free (the failing code may hold it).

use core::fmt::{self, Write};

use spin::{Mutex, MutexGuard};

use crate::drivers::serial::Serial;
use crate::drivers::virtio::console::VirtioConsole;

/// Size of the output staging buffer.
const STAGING: usize = 256;

/// The device behind the console.
// There is one instance, in a static: boxing the large variant would only add an indirection.
#[allow(clippy::large_enum_variant)]
pub enum Backend {
    /// The serial port (fallback).
    Serial(Serial),
    /// A virtio console.
    Virtio(VirtioConsole),
}

impl Backend {
    fn write(&mut self, bytes: &[u8]) {
        match self {
            Self::Serial(s) => s.write_bytes(bytes),
            Self::Virtio(v) => v.write(bytes),
        }
    }

    fn try_read_byte(&mut self) -> Option<u8> {
        match self {
            Self::Serial(s) => s.try_read_byte(),
            Self::Virtio(v) => v.try_read_byte(),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Serial(_) => f.write_str("serial (COM1)"),
            Self::Virtio(v) => v.fmt(f),
        }
    }
}

static CONSOLE: Mutex<Backend> = Mutex::new(Backend::Serial(Serial::COM1));

/// Makes `dev` the console.
pub fn set_virtio(dev: VirtioConsole) {
    *CONSOLE.lock() = Backend::Virtio(dev);
}

/// Whether the console is the serial port.
pub fn is_serial() -> bool {
    matches!(*CONSOLE.lock(), Backend::Serial(_))
}

/// A formatter that stages output and writes it to the backend in chunks.
struct Staged<'a> {
    backend: &'a mut Backend,
    buf: [u8; STAGING],
    len: usize,
}

impl Staged<'_> {
    fn flush(&mut self) {
        if self.len > 0 {
            self.backend.write(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl Write for Staged<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s.as_bytes();
        while !rest.is_empty() {
            if self.len == STAGING {
                self.flush();
            }
            let n = rest.len().min(STAGING - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&rest[..n]);
            self.len += n;
            rest = &rest[n..];
        }
        Ok(())
    }
}

/// Writes bytes to the console as they are.
pub fn write_bytes(bytes: &[u8]) {
    CONSOLE.lock().write(bytes);
}

/// Writes formatted output to the console (use [`print!`](crate::print) and
/// [`println!`](crate::println)).
pub fn print(args: fmt::Arguments<'_>) {
    let mut backend = CONSOLE.lock();
    let mut staged = Staged {
        backend: &mut backend,
        buf: [0; STAGING],
        len: 0,
    };
    let _ = staged.write_fmt(args);
    staged.flush();
}

/// Prints to the console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

/// Prints a line to the console.
#[macro_export]
macro_rules! println {
    () => { $crate::console::print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Reads one line from the console into `buf`, waiting (polling) as long as it takes.
/// Returns the number of bytes stored: the line without its `\n` (and without `\r`s), cut at
/// `buf.len()` bytes (the rest of an over-long line is read and discarded).
pub fn read_line(buf: &mut [u8]) -> usize {
    let mut backend = CONSOLE.lock();
    let mut len = 0;
    loop {
        match backend.try_read_byte() {
            Some(b'\n') => return len,
            Some(b'\r') => {}
            Some(b) => {
                if len < buf.len() {
                    buf[len] = b;
                    len += 1;
                }
            }
            None => core::hint::spin_loop(),
        }
    }
}

/// Reads what the console has without waiting, up to `buf.len()` bytes and through the
/// first newline (a line at a time, like a terminal in canonical mode). Returns the number
/// of bytes stored (0: nothing was waiting).
pub fn try_read(buf: &mut [u8]) -> usize {
    let mut backend = CONSOLE.lock();
    let mut len = 0;
    while len < buf.len() {
        let Some(b) = backend.try_read_byte() else {
            break;
        };
        buf[len] = b;
        len += 1;
        if b == b'\n' {
            break;
        }
    }
    len
}

/// The writer for panic and fault reports: serial always, and the virtio console too if its
/// lock is free.
///
/// Output is staged by line (a virtio transmit per formatting fragment would make a fault
/// report take a noticeable fraction of a second on the interpreted KVM); the last partial
/// line is written when the writer is dropped.
pub struct Emergency {
    serial: Serial,
    console: Option<MutexGuard<'static, Backend>>,
    line: [u8; STAGING],
    len: usize,
}

impl Emergency {
    /// A writer to the serial port and (if it can be had without waiting) the console.
    pub fn new() -> Self {
        let console = CONSOLE
            .try_lock()
            .filter(|b| matches!(**b, Backend::Virtio(_)));
        Self {
            serial: Serial::COM1,
            console,
            line: [0; STAGING],
            len: 0,
        }
    }

    fn flush(&mut self) {
        let line = &self.line[..self.len];
        self.serial.write_bytes(line);
        if let Some(console) = self.console.as_mut() {
            console.write(line);
        }
        self.len = 0;
    }
}

impl Default for Emergency {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for Emergency {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            self.line[self.len] = b;
            self.len += 1;
            if b == b'\n' || self.len == STAGING {
                self.flush();
            }
        }
        Ok(())
    }
}

impl Drop for Emergency {
    fn drop(&mut self) {
        self.flush();
    }
}
