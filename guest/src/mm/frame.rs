//! The physical frame allocator: 4 KiB frames of guest RAM, O(1) allocation and release.
//!
//! # Where frames come from
//!
//! [`init`] takes the usable (E820 type 1) regions of the boot memory map below the 3 GiB
//! MMIO window (the direct map covers 0..4 GiB, and 3..4 GiB is mapped uncached for device
//! memory; RAM above that is logged and ignored for now), and removes the first MiB (BIOS
//! area, the VMM's boot data at 0xf0000..0x100000, qboot's start info near 0xf31e0), the
//! kernel image (`.bss` included) and every boot module (the initrd). What is left is a list
//! of at most [`MAX_RANGES`] page-aligned ranges.
//!
//! # Two kinds of free frames
//!
//! - **Known-zero**: guest RAM starts zeroed (the VMM maps fresh anonymous memory; QEMU too),
//!   so a frame never handed out is zero. Each range has a *watermark*: frames above it have
//!   never been used. A frame whose owner knows it is zero again (an emptied page table) can
//!   be returned with [`free_zeroed`] onto the zero list.
//! - **Dirty**: frames returned with [`free`] go onto the dirty list.
//!
//! Both lists are LIFO stacks threaded through the free frames themselves (the first 8 bytes
//! of a free frame hold the physical address of the next; 0 ends the list: frame 0 is never
//! managed), reached through the direct map. So [`init`] touches no frame and costs a few
//! hundred instructions however much RAM there is, and every operation is O(1).
//!
//! [`alloc_zeroed`] takes, in order: the zero list (clearing the link word: one store), a
//! fresh frame above a watermark, and only then a dirty frame, which it zeroes with
//! `rep stosq` (512 iterations: ~0.3–0.5 ms of interpreted ring 0 on the development
//! machines' KVM, a few hundred ns on hardware). [`alloc()`] takes a dirty frame first, so that
//! known-zero frames are kept for those who need zeroes.
//!
//! # Sharing (copy-on-write)
//!
//! A frame mapped by several address spaces after `fork` has a share count: the number of
//! owners beyond the first, in a table of `u32` indexed by frame number ([`share`], [`put`]).
//! The table is carved out of never-used frames at [`init`] (4 bytes per frame of RAM: 256 KiB
//! for 256 MiB), so it starts zeroed, which means "one owner", and costs nothing to set up;
//! frames that were never shared never touch it.
//!
//! # Locking
//!
//! One lock over the allocator state ([`FRAMES`]): a `sync::IrqMutex`, so its holder is never
//! preempted. That matters because the heap's lock (interrupts off) is held while it grows
//! from frames: had a thread been preempted holding this lock (system calls and page faults
//! run with interrupts on), the heap's holder on the same CPU would spin forever. It is a
//! leaf lock: nothing is called with it held (zeroing happens after it is released). It may
//! be taken with any other memory-management lock held.

use core::arch::asm;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

use crate::arch::layout::{kernel_image_phys, MMIO_WINDOW_START, PAGE_SIZE, PHYS_OFFSET};
use crate::boot_info::{BootInfo, MemoryKind};
use crate::sync::IrqMutex;

/// Frame size as u64.
const FRAME: u64 = PAGE_SIZE as u64;
/// Most usable ranges kept.
pub const MAX_RANGES: usize = 32;
/// Memory below this is never handed out.
const LOW_MEMORY_END: u64 = 0x10_0000;

/// One range of managed RAM: `[next, end)` has never been handed out.
#[derive(Clone, Copy, Debug)]
struct Range {
    start: u64,
    next: u64,
    end: u64,
}

struct Allocator {
    ranges: [Range; MAX_RANGES],
    nr_ranges: usize,
    /// First range that may still have fresh frames.
    cur: usize,
    /// Head of the zero list (0: empty).
    zero_head: u64,
    /// Head of the dirty list (0: empty).
    dirty_head: u64,
    total: u64,
    fresh: u64,
    zero_listed: u64,
    dirty: u64,
    /// Dirty frames `alloc_zeroed` had to zero (a cost counter).
    zeroed: u64,
}

