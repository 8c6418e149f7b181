//! User address spaces: a PML4 whose upper half is the kernel's, regions, demand paging.
//!
//! A [`VmSpace`] owns one page-table tree (lower half private, upper half a copy of the
//! kernel's entries, see `arch::x86_64::paging`) and the region bookkeeping of
//! `lwpvm_mmcore::UserLayout` (pure, host-tested: `mmap`/`munmap`/`mprotect`/`brk` semantics
//! and errnos live there). This module applies what the layout decides to the page tables
//! and populates pages on demand:
//!
//! - **anonymous** pages (mmap, heap, stack) start as nothing; the first touch maps a
//!   known-zero frame (`frame::alloc_zeroed`, free of cost while fresh frames last);
//! - **image** pages (program segments) are copied on first touch from a byte slice in kernel
//!   memory (e.g. an ELF segment inside the initrd), zero-filled past its end.
//!
//! # Page-table entries
//!
//! A leaf holding a frame is either present (`P`, `U`, `W` if the region is writable, `NX`
//! unless executable) or, in a `PROT_NONE` region, not present with software bit
//! [`PTE_PROTNONE`] set and the frame address kept, so that `mprotect` back to an accessible
//! protection restores the contents. Bit 9 ([`PTE_COW`]) marks copy-on-write pages.
//!
//! # Copy-on-write `fork`
//!
//! [`VmSpace::fork`] copies the layout and the lower-half page tables. Every frame the child
//! maps gains an owner in the frame allocator's share count (`frame::share`). Private pages
//! get [`PTE_COW`] and lose `W` in both trees; `MAP_SHARED` regions keep their entries as
//! they are (both processes see each other's writes). A write fault on a `PTE_COW` page in a
//! writable region copies the frame (`rep movsq`, 512 iterations) and drops one owner, or,
//! when the faulting space is the frame's last owner, just makes the page writable again.
//! Unmapping drops one owner (`frame::put`): the frame is freed with its last owner.
//!
//! # Page tables and what frees them
//!
//! Leaves are cleared (frames freed) by `munmap`, `brk` shrinking, `MAP_FIXED` replacement
//! and `Drop`. Tables that a removed range covers entirely are freed at once (they are
//! known to be empty: onto the frame allocator's zero list). Partly covered tables stay until
//! `Drop`, which frees every table the space ever allocated (tracked in a set, so `Drop` does
//! not scan whole tables).
//!
//! # The current address space
//!
//! [`VmSpace::activate`] makes the space the running thread's address space (its context's
//! page-table root, loaded now and at every switch back to the thread: `arch::switch`). The
//! page-fault handler finds the faulting CPU's address space from CR3 through a registry
//! (PML4 address → `VmSpace`), which works on every CPU without per-CPU data. Whoever
//! activates a space keeps a reference to it until the thread has switched to another root
//! (processes hold theirs until their last thread leaves it), so a context never names the
//! root of a dropped space.
//!
//! # TLB
//!
//! Changes that remove or restrict mappings (unmap, `mprotect`, `fork`'s write protection, a
//! copy-on-write break) are flushed on every CPU that has the space loaded, before the frames
//! and tables they released are reused: this CPU with `invlpg` or a CR3 reload, the others
//! with the shoot-down IPI (`arch::tlb`), found through each CPU's loaded root
//! (`percpu::cpus_with_root`). Contexts switch CR3 eagerly, so only CPUs running a thread of
//! the space have it loaded. Remote shoot-downs need interrupts enabled (system calls and
//! user page faults run with them enabled).
//!
//! # Locking
//!
//! Each `VmSpace` has one spin lock over its layout and page tables. Lock order: registry →
//! `VmSpace` → heap → frames. **Never touch user memory (uaccess) with a `VmSpace` lock
//! held**: the page-fault handler takes that lock to populate the page, and would spin
//! forever.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use lwpvm_mmcore::region::{Backing, Tag};
use lwpvm_mmcore::space::{Mapped, MmapRequest, UserLayout};
use lwpvm_mmcore::{
    page_down, Access, Prot, PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE, USER_END,
};
use shared_abi::current::errno::ENOMEM;
use spin::Mutex;

