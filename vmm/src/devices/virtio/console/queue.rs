//! Console queue processing, free of threads and file descriptors: the transmit queue drains
//! into any `Write`, the receive queue fills from a byte buffer, and used-buffer interrupts go
//! through [`SignalUsedQueue`]. Unit-tested with virtio-queue's mock rings.
//!
//! Both follow vmm-reference's notification loop, which cannot lose a wakeup: disable
//! notifications → pop chains → `add_used` → signal if `needs_notification` → repeat while
//! `enable_notification` reports that the driver added more meanwhile.
//!
//! Guest memory and descriptors are untrusted. A buffer outside guest memory or of the wrong
//! direction is skipped and logged, and its chain is still returned to the driver so the ring
//! keeps moving. A broken queue (unreadable ring, impossible available index, failed used-ring
//! write) is a [`QueueError`]: the device then needs a reset.

use std::collections::VecDeque;
use std::io::{self, Write};

use virtio_queue::{DescriptorChain, Queue, QueueOwnedT, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// Raises the used-buffer interrupt for a queue.
pub trait SignalUsedQueue {
    /// Signals that queue `index` has new used buffers.
    fn signal_used_queue(&self, index: u16);
}

/// A queue-level failure: the device must be reset before the queue is used again.
#[derive(Debug, thiserror::Error)]
#[error("virtqueue unusable: {0}")]
pub struct QueueError(#[from] virtio_queue::Error);

/// What one transmit pass did.
#[derive(Debug, Default)]
pub struct TxStats {
    /// Chains returned to the driver.
    pub chains: u32,
    /// Bytes written to the sink.
    pub bytes: u64,
    /// The first error the sink reported (its bytes are lost).
    pub write_error: Option<io::Error>,
}

/// Bytes copied from guest memory per step.
const CHUNK: usize = 4096;

/// The next available chain, or `None` when the driver has posted no more.
fn next_chain<'m>(
    queue: &mut Queue,
    mem: &'m GuestMemoryMmap,
) -> Result<Option<DescriptorChain<&'m GuestMemoryMmap>>, QueueError> {
    Ok(queue.iter(mem)?.next())
}

/// Drains the transmit queue into `out`.
pub fn process_transmitq(
    queue: &mut Queue,
    index: u16,
    mem: &GuestMemoryMmap,
    out: &mut dyn Write,
    signal: &dyn SignalUsedQueue,
) -> Result<TxStats, QueueError> {
    let mut stats = TxStats::default();
    let mut buf = [0u8; CHUNK];
    loop {
        queue.disable_notification(mem)?;
        while let Some(chain) = next_chain(queue, mem)? {
            let head = chain.head_index();
            for desc in chain {
                if desc.is_write_only() {
                    log::debug!("virtio-console: device-writable buffer on transmitq skipped");
                    continue;
                }
                let mut done = 0u64;
                let len = u64::from(desc.len());
                while done < len {
                    let n = (len - done).min(CHUNK as u64) as usize;
                    let Some(addr) = desc.addr().0.checked_add(done) else {
                        break;
                    };
                    if let Err(e) = mem.read_slice(&mut buf[..n], GuestAddress(addr)) {
                        log::debug!(
                            "virtio-console: transmit buffer {:#x}+{:#x} is not in guest memory ({e}); dropped",
                            desc.addr().0,
                            len
                        );
                        break;
                    }
                    if stats.write_error.is_none() {
                        match out.write_all(&buf[..n]) {
                            Ok(()) => stats.bytes += n as u64,
                            Err(e) => stats.write_error = Some(e),
                        }
                    }
                    done += n as u64;
                }
            }
            queue.add_used(mem, head, 0)?;
            stats.chains += 1;
            if queue.needs_notification(mem)? {
                signal.signal_used_queue(index);
            }
        }
        if !queue.enable_notification(mem)? {
            break;
        }
    }
    if stats.write_error.is_none() {
        if let Err(e) = out.flush() {
            stats.write_error = Some(e);
        }
    }
    Ok(stats)
}

