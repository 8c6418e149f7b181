//! The dump-request port (`shared_abi::ports::DUMP_PORT`, 4 ports): the guest's way to ask for
//! a dump of itself.
//!
//! A write of any width is a request: the value written (little-endian, zero-extended) is the
//! request id, and the writing vCPU parks at once while the VMM pauses the others, dumps and
//! resumes (`vmm.rs`). A read returns the id of the last request dumped, so the guest can tell
//! that its request was served (the port only exists with `--dump-on request`; without it the
//! port is unclaimed and reads as all-ones, `DUMP_NOT_SERVED`, as under QEMU).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::bus::{written_value, BusDevice, WriteOutcome};

/// The dump port.
#[derive(Debug, Default)]
pub struct DumpPort {
    last_done: Arc<AtomicU32>,
}

impl DumpPort {
    /// A dump port whose reads return `last_done` (set by the VMM after each dump).
    pub fn new(last_done: Arc<AtomicU32>) -> Self {
        DumpPort { last_done }
    }
}

impl BusDevice for DumpPort {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        let v = self.last_done.load(Ordering::SeqCst).to_le_bytes();
        for (i, b) in data.iter_mut().enumerate() {
            *b = v.get(offset as usize + i).copied().unwrap_or(0);
        }
    }

    fn write(&mut self, _offset: u64, data: &[u8]) -> WriteOutcome {
        WriteOutcome::DumpRequest {
            id: written_value(data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_request_and_reads_report_the_last_dump() {
        let done = Arc::new(AtomicU32::new(0));
        let mut d = DumpPort::new(done.clone());
        assert_eq!(
            d.write(0, &7u32.to_le_bytes()),
            WriteOutcome::DumpRequest { id: 7 }
        );
        assert_eq!(d.write(0, &[9]), WriteOutcome::DumpRequest { id: 9 });
        done.store(0x0102_0304, Ordering::SeqCst);
        let mut r = [0u8; 4];
        d.read(0, &mut r);
        assert_eq!(u32::from_le_bytes(r), 0x0102_0304);
        let mut r = [0u8; 2];
        d.read(2, &mut r);
        assert_eq!(r, [0x02, 0x01]);
    }
}
