//! The virtio console device (virtio 1.2 §5.3): one port, no multiport, two queues.
//!
//! Offers `VIRTIO_F_VERSION_1` and `VIRTIO_CONSOLE_F_EMERG_WRITE`. The configuration space is
//! `{ cols: u16, rows: u16, max_nr_ports: u32, emerg_wr: u32 }` = {80, 25, 1, 0}; cols/rows are
//! informational only (`VIRTIO_CONSOLE_F_SIZE` is not offered), and a write to `emerg_wr` prints
//! its low byte at once, even before the device is activated.
//!
//! Output (transmitq) goes to the VMM's stdout, flushed after every pass; input (receiveq) comes
//! from [`Console::push_input`] and is buffered (up to [`MAX_PENDING_INPUT`] bytes) while the
//! driver has posted no receive buffers. The device does not read stdin or know epoll
//! (`event_handler.rs` does) and does not know its transport.

use std::collections::VecDeque;
use std::io::{self, Write};

use virtio_queue::{Queue, QueueT};
use vm_memory::GuestMemoryMmap;
use vmm_sys_util::eventfd::EventFd;

use super::queue::{process_receiveq, process_transmitq, SignalUsedQueue};
use super::{CONFIG_SIZE, QUEUE_MAX_SIZE, RECEIVEQ, TRANSMITQ, VIRTIO_CONSOLE_F_EMERG_WRITE};
use crate::devices::serial::OutputSink;
use crate::devices::virtio::device::{ActivateError, IrqKind, IrqTrigger, VirtioDevice};
use crate::devices::virtio::VIRTIO_F_VERSION_1;

/// Virtio device id of a console.
pub const VIRTIO_ID_CONSOLE: u32 = 3;
/// Most input bytes buffered while the guest reads none; older bytes are kept, newer dropped.
pub const MAX_PENDING_INPUT: usize = 64 * 1024;
/// Columns reported in the configuration space.
pub const CONSOLE_COLS: u16 = 80;
/// Rows reported in the configuration space.
pub const CONSOLE_ROWS: u16 = 25;
/// Offset of `emerg_wr` in the configuration space.
const EMERG_WR_OFFSET: u64 = 8;

/// The console device.
pub struct Console {
    mem: GuestMemoryMmap,
    queues: Vec<Queue>,
    queue_evts: [EventFd; 2],
    irq: IrqTrigger,
    output: OutputSink,
    output_failed: bool,
    input: VecDeque<u8>,
    dropped_input: u64,
    activated: bool,
    needs_reset: bool,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("activated", &self.activated)
            .field("needs_reset", &self.needs_reset)
            .field("pending_input", &self.input.len())
            .finish()
    }
}

impl SignalUsedQueue for IrqTrigger {
    fn signal_used_queue(&self, index: u16) {
        if let Err(e) = self.trigger(IrqKind::Vring) {
            log::warn!("virtio-console: cannot raise the interrupt for queue {index}: {e}");
        }
    }
}

impl Console {
    /// A console over `mem`, interrupting through `irq_evt` and writing to `output`.
    pub fn new(mem: GuestMemoryMmap, irq_evt: EventFd, output: OutputSink) -> io::Result<Self> {
        let new_queue = || {
            Queue::new(QUEUE_MAX_SIZE)
                .map_err(|e| io::Error::other(format!("cannot create a virtqueue: {e}")))
        };
        Ok(Console {
            mem,
            queues: vec![new_queue()?, new_queue()?],
            queue_evts: [
                EventFd::new(libc::EFD_NONBLOCK)?,
                EventFd::new(libc::EFD_NONBLOCK)?,
            ],
            irq: IrqTrigger::new(irq_evt),
            output,
            output_failed: false,
            input: VecDeque::new(),
            dropped_input: 0,
            activated: false,
            needs_reset: false,
        })
    }

    /// The notification `EventFd` of queue `index` (0 = receiveq, 1 = transmitq).
    pub fn queue_evt(&self, index: usize) -> Option<&EventFd> {
        self.queue_evts.get(index)
    }

    fn fail(&mut self, what: &str, e: impl std::fmt::Display) {
        log::warn!("virtio-console: {what}: {e}; the device needs a reset");
        self.needs_reset = true;
        if let Err(e) = self.irq.trigger(IrqKind::Config) {
            log::warn!("virtio-console: cannot raise the configuration interrupt: {e}");
        }
    }

    fn usable(&self) -> bool {
        self.activated && !self.needs_reset
    }

    /// Writes whatever the guest has put on the transmit queue to the output.
    pub fn process_transmitq(&mut self) {
        if !self.usable() || !self.queues[TRANSMITQ].ready() {
            return;
        }
        match process_transmitq(
            &mut self.queues[TRANSMITQ],
            TRANSMITQ as u16,
            &self.mem,
            &mut self.output,
            &self.irq,
        ) {
            Ok(stats) => {
                if let Some(e) = stats.write_error {
                    if !self.output_failed {
                        self.output_failed = true;
                        log::warn!(
                            "console output failed (further failures are not reported): {e}"
                        );
                    }
                }
            }
            Err(e) => self.fail("transmitq", e),
        }
    }

