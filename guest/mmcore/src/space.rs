//! One user address space's layout: its [`RegionMap`], the `brk` heap and the `mmap` base,
//! with the system calls' semantics (Linux man pages `mmap(2)`, `munmap(2)`, `mprotect(2)`,
//! `brk(2)`).
//!
//! ```text
//! USER_END   0x7fff_ffff_f000 ┬ (the last page below 2^47 is never mapped)
//!                             │ user stack: a fixed reservation ([`UserLayout::map_stack`])
//!                             ┼ stack bottom - STACK_GAP
//! mmap_base                   ┼ hint-less mmap regions, top-down
//!                             ┊
//!                             ┼ brk heap: start_brk .. page_up(brk), grows up
//!                             ┼ program image (ELF segments at 0x40_0000 for our programs)
//! MMAP_MIN_ADDR   0x1_0000    ┴ nothing below (NULL dereferences fault)
//! ```
//!
//! Every operation validates all of its arguments before it changes anything, so a failed
//! call leaves the layout as it was. Where Linux would apply part of an `mprotect` before
//! finding a hole, we fail with the same `ENOMEM` and change nothing (the man page leaves the
//! partial effect unspecified).
//!
//! Operations return the page-table work they imply (ranges to unmap), which the kernel
//! performs; this module never sees a page table.

use alloc::vec::Vec;

use shared_abi::current::errno::{EBADF, EEXIST, EINVAL, ENOMEM, EOPNOTSUPP, EPERM};

use crate::region::{Backing, Region, RegionMap, Tag};
use crate::{
    is_page_aligned, page_up, Prot, MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_HUGETLB,
    MAP_KNOWN_FLAGS, MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE, MAP_SYNC, MAP_TYPE,
    MAX_MAP_COUNT, MMAP_MIN_ADDR, USER_END,
};

/// Default size of the user stack reservation (Linux's default `RLIMIT_STACK`).
pub const DEFAULT_STACK_SIZE: u64 = 8 << 20;
/// Gap kept free between the stack reservation and `mmap_base` (Linux keeps at least 128 MiB).
pub const STACK_GAP: u64 = 128 << 20;

/// The arguments of one `mmap` call (anonymous mappings; the caller handles `fd`/`offset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmapRequest {
    /// `addr`: a hint, or the exact address with `MAP_FIXED`/`MAP_FIXED_NOREPLACE`.
    pub addr: u64,
    /// `length` in bytes (rounded up to pages).
    pub len: u64,
    /// `prot`.
    pub prot: u32,
    /// `flags`.
    pub flags: u32,
}

/// What a successful `mmap` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapped {
    /// Start of the new mapping.
    pub addr: u64,
    /// Ranges of older mappings `MAP_FIXED` replaced: their pages must be unmapped.
    pub replaced: Vec<(u64, u64)>,
}

/// A user address space's layout.
#[derive(Clone, Debug)]
pub struct UserLayout<S> {
    regions: RegionMap<S>,
    /// Where hint-less `mmap`s are placed below (top-down).
    mmap_base: u64,
    /// Start of the `brk` heap (0 until the loader sets it).
    start_brk: u64,
    /// The current program break (`start_brk ..= brk`).
    brk: u64,
}

impl<S: Clone> Default for UserLayout<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone> UserLayout<S> {
    /// An empty layout; `mmap_base` starts below the default stack reservation.
    pub fn new() -> Self {
        Self {
            regions: RegionMap::new(),
            mmap_base: USER_END - DEFAULT_STACK_SIZE - STACK_GAP,
            start_brk: 0,
            brk: 0,
        }
    }

    /// The regions.
    pub fn regions(&self) -> &RegionMap<S> {
        &self.regions
    }

    /// The region containing `addr`.
    pub fn find(&self, addr: u64) -> Option<&Region<S>> {
        self.regions.find(addr)
    }

    /// Where hint-less mappings go (below).
    pub fn mmap_base(&self) -> u64 {
        self.mmap_base
    }

    /// `(start_brk, brk)`.
    pub fn brk_range(&self) -> (u64, u64) {
        (self.start_brk, self.brk)
    }

    fn check_room(&self) -> Result<(), i32> {
        // A change can split one region into three: keep two spare.
        if self.regions.len() + 2 > MAX_MAP_COUNT {
            return Err(ENOMEM);
        }
        Ok(())
    }

