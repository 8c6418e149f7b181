//! The region map: a set of disjoint, page-aligned, non-empty `[start, end)` ranges of user
//! addresses, each with its protection, sharing, purpose ([`Tag`]) and backing.
//!
//! Kept in a `BTreeMap` keyed by start address: lookup, insertion and removal are
//! O(log n); a range operation is O(log n + k) for the k regions it touches. Finding a free
//! gap for a hint-less `mmap` is O(n) (Linux keeps the largest gap below each tree node to
//! make it O(log n); worth it only when processes have thousands of mappings).
//!
//! Regions are never merged: two adjacent `mmap`s stay two regions (Linux merges compatible
//! neighbours to save memory; here a region costs ~80 bytes). Splitting keeps the backing as
//! it is, which is why an image backing records the address its byte 0 maps to rather than an
//! offset relative to the region.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::{Prot, PAGE_SIZE};

/// What a region is for (for reports and for `brk`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tag {
    /// An `mmap` mapping.
    Mmap,
    /// The `brk` heap.
    Heap,
    /// A user stack reservation.
    Stack,
    /// A segment of the program image.
    Image,
}

/// Where a region's pages come from when first touched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backing<S> {
    /// Demand-zero memory.
    Anon,
    /// Bytes of `src` (kernel memory, e.g. an ELF segment inside the initrd): the page at
    /// user address `va` gets `src[va - base ..]`, zero-filled past the end of `src`.
    Image {
        /// The bytes (the kernel's handle on them).
        src: S,
        /// The user address byte 0 of `src` corresponds to.
        base: u64,
    },
}

/// One region `[start, end)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region<S> {
    /// First address (page-aligned).
    pub start: u64,
    /// One past the last address (page-aligned, > `start`).
    pub end: u64,
    /// Access rights.
    pub prot: Prot,
    /// `MAP_SHARED`: a later `fork` shares the pages instead of copying them on write.
    pub shared: bool,
    /// Purpose.
    pub tag: Tag,
    /// Where first-touched pages come from.
    pub backing: Backing<S>,
}

impl<S> Region<S> {
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Never true (regions are non-empty); here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Whether `addr` lies inside.
    pub fn contains(&self, addr: u64) -> bool {
        (self.start..self.end).contains(&addr)
    }
}

/// The regions of one address space.
#[derive(Clone, Debug)]
pub struct RegionMap<S> {
    map: BTreeMap<u64, Region<S>>,
}

impl<S> Default for RegionMap<S> {
    fn default() -> Self {
        Self {
            map: BTreeMap::new(),
        }
    }
}

impl<S: Clone> RegionMap<S> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of regions.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no regions.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The regions in address order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Region<S>> {
        self.map.values()
    }

    /// The region containing `addr`.
    pub fn find(&self, addr: u64) -> Option<&Region<S>> {
        self.map
            .range(..=addr)
            .next_back()
            .map(|(_, r)| r)
            .filter(|r| r.contains(addr))
    }

    /// Whether any region overlaps `[start, end)`.
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        if start >= end {
            return false;
        }
        if let Some((_, r)) = self.map.range(..start).next_back() {
            if r.end > start {
                return true;
            }
        }
        self.map.range(start..end).next().is_some()
    }

    /// Whether `[start, end)` is entirely covered by regions (no hole).
    pub fn covers(&self, start: u64, end: u64) -> bool {
        let mut cursor = start;
        let Some(first) = self.find(start) else {
            return start >= end;
        };
        cursor = cursor.max(first.end);
        if cursor >= end {
            return true;
        }
        for r in self.map.range(first.end..end).map(|(_, r)| r) {
            if cursor >= end {
                break;
            }
            if r.start != cursor {
                return false;
            }
            cursor = r.end;
        }
        cursor >= end
    }

    /// Adds `region`, which must not overlap any other (checked: `false` and no change if it
    /// does, or if it is empty or unaligned).
    pub fn insert(&mut self, region: Region<S>) -> bool {
        if region.start >= region.end
            || !region.start.is_multiple_of(PAGE_SIZE)
            || !region.end.is_multiple_of(PAGE_SIZE)
            || self.overlaps(region.start, region.end)
        {
            return false;
        }
        self.map.insert(region.start, region);
        true
    }

    /// Splits the region strictly containing `addr` (if any) in two at `addr`.
    fn split_at(&mut self, addr: u64) {
        let Some((&key, r)) = self.map.range_mut(..addr).next_back() else {
            return;
        };
        if r.end <= addr {
            return;
        }
        let mut upper = r.clone();
        r.end = addr;
        upper.start = addr;
        debug_assert!(key < addr);
        self.map.insert(addr, upper);
    }

    /// Removes everything in `[start, end)`, splitting regions that straddle its ends.
    /// Returns the sub-ranges that were mapped (their pages must now be unmapped), in order.
    pub fn remove_range(&mut self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut removed = Vec::new();
        if start >= end {
            return removed;
        }
        self.split_at(start);
        self.split_at(end);
        let keys: Vec<u64> = self.map.range(start..end).map(|(&k, _)| k).collect();
        for k in keys {
            if let Some(r) = self.map.remove(&k) {
                removed.push((r.start, r.end));
            }
        }
        removed
    }

    /// Sets the protection of `[start, end)`, which must be entirely covered by regions
    /// (`false` and no change otherwise), splitting regions at its ends.
    pub fn protect_range(&mut self, start: u64, end: u64, prot: Prot) -> bool {
        if !self.covers(start, end) {
            return false;
        }
        self.split_at(start);
        self.split_at(end);
        for (_, r) in self.map.range_mut(start..end) {
            r.prot = prot;
        }
        true
    }

    /// Changes the end of the region starting at `start` to `new_end` (grow or shrink, used
    /// by `brk`). The caller has checked that growing does not overlap the next region.
    pub fn set_end(&mut self, start: u64, new_end: u64) -> bool {
        match self.map.get_mut(&start) {
            Some(r) if new_end > r.start => {
                r.end = new_end;
                true
            }
            _ => false,
        }
    }

    /// The highest `len`-byte gap inside `[lo, hi)` (top-down first fit, as Linux's default
    /// mmap layout), returned as its start address.
    pub fn find_gap_top_down(&self, len: u64, lo: u64, hi: u64) -> Option<u64> {
        if len == 0 || hi <= lo || hi - lo < len {
            return None;
        }
        let mut top = hi;
        for r in self.map.range(..hi).map(|(_, r)| r).rev() {
            // The gap above this region: [max(r.end, lo), top).
            let gap_start = r.end.max(lo);
            if gap_start <= top && top - gap_start >= len {
                return Some(top - len);
            }
            top = top.min(r.start);
            if top <= lo || top - lo < len {
                return None;
            }
        }
        (top >= lo && top - lo >= len).then(|| top - len)
    }
}
