//! Bounds-checked access to guest-physical memory for the inspector.
//!
//! Everything the inspector reads goes through [`GuestPhys`]: a read either fills the whole
//! buffer from guest RAM or fails (outside RAM, across a hole, overflowing addresses); it never
//! panics. [`GuestMemoryMmap`] implements it for real guests, so do the synthetic memories of
//! the tests.

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// Guest-physical memory as the inspector sees it.
pub trait GuestPhys {
    /// Fills `buf` from `[gpa, gpa + buf.len())`; `false` if any byte is not guest RAM.
    fn read_phys(&self, gpa: u64, buf: &mut [u8]) -> bool;
    /// Writes `data` at `gpa`; `false` if any byte is not guest RAM. Only the host-signal
    /// mailbox is ever written.
    fn write_phys(&self, gpa: u64, data: &[u8]) -> bool;

    /// A little-endian u32 at `gpa`.
    fn read_u32(&self, gpa: u64) -> Option<u32> {
        let mut b = [0u8; 4];
        self.read_phys(gpa, &mut b).then(|| u32::from_le_bytes(b))
    }

    /// A little-endian u64 at `gpa`.
    fn read_u64(&self, gpa: u64) -> Option<u64> {
        let mut b = [0u8; 8];
        self.read_phys(gpa, &mut b).then(|| u64::from_le_bytes(b))
    }
}

impl GuestPhys for GuestMemoryMmap {
    fn read_phys(&self, gpa: u64, buf: &mut [u8]) -> bool {
        if gpa.checked_add(buf.len() as u64).is_none() {
            return false;
        }
        self.read_slice(buf, GuestAddress(gpa)).is_ok()
    }

    fn write_phys(&self, gpa: u64, data: &[u8]) -> bool {
        if gpa.checked_add(data.len() as u64).is_none() {
            return false;
        }
        self.write_slice(data, GuestAddress(gpa)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded() {
        let mem = GuestMemoryMmap::<()>::from_ranges(&[
            (GuestAddress(0), 0x2000),
            (GuestAddress(0x10000), 0x1000),
        ])
        .unwrap();
        assert!(mem.write_phys(0x1ffc, &[1, 2, 3, 4]));
        assert_eq!(mem.read_u32(0x1ffc), Some(0x0403_0201));
        let mut b = [0u8; 8];
        assert!(!mem.read_phys(0x1ffc, &mut b), "runs into the hole");
        assert!(!mem.read_phys(0x3000, &mut b));
        assert!(!mem.read_phys(u64::MAX - 3, &mut b));
        assert!(!mem.write_phys(0x10ffe, &[0; 4]));
        assert_eq!(mem.read_u64(0x10ff8), Some(0));
    }
}