use super::frame;
use crate::arch::paging::{self, nx, Root, PTE_ADDR, PTE_COW, PTE_P, PTE_U, PTE_W};
use crate::arch::tlb::{self, Flush};
use crate::arch::{percpu, switch};

/// Software PTE bit: a `PROT_NONE` page that keeps its frame (P is clear).
pub const PTE_PROTNONE: u64 = 1 << 10;

/// Why a page fault could not be resolved: what a `SIGSEGV` will carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// No region at the address (`SEGV_MAPERR`).
    MapErr,
    /// A region, but the access is not allowed (`SEGV_ACCERR`).
    AccErr,
    /// Out of memory while populating the page (Linux: the OOM killer; here: the process
    /// dies).
    NoMemory,
}

impl Fault {
    /// The `si_code` of the `SIGSEGV` this fault becomes (`SEGV_MAPERR`/`SEGV_ACCERR`).
    pub fn si_code(self) -> i32 {
        use shared_abi::current::signal::{SEGV_ACCERR, SEGV_MAPERR};
        match self {
            Fault::MapErr => SEGV_MAPERR,
            Fault::AccErr | Fault::NoMemory => SEGV_ACCERR,
        }
    }
}

/// The bytes behind an image region (kernel memory that lives as long as the kernel).
pub type ImageSrc = &'static [u8];

struct Inner {
    layout: UserLayout<ImageSrc>,
    /// Every lower-half table frame (PDPT, PD, PT) this space has allocated and not freed.
    tables: BTreeSet<u64>,
    /// Pages holding a frame.
    resident: u64,
}

/// A user address space (see the module documentation).
pub struct VmSpace {
    root: Root,
    inner: Mutex<Inner>,
}

/// PML4 physical address → address space, for the page-fault handler.
static REGISTRY: Mutex<BTreeMap<u64, Weak<VmSpace>>> = Mutex::new(BTreeMap::new());

/// Leaf flags for an accessible page of protection `prot` (not `PROT_NONE`).
fn leaf_flags(prot: Prot) -> u64 {
    let mut f = PTE_P | PTE_U;
    if prot.can_write() {
        f |= PTE_W;
    }
    if !prot.can_exec() {
        f |= nx();
    }
    f
}

/// The entry for frame `pa` under protection `prot`, keeping `cow`.
fn entry_for(pa: u64, prot: Prot, cow: bool) -> u64 {
    if prot == Prot::NONE {
        return pa | PTE_PROTNONE | if cow { PTE_COW } else { 0 };
    }
    let mut e = pa | leaf_flags(prot);
    if cow {
        e = (e & !PTE_W) | PTE_COW;
    }
    e
}

/// Whether a leaf entry holds a frame.
fn holds_frame(e: u64) -> bool {
    e & (PTE_P | PTE_PROTNONE) != 0
}

impl Inner {
    /// Allocates a zeroed table frame and records it.
    fn alloc_table(&mut self) -> Option<u64> {
        let pa = frame::alloc_zeroed()?;
        self.tables.insert(pa);
        Some(pa)
    }

    /// Clears the leaves of `[start, end)` and the tables the range covers entirely, flushes
    /// this CPU's TLB if `root` is loaded here, and only then releases the frames (so no
    /// stale translation on this CPU can reach a frame that is being reused).
    fn unmap(&mut self, root: Root, start: u64, end: u64) {
        let mut frames = Vec::new();
        // SAFETY: the caller holds this space's lock, which covers its lower-half tables.
        unsafe {
            paging::for_each_leaf(root, start, end, &mut |_, e| {
                if holds_frame(*e) {
                    frames.push(*e & PTE_ADDR);
                    *e = 0;
                }
            });
        }
        self.resident -= frames.len() as u64;
        let mut tables = Vec::new();
        // SAFETY: as above; every leaf in the range was just cleared.
        unsafe { paging::free_tables(root, start, end, &mut |pa| tables.push(pa)) };
        flush_everywhere(root, start, end);
        for pa in frames {
            frame::put(pa);
        }
        for pa in tables {
            self.tables.remove(&pa);
            frame::free_zeroed(pa);
        }
    }
}

