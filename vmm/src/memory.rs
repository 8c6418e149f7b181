//! Guest RAM: where it is ([`RamLayout`]) and the host mapping backing it.
//!
//! RAM starts at GPA 0 and runs up to the 32-bit MMIO hole; whatever does not fit below the hole
//! is placed at 4 GiB. The mapping is fresh anonymous memory (`MAP_NORESERVE`), so the guest
//! sees zeroed RAM and nothing is committed before it is touched. This module knows nothing of
//! what is loaded into RAM, and does not register it with KVM (`kvm/` does).

use vm_memory::{GuestAddress, GuestMemoryMmap};

use crate::layout::{HIGH_RAM_START, MMIO_HOLE_START, RAM_START};

/// Errors creating guest memory.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The host could not map the guest's RAM.
    #[error("cannot map {size_mib} MiB of guest memory: {source}")]
    Map {
        /// Requested size in MiB.
        size_mib: u64,
        /// What vm-memory reported.
        #[source]
        source: vm_memory::mmap::FromRangesError,
    },
}

/// One contiguous range of guest RAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RamRange {
    /// First guest-physical address.
    pub start: u64,
    /// Length in bytes (never 0).
    pub len: u64,
}

impl RamRange {
    /// End (exclusive).
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
}

/// The guest-physical ranges of RAM for a given memory size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RamLayout {
    ranges: Vec<RamRange>,
}

impl RamLayout {
    /// Splits `mem_bytes` of RAM around the 32-bit MMIO hole.
    pub fn new(mem_bytes: u64) -> Self {
        let low = mem_bytes.min(MMIO_HOLE_START - RAM_START);
        let mut ranges = vec![RamRange {
            start: RAM_START,
            len: low,
        }];
        if mem_bytes > low {
            ranges.push(RamRange {
                start: HIGH_RAM_START,
                len: mem_bytes - low,
            });
        }
        RamLayout { ranges }
    }

    /// The RAM ranges, in address order.
    pub fn ranges(&self) -> &[RamRange] {
        &self.ranges
    }

    /// End (exclusive) of the RAM below the MMIO hole.
    pub fn low_end(&self) -> u64 {
        self.ranges[0].end()
    }

    /// Whether `[start, start + len)` lies entirely inside one RAM range (false on overflow).
    pub fn contains(&self, start: u64, len: u64) -> bool {
        let Some(end) = start.checked_add(len) else {
            return false;
        };
        self.ranges
            .iter()
            .any(|r| start >= r.start && end <= r.end())
    }

    /// Maps host memory for every range.
    pub fn create_guest_memory(&self) -> Result<GuestMemoryMmap, MemoryError> {
        let total: u64 = self.ranges.iter().map(|r| r.len).sum();
        let map_err = |source| MemoryError::Map {
            size_mib: total >> 20,
            source,
        };
        let ranges = self
            .ranges
            .iter()
            .map(|r| {
                usize::try_from(r.len)
                    .map(|len| (GuestAddress(r.start), len))
                    .map_err(|_| map_err(vm_memory::mmap::FromRangesError::InvalidGuestRegion))
            })
            .collect::<Result<Vec<_>, _>>()?;
        GuestMemoryMmap::from_ranges(&ranges).map_err(map_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vm_memory::{Bytes, GuestMemoryBackend};

    #[test]
    fn small_memory_is_one_range() {
        let l = RamLayout::new(256 << 20);
        assert_eq!(
            l.ranges(),
            &[RamRange {
                start: 0,
                len: 256 << 20
            }]
        );
        assert_eq!(l.low_end(), 256 << 20);
        assert!(l.contains(0x10_0000, 0x1000));
        assert!(!l.contains((256 << 20) - 1, 2));
        assert!(!l.contains(u64::MAX, 2));
    }

    #[test]
    fn large_memory_goes_above_4g() {
        let l = RamLayout::new(4 << 30);
        assert_eq!(
            l.ranges(),
            &[
                RamRange {
                    start: 0,
                    len: 0xc000_0000
                },
                RamRange {
                    start: 0x1_0000_0000,
                    len: 0x4000_0000
                },
            ]
        );
        assert_eq!(l.low_end(), 0xc000_0000);
        assert!(!l.contains(0xbfff_f000, 0x2000));
        assert!(l.contains(0x1_0000_0000, 0x1000));
    }

    #[test]
    fn exactly_the_hole_is_one_range() {
        let l = RamLayout::new(0xc000_0000);
        assert_eq!(l.ranges().len(), 1);
    }

    #[test]
    fn guest_memory_is_zeroed_and_bounded() {
        let mem = RamLayout::new(16 << 20).create_guest_memory().unwrap();
        assert_eq!(mem.last_addr(), GuestAddress((16 << 20) - 1));
        let v: u64 = mem.read_obj(GuestAddress(0x10_0000)).unwrap();
        assert_eq!(v, 0);
        assert!(mem.read_obj::<u8>(GuestAddress(16 << 20)).is_err());
    }
}
