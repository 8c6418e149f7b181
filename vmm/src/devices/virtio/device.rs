//! The contract between a virtio device and its transport, and the device's interrupt line.
//!
//! # Lifecycle
//!
//! A device is created *inactive*, with its queues in their reset state. The transport lets the
//! driver configure the queues ([`VirtioDevice::queues_mut`]) and negotiate features, then, when
//! the driver sets `DRIVER_OK`, calls [`VirtioDevice::activate`] with the acknowledged features;
//! from then on the device processes its queues (from the event loop, not from the transport).
//! Writing 0 to the status register calls [`VirtioDevice::reset`], which returns the device to
//! the inactive state with fresh queues, dropping any buffers the driver had posted.
//!
//! # Invariants
//!
//! - Nothing the guest wrote is trusted: queue addresses are checked at activation, descriptors
//!   when they are used. A problem with a queue as a whole (unreadable ring, bogus avail index)
//!   makes the device report [`VirtioDevice::needs_reset`] (the transport shows it as
//!   `DEVICE_NEEDS_RESET` and a configuration-change interrupt is raised) and stop using the
//!   queue; a bad single buffer is dropped and logged.
//! - The device never knows its transport or its addresses; the transport never knows the
//!   device type beyond its id and its queue count.

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};

use virtio_bindings::virtio_mmio::{VIRTIO_MMIO_INT_CONFIG, VIRTIO_MMIO_INT_VRING};
use virtio_queue::Queue;
use vmm_sys_util::eventfd::EventFd;

/// Why an interrupt is raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrqKind {
    /// Used buffers were added to a queue.
    Vring,
    /// The configuration (or `DEVICE_NEEDS_RESET`) changed.
    Config,
}

/// A device's interrupt: the interrupt-status bits the driver reads and acknowledges, and the
/// `EventFd` that raises the line (an irqfd, registered by `kvm/`).
#[derive(Debug)]
pub struct IrqTrigger {
    status: AtomicU32,
    evt: EventFd,
}

impl IrqTrigger {
    /// An interrupt raised by writing `evt`.
    pub fn new(evt: EventFd) -> Self {
        IrqTrigger {
            status: AtomicU32::new(0),
            evt,
        }
    }

    /// Sets the status bit for `kind` and raises the line.
    pub fn trigger(&self, kind: IrqKind) -> io::Result<()> {
        let bit = match kind {
            IrqKind::Vring => VIRTIO_MMIO_INT_VRING,
            IrqKind::Config => VIRTIO_MMIO_INT_CONFIG,
        };
        self.status.fetch_or(bit, Ordering::SeqCst);
        self.evt.write(1)
    }

    /// The interrupt-status register.
    pub fn status(&self) -> u32 {
        self.status.load(Ordering::SeqCst)
    }

    /// Clears the acknowledged bits.
    pub fn ack(&self, bits: u32) {
        self.status.fetch_and(!bits, Ordering::SeqCst);
    }

    /// Clears every bit (device reset).
    pub fn clear(&self) {
        self.status.store(0, Ordering::SeqCst);
    }
}

/// Why a device refused to activate.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ActivateError {
    /// A queue the driver marked ready lies outside guest memory.
    #[error("queue {0} is marked ready but its rings are not in guest memory")]
    InvalidQueue(usize),
}

/// A virtio device as seen by a transport. See the module documentation for the lifecycle.
pub trait VirtioDevice: Send {
    /// Virtio device id (3 = console).
    fn device_type(&self) -> u32;
    /// The features the device offers (bit 32 = `VIRTIO_F_VERSION_1`).
    fn device_features(&self) -> u64;
    /// The virtqueues, indexed by queue number.
    fn queues(&self) -> &[Queue];
    /// The virtqueues, for the transport to configure before activation.
    fn queues_mut(&mut self) -> &mut [Queue];
    /// The device's interrupt.
    fn interrupt(&self) -> &IrqTrigger;
    /// Reads device-specific configuration at `offset` (out-of-range bytes read as 0).
    fn read_config(&self, offset: u64, data: &mut [u8]);
    /// Writes device-specific configuration at `offset` (out-of-range writes are ignored).
    fn write_config(&mut self, offset: u64, data: &[u8]);
    /// Goes live with the negotiated `features`.
    fn activate(&mut self, features: u64) -> Result<(), ActivateError>;
    /// Whether [`activate`](Self::activate) succeeded and no reset happened since.
    fn is_activated(&self) -> bool;
    /// Whether the device hit an error only a reset clears.
    fn needs_reset(&self) -> bool;
    /// Returns to the inactive state: queues reset, pending buffers forgotten.
    fn reset(&mut self);
    /// The driver notified `queue` through the register (not through the ioeventfd).
    fn notify(&mut self, queue: u32);
}