    /// Hands pending input to the guest's receive buffers.
    pub fn process_receiveq(&mut self) {
        if !self.usable() || !self.queues[RECEIVEQ].ready() {
            return;
        }
        if let Err(e) = process_receiveq(
            &mut self.queues[RECEIVEQ],
            RECEIVEQ as u16,
            &self.mem,
            &mut self.input,
            &self.irq,
        ) {
            self.fail("receiveq", e);
        }
    }

    /// Queues host input for the guest and delivers what it has room for.
    pub fn push_input(&mut self, bytes: &[u8]) {
        let room = MAX_PENDING_INPUT.saturating_sub(self.input.len());
        let take = bytes.len().min(room);
        self.input.extend(&bytes[..take]);
        if take < bytes.len() {
            if self.dropped_input == 0 {
                log::warn!("virtio-console: guest is not reading its input; dropping input beyond {MAX_PENDING_INPUT} bytes");
            }
            self.dropped_input += (bytes.len() - take) as u64;
        }
        self.process_receiveq();
    }

    /// Bytes of input waiting for the guest.
    #[cfg(test)]
    pub fn pending_input(&self) -> usize {
        self.input.len()
    }

    fn config_bytes(&self) -> [u8; CONFIG_SIZE] {
        let mut c = [0u8; CONFIG_SIZE];
        c[0..2].copy_from_slice(&CONSOLE_COLS.to_le_bytes());
        c[2..4].copy_from_slice(&CONSOLE_ROWS.to_le_bytes());
        c[4..8].copy_from_slice(&1u32.to_le_bytes());
        c
    }
}

impl VirtioDevice for Console {
    fn device_type(&self) -> u32 {
        VIRTIO_ID_CONSOLE
    }

    fn device_features(&self) -> u64 {
        (1 << VIRTIO_F_VERSION_1) | (1 << VIRTIO_CONSOLE_F_EMERG_WRITE)
    }

    fn queues(&self) -> &[Queue] {
        &self.queues
    }

    fn queues_mut(&mut self) -> &mut [Queue] {
        &mut self.queues
    }

    fn interrupt(&self) -> &IrqTrigger {
        &self.irq
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        let config = self.config_bytes();
        for (i, b) in data.iter_mut().enumerate() {
            *b = usize::try_from(offset)
                .ok()
                .and_then(|o| o.checked_add(i))
                .and_then(|o| config.get(o))
                .copied()
                .unwrap_or(0);
        }
    }

    fn write_config(&mut self, offset: u64, data: &[u8]) {
        if offset == EMERG_WR_OFFSET && !data.is_empty() {
            // The low byte of the written value is the character.
            let _ = self.output.write_all(&data[..1]);
            let _ = self.output.flush();
        } else {
            log::debug!(
                "virtio-console: write of {} bytes to read-only config offset {offset:#x} ignored",
                data.len()
            );
        }
    }

    fn activate(&mut self, _features: u64) -> Result<(), ActivateError> {
        // A queue the driver left disabled is simply never used.
        for (i, q) in self.queues.iter().enumerate() {
            if q.ready() && !q.is_valid(&self.mem) {
                return Err(ActivateError::InvalidQueue(i));
            }
        }
        self.activated = true;
        // Input that arrived before the driver was ready.
        self.process_receiveq();
        Ok(())
    }

    fn is_activated(&self) -> bool {
        self.activated
    }

    fn needs_reset(&self) -> bool {
        self.needs_reset
    }

    fn reset(&mut self) {
        for q in &mut self.queues {
            q.reset();
        }
        self.activated = false;
        self.needs_reset = false;
    }

    fn notify(&mut self, queue: u32) {
        match self.queue_evts.get(queue as usize) {
            Some(evt) => {
                if let Err(e) = evt.write(1) {
                    log::warn!("virtio-console: cannot signal queue {queue}: {e}");
                }
            }
            None => log::debug!("virtio-console: notify of nonexistent queue {queue} ignored"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use virtio_bindings::bindings::virtio_ring::VRING_DESC_F_WRITE;
    use virtio_queue::desc::{split::Descriptor as SplitDescriptor, RawDescriptor};
    use virtio_queue::mock::MockSplitQueue;
    use vm_memory::{Bytes, GuestAddress};

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

    fn console() -> (Console, Shared, EventFd, GuestMemoryMmap) {
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x40_0000)]).unwrap();
        let out = Shared::default();
        let irq = EventFd::new(libc::EFD_NONBLOCK).unwrap();
        let c = Console::new(mem.clone(), irq.try_clone().unwrap(), Box::new(out.clone())).unwrap();
        (c, out, irq, mem)
    }

