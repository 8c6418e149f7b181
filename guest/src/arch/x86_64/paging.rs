//! 4-level page tables: map, unmap and re-protect 4 KiB pages in any PML4, through the direct
//! map; TLB invalidation on this CPU.
//!
//! # Tables
//!
//! A page-table tree is named by the physical address of its PML4 (a [`Root`]). Every table
//! is a 4 KiB frame reached at `phys + PHYS_OFFSET`, so no recursive mapping or temporary
//! mapping is needed. Intermediate entries are `P|W` (plus `U` in the lower half): the leaf
//! decides the access rights, and `NX` is only ever set in leaves.
//!
//! The kernel's own tree is the boot tree assembled in `boot.rs` ([`kernel_root`]). Its upper
//! half (PML4 slots 256..=511) is shared by every address space: [`new_user_root`] copies the
//! kernel's upper-half entries into a fresh PML4, and [`init`] creates every upper-half PDPT
//! the kernel will ever need (heap, kernel stacks) before the first copy is made; kernel
//! mappings below those PDPTs are then seen by every address space. Creating a new upper-half
//! PML4 entry later would not propagate, so [`map`] refuses to (it panics: a kernel bug).
//!
//! # Bits
//!
//! [`PTE_NX`] is only set when EFER.NXE is on (the boot code turns it on whenever CPUID
//! offers NX; without NXE bit 63 is reserved and setting it would fault): callers ask for
//! [`nx`], which is `PTE_NX` or 0. Bit 9 ([`PTE_COW`]) is available to software: the
//! address-space code marks copy-on-write pages with it.
//!
//! # Locking
//!
//! These functions do no locking. A user tree is changed only under its `VmSpace`'s lock;
//! the kernel's heap and stack regions each under their allocator's lock. The CPU sets A/D
//! bits behind our back; nothing here relies on them.
//!
//! # TLB
//!
//! [`flush_page`] and [`flush_range`] invalidate this CPU's TLB when the tree is the current
//! one. Other CPUs that may cache translations of the tree must be told by the caller through
//! the IPI layer (TLB shoot-down, vector 0xf2) once it exists; the functions here are the
//! local half of that protocol. Newly created mappings need no flush (x86 does not cache
//! not-present translations).
//!
//! # Cost
//!
//! A walk is ~4 loads and tests per level; [`for_each_leaf`] and [`unmap_range`] walk once per
//! table, skip absent tables in one step, and scan only the entries of the range.

use core::arch::asm;
use core::sync::atomic::{AtomicU64, Ordering};

use super::boot::boot_pml4_table;
use super::layout::{KERNEL_BASE, KERNEL_PML4_SLOTS, PAGE_SIZE, PHYS_OFFSET};

/// Present.
pub const PTE_P: u64 = 1 << 0;
/// Writable.
pub const PTE_W: u64 = 1 << 1;
/// User-accessible.
pub const PTE_U: u64 = 1 << 2;
/// Large page (in a PDPT or PD entry).
pub const PTE_PS: u64 = 1 << 7;
/// Software bit: the page is shared copy-on-write (mapped read-only; a write fault copies).
pub const PTE_COW: u64 = 1 << 9;
/// No-execute (only meaningful with EFER.NXE; see [`nx`]).
pub const PTE_NX: u64 = 1 << 63;
/// The physical-address bits of an entry.
pub const PTE_ADDR: u64 = 0x000f_ffff_ffff_f000;

/// Entries per table.
const ENTRIES: usize = 512;

/// `PTE_NX` if EFER.NXE is on, else 0 (set by [`init`]).
static NX_MASK: AtomicU64 = AtomicU64::new(0);

/// Why a mapping could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// A page table could not be allocated.
    NoMemory,
    /// The page is already mapped (its entry is present).
    AlreadyMapped,
}

/// A page-table tree, named by the physical address of its PML4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Root(pub u64);

/// The kernel's page-table tree (the boot tables).
pub fn kernel_root() -> Root {
    Root(boot_pml4_table().get() as u64 - KERNEL_BASE)
}

