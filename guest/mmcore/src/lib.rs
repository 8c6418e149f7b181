//! Pure memory-management logic of the lwpvm kernel, kept apart from the kernel crate so that
//! it can be unit-tested on the host (`cd guest && cargo test -p lwpvm-mmcore --target
//! x86_64-unknown-linux-gnu`; `cargo xtask test` runs it).
//!
//! Nothing here touches hardware or page tables: [`space::UserLayout`] keeps the set of
//! regions of one user address space and implements `mmap`, `munmap`, `mprotect` and `brk`
//! with Linux semantics and errnos (the Linux man pages are the specification). Each operation
//! returns what the kernel must then do to the page tables (the ranges whose pages must be
//! unmapped or re-protected); the kernel's `mm::vmspace` applies it.
//!
//! The constants below are Linux's x86_64 values (`include/uapi/asm-generic/mman-common.h`,
//! `mman.h`, and `arch/x86/include/uapi/asm/mman.h`, which adds nothing we use).

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod region;
pub mod space;

pub use region::{Region, RegionMap, Tag};
pub use space::{MmapRequest, UserLayout};

/// Size of a page (x86_64 base pages).
pub const PAGE_SIZE: u64 = 4096;

/// End (exclusive) of the user part of the address space: Linux's `TASK_SIZE_MAX` on x86_64
/// with 4-level paging, `2^47 - PAGE_SIZE`. The last page below the canonical hole is never
/// mapped, so no user instruction can run into the hole (and `sysretq` never sees a
/// non-canonical return address produced by falling off the end).
pub const USER_END: u64 = (1 << 47) - PAGE_SIZE;

/// Lowest address `MAP_FIXED` may map (Linux's default `vm.mmap_min_addr`): page 0 and its
/// neighbours stay unmapped so that NULL dereferences fault.
pub const MMAP_MIN_ADDR: u64 = 0x1_0000;

/// Most regions one address space may have (Linux's default `vm.max_map_count`).
pub const MAX_MAP_COUNT: usize = 65_530;

// The protection and mapping flags are Linux's, defined once in shared-abi (checked against
// the uapi headers there); the comments below say what this implementation does with each.
// MAP_GROWSDOWN, MAP_LOCKED, MAP_NORESERVE, MAP_POPULATE, MAP_STACK: accepted, no effect
// (stacks are fixed reservations, nothing is paged out, pages are populated on demand).
// MAP_DENYWRITE, MAP_EXECUTABLE, MAP_UNINITIALIZED: ignored, as Linux ignores them.
// MAP_HUGETLB: EINVAL (no huge pages). MAP_SYNC: EOPNOTSUPP (no DAX files).
pub use shared_abi::current::mman::{
    MAP_ANONYMOUS, MAP_DENYWRITE, MAP_EXECUTABLE, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN,
    MAP_HUGETLB, MAP_LOCKED, MAP_NONBLOCK, MAP_NORESERVE, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED,
    MAP_SHARED_VALIDATE, MAP_STACK, MAP_SYNC, MAP_TYPE, MAP_UNINITIALIZED, PROT_EXEC, PROT_NONE,
    PROT_READ, PROT_WRITE,
};

/// Every flag `MAP_SHARED_VALIDATE` accepts (Linux's `LEGACY_MAP_MASK` plus the validated
/// ones we know).
pub const MAP_KNOWN_FLAGS: u32 = MAP_TYPE
    | MAP_FIXED
    | MAP_ANONYMOUS
    | MAP_GROWSDOWN
    | MAP_DENYWRITE
    | MAP_EXECUTABLE
    | MAP_LOCKED
    | MAP_NORESERVE
    | MAP_POPULATE
    | MAP_NONBLOCK
    | MAP_STACK
    | MAP_HUGETLB
    | MAP_SYNC
    | MAP_FIXED_NOREPLACE
    | MAP_UNINITIALIZED;

/// Access rights of a region: a subset of `PROT_READ | PROT_WRITE | PROT_EXEC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Prot(u32);

impl Prot {
    /// No access (`PROT_NONE`).
    pub const NONE: Self = Self(0);
    /// `PROT_READ`.
    pub const R: Self = Self(PROT_READ);
    /// `PROT_READ | PROT_WRITE`.
    pub const RW: Self = Self(PROT_READ | PROT_WRITE);
    /// `PROT_READ | PROT_EXEC`.
    pub const RX: Self = Self(PROT_READ | PROT_EXEC);
    /// `PROT_READ | PROT_WRITE | PROT_EXEC`.
    pub const RWX: Self = Self(PROT_READ | PROT_WRITE | PROT_EXEC);

    /// The protection a `prot` argument asks for, or `EINVAL` for unknown bits
    /// (`PROT_GROWSDOWN`/`PROT_GROWSUP` included: there are no grows-down regions).
    pub fn from_bits(prot: u32) -> Result<Self, i32> {
        if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
            return Err(shared_abi::current::errno::EINVAL);
        }
        Ok(Self(prot))
    }

    /// The raw `PROT_*` bits.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// Whether a read is allowed. On x86_64 any access right implies read (a write-only or
    /// execute-only page is readable), as in Linux.
    pub fn can_read(self) -> bool {
        self.0 != 0
    }

    /// Whether a write is allowed.
    pub fn can_write(self) -> bool {
        self.0 & PROT_WRITE != 0
    }

    /// Whether an instruction fetch is allowed.
    pub fn can_exec(self) -> bool {
        self.0 & PROT_EXEC != 0
    }

    /// Whether the kind of access `access` is allowed.
    pub fn allows(self, access: Access) -> bool {
        match access {
            Access::Read => self.can_read(),
            Access::Write => self.can_write(),
            Access::Exec => self.can_exec(),
        }
    }
}

/// The kind of a memory access (from a page-fault error code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A data read.
    Read,
    /// A data write.
    Write,
    /// An instruction fetch.
    Exec,
}

/// `x` rounded up to a page boundary, `None` on overflow.
pub fn page_up(x: u64) -> Option<u64> {
    x.checked_add(PAGE_SIZE - 1).map(|v| v & !(PAGE_SIZE - 1))
}

/// `x` rounded down to a page boundary.
pub fn page_down(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}

/// Whether `x` is page-aligned.
pub fn is_page_aligned(x: u64) -> bool {
    x & (PAGE_SIZE - 1) == 0
}
