//! Address-range dispatch for port I/O and MMIO: which device answers an access.
//!
//! A [`Bus`] maps non-overlapping `[base, base + len)` ranges to devices and hands each access
//! to its device with the offset into the range. It knows ranges, not registers: what an offset
//! means is the device's business. An access that is not entirely inside one range is
//! *unhandled*; the caller (the vCPU exit handler) decides what the guest sees for it.
//!
//! Devices are shared between vCPU threads behind a `Mutex`; the bus itself is immutable once
//! built and is shared through an `Arc`.

use std::sync::{Arc, Mutex};

use crate::sync::lock;

/// The value a guest wrote to a command port (exit, dump, mark): the bytes of a write of any
/// width, little-endian, zero-extended to 32 bits (bytes past the fourth are ignored).
pub fn written_value(data: &[u8]) -> u32 {
    let mut bytes = [0u8; 4];
    let n = data.len().min(4);
    bytes[..n].copy_from_slice(&data[..n]);
    u32::from_le_bytes(bytes)
}

/// What a device asks of the vCPU after handling a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Carry on running the guest.
    Continue,
    /// End the VM: the guest reported `status` (the exit port).
    ExitVm {
        /// The 32-bit value the guest wrote.
        status: u32,
    },
    /// Pause the VM and dump it: the guest wrote request `id` to the dump port.
    DumpRequest {
        /// The 32-bit request id the guest wrote.
        id: u32,
    },
    /// Record the writing vCPU's instruction counters: the guest wrote mark `id`.
    Mark {
        /// The 32-bit mark id the guest wrote.
        id: u32,
    },
}

/// A device on a bus. `offset` is relative to the device's base, and `offset + data.len()` is
/// always within the range the device was inserted with.
pub trait BusDevice: Send {
    /// Fills `data` for a guest read.
    fn read(&mut self, offset: u64, data: &mut [u8]);
    /// Handles a guest write.
    fn write(&mut self, offset: u64, data: &[u8]) -> WriteOutcome;
}

/// Errors building a bus.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BusError {
    /// Two devices claim overlapping ranges.
    #[error("{bus} range {base:#x}+{len:#x} overlaps an existing device")]
    Overlap {
        /// Which bus.
        bus: &'static str,
        /// The new range's base.
        base: u64,
        /// The new range's length.
        len: u64,
    },
    /// Empty or wrapping range.
    #[error("{bus} range {base:#x}+{len:#x} is empty or wraps around")]
    BadRange {
        /// Which bus.
        bus: &'static str,
        /// The range's base.
        base: u64,
        /// The range's length.
        len: u64,
    },
}

struct BusEntry {
    base: u64,
    len: u64,
    device: Arc<Mutex<dyn BusDevice>>,
}

/// A set of devices keyed by address range.
pub struct Bus {
    name: &'static str,
    entries: Vec<BusEntry>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ranges: Vec<_> = self
            .entries
            .iter()
            .map(|e| format!("{:#x}+{:#x}", e.base, e.len))
            .collect();
        f.debug_struct("Bus")
            .field("name", &self.name)
            .field("ranges", &ranges)
            .finish()
    }
}

impl Bus {
    /// An empty bus called `name` (for messages: "pio", "mmio").
    pub fn new(name: &'static str) -> Self {
        Bus {
            name,
            entries: Vec::new(),
        }
    }

    /// The bus's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Adds `device` at `[base, base + len)`.
    pub fn insert(
        &mut self,
        base: u64,
        len: u64,
        device: Arc<Mutex<dyn BusDevice>>,
    ) -> Result<(), BusError> {
        let bus = self.name;
        let end = base
            .checked_add(len)
            .filter(|_| len > 0)
            .ok_or(BusError::BadRange { bus, base, len })?;
        if self
            .entries
            .iter()
            .any(|e| base < e.base + e.len && e.base < end)
        {
            return Err(BusError::Overlap { bus, base, len });
        }
        let at = self.entries.partition_point(|e| e.base < base);
        self.entries.insert(at, BusEntry { base, len, device });
        Ok(())
    }

    /// The entry whose range holds all of `[addr, addr + len)`, with the offset into it.
    fn resolve(&self, addr: u64, len: usize) -> Option<(&BusEntry, u64)> {
        let idx = self
            .entries
            .partition_point(|e| e.base <= addr)
            .checked_sub(1)?;
        let e = &self.entries[idx];
        let offset = addr - e.base;
        let end = offset.checked_add(len as u64)?;
        (end <= e.len).then_some((e, offset))
    }