/// The tree CR3 points at on this CPU.
pub fn current_root() -> Root {
    let cr3: u64;
    // SAFETY: reading CR3 has no side effects.
    unsafe { asm!("mov {}, cr3", out(reg) cr3, options(nomem, nostack, preserves_flags)) };
    Root(cr3 & PTE_ADDR)
}

/// Loads `root` into CR3 (flushes this CPU's non-global TLB entries).
///
/// # Safety
///
/// `root` must be a valid PML4 whose upper half is the kernel's (a copy made by
/// [`new_user_root`], or the kernel's own), so that the code, stack and data in use stay
/// mapped, and it must stay valid while loaded.
pub unsafe fn load_root(root: Root) {
    // SAFETY: per the contract above.
    unsafe { asm!("mov cr3, {}", in(reg) root.0, options(nostack, preserves_flags)) };
}

/// `PTE_NX` where no-execute works, else 0: OR it into a leaf to forbid execution.
pub fn nx() -> u64 {
    NX_MASK.load(Ordering::Relaxed)
}

/// Reads EFER once (NXE decides whether [`PTE_NX`] may be used). The boot code sets NXE
/// whenever CPUID offers NX, so nothing is changed here.
pub fn init() {
    const IA32_EFER: u32 = 0xc000_0080;
    const EFER_NXE: u64 = 1 << 11;
    let (lo, hi): (u32, u32);
    // SAFETY: EFER exists on every x86_64 CPU; reading it has no side effects.
    unsafe {
        asm!("rdmsr", in("ecx") IA32_EFER, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags))
    };
    let efer = u64::from(lo) | (u64::from(hi) << 32);
    if efer & EFER_NXE != 0 {
        NX_MASK.store(PTE_NX, Ordering::Relaxed);
    }
}

/// Whether no-execute pages are enforced.
pub fn nx_enabled() -> bool {
    nx() != 0
}

/// The table at physical `phys`, through the direct map.
///
/// # Safety
///
/// `phys` must be a page-table frame of a live tree, and the caller must hold whatever lock
/// covers that tree (see the module documentation) for as long as it uses the pointer.
#[inline]
unsafe fn table(phys: u64) -> *mut u64 {
    (phys + PHYS_OFFSET) as *mut u64
}

#[inline]
fn index(va: u64, level: u32) -> usize {
    ((va >> (12 + 9 * level)) & 511) as usize
}

/// Span in bytes of one entry at `level` (0 = PT entry = 4 KiB).
#[inline]
fn span(level: u32) -> u64 {
    1u64 << (12 + 9 * level)
}

/// Flags of an intermediate entry covering `va`.
#[inline]
fn table_flags(va: u64) -> u64 {
    if va < (1 << 47) {
        PTE_P | PTE_W | PTE_U
    } else {
        PTE_P | PTE_W
    }
}

/// Removes the identity map (PML4 slot 0) and flushes the TLB by reloading CR3.
///
/// Call after `gdt::init` and `idt::init`: the boot GDT's base is a physical (identity-
/// mapped) address.
pub fn drop_identity_map() {
    let pml4 = boot_pml4_table().get();
    // SAFETY: boot is single-threaded and no other code holds a reference to the PML4. Slot 0
    // maps only the identity window, which nothing uses any more: the stack, code, data, GDT
    // and IDT are in the kernel window and boot data is read through the direct map.
    // Reloading CR3 with its own value flushes the stale translations.
    unsafe {
        (*pml4)[0] = 0;
        asm!(
            "mov {tmp}, cr3",
            "mov cr3, {tmp}",
            tmp = out(reg) _,
            options(nostack, preserves_flags)
        );
    }
}

/// Installs `pdpt_phys` (a zeroed frame) as the kernel PML4's entry for `slot` (one of
/// [`KERNEL_PML4_SLOTS`]) if that entry is empty. Boot only, before any user PML4 exists.
pub fn install_kernel_pdpt(slot: usize, pdpt_phys: u64) -> bool {
    assert!(KERNEL_PML4_SLOTS.contains(&slot));
    let pml4 = boot_pml4_table().get();
    // SAFETY: called during single-threaded boot (mm::init) on the kernel's PML4, which lives
    // in the image; the entry written is an empty upper-half slot.
    unsafe {
        if (*pml4)[slot] & PTE_P != 0 {
            return false;
        }
        (*pml4)[slot] = pdpt_phys | PTE_P | PTE_W;
    }
    true
}

