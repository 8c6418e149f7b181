//! Version 1 of the lwpvm ABI.

pub mod auxv;
pub mod bench;
pub mod boot;
pub mod errno;
pub mod inspect;
pub mod lwp;
pub mod mman;
pub mod ports;
pub mod prctl;
pub mod scenario;
pub mod sigframe;
pub mod signal;
pub mod syscall;
pub mod time;
pub mod upmap;
pub mod utsname;

/// The ABI version number of this module, published by the guest and checked by the VMM.
pub const ABI_VERSION: u32 = 1;