    /// Maps a segment of the program image (or any fixed region the loader wants) at
    /// `[start, end)`, which must be page-aligned, inside user space and free.
    pub fn map_fixed(
        &mut self,
        start: u64,
        end: u64,
        prot: Prot,
        tag: Tag,
        backing: Backing<S>,
    ) -> Result<(), i32> {
        if !is_page_aligned(start) || !is_page_aligned(end) || start >= end {
            return Err(EINVAL);
        }
        if start < MMAP_MIN_ADDR || end > USER_END {
            return Err(ENOMEM);
        }
        if self.regions.overlaps(start, end) {
            return Err(EEXIST);
        }
        self.check_room()?;
        let inserted = self.regions.insert(Region {
            start,
            end,
            prot,
            shared: false,
            tag,
            backing,
        });
        debug_assert!(inserted);
        Ok(())
    }

    /// Reserves the user stack: `[top - size, top)`, read-write, demand-zero, and moves
    /// `mmap_base` below it (with [`STACK_GAP`]). Returns the stack's lowest address.
    pub fn map_stack(&mut self, top: u64, size: u64) -> Result<u64, i32> {
        let bottom = top.checked_sub(size).ok_or(EINVAL)?;
        self.map_fixed(bottom, top, Prot::RW, Tag::Stack, Backing::Anon)?;
        self.mmap_base = bottom.saturating_sub(STACK_GAP).max(MMAP_MIN_ADDR);
        Ok(bottom)
    }

    /// Sets the initial program break (the loader calls this with the page-aligned end of
    /// the program's data). The heap region is created by the first growing `brk`.
    pub fn init_brk(&mut self, addr: u64) -> Result<(), i32> {
        let addr = page_up(addr).ok_or(EINVAL)?;
        if !(MMAP_MIN_ADDR..USER_END).contains(&addr) {
            return Err(EINVAL);
        }
        self.start_brk = addr;
        self.brk = addr;
        Ok(())
    }

    /// `mmap(2)` for anonymous memory. Returns the address and the ranges `MAP_FIXED`
    /// replaced.
    ///
    /// Errors, in Linux's order of checks: `EINVAL` (length 0, unknown `prot` bits, neither
    /// or an unknown mapping type, unknown flags with `MAP_SHARED_VALIDATE`, `MAP_HUGETLB`,
    /// an unaligned fixed address), `EOPNOTSUPP` (`MAP_SYNC` with `MAP_SHARED_VALIDATE`),
    /// `EBADF` (no `MAP_ANONYMOUS`: there are no files), `ENOMEM` (length overflow, a
    /// fixed range beyond user space, no room, too many regions), `EPERM` (a fixed address
    /// below `MMAP_MIN_ADDR`), `EEXIST` (`MAP_FIXED_NOREPLACE` over an existing mapping).
    pub fn mmap(&mut self, req: MmapRequest, backing: Backing<S>) -> Result<Mapped, i32> {
        if req.len == 0 {
            return Err(EINVAL);
        }
        let prot = Prot::from_bits(req.prot)?;
        let shared = match req.flags & MAP_TYPE {
            MAP_PRIVATE => false,
            MAP_SHARED => true,
            MAP_SHARED_VALIDATE => {
                if req.flags & !MAP_KNOWN_FLAGS != 0 {
                    return Err(EOPNOTSUPP);
                }
                if req.flags & MAP_SYNC != 0 {
                    return Err(EOPNOTSUPP);
                }
                true
            }
            _ => return Err(EINVAL),
        };
        if req.flags & MAP_HUGETLB != 0 {
            return Err(EINVAL);
        }
        if req.flags & MAP_ANONYMOUS == 0 {
            return Err(EBADF);
        }
        let len = page_up(req.len).ok_or(ENOMEM)?;
        if len > USER_END {
            return Err(ENOMEM);
        }
        let fixed = req.flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
        let mut replaced = Vec::new();
        let addr = if fixed {
            if !is_page_aligned(req.addr) {
                return Err(EINVAL);
            }
            let end = req.addr.checked_add(len).ok_or(ENOMEM)?;
            if end > USER_END {
                return Err(ENOMEM);
            }
            if req.addr < MMAP_MIN_ADDR {
                return Err(EPERM);
            }
            if req.flags & MAP_FIXED_NOREPLACE != 0 {
                if self.regions.overlaps(req.addr, end) {
                    return Err(EEXIST);
                }
                self.check_room()?;
            } else {
                self.check_room()?;
                replaced = self.regions.remove_range(req.addr, end);
            }
            req.addr
        } else {
            self.check_room()?;
            self.place(req.addr, len).ok_or(ENOMEM)?
        };
        let inserted = self.regions.insert(Region {
            start: addr,
            end: addr + len,
            prot,
            shared,
            tag: Tag::Mmap,
            backing,
        });
        debug_assert!(inserted);
        Ok(Mapped { addr, replaced })
    }