/// Fills the fresh, zeroed PML4 at `pml4_phys` with the kernel's upper-half entries, making
/// it a user tree (empty lower half).
pub fn new_user_root(pml4_phys: u64) -> Root {
    let kernel = boot_pml4_table().get();
    // SAFETY: `pml4_phys` is a frame the caller just allocated and owns; the kernel PML4's
    // upper-half entries never change after boot (module documentation), so reading them
    // races with nothing. Only the kernel's slots are copied: the rest of the fresh frame is
    // already zero.
    unsafe {
        let new = table(pml4_phys);
        for slot in KERNEL_PML4_SLOTS {
            *new.add(slot) = (*kernel)[slot];
        }
    }
    Root(pml4_phys)
}

/// The leaf entry for `va`, creating missing tables with `alloc_table` (which returns the
/// physical address of a zeroed frame).
///
/// # Safety
///
/// The caller holds the lock covering `root`'s tree (see the module documentation) while it
/// uses the returned pointer.
unsafe fn walk_create(
    root: Root,
    va: u64,
    alloc_table: &mut dyn FnMut() -> Option<u64>,
) -> Result<*mut u64, MapError> {
    let mut tbl = root.0;
    for level in (1..=3).rev() {
        // SAFETY: `tbl` is a table of this tree (the root, or read from a present
        // non-leaf entry); the caller holds the tree's lock.
        let entry = unsafe { table(tbl).add(index(va, level)) };
        // SAFETY: as above: `entry` points into a live table.
        let e = unsafe { *entry };
        if e & PTE_P == 0 {
            assert!(
                level != 3 || va < (1 << 47),
                "new upper-half PML4 entry for {va:#x}: kernel PML4 slots are fixed at boot"
            );
            let new = alloc_table().ok_or(MapError::NoMemory)?;
            // SAFETY: as above; the new table is a zeroed frame now owned by this tree.
            unsafe { *entry = new | table_flags(va) };
            tbl = new;
        } else {
            debug_assert!(e & PTE_PS == 0, "large page at level {level} for {va:#x}");
            tbl = e & PTE_ADDR;
        }
    }
    // SAFETY: `tbl` is now the PT of this tree covering `va`.
    Ok(unsafe { table(tbl).add(index(va, 0)) })
}

/// The leaf entry for `va`, if every table on the way exists (no large pages).
///
/// # Safety
///
/// The caller holds the lock covering `root`'s tree while it uses the returned pointer.
pub unsafe fn leaf_entry(root: Root, va: u64) -> Option<*mut u64> {
    let mut tbl = root.0;
    for level in (1..=3).rev() {
        // SAFETY: `tbl` is a live table of this tree; the caller holds its lock.
        let e = unsafe { *table(tbl).add(index(va, level)) };
        if e & PTE_P == 0 || e & PTE_PS != 0 {
            return None;
        }
        tbl = e & PTE_ADDR;
    }
    // SAFETY: `tbl` is the PT covering `va`.
    Some(unsafe { table(tbl).add(index(va, 0)) })
}

/// Maps the 4 KiB page at `va` to frame `pa` with leaf `flags` (`PTE_P` is added), creating
/// tables with `alloc_table`. Fails if `va` is already mapped.
///
/// # Safety
///
/// The caller holds the lock covering `root`'s tree, and the mapping must not break memory
/// safety (e.g. map a frame someone else owns where the kernel will write).
pub unsafe fn map(
    root: Root,
    va: u64,
    pa: u64,
    flags: u64,
    alloc_table: &mut dyn FnMut() -> Option<u64>,
) -> Result<(), MapError> {
    debug_assert!(va.is_multiple_of(PAGE_SIZE as u64) && pa.is_multiple_of(PAGE_SIZE as u64));
    // SAFETY: forwarded contract.
    let pte = unsafe { walk_create(root, va, alloc_table)? };
    // SAFETY: `pte` points into a live PT of this tree; the caller holds its lock.
    unsafe {
        if *pte & PTE_P != 0 {
            return Err(MapError::AlreadyMapped);
        }
        *pte = pa | flags | PTE_P;
    }
    Ok(())
}

