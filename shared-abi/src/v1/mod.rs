//! Version 1 of the lwpvm ABI.

pub mod boot;
pub mod ports;

/// The ABI version number of this module, published by the guest and checked by the VMM.
pub const ABI_VERSION: u32 = 1;