impl VmSpace {
    /// An empty address space (no regions), registered for the page-fault handler.
    pub fn new() -> Result<Arc<Self>, i32> {
        let pml4 = frame::alloc_zeroed().ok_or(ENOMEM)?;
        let vm = Arc::new(Self {
            root: paging::new_user_root(pml4),
            inner: Mutex::new(Inner {
                layout: UserLayout::new(),
                tables: BTreeSet::new(),
                resident: 0,
            }),
        });
        REGISTRY.lock().insert(pml4, Arc::downgrade(&vm));
        Ok(vm)
    }

    /// The page-table root (for CR3 and reports).
    pub fn root(&self) -> Root {
        self.root
    }

    /// The address space loaded on this CPU, if it is a `VmSpace`.
    pub fn current() -> Option<Arc<Self>> {
        let root = paging::current_root();
        REGISTRY.lock().get(&root.0).and_then(Weak::upgrade)
    }

    /// Makes this the running thread's address space: loaded now on this CPU (if it is not
    /// already) and at every switch back to the thread. The caller keeps a reference until
    /// the thread has switched to another root (module documentation).
    pub fn activate(&self) {
        // SAFETY: the root is a live user PML4 with the kernel's upper half; `self` keeps
        // it alive, and callers switch away before dropping the last reference.
        unsafe { switch::set_current_root(self.root.0) };
    }

    /// Makes the kernel's own tables the running thread's (e.g. before dropping the last
    /// reference to its address space).
    pub fn activate_kernel() {
        // SAFETY: 0 names the kernel's tree, which is always valid.
        unsafe { switch::set_current_root(0) };
    }

    /// Maps an image segment at `[start, end)` (page-aligned): bytes of `src`, where `src[0]`
    /// belongs at user address `base`, zero past its end (the loader's call for ELF
    /// `PT_LOAD` segments; `base` is the segment's `p_vaddr`, `src` its file bytes).
    pub fn map_image(
        &self,
        start: u64,
        end: u64,
        prot: Prot,
        src: ImageSrc,
        base: u64,
    ) -> Result<(), i32> {
        self.inner.lock().layout.map_fixed(
            start,
            end,
            prot,
            Tag::Image,
            Backing::Image { src, base },
        )
    }

    /// Maps demand-zero memory at a fixed `[start, end)` (page-aligned, free).
    pub fn map_anon_fixed(&self, start: u64, end: u64, prot: Prot) -> Result<(), i32> {
        self.inner
            .lock()
            .layout
            .map_fixed(start, end, prot, Tag::Mmap, Backing::Anon)
    }

    /// Reserves the user stack `[top - size, top)`; returns its lowest address.
    pub fn map_stack(&self, top: u64, size: u64) -> Result<u64, i32> {
        self.inner.lock().layout.map_stack(top, size)
    }

    /// Sets the initial program break (the page-aligned end of the program's data).
    pub fn init_brk(&self, addr: u64) -> Result<(), i32> {
        self.inner.lock().layout.init_brk(addr)
    }

    /// `mmap(2)` for anonymous memory (the system call layer handles `fd` and `offset`).
    pub fn mmap(&self, addr: u64, len: u64, prot: u32, flags: u32) -> Result<u64, i32> {
        let mut inner = self.inner.lock();
        let Mapped { addr, replaced } = inner.layout.mmap(
            MmapRequest {
                addr,
                len,
                prot,
                flags,
            },
            Backing::Anon,
        )?;
        for (s, e) in replaced {
            inner.unmap(self.root, s, e);
        }
        Ok(addr)
    }

    /// `munmap(2)`.
    pub fn munmap(&self, addr: u64, len: u64) -> Result<(), i32> {
        let mut inner = self.inner.lock();
        for (s, e) in inner.layout.munmap(addr, len)? {
            inner.unmap(self.root, s, e);
        }
        Ok(())
    }

