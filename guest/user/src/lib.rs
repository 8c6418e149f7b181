//! Ring-3 runtime for lwpvm guest programs.
//!
//! A program is a `#![no_std] #![no_main]` binary in `src/bin/` that names its entry with
//! [`entry!`]. The runtime provides what a tiny libc would:
//!
//! - [`rt`]: the ELF entry `_start`, the initial stack in the Linux layout (argc, argv, envp,
//!   auxv) as [`rt::Args`], and a panic handler that prints the message and exits with
//!   [`rt::PANIC_STATUS`];
//! - [`sys`]: the Linux x86_64 system call instruction and typed wrappers returning
//!   `Result<_, Errno>`, numbers from `shared-abi`;
//! - [`io`]: `print!`, `println!` and `eprintln!` on file descriptors 1 and 2;
//! - [`check`]: `ok NAME` / `FAIL NAME: expected X got Y` reporting for test programs;
//! - [`bench`]: instruction-count marks (the VMM's `--marks`) and the TSC, for benchmarks.
//!
//! # Programs (`src/bin/`)
//!
//! | program | what it expects from the kernel |
//! |---|---|
//! | `init` | the first program: prints a line and exits 0 |
//! | `syscalls` | every initial system call and its error paths, Linux semantics; exit status = failures |
//! | `fault` | `fault KIND`: takes one user fault of that kind; the kernel must end it with a report |
//! | `spin` | `spin SECONDS`: busy in ring 3 for that long (preemption), exit 0 |
//! | `hostile` | `hostile SEED N`: N system calls with random arguments; the kernel must survive, exit 0 |
//! | `readline` | `readline N`: N lines from the console echoed back (a blocking, line-at-a-time `read`), exit 0 |
//! | `bench-syscall` | `bench-syscall N ROUNDS`: null system calls between marks, for `cargo xtask bench syscall` |
//!
//! The runtime never depends on the kernel crate: the only contract is the system call ABI.
#![no_std]

pub mod bench;
pub mod check;
pub mod io;
pub mod rt;
pub mod sys;

pub use sys::Errno;