/// Moves bytes from `input` into the driver's receive buffers; stops when either runs out.
/// Returns the number of bytes delivered.
pub fn process_receiveq(
    queue: &mut Queue,
    index: u16,
    mem: &GuestMemoryMmap,
    input: &mut VecDeque<u8>,
    signal: &dyn SignalUsedQueue,
) -> Result<u64, QueueError> {
    let mut delivered = 0u64;
    if input.is_empty() {
        return Ok(0);
    }
    loop {
        queue.disable_notification(mem)?;
        while !input.is_empty() {
            let Some(chain) = next_chain(queue, mem)? else {
                break;
            };
            let head = chain.head_index();
            let mut written = 0u32;
            for desc in chain {
                if input.is_empty() {
                    break;
                }
                if !desc.is_write_only() {
                    log::debug!("virtio-console: device-readable buffer on receiveq skipped");
                    continue;
                }
                let n = input.len().min(desc.len() as usize);
                let bytes = &input.make_contiguous()[..n];
                match mem.write_slice(bytes, desc.addr()) {
                    Ok(()) => {
                        input.drain(..n);
                        written += n as u32;
                    }
                    Err(e) => log::debug!(
                        "virtio-console: receive buffer {:#x}+{:#x} is not in guest memory ({e}); skipped",
                        desc.addr().0,
                        desc.len()
                    ),
                }
            }
            queue.add_used(mem, head, written)?;
            delivered += u64::from(written);
            if queue.needs_notification(mem)? {
                signal.signal_used_queue(index);
            }
        }
        // With input left over, wait for the driver's next buffers only if it has posted none
        // meanwhile; with no input left, leave notifications enabled and stop.
        if !queue.enable_notification(mem)? || input.is_empty() {
            break;
        }
    }
    Ok(delivered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use virtio_bindings::bindings::virtio_ring::{VRING_DESC_F_NEXT, VRING_DESC_F_WRITE};
    use virtio_queue::desc::{split::Descriptor as SplitDescriptor, RawDescriptor};
    use virtio_queue::mock::MockSplitQueue;

    #[derive(Default)]
    struct Signals(RefCell<Vec<u16>>);
    impl SignalUsedQueue for Signals {
        fn signal_used_queue(&self, index: u16) {
            self.0.borrow_mut().push(index);
        }
    }

    fn mem() -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x20_0000)]).unwrap()
    }

    fn desc(addr: u64, len: u32, flags: u32) -> RawDescriptor {
        RawDescriptor::from(SplitDescriptor::new(addr, len, flags as u16, 0))
    }

    fn used(vq: &MockSplitQueue<GuestMemoryMmap>) -> u16 {
        vq.used().idx().load()
    }

    #[test]
    fn transmit_single_and_chained_buffers() {
        let m = mem();
        let vq = MockSplitQueue::new(&m, 16);
        let mut q: Queue = vq.create_queue().unwrap();
        m.write_slice(b"hello ", GuestAddress(0x10_0000)).unwrap();
        m.write_slice(b"wor", GuestAddress(0x10_1000)).unwrap();
        m.write_slice(b"ld\n", GuestAddress(0x10_2000)).unwrap();
        vq.add_desc_chains(
            &[
                desc(0x10_0000, 6, 0),
                RawDescriptor::from(SplitDescriptor::new(
                    0x10_1000,
                    3,
                    VRING_DESC_F_NEXT as u16,
                    2,
                )),
                desc(0x10_2000, 3, 0),
            ],
            0,
        )
        .unwrap();
        let mut out = Vec::new();
        let sig = Signals::default();
        let stats = process_transmitq(&mut q, 1, &m, &mut out, &sig).unwrap();
        assert_eq!(out, b"hello world\n");
        assert_eq!(stats.chains, 2);
        assert_eq!(stats.bytes, 12);
        assert_eq!(used(&vq), 2);
        assert_eq!(*sig.0.borrow(), vec![1, 1]);
        // Nothing more: no output, no signal.
        let stats = process_transmitq(&mut q, 1, &m, &mut out, &sig).unwrap();
        assert_eq!(stats.chains, 0);
        assert_eq!(sig.0.borrow().len(), 2);
    }

    #[test]
    fn transmit_skips_bad_buffers_but_returns_chains() {
        let m = mem();
        let vq = MockSplitQueue::new(&m, 16);
        let mut q: Queue = vq.create_queue().unwrap();
        m.write_slice(b"ok", GuestAddress(0x10_0000)).unwrap();
        vq.add_desc_chains(
            &[
                desc(0x1_0000_0000, 16, 0),             // outside guest memory
                desc(0x1f_fff0, 0x100, 0),              // runs off the end of memory
                desc(0x10_0000, 2, VRING_DESC_F_WRITE), // wrong direction
                desc(u64::MAX - 1, 0xffff_ffff, 0),     // address overflow
                desc(0x10_0000, 2, 0),
            ],
            0,
        )
        .unwrap();
        let mut out = Vec::new();
        let stats = process_transmitq(&mut q, 1, &m, &mut out, &Signals::default()).unwrap();
        assert_eq!(stats.chains, 5);
        assert_eq!(used(&vq), 5);
        assert!(out.ends_with(b"ok"));
    }

    #[test]
    fn transmit_sink_errors_do_not_stall_the_queue() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let m = mem();
        let vq = MockSplitQueue::new(&m, 16);
        let mut q: Queue = vq.create_queue().unwrap();
        vq.add_desc_chains(&[desc(0x10_0000, 4, 0), desc(0x10_0000, 4, 0)], 0)
            .unwrap();
        let stats = process_transmitq(&mut q, 1, &m, &mut Broken, &Signals::default()).unwrap();
        assert_eq!(stats.chains, 2);
        assert!(stats.write_error.is_some());
        assert_eq!(used(&vq), 2);
    }

    #[test]
    fn bogus_avail_index_is_a_queue_error() {
        let m = mem();
        let vq = MockSplitQueue::new(&m, 16);
        let mut q: Queue = vq.create_queue().unwrap();
        vq.avail().idx().store(1000);
        let e = process_transmitq(&mut q, 1, &m, &mut Vec::new(), &Signals::default());
        assert!(e.is_err());
        let mut input: VecDeque<u8> = b"x".iter().copied().collect();
        let e = process_receiveq(&mut q, 0, &m, &mut input, &Signals::default());
        assert!(e.is_err());
    }

    #[test]
    fn queue_not_ready_is_a_queue_error() {
        let m = mem();
        let vq = MockSplitQueue::new(&m, 16);
        let mut q: Queue = vq.create_queue().unwrap();
        q.set_ready(false);
        assert!(process_transmitq(&mut q, 1, &m, &mut Vec::new(), &Signals::default()).is_err());
    }

    #[test]
    fn receive_fills_buffers_and_keeps_the_rest() {
        let m = mem();
        let vq = MockSplitQueue::new(&m, 16);
        let mut q: Queue = vq.create_queue().unwrap();
        let sig = Signals::default();
        let mut input: VecDeque<u8> = VecDeque::new();
        // No input: nothing is consumed even though buffers are posted.
        vq.add_desc_chains(
            &[
                desc(0x10_0000, 4, VRING_DESC_F_WRITE),
                desc(0x10_1000, 4, VRING_DESC_F_WRITE),
            ],
            0,
        )
        .unwrap();
        assert_eq!(
            process_receiveq(&mut q, 0, &m, &mut input, &sig).unwrap(),
            0
        );
        assert_eq!(used(&vq), 0);

        input.extend(b"0123456789");
        assert_eq!(
            process_receiveq(&mut q, 0, &m, &mut input, &sig).unwrap(),
            8
        );
        assert_eq!(used(&vq), 2);
        assert_eq!(input.iter().copied().collect::<Vec<_>>(), b"89");
        let mut got = [0u8; 4];
        m.read_slice(&mut got, GuestAddress(0x10_0000)).unwrap();
        assert_eq!(&got, b"0123");
        m.read_slice(&mut got, GuestAddress(0x10_1000)).unwrap();
        assert_eq!(&got, b"4567");
        let elem = vq.used().ring().ref_at(1).unwrap().load();
        assert_eq!(elem.len(), 4);
        assert_eq!(*sig.0.borrow(), vec![0, 0]);

        // The driver posts one more buffer: the rest arrives.
        vq.add_desc_chains(&[desc(0x10_2000, 16, VRING_DESC_F_WRITE)], 2)
            .unwrap();
        assert_eq!(
            process_receiveq(&mut q, 0, &m, &mut input, &sig).unwrap(),
            2
        );
        assert!(input.is_empty());
        assert_eq!(used(&vq), 3);
        assert_eq!(vq.used().ring().ref_at(2).unwrap().load().len(), 2);
    }

    #[test]
    fn receive_skips_bad_buffers() {
        let m = mem();
        let vq = MockSplitQueue::new(&m, 16);
        let mut q: Queue = vq.create_queue().unwrap();
        vq.add_desc_chains(
            &[
                desc(0x5000_0000, 4, VRING_DESC_F_WRITE), // outside guest memory
                desc(0x10_0000, 4, 0),                    // device-readable
                desc(0x10_1000, 4, VRING_DESC_F_WRITE),
            ],
            0,
        )
        .unwrap();
        let mut input: VecDeque<u8> = b"ab".iter().copied().collect();
        assert_eq!(
            process_receiveq(&mut q, 0, &m, &mut input, &Signals::default()).unwrap(),
            2
        );
        assert_eq!(used(&vq), 3);
        let mut got = [0u8; 2];
        m.read_slice(&mut got, GuestAddress(0x10_1000)).unwrap();
        assert_eq!(&got, b"ab");
    }
}