/// Writes the raw leaf `entry` for `va` (present or not: software-only entries such as
/// copy-on-write or `PROT_NONE` pages keep their frame address), creating tables with
/// `alloc_table`. Fails if the slot is not empty.
///
/// # Safety
///
/// As for [`map`].
pub unsafe fn set_leaf(
    root: Root,
    va: u64,
    entry: u64,
    alloc_table: &mut dyn FnMut() -> Option<u64>,
) -> Result<(), MapError> {
    // SAFETY: forwarded contract.
    let pte = unsafe { walk_create(root, va, alloc_table)? };
    // SAFETY: `pte` points into a live PT of this tree; the caller holds its lock.
    unsafe {
        if *pte != 0 {
            return Err(MapError::AlreadyMapped);
        }
        *pte = entry;
    }
    Ok(())
}

/// Maps `count` consecutive pages from `va` to the frames `frames(i)` returns (called once
/// per page, in order, only for pages about to be mapped), walking once per page table (the
/// fast path for kernel stacks and heap growth). Stops at the first error; the pages before
/// it stay mapped.
///
/// # Safety
///
/// As for [`map`].
pub unsafe fn map_run(
    root: Root,
    va: u64,
    frames: &mut dyn FnMut(usize) -> Option<u64>,
    count: usize,
    flags: u64,
    alloc_table: &mut dyn FnMut() -> Option<u64>,
) -> Result<(), MapError> {
    let mut i = 0;
    while i < count {
        let page_va = va + (i * PAGE_SIZE) as u64;
        // SAFETY: forwarded contract.
        let pte = unsafe { walk_create(root, page_va, alloc_table)? };
        let in_table = (ENTRIES - index(page_va, 0)).min(count - i);
        for j in 0..in_table {
            // SAFETY: `pte + j` stays inside the same PT (in_table bounds it); the caller
            // holds the tree's lock.
            let e = unsafe { pte.add(j) };
            // SAFETY: as above.
            if unsafe { *e } & PTE_P != 0 {
                return Err(MapError::AlreadyMapped);
            }
            let pa = frames(i + j).ok_or(MapError::NoMemory)?;
            // SAFETY: as above.
            unsafe { *e = pa | flags | PTE_P };
        }
        i += in_table;
    }
    Ok(())
}

/// Calls `f(va, entry)` for each leaf entry in `[start, end)` whose PT exists (present or
/// not), letting `f` rewrite it in place; absent tables are skipped a whole table span at a
/// time. Returns nothing: `f` does the work.
///
/// # Safety
///
/// The caller holds the lock covering `root`'s tree; `f` must not break memory safety with
/// what it writes.
pub unsafe fn for_each_leaf(root: Root, start: u64, end: u64, f: &mut dyn FnMut(u64, &mut u64)) {
    let mut va = start;
    'outer: while va < end {
        let mut tbl = root.0;
        for level in (1..=3).rev() {
            // SAFETY: `tbl` is a live table of this tree; the caller holds its lock.
            let e = unsafe { *table(tbl).add(index(va, level)) };
            if e & PTE_P == 0 || e & PTE_PS != 0 {
                // Skip to the next entry at this level.
                let next = (va & !(span(level) - 1)).wrapping_add(span(level));
                if next <= va {
                    break 'outer;
                }
                va = next;
                continue 'outer;
            }
            tbl = e & PTE_ADDR;
        }
        let first = index(va, 0);
        let pt_end = (va & !(span(1) - 1)).wrapping_add(span(1));
        let stop = if pt_end <= va { end } else { end.min(pt_end) };
        let n = ((stop - va) / PAGE_SIZE as u64) as usize;
        // SAFETY: `tbl` is the live PT covering `va`; entries first..first + n are inside it
        // (stop is at most the PT's end).
        let pt = unsafe { table(tbl) };
        for k in 0..n {
            // SAFETY: as above.
            let e = unsafe { &mut *pt.add(first + k) };
            f(va + (k * PAGE_SIZE) as u64, e);
        }
        va = stop;
    }
}

