//! `lwpvm-kcore`: the pure, host-testable policy logic of the lwpvm kernel.
//!
//! # What belongs here
//!
//! Code that decides *what* the kernel does with bytes and numbers it was given, without
//! touching hardware, page tables, user memory or locks: parsers of untrusted formats and
//! builders of ABI-defined images. Everything here is a function from byte slices and
//! integers to plain values or errors; it runs the same in the kernel (`x86_64-unknown-none`)
//! and on the host, where it is unit-tested (`cd guest && cargo test -p lwpvm-kcore --target
//! x86_64-unknown-linux-gnu`, run by `cargo xtask test`).
//!
//! Rules, enforced by the crate attributes and by review:
//!
//! - `#![no_std]` with `alloc`; no dependency beyond `shared-abi`;
//! - `#![forbid(unsafe_code)]`: no raw pointers, no `asm!`;
//! - untrusted input (the initrd, program images, the command line, user-supplied argv) never
//!   makes it panic, index out of bounds or overflow: every failure is an error value that
//!   says where and why;
//! - no global state and no time: the same input always gives the same output.
//!
//! # What stays in the kernel crate
//!
//! Everything that acts: mapping the segments an [`elf::LoadPlan`] describes, copying an
//! [`initstack::StackImage`] to the top of a user stack, locking, allocation of frames,
//! `uaccess`, traps, scheduling. The kernel crate calls into this one, never the reverse.
//!
//! # Modules
//!
//! - [`cpio`]: the initrd (newc cpio) reader;
//! - [`elf`]: ELF64 x86_64 executable validation and its [`elf::LoadPlan`];
//! - [`initstack`]: the Linux x86_64 initial process stack (argc, argv, envp, auxv);
//! - [`cmdline`]: the kernel command line and the init program's arguments.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

#[cfg(test)]
extern crate std;

pub mod cmdline;
pub mod cpio;
pub mod elf;
pub mod initstack;

/// The page size of x86_64 user mappings (4 KiB; `AT_PAGESZ`).
pub const PAGE_SIZE: u64 = 4096;

/// `x` rounded down to a page boundary.
pub const fn page_floor(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}

/// `x` rounded up to a page boundary, or `None` if that overflows.
pub const fn page_ceil(x: u64) -> Option<u64> {
    match x.checked_add(PAGE_SIZE - 1) {
        Some(v) => Some(v & !(PAGE_SIZE - 1)),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_rounding() {
        assert_eq!(page_floor(0x1fff), 0x1000);
        assert_eq!(page_floor(0x2000), 0x2000);
        assert_eq!(page_ceil(0x1001), Some(0x2000));
        assert_eq!(page_ceil(0x2000), Some(0x2000));
        assert_eq!(page_ceil(0), Some(0));
        assert_eq!(page_ceil(u64::MAX), None);
        assert_eq!(page_ceil(u64::MAX - 4095), Some(u64::MAX - 4095));
    }
}
