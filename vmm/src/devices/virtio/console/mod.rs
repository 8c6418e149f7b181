//! The virtio console: queue numbers, feature bits and sizes; the device is in `device.rs`,
//! its queue processing in `queue.rs`, its event-loop glue in `event_handler.rs`.

pub mod device;
pub mod event_handler;
pub mod queue;

pub use device::Console;
pub use event_handler::ConsoleEventHandler;

/// The receive queue (host → guest).
pub const RECEIVEQ: usize = 0;
/// The transmit queue (guest → host).
pub const TRANSMITQ: usize = 1;
/// Largest queue size offered (QueueNumMax).
pub const QUEUE_MAX_SIZE: u16 = 256;
/// `VIRTIO_CONSOLE_F_EMERG_WRITE`: writes to `emerg_wr` are printed (offered; SIZE (bit 0)
/// and MULTIPORT (bit 1) are not).
pub const VIRTIO_CONSOLE_F_EMERG_WRITE: u32 = 2;
/// Size of `struct virtio_console_config`.
pub const CONFIG_SIZE: usize = 12;
