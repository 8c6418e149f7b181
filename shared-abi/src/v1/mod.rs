//! Version 1 of the lwpvm ABI.

pub mod boot;
pub mod errno;
pub mod lwp;
pub mod ports;
pub mod scenario;
pub mod sigframe;
pub mod signal;
pub mod syscall;
pub mod upmap;

/// The ABI version number of this module, published by the guest and checked by the VMM.
pub const ABI_VERSION: u32 = 1;
