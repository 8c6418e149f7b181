//! The instruction-count mark port (`shared_abi::ports::MARK_PORT`, 4 ports): a write of any
//! width is mark `id` (little-endian, zero-extended); the writing vCPU records its counters
//! (`crate::marks`). Reads return 0. The port exists only with `vmm run --marks`.

use crate::bus::{written_value, BusDevice, WriteOutcome};

/// The mark port.
#[derive(Debug, Default)]
pub struct MarkPort;

impl BusDevice for MarkPort {
    fn read(&mut self, _offset: u64, data: &mut [u8]) {
        data.fill(0);
    }

    fn write(&mut self, _offset: u64, data: &[u8]) -> WriteOutcome {
        WriteOutcome::Mark {
            id: written_value(data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_is_a_mark() {
        let mut p = MarkPort;
        assert_eq!(
            p.write(0, &5u32.to_le_bytes()),
            WriteOutcome::Mark { id: 5 }
        );
        assert_eq!(p.write(0, &[7]), WriteOutcome::Mark { id: 7 });
        let mut r = [0xffu8; 4];
        p.read(0, &mut r);
        assert_eq!(r, [0; 4]);
    }
}