/// Clears every present leaf in `[start, end)`, calling `on_leaf(va, old_entry)` for each
/// (to free or unreference its frame). Page tables are kept (see `VmSpace` for when they are
/// freed). The caller flushes the TLB ([`flush_range`]).
///
/// # Safety
///
/// As for [`for_each_leaf`]; the frames handed to `on_leaf` are no longer mapped by this tree
/// once the TLB is flushed.
pub unsafe fn unmap_range(root: Root, start: u64, end: u64, on_leaf: &mut dyn FnMut(u64, u64)) {
    // SAFETY: forwarded contract.
    unsafe {
        for_each_leaf(root, start, end, &mut |va, e| {
            if *e & PTE_P != 0 {
                let old = *e;
                *e = 0;
                on_leaf(va, old);
            }
        })
    }
}

/// Invalidates this CPU's translation of `va` (whatever tree is loaded).
#[inline]
pub fn flush_page(va: u64) {
    // SAFETY: `invlpg` only drops a TLB entry.
    unsafe { asm!("invlpg [{}]", in(reg) va, options(nostack, preserves_flags)) };
}

/// The physical address and leaf flags `va`'s page maps to in `root`, if present (large
/// pages included: the address is then that of the 4 KiB part containing `va`).
pub fn translate(root: Root, va: u64) -> Option<(u64, u64)> {
    let mut tbl = root.0;
    for level in (0..=3).rev() {
        // SAFETY: a read-only walk over live tables; a concurrent change can at worst make
        // the answer stale, which callers (self-tests, reports) accept.
        let e = unsafe { *table(tbl).add(index(va, level)) };
        if e & PTE_P == 0 {
            return None;
        }
        if level == 0 || e & PTE_PS != 0 {
            let base = e & PTE_ADDR & !(span(level) - 1);
            let pa = base + (va & (span(level) - 1) & !(PAGE_SIZE as u64 - 1));
            return Some((pa, e & !PTE_ADDR));
        }
        tbl = e & PTE_ADDR;
    }
    None
}

/// Frees the table frames of `root`'s lower half that lie entirely inside `[start, end)`
/// (PTs, PDs and PDPTs whose whole span is covered), clearing their parent entries and
/// handing each frame to `free_table`. The range's leaves must already be unmapped, so the
/// freed tables are all-zero. The caller flushes the TLB (paging-structure caches) with a
/// CR3 reload or `invlpg` over the range.
///
/// # Safety
///
/// The caller holds the tree's lock; no leaf in the range is present.
pub unsafe fn free_tables(root: Root, start: u64, end: u64, free_table: &mut dyn FnMut(u64)) {
    // SAFETY: forwarded contract.
    unsafe { free_tables_in(root.0, 3, start, end, free_table) }
}

/// Recursive helper of [`free_tables`] for the table `tbl` at `level` (3 = PML4).
///
/// # Safety
///
/// As for [`free_tables`].
unsafe fn free_tables_in(
    tbl: u64,
    level: u32,
    start: u64,
    end: u64,
    free_table: &mut dyn FnMut(u64),
) {
    let s = span(level);
    let mut va = start;
    while va < end && va < (1 << 47) {
        let entry_base = va & !(s - 1);
        let entry_end = entry_base + s;
        // SAFETY: `tbl` is a live table of this tree; the caller holds its lock.
        let entry = unsafe { table(tbl).add(index(va, level)) };
        // SAFETY: as above.
        let e = unsafe { *entry };
        if e & PTE_P != 0 && e & PTE_PS == 0 {
            let child = e & PTE_ADDR;
            if level > 1 {
                // SAFETY: `child` is the next-level table of this tree.
                unsafe { free_tables_in(child, level - 1, va, end.min(entry_end), free_table) };
            }
            if entry_base >= start && entry_end <= end {
                debug_assert!(
                    // SAFETY: `child` is a live table (about to be freed).
                    (0..ENTRIES).all(|i| unsafe { *table(child).add(i) } == 0),
                    "freeing a non-empty page table"
                );
                // SAFETY: as above.
                unsafe { *entry = 0 };
                free_table(child);
            }
        }
        va = entry_end;
    }
}
