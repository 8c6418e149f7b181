//! Device drivers. They know devices, not processes.
//!
//! - [`serial`]: the 16550 UART at COM1 (kernel log, fallback console);
//! - [`virtio`]: virtio-mmio discovery from the command line and the console device.
//!
//! The exit device is a single port write and lives in `arch::cpu::exit`.

pub mod serial;
#[allow(unsafe_code)]
pub mod virtio;
