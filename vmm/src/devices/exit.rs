//! The exit port (QEMU's `isa-debug-exit` at 0xf4, 4 ports): the guest's way to end the VM.
//!
//! A write of any width to any of the four ports ends the VM; the value written (little-endian,
//! zero-extended) is the guest's status, and the VMM exits with `status & 0xff`. Reads return 0.
//! The device only reports the request; stopping vCPUs is the VMM's job.

use crate::bus::{written_value, BusDevice, WriteOutcome};

/// The exit device.
#[derive(Debug, Default)]
pub struct ExitDevice;

impl BusDevice for ExitDevice {
    fn read(&mut self, _offset: u64, data: &mut [u8]) {
        data.fill(0);
    }

    fn write(&mut self, _offset: u64, data: &[u8]) -> WriteOutcome {
        WriteOutcome::ExitVm {
            status: written_value(data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_write_ends_the_vm_with_its_value() {
        let mut d = ExitDevice;
        assert_eq!(
            d.write(0, &42u32.to_le_bytes()),
            WriteOutcome::ExitVm { status: 42 }
        );
        assert_eq!(d.write(0, &[7]), WriteOutcome::ExitVm { status: 7 });
        assert_eq!(
            d.write(2, &[0x34, 0x12]),
            WriteOutcome::ExitVm { status: 0x1234 }
        );
        assert_eq!(d.write(0, &[]), WriteOutcome::ExitVm { status: 0 });
        let mut r = [0xffu8; 4];
        d.read(0, &mut r);
        assert_eq!(r, [0; 4]);
    }
}