    /// Dispatches a read; returns false (leaving `data` alone) if no device handles it.
    pub fn read(&self, addr: u64, data: &mut [u8]) -> bool {
        match self.resolve(addr, data.len()) {
            Some((e, offset)) => {
                lock(&e.device).read(offset, data);
                true
            }
            None => false,
        }
    }

    /// Dispatches a write; returns `None` if no device handles it.
    pub fn write(&self, addr: u64, data: &[u8]) -> Option<WriteOutcome> {
        let (e, offset) = self.resolve(addr, data.len())?;
        Some(lock(&e.device).write(offset, data))
    }
}

/// The two buses a vCPU dispatches its I/O exits to.
#[derive(Debug)]
pub struct IoBuses {
    /// Port I/O (`in`/`out`).
    pub pio: Bus,
    /// Memory-mapped I/O outside guest RAM.
    pub mmio: Bus,
}

impl Default for IoBuses {
    fn default() -> Self {
        IoBuses {
            pio: Bus::new("port"),
            mmio: Bus::new("MMIO"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records accesses; reads return the offset as bytes.
    #[derive(Default)]
    struct Recorder {
        writes: Vec<(u64, Vec<u8>)>,
    }

    impl BusDevice for Recorder {
        fn read(&mut self, offset: u64, data: &mut [u8]) {
            data.fill(offset as u8);
        }
        fn write(&mut self, offset: u64, data: &[u8]) -> WriteOutcome {
            self.writes.push((offset, data.to_vec()));
            WriteOutcome::Continue
        }
    }

    #[test]
    fn dispatch_by_range() {
        let a = Arc::new(Mutex::new(Recorder::default()));
        let b = Arc::new(Mutex::new(Recorder::default()));
        let mut bus = Bus::new("pio");
        bus.insert(0x3f8, 8, a.clone()).unwrap();
        bus.insert(0xf4, 4, b.clone()).unwrap();

        let mut d = [0u8; 1];
        assert!(bus.read(0x3fd, &mut d));
        assert_eq!(d, [5]);
        assert_eq!(bus.write(0xf4, &[1, 2, 3, 4]), Some(WriteOutcome::Continue));
        assert_eq!(b.lock().unwrap().writes, vec![(0, vec![1, 2, 3, 4])]);
        assert_eq!(bus.write(0x3f8, b"x"), Some(WriteOutcome::Continue));
        assert_eq!(a.lock().unwrap().writes, vec![(0, vec![b'x'])]);
    }

    #[test]
    fn unhandled_accesses() {
        let mut bus = Bus::new("pio");
        bus.insert(0xf4, 4, Arc::new(Mutex::new(Recorder::default())))
            .unwrap();
        let mut d = [0xaau8; 4];
        assert!(!bus.read(0x80, &mut d));
        assert_eq!(d, [0xaa; 4], "unhandled reads leave data alone");
        assert_eq!(bus.write(0xf3, &[0]), None);
        assert_eq!(bus.write(0xf8, &[0]), None);
        // Straddling the end of the range.
        assert_eq!(bus.write(0xf6, &[0; 4]), None);
        assert!(!bus.read(u64::MAX, &mut d));
        assert_eq!(bus.write(0xf7, &[0]), Some(WriteOutcome::Continue));
    }

    #[test]
    fn insert_rejects_overlap_and_bad_ranges() {
        let dev = || Arc::new(Mutex::new(Recorder::default()));
        let mut bus = Bus::new("mmio");
        bus.insert(0x1000, 0x1000, dev()).unwrap();
        assert!(matches!(
            bus.insert(0x1fff, 2, dev()),
            Err(BusError::Overlap { .. })
        ));
        assert!(matches!(
            bus.insert(0x0, 0x1001, dev()),
            Err(BusError::Overlap { .. })
        ));
        assert!(matches!(
            bus.insert(0x5000, 0, dev()),
            Err(BusError::BadRange { .. })
        ));
        assert!(matches!(
            bus.insert(u64::MAX, 2, dev()),
            Err(BusError::BadRange { .. })
        ));
        bus.insert(0x2000, 0x1000, dev()).unwrap();
        bus.insert(0x0, 0x1000, dev()).unwrap();
        let mut d = [0u8; 4];
        assert!(bus.read(0x2ffc, &mut d));
        assert_eq!(d, [0xfc; 4]);
    }
}