    /// Where a hint-less (or non-fixed) mapping of `len` bytes goes: the hint if that range
    /// is valid and free, else the highest gap below `mmap_base`, else the highest gap
    /// anywhere.
    fn place(&self, hint: u64, len: u64) -> Option<u64> {
        if let Some(hint) = page_up(hint).filter(|&h| h >= MMAP_MIN_ADDR) {
            if let Some(end) = hint.checked_add(len) {
                if end <= USER_END && !self.regions.overlaps(hint, end) {
                    return Some(hint);
                }
            }
        }
        self.regions
            .find_gap_top_down(len, MMAP_MIN_ADDR, self.mmap_base)
            .or_else(|| self.regions.find_gap_top_down(len, MMAP_MIN_ADDR, USER_END))
    }

    /// `munmap(2)`: removes every mapping in `[addr, addr + page_up(len))`. Returns the
    /// ranges whose pages must be unmapped. Unmapping nothing is not an error.
    ///
    /// Errors: `EINVAL` (unaligned `addr`, length 0, range outside user space), `ENOMEM`
    /// (splitting a region would exceed the region limit).
    pub fn munmap(&mut self, addr: u64, len: u64) -> Result<Vec<(u64, u64)>, i32> {
        if !is_page_aligned(addr) || len == 0 {
            return Err(EINVAL);
        }
        let len = page_up(len).ok_or(EINVAL)?;
        let end = addr.checked_add(len).ok_or(EINVAL)?;
        if end > USER_END {
            return Err(EINVAL);
        }
        self.check_room()?;
        Ok(self.regions.remove_range(addr, end))
    }

    /// `mprotect(2)`: sets the protection of `[addr, addr + page_up(len))`. Returns the range
    /// whose page-table entries must be updated (`None` for length 0).
    ///
    /// Checks in Linux's order (`mm/mprotect.c` `do_mprotect_pkey`): both `PROT_GROWSDOWN`
    /// and `PROT_GROWSUP` → `EINVAL`; unaligned `addr` → `EINVAL`; length 0 → success,
    /// whatever `prot` is; length overflow → `ENOMEM`; `prot` bits beyond `PROT_READ |
    /// PROT_WRITE | PROT_EXEC | PROT_SEM` (x86's `arch_validate_prot`) → `EINVAL`; no mapping
    /// at `addr` → `ENOMEM`; one `PROT_GROWS*` bit → `EINVAL` (no region grows); a hole in
    /// the range or too many regions → `ENOMEM`. `PROT_SEM` has no effect on x86.
    pub fn mprotect(&mut self, addr: u64, len: u64, prot: u32) -> Result<Option<(u64, u64)>, i32> {
        use shared_abi::current::mman::{PROT_GROWSDOWN, PROT_GROWSUP, PROT_SEM};
        let grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
        let prot = prot & !grows;
        if grows == PROT_GROWSDOWN | PROT_GROWSUP || !is_page_aligned(addr) {
            return Err(EINVAL);
        }
        let len = page_up(len).ok_or(ENOMEM)?;
        if len == 0 {
            return Ok(None);
        }
        let end = addr.checked_add(len).ok_or(ENOMEM)?;
        let prot = Prot::from_bits(prot & !PROT_SEM)?;
        if end > USER_END || self.regions.find(addr).is_none() {
            return Err(ENOMEM);
        }
        if grows != 0 {
            return Err(EINVAL);
        }
        if !self.regions.covers(addr, end) {
            return Err(ENOMEM);
        }
        self.check_room()?;
        let done = self.regions.protect_range(addr, end, prot);
        debug_assert!(done);
        Ok(Some((addr, end)))
    }

