//! `arch_prctl(2)` codes (x86_64).
//!
//! # Sources
//!
//! | items | source |
//! |---|---|
//! | `ARCH_SET_GS`..=`ARCH_GET_GS`, `ARCH_MAP_VDSO_*` | torvalds/linux `arch/x86/include/uapi/asm/prctl.h` (commit 0fc4f78f…, read in full) |
//! | `ARCH_GET_CPUID`, `ARCH_SET_CPUID`, `ARCH_*XCOMP*`, `ARCH_GET_UNTAG_MASK`..=`ARCH_FORCE_TAGGED_SVA`, `ARCH_SHSTK_ENABLE`, `ARCH_SHSTK_DISABLE` | a newer copy of the same header (Android bionic's generated `asm/prctl.h`), cross-checked against rr's and Intel's copies for 0x1011/0x1012 |
//!
//! # Linux semantics (arch/x86/kernel/process_64.c, `do_arch_prctl_64`)
//!
//! - `ARCH_SET_FS`/`ARCH_SET_GS` with an address `>= TASK_SIZE_MAX`
//!   ([`super::mman::TASK_SIZE_MAX`]) fail with `EPERM`; any user address is accepted.
//! - `ARCH_GET_FS`/`ARCH_GET_GS` store the base as a `u64` at the address in the second
//!   argument (`EFAULT` if it is not writable).
//! - An unknown code is `EINVAL`.

/// Set the GS base.
pub const ARCH_SET_GS: u32 = 0x1001;
/// Set the FS base (thread pointer of the x86_64 TLS ABI).
pub const ARCH_SET_FS: u32 = 0x1002;
/// Store the FS base at `*(u64 *)arg`.
pub const ARCH_GET_FS: u32 = 0x1003;
/// Store the GS base at `*(u64 *)arg`.
pub const ARCH_GET_GS: u32 = 0x1004;
/// Whether `cpuid` is allowed (1) or faults (0).
pub const ARCH_GET_CPUID: u32 = 0x1011;
/// Allow (1) or forbid (0, `cpuid` raises SIGSEGV) the `cpuid` instruction.
pub const ARCH_SET_CPUID: u32 = 0x1012;
/// XSAVE features the kernel supports.
pub const ARCH_GET_XCOMP_SUPP: u32 = 0x1021;
/// XSAVE features the process may use.
pub const ARCH_GET_XCOMP_PERM: u32 = 0x1022;
/// Request permission for a dynamic XSAVE feature (AMX).
pub const ARCH_REQ_XCOMP_PERM: u32 = 0x1023;
/// Guest variant of [`ARCH_GET_XCOMP_PERM`].
pub const ARCH_GET_XCOMP_GUEST_PERM: u32 = 0x1024;
/// Guest variant of [`ARCH_REQ_XCOMP_PERM`].
pub const ARCH_REQ_XCOMP_GUEST_PERM: u32 = 0x1025;
/// Map the x32 vDSO (checkpoint/restore).
pub const ARCH_MAP_VDSO_X32: u32 = 0x2001;
/// Map the 32-bit vDSO (checkpoint/restore).
pub const ARCH_MAP_VDSO_32: u32 = 0x2002;
/// Map the 64-bit vDSO (checkpoint/restore).
pub const ARCH_MAP_VDSO_64: u32 = 0x2003;
/// Linear address masking: the untag mask.
pub const ARCH_GET_UNTAG_MASK: u32 = 0x4001;
/// Linear address masking: enable tagged addresses.
pub const ARCH_ENABLE_TAGGED_ADDR: u32 = 0x4002;
/// Linear address masking: maximum tag bits.
pub const ARCH_GET_MAX_TAG_BITS: u32 = 0x4003;
/// Linear address masking: allow SVA with tagged addresses.
pub const ARCH_FORCE_TAGGED_SVA: u32 = 0x4004;
/// Enable shadow-stack features (CET).
pub const ARCH_SHSTK_ENABLE: u32 = 0x5001;
/// Disable shadow-stack features (CET).
pub const ARCH_SHSTK_DISABLE: u32 = 0x5002;
