//! Memory-mapping constants: `mmap`/`mprotect` protections, `mmap` flags, `mremap`, `msync`,
//! `madvise` and `mlockall` arguments, as Linux x86_64 defines them.
//!
//! # Sources
//!
//! | items | source |
//! |---|---|
//! | `PROT_*`, `MAP_TYPE`, `MAP_FIXED`, `MAP_ANONYMOUS`, `MAP_FIXED_NOREPLACE`, `MAP_UNINITIALIZED`, `MLOCK_ONFAULT`, `MS_*`, `MADV_*` | torvalds/linux `include/uapi/asm-generic/mman-common.h` (commit 0bf5f949…) |
//! | `MAP_GROWSDOWN`..=`MAP_SYNC`, `MCL_*` | torvalds/linux `include/uapi/asm-generic/mman.h` (commit 2baf6e53…) |
//! | `MAP_32BIT`, `MAP_ABOVE4G` | torvalds/linux `arch/x86/include/uapi/asm/mman.h` (commit 29f890d1…) |
//! | `MAP_SHARED`, `MAP_PRIVATE`, `MAP_SHARED_VALIDATE`, `MREMAP_*` | torvalds/linux `include/uapi/linux/mman.h` (commit 3b02a051…) |
//! | `MAP_DROPPABLE` (0x08) | the Linux 6.11 patch adding it to `include/uapi/linux/mman.h` (not in the stored copy) |
//! | [`TASK_SIZE_MAX`] | torvalds/linux `arch/x86/include/asm/page_64_types.h`: `((1UL << __VIRTUAL_MASK_SHIFT) - PAGE_SIZE)` with `__VIRTUAL_MASK_SHIFT` 47 (4-level paging), and its comment on why the last canonical page stays unmapped |
//! | [`MMAP_MIN_ADDR`] | `mm/Kconfig` `DEFAULT_MMAP_MIN_ADDR` help text ("for most ppc64 and x86 users ... a value of 65536 is reasonable"; the Kconfig default is 4096, distributions set 65536) — **lwpvm's choice** |
//!
//! # Linux semantics worth knowing (mm/mmap.c, `do_mmap`, read)
//!
//! - `len == 0` is `EINVAL`; a length that overflows when rounded up to a page is `ENOMEM`.
//! - The mapping type (`flags & MAP_TYPE`) must be [`MAP_SHARED`] or [`MAP_PRIVATE`] for an
//!   anonymous mapping (anything else, `MAP_SHARED_VALIDATE` included, is `EINVAL`); other
//!   unknown flag bits are ignored unless the type is `MAP_SHARED_VALIDATE`.
//! - Without [`MAP_ANONYMOUS`], `fd` must be an open file (`EBADF`); with it, `fd` is ignored.
//! - x86_64 `sys_mmap` rejects an offset that is not page-aligned (`EINVAL`) before anything
//!   else.
//! - [`MAP_FIXED_NOREPLACE`] implies `MAP_FIXED` placement but fails with `EEXIST` when the
//!   range intersects an existing mapping; with either, a misaligned `addr` is `EINVAL` and a
//!   range beyond `TASK_SIZE` is `ENOMEM`.
//! - `mprotect` accepts only `PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM` (plus at most one
//!   of the `PROT_GROWS*` bits), else `EINVAL`; a range not fully mapped is `ENOMEM`.

/// Page can not be accessed.
pub const PROT_NONE: u32 = 0x0;
/// Page can be read.
pub const PROT_READ: u32 = 0x1;
/// Page can be written.
pub const PROT_WRITE: u32 = 0x2;
/// Page can be executed.
pub const PROT_EXEC: u32 = 0x4;
/// Page may be used for atomic operations (accepted and ignored on x86).
pub const PROT_SEM: u32 = 0x8;
/// `mprotect` flag: extend the change to the start of a grows-down mapping.
pub const PROT_GROWSDOWN: u32 = 0x0100_0000;
/// `mprotect` flag: extend the change to the end of a grows-up mapping.
pub const PROT_GROWSUP: u32 = 0x0200_0000;