    /// `mprotect(2)`.
    pub fn mprotect(&self, addr: u64, len: u64, prot: u32) -> Result<(), i32> {
        let mut inner = self.inner.lock();
        let Some((start, end)) = inner.layout.mprotect(addr, len, prot)? else {
            return Ok(());
        };
        // The layout accepted `prot`: its access bits are the protection (PROT_SEM and the
        // grows bits have no effect).
        let prot = Prot::from_bits(prot & (PROT_READ | PROT_WRITE | PROT_EXEC))?;
        // SAFETY: this space's lock is held; entries keep their frames, only flags change.
        unsafe {
            paging::for_each_leaf(self.root, start, end, &mut |_, e| {
                if holds_frame(*e) {
                    *e = entry_for(*e & PTE_ADDR, prot, *e & PTE_COW != 0);
                }
            })
        };
        flush_everywhere(self.root, start, end);
        Ok(())
    }

    /// `brk(2)`: returns the break in force afterwards.
    pub fn brk(&self, new: u64) -> u64 {
        let mut inner = self.inner.lock();
        let (brk, unmap) = inner.layout.brk(new);
        if let Some((s, e)) = unmap {
            inner.unmap(self.root, s, e);
        }
        brk
    }

    /// Pages holding a frame, and regions.
    pub fn usage(&self) -> (u64, usize) {
        let inner = self.inner.lock();
        (inner.resident, inner.layout.regions().len())
    }

    /// A copy of this address space for `fork(2)`: same regions, every page shared with
    /// the child, private pages copy-on-write in both (see the module documentation).
    ///
    /// The caller shoots down the parent's translations on other CPUs (its writable pages
    /// just became read-only); this CPU's are flushed here.
    pub fn fork(&self) -> Result<Arc<Self>, i32> {
        let child = Self::new()?;
        let inner = self.inner.lock();
        let mut cinner = child.inner.lock();
        cinner.layout = inner.layout.clone();
        let regions: Vec<(u64, u64, Prot, bool)> = inner
            .layout
            .regions()
            .iter()
            .map(|r| (r.start, r.end, r.prot, r.shared))
            .collect();
        let mut result = Ok(());
        for (start, end, prot, shared) in regions {
            let croot = child.root;
            let cin = &mut *cinner;
            // SAFETY: both spaces' locks are held (the child is not yet visible to anyone
            // else); entries are rewritten with the same frames, and each frame the child
            // maps gains an owner before the child can drop it.
            unsafe {
                paging::for_each_leaf(self.root, start, end, &mut |va, e| {
                    if !holds_frame(*e) || result.is_err() {
                        return;
                    }
                    let pa = *e & PTE_ADDR;
                    if !shared {
                        *e = entry_for(pa, prot, true);
                    }
                    frame::share(pa);
                    match paging::set_leaf(croot, va, *e, &mut || cin.alloc_table()) {
                        Ok(()) => cin.resident += 1,
                        Err(_) => {
                            frame::put(pa);
                            result = Err(ENOMEM);
                        }
                    }
                })
            };
        }
        flush_everywhere(self.root, 0, USER_END);
        drop(cinner);
        drop(inner);
        // On failure the half-built child is dropped here, releasing what it got.
        result.map(|()| child)
    }

