//! The kernel logger: `log` records to the serial port, one line each.
//!
//! Kernel log lines always go to the serial port (COM1), never to the console: the console
//! carries the banner and, later, user programs' output, which tests compare exactly. The
//! level comes from the command line (`loglevel=error|warn|info|debug|trace`, default `info`).
//!
//! A line is formatted into a fixed buffer first and written with one call, so a line costs
//! one "transmitter empty" poll per 16 bytes instead of one per formatting fragment (each port
//! access is a VM exit). Over-long lines are cut and end with `...`.
//!
//! Line format: `[LEVEL] module: message`, the module path without the crate name.

use core::fmt::{self, Write};

use crate::drivers::serial::Serial;
use crate::sync::IrqMutex;
use log::{Level, LevelFilter, Log, Metadata, Record};

/// Longest log line written; longer ones are cut.
const LINE_MAX: usize = 512;

/// The default level when the command line names none.
pub const DEFAULT_LEVEL: LevelFilter = LevelFilter::Info;

/// The logger; the lock keeps concurrent lines from interleaving. It is an `IrqMutex`, so an
/// interrupt handler (or a preempting thread) on the same CPU never finds it held by the code
/// it interrupted.
struct SerialLogger {
    serial: IrqMutex<Serial>,
}

static LOGGER: SerialLogger = SerialLogger {
    serial: IrqMutex::new(Serial::COM1),
};

impl Log for SerialLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut line = LineBuf::<LINE_MAX>::new();
        let target = record.target();
        let target = match target.strip_prefix("lwpvm_kernel") {
            Some("") => "main",
            Some(rest) => rest.strip_prefix("::").unwrap_or(rest),
            None => target,
        };
        let level = match record.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARN ",
            Level::Info => "INFO ",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        };
        // LineBuf never fails: it truncates.
        let _ = write!(line, "[{level}] {target}: {}", record.args());
        line.finish_line();
        self.serial.lock().write_bytes(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Parses a `loglevel=` value.
pub fn parse_level(s: &str) -> Option<LevelFilter> {
    Some(match s {
        "off" => LevelFilter::Off,
        "error" => LevelFilter::Error,
        "warn" => LevelFilter::Warn,
        "info" => LevelFilter::Info,
        "debug" => LevelFilter::Debug,
        "trace" => LevelFilter::Trace,
        _ => return None,
    })
}

/// Installs the logger with `level`. Call once; later calls only change the level.
pub fn init(level: LevelFilter) {
    // Fails only if a logger is already set, which is then this one.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

/// A fixed-size line buffer that formats without allocating and truncates on overflow.
pub struct LineBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
    truncated: bool,
}

impl<const N: usize> LineBuf<N> {
    /// An empty buffer. Zeroing it costs a short `rep stos` (N/8 iterations), small next to
    /// the per-byte port writes of the line itself.
    pub fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            truncated: false,
        }
    }

    /// Ends the line: `...` if it was cut, then `\n`.
    pub fn finish_line(&mut self) {
        if self.truncated {
            self.len = self.len.min(N - 4);
            self.buf[self.len..self.len + 3].copy_from_slice(b"...");
            self.len += 3;
        }
        let at = self.len.min(N - 1);
        self.buf[at] = b'\n';
        self.len = at + 1;
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The text written so far (only whole `&str`s are ever written, but a cut may split a
    /// UTF-8 sequence: then the text up to the cut's last whole character).
    pub fn as_str(&self) -> &str {
        match core::str::from_utf8(self.as_bytes()) {
            Ok(s) => s,
            Err(e) => core::str::from_utf8(&self.buf[..e.valid_up_to()]).unwrap_or(""),
        }
    }
}

impl<const N: usize> Default for LineBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Write for LineBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Keep one byte for the newline.
        let room = (N - 1).saturating_sub(self.len);
        let n = s.len().min(room);
        if n < s.len() {
            self.truncated = true;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}