/// Share changes.
pub const MAP_SHARED: u32 = 0x01;
/// Changes are private (copy-on-write).
pub const MAP_PRIVATE: u32 = 0x02;
/// Shared, and unknown flags are an error instead of being ignored.
pub const MAP_SHARED_VALIDATE: u32 = 0x03;
/// Droppable anonymous memory (Linux 6.11).
pub const MAP_DROPPABLE: u32 = 0x08;
/// Mask of the mapping type.
pub const MAP_TYPE: u32 = 0x0f;
/// Place the mapping exactly at `addr`, replacing what is there.
pub const MAP_FIXED: u32 = 0x10;
/// Not backed by a file; contents are zero.
pub const MAP_ANONYMOUS: u32 = 0x20;
/// x86: only give out addresses in the low 2 GiB.
pub const MAP_32BIT: u32 = 0x40;
/// x86: only map above 4 GiB.
pub const MAP_ABOVE4G: u32 = 0x80;
/// Stack-like segment that grows down.
pub const MAP_GROWSDOWN: u32 = 0x0100;
/// Ignored (historically `ETXTBSY`).
pub const MAP_DENYWRITE: u32 = 0x0800;
/// Ignored (historically "mark it as an executable").
pub const MAP_EXECUTABLE: u32 = 0x1000;
/// Pages are locked.
pub const MAP_LOCKED: u32 = 0x2000;
/// Do not reserve swap space.
pub const MAP_NORESERVE: u32 = 0x4000;
/// Populate (prefault) the page tables.
pub const MAP_POPULATE: u32 = 0x8000;
/// Do not block on I/O (with `MAP_POPULATE`).
pub const MAP_NONBLOCK: u32 = 0x1_0000;
/// An address suited for a stack.
pub const MAP_STACK: u32 = 0x2_0000;
/// A huge-page mapping.
pub const MAP_HUGETLB: u32 = 0x4_0000;
/// Synchronous page faults (DAX; `MAP_SHARED_VALIDATE` only).
pub const MAP_SYNC: u32 = 0x8_0000;
/// Like [`MAP_FIXED`], but fail with `EEXIST` instead of replacing an existing mapping.
pub const MAP_FIXED_NOREPLACE: u32 = 0x10_0000;
/// Anonymous memory may be left uninitialised (embedded kernels only).
pub const MAP_UNINITIALIZED: u32 = 0x400_0000;

/// The value `mmap` returns on failure in C (`(void *)-1`); the raw system call returns
/// `-errno` instead.
pub const MAP_FAILED: usize = usize::MAX;

/// `mremap`: the mapping may move.
pub const MREMAP_MAYMOVE: u32 = 1;
/// `mremap`: move to exactly `new_address`.
pub const MREMAP_FIXED: u32 = 2;
/// `mremap`: leave the old range mapped (empty).
pub const MREMAP_DONTUNMAP: u32 = 4;

/// `msync`: sync asynchronously.
pub const MS_ASYNC: u32 = 1;
/// `msync`: invalidate other mappings of the same file.
pub const MS_INVALIDATE: u32 = 2;
/// `msync`: sync synchronously.
pub const MS_SYNC: u32 = 4;

/// `mlock2`: lock pages as they are faulted in.
pub const MLOCK_ONFAULT: u32 = 0x01;
/// `mlockall`: lock all current mappings.
pub const MCL_CURRENT: u32 = 1;
/// `mlockall`: lock all future mappings.
pub const MCL_FUTURE: u32 = 2;
/// `mlockall`: lock pages as they are faulted in.
pub const MCL_ONFAULT: u32 = 4;

/// `madvise`: no special treatment.
pub const MADV_NORMAL: u32 = 0;
/// `madvise`: expect random references.
pub const MADV_RANDOM: u32 = 1;
/// `madvise`: expect sequential references.
pub const MADV_SEQUENTIAL: u32 = 2;
/// `madvise`: will need these pages.
pub const MADV_WILLNEED: u32 = 3;
/// `madvise`: do not need these pages (private anonymous pages read back as zero).
pub const MADV_DONTNEED: u32 = 4;
/// `madvise`: free pages only under memory pressure.
pub const MADV_FREE: u32 = 8;

/// The lowest address lwpvm lets a process map (and load a program at): 64 KiB, the value
/// x86 distributions give Linux's `vm.mmap_min_addr`, so that NULL-pointer dereferences with
/// small offsets always fault.
pub const MMAP_MIN_ADDR: u64 = 0x1_0000;

/// The first address outside user space (Linux x86_64 `TASK_SIZE_MAX` with 4-level paging):
/// `(1 << 47) - 4096`. The last page below the canonical boundary stays unmapped: a `syscall`
/// instruction in its last two bytes would return to the non-canonical address `1 << 47`,
/// which `sysretq` on Intel CPUs turns into a #GP in ring 0 with the user's stack. User
/// pointers at or above this address are `EFAULT`; `arch_prctl(ARCH_SET_FS/GS)` rejects them
/// with `EPERM`.
pub const TASK_SIZE_MAX: u64 = (1 << 47) - 4096;