/// The allocator (see the module documentation for the lock's rules).
static FRAMES: IrqMutex<Allocator> = IrqMutex::new(Allocator {
    ranges: [Range {
        start: 0,
        next: 0,
        end: 0,
    }; MAX_RANGES],
    nr_ranges: 0,
    cur: 0,
    zero_head: 0,
    dirty_head: 0,
    total: 0,
    fresh: 0,
    zero_listed: 0,
    dirty: 0,
    zeroed: 0,
});

/// Frame counts, for logs and for the VMM's dump.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Frames managed.
    pub total: u64,
    /// Frames free (fresh + zero list + dirty list).
    pub free: u64,
    /// Frames handed out.
    pub used: u64,
    /// Free frames known to be zero (fresh + zero list).
    pub zero: u64,
    /// Free frames that may hold old data.
    pub dirty: u64,
    /// Dirty frames zeroed so far by `alloc_zeroed`.
    pub zeroed: u64,
}

/// What [`init`] did, for the log.
#[derive(Clone, Copy, Debug, Default)]
pub struct InitReport {
    /// Usable ranges kept.
    pub ranges: usize,
    /// Bytes of usable RAM ignored because they lie above the direct map's RAM part.
    pub ignored_high: u64,
    /// Bytes dropped because more than [`MAX_RANGES`] ranges were left.
    pub ignored_overflow: u64,
    /// Frames taken for the share-count table.
    pub share_table_pages: usize,
}

/// The direct-map pointer to frame `pa`.
#[inline]
fn frame_ptr(pa: u64) -> *mut u64 {
    (pa + PHYS_OFFSET) as *mut u64
}

impl Allocator {
    fn push_range(&mut self, start: u64, end: u64, report: &mut InitReport) {
        let start = start.next_multiple_of(FRAME);
        let end = end & !(FRAME - 1);
        if start >= end {
            return;
        }
        if self.nr_ranges == MAX_RANGES {
            report.ignored_overflow += end - start;
            return;
        }
        self.ranges[self.nr_ranges] = Range {
            start,
            next: start,
            end,
        };
        self.nr_ranges += 1;
        self.total += (end - start) / FRAME;
        self.fresh += (end - start) / FRAME;
    }

    /// Adds `[start, end)` minus every range in `holes` (sorted or not).
    fn add_minus(&mut self, start: u64, end: u64, holes: &[(u64, u64)], report: &mut InitReport) {
        // Find the first hole overlapping [start, end) (lowest start), split around it.
        let first = holes
            .iter()
            .filter(|&&(hs, he)| hs < end && he > start && hs < he)
            .min_by_key(|&&(hs, _)| hs);
        match first {
            None => self.push_range(start, end, report),
            Some(&(hs, he)) => {
                if hs > start {
                    self.push_range(start, hs, report);
                }
                if he < end {
                    self.add_minus(he, end, holes, report);
                }
            }
        }
    }

    fn take_fresh(&mut self) -> Option<u64> {
        while self.cur < self.nr_ranges {
            let r = &mut self.ranges[self.cur];
            if r.next < r.end {
                let pa = r.next;
                r.next += FRAME;
                self.fresh -= 1;
                return Some(pa);
            }
            self.cur += 1;
        }
        None
    }

    fn pop_zero(&mut self) -> Option<u64> {
        let pa = self.zero_head;
        if pa == 0 {
            return None;
        }
        // SAFETY: `pa` is a free frame on the zero list (we hold the lock); its first word
        // is the link, and the direct map covers it. Clearing the link restores all-zero.
        unsafe {
            self.zero_head = *frame_ptr(pa);
            *frame_ptr(pa) = 0;
        }
        self.zero_listed -= 1;
        Some(pa)
    }

    fn pop_dirty(&mut self) -> Option<u64> {
        let pa = self.dirty_head;
        if pa == 0 {
            return None;
        }
        // SAFETY: `pa` is a free frame on the dirty list (we hold the lock).
        self.dirty_head = unsafe { *frame_ptr(pa) };
        self.dirty -= 1;
        Some(pa)
    }

    fn owns(&self, pa: u64) -> bool {
        self.ranges[..self.nr_ranges]
            .iter()
            .any(|r| (r.start..r.next).contains(&pa))
    }
}