    fn desc(addr: u64, len: u32, flags: u32) -> RawDescriptor {
        RawDescriptor::from(SplitDescriptor::new(addr, len, flags as u16, 0))
    }

    #[test]
    fn config_space() {
        let (mut c, out, _, _) = console();
        let mut b = [0u8; 12];
        c.read_config(0, &mut b);
        assert_eq!(b, [80, 0, 25, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        let mut b = [0xffu8; 4];
        c.read_config(10, &mut b);
        assert_eq!(b, [0, 0, 0, 0]);
        c.read_config(u64::MAX, &mut b);
        assert_eq!(b, [0; 4]);
        c.write_config(8, &u32::from(b'!').to_le_bytes());
        c.write_config(0, &[1, 2]);
        assert_eq!(&*out.0.lock().unwrap(), b"!");
    }

    #[test]
    fn activation_checks_queues() {
        let (mut c, _, _, _) = console();
        for q in c.queues_mut() {
            q.set_desc_table_address(Some(0x1000), None);
            q.set_avail_ring_address(Some(0x2000), None);
            q.set_used_ring_address(Some(0x3000), None);
            q.set_ready(true);
        }
        c.queues_mut()[1].set_used_ring_address(Some(0xffff_f000), Some(0xff));
        assert_eq!(c.activate(0), Err(ActivateError::InvalidQueue(1)));
        c.queues_mut()[1].set_used_ring_address(Some(0x3000), Some(0));
        assert_eq!(c.activate(0), Ok(()));
        assert!(c.is_activated());
        c.reset();
        assert!(!c.is_activated());
        assert!(!c.queues()[0].ready());
        // No queue enabled: nothing to check, nothing used.
        assert_eq!(c.activate(0), Ok(()));
        c.process_transmitq();
        c.push_input(b"x");
        assert_eq!(c.pending_input(), 1);
    }

    #[test]
    fn end_to_end_with_mock_queues() {
        let (mut c, out, irq, mem) = console();
        let rxq = MockSplitQueue::create(&mem, GuestAddress(0x1_0000), 16);
        let txq = MockSplitQueue::create(&mem, GuestAddress(0x2_0000), 16);
        c.queues[RECEIVEQ] = rxq.create_queue().unwrap();
        c.queues[TRANSMITQ] = txq.create_queue().unwrap();

        // Input before activation is buffered.
        c.push_input(b"hi");
        assert_eq!(c.pending_input(), 2);
        c.activate(1 << 32).unwrap();
        assert_eq!(c.pending_input(), 2, "no receive buffers yet");

        rxq.add_desc_chains(&[desc(0x10_0000, 64, VRING_DESC_F_WRITE)], 0)
            .unwrap();
        c.process_receiveq();
        assert_eq!(c.pending_input(), 0);
        let mut got = [0u8; 2];
        mem.read_slice(&mut got, GuestAddress(0x10_0000)).unwrap();
        assert_eq!(&got, b"hi");
        assert!(irq.read().unwrap() >= 1);
        assert_eq!(c.interrupt().status() & 1, 1);

        mem.write_slice(b"out\n", GuestAddress(0x11_0000)).unwrap();
        txq.add_desc_chains(&[desc(0x11_0000, 4, 0)], 0).unwrap();
        c.process_transmitq();
        assert_eq!(&*out.0.lock().unwrap(), b"out\n");
    }

    #[test]
    fn broken_queue_needs_reset() {
        let (mut c, _, irq, mem) = console();
        let txq = MockSplitQueue::create(&mem, GuestAddress(0x2_0000), 16);
        let rxq = MockSplitQueue::create(&mem, GuestAddress(0x1_0000), 16);
        c.queues[RECEIVEQ] = rxq.create_queue().unwrap();
        c.queues[TRANSMITQ] = txq.create_queue().unwrap();
        c.activate(1 << 32).unwrap();
        txq.avail().idx().store(5000);
        c.process_transmitq();
        assert!(c.needs_reset());
        assert_eq!(c.interrupt().status() & 2, 2);
        assert!(irq.read().unwrap() >= 1);
        // Further processing is refused until reset.
        c.process_transmitq();
        c.reset();
        assert!(!c.needs_reset());
    }

    #[test]
    fn input_is_bounded() {
        let (mut c, _, _, _) = console();
        c.push_input(&vec![b'a'; MAX_PENDING_INPUT + 10]);
        assert_eq!(c.pending_input(), MAX_PENDING_INPUT);
        c.push_input(b"more");
        assert_eq!(c.pending_input(), MAX_PENDING_INPUT);
    }

    #[test]
    fn notify_signals_the_queue_eventfd() {
        let (mut c, _, _, _) = console();
        c.notify(1);
        assert_eq!(c.queue_evt(1).unwrap().read().unwrap(), 1);
        c.notify(7);
        assert!(c.queue_evt(7).is_none());
    }
}