    /// Resolves a page fault at user address `addr`: populates a demand-zero or image page
    /// of a region whose protection allows `access`, or fixes a stale entry. `Err` is what
    /// the trap layer reports now and turns into `SIGSEGV` later.
    pub fn handle_page_fault(&self, addr: u64, access: Access) -> Result<(), Fault> {
        if addr >= USER_END {
            return Err(Fault::MapErr);
        }
        let va = page_down(addr);
        let mut inner = self.inner.lock();
        let region = inner.layout.find(addr).ok_or(Fault::MapErr)?;
        let prot = region.prot;
        if !prot.allows(access) {
            return Err(Fault::AccErr);
        }
        let backing = region.backing.clone();
        // SAFETY: this space's lock is held for every use of `pte` below.
        let pte = unsafe { paging::leaf_entry(self.root, va) };
        if let Some(pte) = pte {
            // SAFETY: as above.
            let e = unsafe { *pte };
            if holds_frame(e) {
                // Present (or PROT_NONE-kept, but the region now allows the access: not
                // possible after mprotect, which rewrites entries): a stale TLB entry, or a
                // write to a page whose entry lags behind the region (COW belongs here).
                if access == Access::Write && e & PTE_W == 0 {
                    if e & PTE_COW == 0 {
                        return Err(Fault::AccErr);
                    }
                    let old = e & PTE_ADDR;
                    if frame::is_shared(old) {
                        let new = frame::alloc().ok_or(Fault::NoMemory)?;
                        frame::copy_frame(new, old);
                        // SAFETY: as above.
                        unsafe { *pte = entry_for(new, prot, false) };
                        flush_everywhere(self.root, va, va + PAGE_SIZE);
                        // Another owner may have dropped its reference meanwhile: then this
                        // was the last one and `put` frees the old frame.
                        frame::put(old);
                        return Ok(());
                    }
                    // SAFETY: as above.
                    unsafe { *pte = entry_for(old, prot, false) };
                }
                paging::flush_page(va);
                return Ok(());
            }
        }
        let pa = populate(va, &backing).ok_or(Fault::NoMemory)?;
        let root = self.root;
        let inner = &mut *inner;
        // SAFETY: this space's lock is held; `pa` is a fresh frame owned by this space from
        // now on; the page is not mapped (checked above under the same lock).
        let mapped =
            unsafe { paging::map(root, va, pa, leaf_flags(prot), &mut || inner.alloc_table()) };
        match mapped {
            Ok(()) => {
                inner.resident += 1;
                Ok(())
            }
            Err(_) => {
                frame::free(pa);
                Err(Fault::NoMemory)
            }
        }
    }
}

/// Invalidates `[start, end)` of `root`'s translations on every CPU that has `root` loaded
/// (module documentation), before the caller frees what the range mapped. Kernel preemption
/// is off meanwhile, so "this CPU" stays the same.
fn flush_everywhere(root: Root, start: u64, end: u64) {
    if start >= end {
        return;
    }
    let pc = percpu::this();
    pc.preempt_disable();
    let cpus = percpu::cpus_with_root(root.0);
    if cpus != 0 {
        let pages = (end - start).div_ceil(PAGE_SIZE);
        let what = if pages > tlb::INVLPG_MAX {
            Flush::All
        } else {
            Flush::Range { start, pages }
        };
        tlb::shootdown(cpus, what);
    }
    pc.preempt_enable();
}

/// A frame with the initial contents of the page at `va` for `backing`.
fn populate(va: u64, backing: &Backing<ImageSrc>) -> Option<u64> {
    let Backing::Image { src, base } = backing else {
        return frame::alloc_zeroed();
    };
    // The part of the page that comes from `src`: [from, to) in user addresses.
    let src_end = base.saturating_add(src.len() as u64);
    let from = va.max(*base);
    let to = (va + PAGE_SIZE).min(src_end);
    if from >= to {
        return frame::alloc_zeroed();
    }
    let bytes = &src[(from - base) as usize..(to - base) as usize];
    let pa = if to - from == PAGE_SIZE {
        frame::alloc()?
    } else {
        frame::alloc_zeroed()?
    };
    frame::copy_into(pa, (from - va) as usize, bytes);
    Some(pa)
}

impl Drop for VmSpace {
    fn drop(&mut self) {
        REGISTRY.lock().remove(&self.root.0);
        if paging::current_root() == self.root {
            Self::activate_kernel();
        }
        let inner = self.inner.get_mut();
        let ranges: Vec<(u64, u64)> = inner
            .layout
            .regions()
            .iter()
            .map(|r| (r.start, r.end))
            .collect();
        for (s, e) in ranges {
            // SAFETY: `&mut self`: nobody else uses this tree; it is not loaded on this CPU,
            // and callers switch other CPUs away before the last reference goes.
            unsafe {
                paging::for_each_leaf(self.root, s, e, &mut |_, e| {
                    if holds_frame(*e) {
                        frame::put(*e & PTE_ADDR);
                    }
                })
            };
        }
        for &pa in &inner.tables {
            frame::free(pa);
        }
        frame::free(self.root.0);
    }
}