    /// `brk(2)` as the system call sees it: asks for break `new` and returns the break in
    /// force afterwards (the old one when the request is refused: below the heap's start,
    /// overlapping another mapping, beyond user space, or no `init_brk` yet), plus the range
    /// whose pages must be unmapped when the heap shrank.
    pub fn brk(&mut self, new: u64) -> (u64, Option<(u64, u64)>) {
        let old = self.brk;
        if self.start_brk == 0 || new < self.start_brk {
            return (old, None);
        }
        let (Some(old_end), Some(new_end)) = (page_up(old), page_up(new)) else {
            return (old, None);
        };
        if new_end > USER_END {
            return (old, None);
        }
        let mut unmap = None;
        if new_end < old_end {
            let removed = self.regions.remove_range(new_end, old_end);
            debug_assert!(removed.len() <= 1);
            unmap = Some((new_end, old_end));
        } else if new_end > old_end {
            if self.regions.overlaps(old_end, new_end) || self.check_room().is_err() {
                return (old, None);
            }
            // Grow the heap region if it ends at the old break and is still the plain
            // read-write heap; otherwise (first growth, or mprotect changed its tail) add one.
            let grow = self
                .regions
                .find(old_end.wrapping_sub(1))
                .filter(|r| {
                    r.tag == Tag::Heap
                        && r.end == old_end
                        && r.prot == Prot::RW
                        && old_end > self.start_brk
                })
                .map(|r| r.start);
            let ok = match grow {
                Some(start) => self.regions.set_end(start, new_end),
                None => self.regions.insert(Region {
                    start: old_end,
                    end: new_end,
                    prot: Prot::RW,
                    shared: false,
                    tag: Tag::Heap,
                    backing: Backing::Anon,
                }),
            };
            debug_assert!(ok);
        }
        self.brk = new;
        (new, unmap)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::{PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE};
    use alloc::vec;

    type L = UserLayout<()>;

    const ANON_PRIV: u32 = MAP_PRIVATE | MAP_ANONYMOUS;
    const RW: u32 = PROT_READ | PROT_WRITE;

    fn req(addr: u64, len: u64, prot: u32, flags: u32) -> MmapRequest {
        MmapRequest {
            addr,
            len,
            prot,
            flags,
        }
    }

    fn mmap(l: &mut L, addr: u64, len: u64, prot: u32, flags: u32) -> Result<Mapped, i32> {
        l.mmap(req(addr, len, prot, flags), Backing::Anon)
    }

    fn spans(l: &L) -> Vec<(u64, u64, u32)> {
        l.regions()
            .iter()
            .map(|r| (r.start, r.end, r.prot.bits()))
            .collect()
    }

    #[test]
    fn hintless_mmaps_go_top_down_below_the_stack_gap() {
        let mut l = L::new();
        let stack_bottom = l.map_stack(USER_END, DEFAULT_STACK_SIZE).unwrap();
        assert_eq!(stack_bottom, USER_END - DEFAULT_STACK_SIZE);
        let a = mmap(&mut l, 0, 100, RW, ANON_PRIV).unwrap();
        assert_eq!(a.addr, stack_bottom - STACK_GAP - PAGE_SIZE);
        assert!(a.replaced.is_empty());
        let b = mmap(&mut l, 0, 3 * PAGE_SIZE, PROT_READ, ANON_PRIV).unwrap();
        assert_eq!(b.addr, a.addr - 3 * PAGE_SIZE);
        // Free the first: the next one-page mapping reuses its slot (highest gap).
        assert_eq!(
            l.munmap(a.addr, 1).unwrap(),
            vec![(a.addr, a.addr + PAGE_SIZE)]
        );
        let c = mmap(&mut l, 0, PAGE_SIZE, RW, ANON_PRIV).unwrap();
        assert_eq!(c.addr, a.addr);
    }

    #[test]
    fn a_free_hint_is_honoured_and_rounded_up() {
        let mut l = L::new();
        let m = mmap(&mut l, 0x1000_0001, PAGE_SIZE, RW, ANON_PRIV).unwrap();
        assert_eq!(m.addr, 0x1000_1000);
        // An occupied hint is ignored (no MAP_FIXED): placed elsewhere, nothing replaced.
        let n = mmap(&mut l, 0x1000_1000, PAGE_SIZE, RW, ANON_PRIV).unwrap();
        assert_ne!(n.addr, 0x1000_1000);
        assert!(n.replaced.is_empty());
        // A hint below mmap_min_addr is ignored too.
        let o = mmap(&mut l, 0x1000, PAGE_SIZE, RW, ANON_PRIV).unwrap();
        assert!(o.addr >= MMAP_MIN_ADDR && o.addr != 0x1000);
    }

    #[test]
    fn map_fixed_replaces_and_splits() {
        let mut l = L::new();
        let base = 0x4000_0000;
        mmap(&mut l, base, 8 * PAGE_SIZE, RW, ANON_PRIV | MAP_FIXED).unwrap();
        let m = mmap(
            &mut l,
            base + 2 * PAGE_SIZE,
            2 * PAGE_SIZE,
            PROT_READ,
            ANON_PRIV | MAP_FIXED,
        )
        .unwrap();
        assert_eq!(m.addr, base + 2 * PAGE_SIZE);
        assert_eq!(
            m.replaced,
            vec![(base + 2 * PAGE_SIZE, base + 4 * PAGE_SIZE)]
        );
        assert_eq!(
            spans(&l),
            vec![
                (base, base + 2 * PAGE_SIZE, RW),
                (base + 2 * PAGE_SIZE, base + 4 * PAGE_SIZE, PROT_READ),
                (base + 4 * PAGE_SIZE, base + 8 * PAGE_SIZE, RW),
            ]
        );
    }

    #[test]
    fn map_fixed_noreplace_fails_with_eexist_on_any_overlap() {
        let mut l = L::new();
        let base = 0x4000_0000;
        mmap(&mut l, base, 2 * PAGE_SIZE, RW, ANON_PRIV | MAP_FIXED).unwrap();
        for start in [base - PAGE_SIZE, base, base + PAGE_SIZE] {
            assert_eq!(
                mmap(
                    &mut l,
                    start,
                    2 * PAGE_SIZE,
                    RW,
                    ANON_PRIV | MAP_FIXED_NOREPLACE
                ),
                Err(EEXIST)
            );
        }
        // With MAP_FIXED too: NOREPLACE still wins, as in Linux.
        assert_eq!(
            mmap(
                &mut l,
                base,
                PAGE_SIZE,
                RW,
                ANON_PRIV | MAP_FIXED | MAP_FIXED_NOREPLACE
            ),
            Err(EEXIST)
        );
        // Adjacent is fine.
        let m = mmap(
            &mut l,
            base + 2 * PAGE_SIZE,
            PAGE_SIZE,
            RW,
            ANON_PRIV | MAP_FIXED_NOREPLACE,
        )
        .unwrap();
        assert_eq!(m.addr, base + 2 * PAGE_SIZE);
        assert_eq!(l.regions().len(), 2);
    }

    #[test]
    fn mmap_argument_errors() {
        let mut l = L::new();
        assert_eq!(mmap(&mut l, 0, 0, RW, ANON_PRIV), Err(EINVAL));
        assert_eq!(mmap(&mut l, 0, 1, 0x8, ANON_PRIV), Err(EINVAL));
        assert_eq!(mmap(&mut l, 0, 1, RW, MAP_ANONYMOUS), Err(EINVAL));
        assert_eq!(mmap(&mut l, 0, 1, RW, MAP_ANONYMOUS | 0x0f), Err(EINVAL));
        assert_eq!(mmap(&mut l, 0, 1, RW, MAP_PRIVATE), Err(EBADF));
        assert_eq!(mmap(&mut l, 0, 1, RW, ANON_PRIV | MAP_HUGETLB), Err(EINVAL));
        assert_eq!(
            mmap(
                &mut l,
                0,
                1,
                RW,
                MAP_SHARED_VALIDATE | MAP_ANONYMOUS | 0x8000_0000
            ),
            Err(EOPNOTSUPP)
        );
        // Unknown flags without _VALIDATE are ignored, as in Linux.
        assert!(mmap(&mut l, 0, 1, RW, ANON_PRIV | 0x8000_0000).is_ok());
        // Fixed: alignment, range, mmap_min_addr.
        assert_eq!(
            mmap(&mut l, 0x4000_0001, 1, RW, ANON_PRIV | MAP_FIXED),
            Err(EINVAL)
        );
        assert_eq!(
            mmap(&mut l, 0x4000_0001, 1, RW, ANON_PRIV | MAP_FIXED_NOREPLACE),
            Err(EINVAL)
        );
        assert_eq!(
            mmap(
                &mut l,
                USER_END - PAGE_SIZE,
                2 * PAGE_SIZE,
                RW,
                ANON_PRIV | MAP_FIXED
            ),
            Err(ENOMEM)
        );
        assert_eq!(
            mmap(&mut l, !0xfff, PAGE_SIZE, RW, ANON_PRIV | MAP_FIXED),
            Err(ENOMEM)
        );
        assert_eq!(
            mmap(&mut l, 0x1000, PAGE_SIZE, RW, ANON_PRIV | MAP_FIXED),
            Err(EPERM)
        );
        // Length overflow and lengths larger than user space.
        assert_eq!(mmap(&mut l, 0, u64::MAX, RW, ANON_PRIV), Err(ENOMEM));
        assert_eq!(mmap(&mut l, 0, USER_END + 1, RW, ANON_PRIV), Err(ENOMEM));
        // The failed calls changed nothing.
        assert_eq!(l.regions().len(), 1);
    }

    #[test]
    fn mmap_fails_with_enomem_when_no_gap_is_left() {
        let mut l = L::new();
        // Fill all of user space above mmap_min_addr with one fixed mapping.
        mmap(
            &mut l,
            MMAP_MIN_ADDR,
            USER_END - MMAP_MIN_ADDR,
            PROT_READ,
            ANON_PRIV | MAP_FIXED,
        )
        .unwrap();
        assert_eq!(mmap(&mut l, 0, PAGE_SIZE, RW, ANON_PRIV), Err(ENOMEM));
        // Punch a hole: exactly that hole is found.
        l.munmap(0x2000_0000, 2 * PAGE_SIZE).unwrap();
        assert_eq!(mmap(&mut l, 0, 3 * PAGE_SIZE, RW, ANON_PRIV), Err(ENOMEM));
        assert_eq!(
            mmap(&mut l, 0, 2 * PAGE_SIZE, RW, ANON_PRIV).unwrap().addr,
            0x2000_0000
        );
    }

    #[test]
    fn munmap_splits_and_reports_only_mapped_parts() {
        let mut l = L::new();
        let base = 0x4000_0000;
        mmap(&mut l, base, 4 * PAGE_SIZE, RW, ANON_PRIV | MAP_FIXED).unwrap();
        mmap(
            &mut l,
            base + 6 * PAGE_SIZE,
            2 * PAGE_SIZE,
            RW,
            ANON_PRIV | MAP_FIXED,
        )
        .unwrap();
        // Middle of the first region through the second, with a hole in between.
        let removed = l.munmap(base + PAGE_SIZE, 6 * PAGE_SIZE).unwrap();
        assert_eq!(
            removed,
            vec![
                (base + PAGE_SIZE, base + 4 * PAGE_SIZE),
                (base + 6 * PAGE_SIZE, base + 7 * PAGE_SIZE)
            ]
        );
        assert_eq!(
            spans(&l),
            vec![
                (base, base + PAGE_SIZE, RW),
                (base + 7 * PAGE_SIZE, base + 8 * PAGE_SIZE, RW)
            ]
        );
        // Nothing mapped there: fine, nothing to do.
        assert_eq!(l.munmap(base + 2 * PAGE_SIZE, PAGE_SIZE).unwrap(), vec![]);
        // Errors.
        assert_eq!(l.munmap(base + 1, PAGE_SIZE), Err(EINVAL));
        assert_eq!(l.munmap(base, 0), Err(EINVAL));
        assert_eq!(l.munmap(USER_END, PAGE_SIZE), Err(EINVAL));
        assert_eq!(l.munmap(base, u64::MAX), Err(EINVAL));
    }

    #[test]
    fn mprotect_splits_and_rejects_holes_atomically() {
        let mut l = L::new();
        let base = 0x4000_0000;
        mmap(&mut l, base, 4 * PAGE_SIZE, RW, ANON_PRIV | MAP_FIXED).unwrap();
        assert_eq!(
            l.mprotect(base + PAGE_SIZE, PAGE_SIZE, PROT_READ),
            Ok(Some((base + PAGE_SIZE, base + 2 * PAGE_SIZE)))
        );
        assert_eq!(
            spans(&l),
            vec![
                (base, base + PAGE_SIZE, RW),
                (base + PAGE_SIZE, base + 2 * PAGE_SIZE, PROT_READ),
                (base + 2 * PAGE_SIZE, base + 4 * PAGE_SIZE, RW),
            ]
        );
        // Across all three pieces; len rounded up.
        assert_eq!(
            l.mprotect(base, 3 * PAGE_SIZE + 1, PROT_READ | PROT_EXEC),
            Ok(Some((base, base + 4 * PAGE_SIZE)))
        );
        assert!(l
            .regions()
            .iter()
            .all(|r| r.prot.bits() == PROT_READ | PROT_EXEC));
        // A range reaching past the mapping: ENOMEM, and nothing changed.
        let before = spans(&l);
        assert_eq!(l.mprotect(base, 5 * PAGE_SIZE, PROT_NONE_), Err(ENOMEM));
        assert_eq!(
            l.mprotect(base - PAGE_SIZE, 2 * PAGE_SIZE, PROT_NONE_),
            Err(ENOMEM)
        );
        assert_eq!(spans(&l), before);
        // Other errors.
        assert_eq!(l.mprotect(base + 1, PAGE_SIZE, PROT_READ), Err(EINVAL));
        assert_eq!(l.mprotect(base, PAGE_SIZE, 0x10), Err(EINVAL));
        assert_eq!(l.mprotect(base, u64::MAX, PROT_READ), Err(ENOMEM));
        assert_eq!(l.mprotect(base, 0, PROT_READ), Ok(None));
        // Length 0 succeeds before `prot` is looked at; PROT_SEM is accepted (x86).
        assert_eq!(l.mprotect(base, 0, 0x10), Ok(None));
        assert_eq!(
            l.mprotect(base, PAGE_SIZE, PROT_READ | 0x8),
            Ok(Some((base, base + PAGE_SIZE)))
        );
        // Both grows bits, or one on a region that does not grow: EINVAL; unmapped: ENOMEM.
        assert_eq!(
            l.mprotect(base, PAGE_SIZE, PROT_READ | 0x0300_0000),
            Err(EINVAL)
        );
        assert_eq!(
            l.mprotect(base, PAGE_SIZE, PROT_READ | 0x0100_0000),
            Err(EINVAL)
        );
        assert_eq!(
            l.mprotect(0x10_0000, PAGE_SIZE, PROT_READ | 0x0100_0000),
            Err(ENOMEM)
        );
    }

    const PROT_NONE_: u32 = 0;

    #[test]
    fn mprotect_across_adjacent_regions_is_not_a_hole() {
        let mut l = L::new();
        let base = 0x4000_0000;
        mmap(&mut l, base, PAGE_SIZE, RW, ANON_PRIV | MAP_FIXED).unwrap();
        mmap(
            &mut l,
            base + PAGE_SIZE,
            PAGE_SIZE,
            PROT_READ,
            ANON_PRIV | MAP_FIXED,
        )
        .unwrap();
        assert!(l.mprotect(base, 2 * PAGE_SIZE, PROT_NONE_).is_ok());
        assert!(l.regions().iter().all(|r| r.prot == Prot::NONE));
    }

    #[test]
    fn brk_grows_shrinks_and_refuses_collisions() {
        let mut l = L::new();
        // No heap yet: brk returns the current break (0).
        assert_eq!(l.brk(0x60_0000), (0, None));
        l.init_brk(0x60_0123).unwrap();
        let start = 0x60_1000;
        assert_eq!(l.brk_range(), (start, start));
        // Query.
        assert_eq!(l.brk(0), (start, None));
        // Below start: refused.
        assert_eq!(l.brk(start - 1), (start, None));
        // Grow within a page, then beyond.
        assert_eq!(l.brk(start + 10), (start + 10, None));
        assert_eq!(spans(&l), vec![(start, start + PAGE_SIZE, RW)]);
        assert_eq!(l.brk(start + 3 * PAGE_SIZE), (start + 3 * PAGE_SIZE, None));
        assert_eq!(spans(&l), vec![(start, start + 3 * PAGE_SIZE, RW)]);
        // Shrink: the tail must be unmapped.
        assert_eq!(
            l.brk(start + PAGE_SIZE + 1),
            (
                start + PAGE_SIZE + 1,
                Some((start + 2 * PAGE_SIZE, start + 3 * PAGE_SIZE))
            )
        );
        assert_eq!(spans(&l), vec![(start, start + 2 * PAGE_SIZE, RW)]);
        // A mapping in the way: refused, break unchanged.
        mmap(
            &mut l,
            start + 4 * PAGE_SIZE,
            PAGE_SIZE,
            RW,
            ANON_PRIV | MAP_FIXED,
        )
        .unwrap();
        assert_eq!(l.brk(start + 5 * PAGE_SIZE), (start + PAGE_SIZE + 1, None));
        assert_eq!(l.brk(start + 4 * PAGE_SIZE), (start + 4 * PAGE_SIZE, None));
        // Back to the start: everything unmapped.
        assert_eq!(l.brk(start), (start, Some((start, start + 4 * PAGE_SIZE))));
        assert_eq!(
            spans(&l),
            vec![(start + 4 * PAGE_SIZE, start + 5 * PAGE_SIZE, RW)]
        );
        // Beyond user space.
        assert_eq!(l.brk(u64::MAX), (start, None));
    }

    #[test]
    fn brk_after_mprotect_of_the_heap_tail_adds_a_region() {
        let mut l = L::new();
        l.init_brk(0x60_0000).unwrap();
        l.brk(0x60_0000 + 2 * PAGE_SIZE);
        l.mprotect(0x60_1000, PAGE_SIZE, PROT_READ).unwrap();
        l.brk(0x60_0000 + 3 * PAGE_SIZE);
        assert_eq!(
            spans(&l),
            vec![
                (0x60_0000, 0x60_1000, RW),
                (0x60_1000, 0x60_2000, PROT_READ),
                (0x60_2000, 0x60_3000, RW),
            ]
        );
    }

    #[test]
    fn stack_and_image_regions() {
        let mut l = L::new();
        l.map_fixed(0x40_0000, 0x40_2000, Prot::RX, Tag::Image, Backing::Anon)
            .unwrap();
        assert_eq!(
            l.map_fixed(0x40_1000, 0x40_3000, Prot::RW, Tag::Image, Backing::Anon),
            Err(EEXIST)
        );
        assert_eq!(
            l.map_fixed(0x40_1001, 0x40_3000, Prot::RW, Tag::Image, Backing::Anon),
            Err(EINVAL)
        );
        let bottom = l.map_stack(USER_END, DEFAULT_STACK_SIZE).unwrap();
        let r = l.find(USER_END - 1).unwrap();
        assert_eq!((r.start, r.end, r.tag), (bottom, USER_END, Tag::Stack));
        assert!(l.find(bottom - 1).is_none());
        assert_eq!(l.mmap_base(), bottom - STACK_GAP);
        assert_eq!(l.find(0x40_1fff).unwrap().tag, Tag::Image);
    }

    #[test]
    fn image_backing_survives_splits() {
        let mut l: UserLayout<&'static [u8]> = UserLayout::new();
        let src: &'static [u8] = b"hello";
        l.map_fixed(
            0x40_0000,
            0x40_3000,
            Prot::RW,
            Tag::Image,
            Backing::Image {
                src,
                base: 0x40_0000,
            },
        )
        .unwrap();
        l.mprotect(0x40_1000, PAGE_SIZE, PROT_READ).unwrap();
        for r in l.regions().iter() {
            assert_eq!(
                r.backing,
                Backing::Image {
                    src,
                    base: 0x40_0000
                }
            );
        }
        assert_eq!(l.regions().len(), 3);
    }

    #[test]
    fn region_map_gap_search_edges() {
        let mut m: RegionMap<()> = RegionMap::new();
        let r = |s, e| Region {
            start: s,
            end: e,
            prot: Prot::RW,
            shared: false,
            tag: Tag::Mmap,
            backing: Backing::Anon,
        };
        assert!(m.insert(r(0x10000, 0x20000)));
        assert!(m.insert(r(0x30000, 0x40000)));
        assert!(!m.insert(r(0x1f000, 0x21000)));
        assert!(!m.insert(r(0x21000, 0x21000)));
        // Exact-fit gap between the two.
        assert_eq!(m.find_gap_top_down(0x10000, 0, 0x40000), Some(0x20000));
        assert_eq!(m.find_gap_top_down(0x10001, 0x10000, 0x40000), None);
        // Gap above everything.
        assert_eq!(m.find_gap_top_down(0x1000, 0, 0x50000), Some(0x4f000));
        // Below the first region, bounded by lo.
        assert_eq!(m.find_gap_top_down(0x8000, 0x8000, 0x20000), Some(0x8000));
        assert_eq!(m.find_gap_top_down(0x8001, 0x8000, 0x20000), None);
        // hi inside a region.
        assert_eq!(m.find_gap_top_down(0x1000, 0, 0x38000), Some(0x2f000));
        assert!(m.covers(0x10000, 0x20000));
        assert!(!m.covers(0x10000, 0x30001));
        assert!(m.covers(0x5000, 0x5000));
        let _ = PROT_EXEC;
    }
}
