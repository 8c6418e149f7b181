//! Reporting for test programs: one line per check, `ok NAME` or
//! `FAIL NAME: expected X got Y`, and an exit status that counts the failures.
//!
//! ```ignore
//! let mut c = Checker::new("syscalls");
//! c.errno("write/bad-fd", EBADF, sys::write(-1, b"x"));
//! c.eq("getpid/positive", true, sys::getpid() > 0);
//! c.finish() // the exit status: 0 if every check passed
//! ```
//!
//! Names are `topic/what` and unique within a program, so that a harness can match lines.

use core::fmt;

use crate::sys::Errno;
use crate::{eprintln, println};

/// Largest exit status [`Checker::finish`] returns (so it never collides with the status of
/// a panic, 101, or a fault).
pub const MAX_STATUS: i32 = 100;

/// The outcome of a system call, printed as `Ok(N)` or `ENAME (n)`.
pub struct Outcome(pub Result<usize, Errno>);

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Ok(v) if v > 0xffff => write!(f, "Ok({v:#x})"),
            Ok(v) => write!(f, "Ok({v})"),
            Err(e) => write!(f, "{e}"),
        }
    }
}

/// Counts and prints checks.
pub struct Checker {
    program: &'static str,
    passed: u32,
    failed: u32,
}

impl Checker {
    /// A checker for `program` (the name printed in the summary).
    pub fn new(program: &'static str) -> Self {
        Checker {
            program,
            passed: 0,
            failed: 0,
        }
    }

    /// Records a pass.
    pub fn pass(&mut self, name: &str) {
        self.passed += 1;
        println!("ok {name}");
    }

    /// Records a failure.
    pub fn fail(&mut self, name: &str, expected: impl fmt::Display, got: impl fmt::Display) {
        self.failed += 1;
        println!("FAIL {name}: expected {expected} got {got}");
    }

    /// Passes if `cond`, else fails with the descriptions given.
    pub fn check(
        &mut self,
        name: &str,
        cond: bool,
        expected: impl fmt::Display,
        got: impl fmt::Display,
    ) -> bool {
        if cond {
            self.pass(name);
        } else {
            self.fail(name, expected, got);
        }
        cond
    }

    /// Passes if `got == expected`.
    pub fn eq<T: PartialEq + fmt::Debug>(&mut self, name: &str, expected: T, got: T) -> bool {
        let ok = got == expected;
        self.check(name, ok, Dbg(&expected), Dbg(&got))
    }

    /// Passes if the call failed with `expected` (an errno value).
    pub fn errno(&mut self, name: &str, expected: i32, got: Result<usize, Errno>) -> bool {
        let ok = got == Err(Errno(expected));
        self.check(name, ok, Errno(expected), Outcome(got))
    }

    /// Passes if the call succeeded; returns its value.
    pub fn success(&mut self, name: &str, got: Result<usize, Errno>) -> Option<usize> {
        match got {
            Ok(v) => {
                self.pass(name);
                Some(v)
            }
            Err(_) => {
                self.fail(name, "success", Outcome(got));
                None
            }
        }
    }

    /// Passes if the call returned exactly `expected`.
    pub fn returns(&mut self, name: &str, expected: usize, got: Result<usize, Errno>) -> bool {
        let ok = got == Ok(expected);
        self.check(name, ok, Outcome(Ok(expected)), Outcome(got))
    }

    /// Number of failed checks so far.
    pub fn failures(&self) -> u32 {
        self.failed
    }

    /// Prints the summary and returns the exit status: the number of failures, at most
    /// [`MAX_STATUS`].
    pub fn finish(self) -> i32 {
        let line = (self.program, self.passed, self.failed);
        if self.failed == 0 {
            println!("{}: all {} checks passed", line.0, line.1);
        } else {
            eprintln!("{}: {} passed, {} FAILED", line.0, line.1, line.2);
            println!("{}: {} passed, {} FAILED", line.0, line.1, line.2);
        }
        (self.failed as i32).min(MAX_STATUS)
    }
}

/// `Debug` shown through `Display`.
struct Dbg<'a, T: fmt::Debug>(&'a T);

impl<T: fmt::Debug> fmt::Display for Dbg<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}
