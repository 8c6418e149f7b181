//! Console output: `print!`, `println!`, `eprintln!` on file descriptors 1 and 2.

use core::fmt;

use crate::sys;

/// A file descriptor as a `fmt::Write` sink.
pub struct Fd(pub i32);

impl fmt::Write for Fd {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut b = s.as_bytes();
        while !b.is_empty() {
            match sys::write(self.0, b) {
                Ok(0) | Err(_) => return Err(fmt::Error),
                Ok(n) => b = &b[n.min(b.len())..],
            }
        }
        Ok(())
    }
}

/// Formats to a file descriptor, ignoring errors (there is nowhere to report them).
pub fn write_fmt(fd: i32, args: fmt::Arguments<'_>) {
    let _ = fmt::Write::write_fmt(&mut Fd(fd), args);
}

/// Prints to standard output.
#[macro_export]
macro_rules! print {
    ($($t:tt)*) => { $crate::io::write_fmt(1, format_args!($($t)*)) };
}

/// Prints a line to standard output.
#[macro_export]
macro_rules! println {
    () => { $crate::io::write_fmt(1, format_args!("\n")) };
    ($($t:tt)*) => { $crate::io::write_fmt(1, format_args!("{}\n", format_args!($($t)*))) };
}

/// Prints a line to standard error.
#[macro_export]
macro_rules! eprintln {
    ($($t:tt)*) => { $crate::io::write_fmt(2, format_args!("{}\n", format_args!($($t)*))) };
}