/// Takes over the usable RAM of `boot`'s memory map (see the module documentation). Call once,
/// during boot, before anything allocates frames.
pub fn init(boot: &BootInfo) -> InitReport {
    let mut report = InitReport::default();
    let (image_start, image_end) = kernel_image_phys();
    let mut holes = [(0u64, 0u64); 2 + crate::boot_info::MAX_MODULES];
    holes[0] = (0, LOW_MEMORY_END);
    holes[1] = (image_start, image_end);
    for (slot, m) in holes[2..].iter_mut().zip(boot.modules()) {
        let end = (m.phys + m.size).next_multiple_of(FRAME);
        *slot = (m.phys & !(FRAME - 1), end);
    }
    let holes = &holes[..2 + boot.modules().len()];
    let mut a = FRAMES.lock();
    assert_eq!(a.nr_ranges, 0, "frame::init called twice");
    for r in boot.memory_regions() {
        if r.kind != MemoryKind::Usable {
            continue;
        }
        let end = r.end().min(MMIO_WINDOW_START);
        if r.end() > end {
            report.ignored_high += r.end() - end.max(r.start);
        }
        if r.start < end {
            a.add_minus(r.start, end, holes, &mut report);
        }
    }
    report.ranges = a.nr_ranges;
    // The share-count table: one u32 per frame below the highest managed address.
    let top = a.ranges[..a.nr_ranges]
        .iter()
        .map(|r| r.end)
        .max()
        .unwrap_or(0);
    let entries = top / FRAME;
    let pages = (entries * 4).div_ceil(FRAME) as usize;
    drop(a);
    let table = alloc_contiguous_zeroed(pages).expect("no room for the frame share table");
    SHARE_TABLE.store(virt(table).cast(), Ordering::Release);
    SHARE_ENTRIES.store(entries, Ordering::Release);
    report.share_table_pages = pages;
    report
}

/// The share-count table (see "Sharing"): `SHARE_ENTRIES` counters.
static SHARE_TABLE: AtomicPtr<AtomicU32> = AtomicPtr::new(core::ptr::null_mut());
static SHARE_ENTRIES: AtomicU64 = AtomicU64::new(0);

/// The share counter of frame `pa`.
fn share_count(pa: u64) -> &'static AtomicU32 {
    let i = pa / FRAME;
    assert!(
        i < SHARE_ENTRIES.load(Ordering::Acquire),
        "frame {pa:#x} has no share count"
    );
    // SAFETY: the table holds SHARE_ENTRIES zero-initialised AtomicU32s in frames taken for
    // it at init and never freed; `i` is in bounds (checked).
    unsafe { &*SHARE_TABLE.load(Ordering::Acquire).add(i as usize) }
}

/// Records one more owner of frame `pa` (a mapping in another address space).
pub fn share(pa: u64) {
    share_count(pa).fetch_add(1, Ordering::AcqRel);
}

/// Whether frame `pa` has more than one owner.
pub fn is_shared(pa: u64) -> bool {
    share_count(pa).load(Ordering::Acquire) != 0
}

/// Drops one owner's reference to frame `pa`: frees it (as dirty) if that was the last one.
/// Returns whether it was freed.
pub fn put(pa: u64) -> bool {
    let last = share_count(pa)
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| c.checked_sub(1))
        .is_err();
    if last {
        free(pa);
    }
    last
}

/// A frame, zero or not (dirty frames first). `None` when memory is exhausted.
pub fn alloc() -> Option<u64> {
    let mut a = FRAMES.lock();
    a.pop_dirty()
        .or_else(|| a.pop_zero())
        .or_else(|| a.take_fresh())
}

/// A zeroed frame: from the zero list, else fresh, else a dirty frame zeroed here (the one
/// slow case; see the module documentation). `None` when memory is exhausted.
pub fn alloc_zeroed() -> Option<u64> {
    let mut a = FRAMES.lock();
    if let Some(pa) = a.pop_zero().or_else(|| a.take_fresh()) {
        return Some(pa);
    }
    let pa = a.pop_dirty()?;
    a.zeroed += 1;
    drop(a);
    zero_frame(pa);
    Some(pa)
}

/// `pages` physically contiguous zeroed frames (for DMA), taken from one range's fresh
/// frames. `None` if no range has that many left.
pub fn alloc_contiguous_zeroed(pages: usize) -> Option<u64> {
    let want = pages as u64 * FRAME;
    let mut a = FRAMES.lock();
    let cur = a.cur;
    let nr = a.nr_ranges;
    let r = a.ranges[cur..nr]
        .iter_mut()
        .find(|r| r.end - r.next >= want)?;
    let pa = r.next;
    r.next += want;
    a.fresh -= pages as u64;
    Some(pa)
}

