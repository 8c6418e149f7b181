//! Device models: the 16550 serial port, the exit port, the dump-request port and virtio-mmio devices.
//!
//! Devices are KVM-agnostic: they see offsets and bytes through [`crate::bus::BusDevice`] and
//! raise interrupts by writing `EventFd`s that `kvm/` registers as irqfds.

pub mod dump_port;
pub mod exit;
pub mod mark_port;
pub mod serial;
pub mod virtio;
