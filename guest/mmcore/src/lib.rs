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

/// `PROT_READ`.
pub const PROT_READ: u32 = 0x1;
/// `PROT_WRITE`.
pub const PROT_WRITE: u32 = 0x2;
/// `PROT_EXEC`.
pub const PROT_EXEC: u32 = 0x4;
/// `PROT_NONE`.
pub const PROT_NONE: u32 = 0x0;

/// `MAP_SHARED`.
pub const MAP_SHARED: u32 = 0x01;
/// `MAP_PRIVATE`.
pub const MAP_PRIVATE: u32 = 0x02;
/// `MAP_SHARED_VALIDATE`.
pub const MAP_SHARED_VALIDATE: u32 = 0x03;
/// Mask of the mapping type (`MAP_TYPE`).
pub const MAP_TYPE: u32 = 0x0f;
/// `MAP_FIXED`.
pub const MAP_FIXED: u32 = 0x10;
/// `MAP_ANONYMOUS`.
pub const MAP_ANONYMOUS: u32 = 0x20;
/// `MAP_GROWSDOWN` (accepted, no effect: stacks are fixed reservations).
pub const MAP_GROWSDOWN: u32 = 0x0100;
/// `MAP_DENYWRITE` (ignored by Linux too).
pub const MAP_DENYWRITE: u32 = 0x0800;
/// `MAP_EXECUTABLE` (ignored by Linux too).
pub const MAP_EXECUTABLE: u32 = 0x1000;
/// `MAP_LOCKED` (accepted, no effect: nothing is ever paged out).
pub const MAP_LOCKED: u32 = 0x2000;
/// `MAP_NORESERVE` (accepted, no effect: there is no overcommit accounting).
pub const MAP_NORESERVE: u32 = 0x4000;
/// `MAP_POPULATE` (accepted, no effect: pages are always populated on demand).
pub const MAP_POPULATE: u32 = 0x8000;
/// `MAP_NONBLOCK`.
pub const MAP_NONBLOCK: u32 = 0x1_0000;
/// `MAP_STACK` (a hint, no effect).
pub const MAP_STACK: u32 = 0x2_0000;
/// `MAP_HUGETLB` (not supported: `EINVAL`, as Linux without huge pages configured).
pub const MAP_HUGETLB: u32 = 0x4_0000;
/// `MAP_SYNC` (only with `MAP_SHARED_VALIDATE` on DAX files: `EOPNOTSUPP` here).
pub const MAP_SYNC: u32 = 0x8_0000;
/// `MAP_FIXED_NOREPLACE`.
pub const MAP_FIXED_NOREPLACE: u32 = 0x10_0000;
/// `MAP_UNINITIALIZED` (ignored, as Linux does without `CONFIG_MMAP_ALLOW_UNINITIALIZED`).
pub const MAP_UNINITIALIZED: u32 = 0x400_0000;

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
