//! COM1: vm-superio's 16550A model on port 0x3f8, interrupting through an `EventFd`.
//!
//! Output goes to the `--serial` sink, flushed byte by byte so nothing is lost when the VM ends
//! abruptly. The interrupt line is an `EventFd` that `kvm/` registers as an irqfd for GSI 4;
//! this module does not know that. Guest input is not fed to the serial port (stdin goes to the
//! virtio console).

use std::fs::File;
use std::io::{self, Write};

use vm_superio::serial::NoEvents;
use vm_superio::{Serial, Trigger};
use vmm_sys_util::eventfd::EventFd;

use crate::bus::{BusDevice, WriteOutcome};
use crate::config::SerialOutput;

/// Number of ports the 16550 occupies.
pub const SERIAL_PORT_COUNT: u64 = 8;

/// Raises an interrupt by writing to an `EventFd`.
#[derive(Debug)]
pub struct EventFdTrigger(pub EventFd);

impl Trigger for EventFdTrigger {
    type E = io::Error;

    fn trigger(&self) -> io::Result<()> {
        self.0.write(1)
    }
}

/// A sink for guest output.
pub type OutputSink = Box<dyn Write + Send>;

/// Opens the `--serial` sink (creating or truncating a file).
pub fn open_output(sink: &SerialOutput) -> io::Result<OutputSink> {
    Ok(match sink {
        SerialOutput::Stderr => Box::new(io::stderr()),
        SerialOutput::Stdout => Box::new(io::stdout()),
        SerialOutput::Off => Box::new(io::sink()),
        SerialOutput::File(path) => Box::new(File::create(path)?),
    })
}

/// The COM1 device.
pub struct SerialDevice {
    serial: Serial<EventFdTrigger, NoEvents, OutputSink>,
    write_errors: u64,
}

impl SerialDevice {
    /// A 16550 writing to `out` and signalling `irq`.
    pub fn new(irq: EventFd, out: OutputSink) -> Self {
        SerialDevice {
            serial: Serial::new(EventFdTrigger(irq), out),
            write_errors: 0,
        }
    }
}

impl BusDevice for SerialDevice {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        for (i, b) in data.iter_mut().enumerate() {
            *b = self.serial.read((offset + i as u64) as u8);
        }
    }

    fn write(&mut self, offset: u64, data: &[u8]) -> WriteOutcome {
        for (i, b) in data.iter().enumerate() {
            if let Err(e) = self.serial.write((offset + i as u64) as u8, *b) {
                self.write_errors += 1;
                if self.write_errors == 1 {
                    log::warn!("serial output failed (further failures are not reported): {e:?}");
                }
            }
        }
        WriteOutcome::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn output_and_interrupt() {
        let out = Shared::default();
        let irq = EventFd::new(libc::EFD_NONBLOCK).unwrap();
        let mut dev = SerialDevice::new(irq.try_clone().unwrap(), Box::new(out.clone()));
        // Enable the THR-empty interrupt, then write "hi".
        dev.write(1, &[0x02]);
        dev.write(0, b"h");
        dev.write(0, b"i");
        assert_eq!(&*out.0.lock().unwrap(), b"hi");
        assert!(irq.read().unwrap() >= 1);
        // Line status: THR empty.
        let mut lsr = [0u8];
        dev.read(5, &mut lsr);
        assert_ne!(lsr[0] & 0x20, 0);
    }

    #[test]
    fn sinks_open() {
        assert!(open_output(&SerialOutput::Off).is_ok());
        assert!(open_output(&SerialOutput::File("/nonexistent/dir/x".into())).is_err());
    }
}