/// Returns a frame that may hold data.
///
/// # Panics
///
/// If `pa` is not a frame this allocator handed out (unaligned or outside its ranges).
pub fn free(pa: u64) {
    let mut a = FRAMES.lock();
    assert!(
        pa.is_multiple_of(FRAME) && a.owns(pa),
        "frame::free({pa:#x}): not an allocated frame"
    );
    // SAFETY: the caller gives up `pa`, a managed frame (checked above); it is written
    // through the direct map under the lock.
    unsafe { *frame_ptr(pa) = a.dirty_head };
    a.dirty_head = pa;
    a.dirty += 1;
}

/// Returns a frame whose 4096 bytes are all zero (an emptied page table, a zeroed stack).
/// Returning a non-zero frame here breaks `alloc_zeroed`'s promise: only do it when sure.
///
/// # Panics
///
/// As [`free`].
pub fn free_zeroed(pa: u64) {
    let mut a = FRAMES.lock();
    assert!(
        pa.is_multiple_of(FRAME) && a.owns(pa),
        "frame::free_zeroed({pa:#x}): not an allocated frame"
    );
    // SAFETY: as in `free`.
    unsafe { *frame_ptr(pa) = a.zero_head };
    a.zero_head = pa;
    a.zero_listed += 1;
}

/// Current counts.
pub fn stats() -> FrameStats {
    let a = FRAMES.lock();
    let free = a.fresh + a.zero_listed + a.dirty;
    FrameStats {
        total: a.total,
        free,
        used: a.total - free,
        zero: a.fresh + a.zero_listed,
        dirty: a.dirty,
        zeroed: a.zeroed,
    }
}

/// Zeroes frame `pa` with `rep stosq` (512 iterations).
pub fn zero_frame(pa: u64) {
    // SAFETY: `pa` is a frame the caller owns (just allocated); the direct map covers it;
    // `rep stosq` writes exactly 4096 bytes from its start (DF is clear in Rust code).
    unsafe {
        asm!(
            "rep stosq",
            inout("rcx") PAGE_SIZE / 8 => _,
            inout("rdi") pa + PHYS_OFFSET => _,
            in("rax") 0u64,
            options(nostack, preserves_flags)
        );
    }
}

/// Copies frame `src` to frame `dst` with `rep movsq` (512 iterations).
pub fn copy_frame(dst: u64, src: u64) {
    // SAFETY: both are frames the caller owns or may read (dst just allocated, src mapped
    // and alive); they are distinct; the direct map covers both.
    unsafe {
        asm!(
            "rep movsq",
            inout("rcx") PAGE_SIZE / 8 => _,
            inout("rdi") dst + PHYS_OFFSET => _,
            inout("rsi") src + PHYS_OFFSET => _,
            options(nostack, preserves_flags)
        );
    }
}

/// The kernel (direct-map) address of frame `pa`.
pub fn virt(pa: u64) -> *mut u8 {
    (pa + PHYS_OFFSET) as *mut u8
}

/// Copies `bytes` into frame `pa` at byte `offset` (`rep movsq`, then `rep movsb` for the
/// tail: one emulated iteration per 8 bytes on the development machines' KVM).
///
/// # Panics
///
/// If the bytes do not fit in the frame.
pub fn copy_into(pa: u64, offset: usize, bytes: &[u8]) {
    assert!(offset <= PAGE_SIZE && bytes.len() <= PAGE_SIZE - offset);
    let n = bytes.len();
    // SAFETY: `pa` is a frame the caller owns (just allocated); [offset, offset + n) lies
    // inside it (checked); `bytes` is a valid slice that cannot overlap a frame the caller
    // just allocated.
    unsafe {
        asm!(
            "rep movsq",
            "mov rcx, {tail}",
            "rep movsb",
            tail = in(reg) n & 7,
            inout("rcx") n / 8 => _,
            inout("rdi") pa + PHYS_OFFSET + offset as u64 => _,
            inout("rsi") bytes.as_ptr() => _,
            options(nostack, preserves_flags)
        );
    }
}
