//! The lwpvm ABI shared by the VMM (`vmm/`, std) and the guest kernel (`guest/`, `no_std`).
//!
//! Everything both sides must agree on lives here, and nothing else: I/O ports and exit codes,
//! command-line keys, and (as the kernel grows) system call and signal numbers, shared-page
//! layouts and the inspection table the VMM decodes from guest memory.
//!
//! The ABI is versioned the way hermit-entry and uhyve-interface version theirs: each version is
//! a module (`v1`, later `v2` ...) and [`current`] names the one both sides build against. A
//! breaking change adds a new module; old ones stay so a newer VMM can still read an older guest.
//!
//! Every `#[repr(C)]` type carries compile-time size and offset checks next to its definition.
#![no_std]
#![forbid(unsafe_code)]

pub mod v1;

/// The ABI version both sides are built against.
pub use v1 as current;
