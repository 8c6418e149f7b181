//! The virtio console (device id 3), polled, single port.
//!
//! Port 0 only (no `VIRTIO_CONSOLE_F_MULTIPORT`): receiveq 0 and transmitq 1. The only feature
//! negotiated is `VIRTIO_F_VERSION_1`, which a modern (version 2) transport offers and must
//! get; a legacy (version 1) transport offers none of interest. Status negotiation is ours
//! ([`negotiate`], one status bit per write, as Linux does); `MmioTransport` and `VirtQueue`
//! do the per-version queue work (see the parent module).
//!
//! # Output
//!
//! [`VirtioConsole::write`] copies the bytes into a DMA page owned by the driver (so the
//! caller's buffer is never left in the device's hands), queues it on transmitq, notifies the
//! device and polls the used ring. The wait is bounded ([`TX_TIMEOUT_CYCLES`] TSC cycles): if
//! the host never consumes the buffer, the driver logs a warning on the serial log, keeps the
//! buffer reserved for the device, and drops console output (counting it) until a later write
//! finds the buffer used; then output resumes. The kernel never hangs on a host that does not
//! read its console.
//!
//! # Input
//!
//! One DMA page is kept posted on receiveq. [`VirtioConsole::try_read_byte`] polls the used
//! ring and hands out the bytes of a filled buffer one by one; the page is posted again once
//! all its bytes are consumed.
//!
//! There are no interrupts yet: both queues ask the device not to interrupt
//! (`VIRTQ_AVAIL_F_NO_INTERRUPT`).

use core::fmt;

use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::mmio::{MmioTransport, MmioVersion};
use virtio_drivers::transport::{DeviceStatus, Transport};
use virtio_drivers::Error;

use super::hal::KernelHal;
use super::MmioDeviceSpec;
use crate::arch::cpu::rdtsc;
use crate::arch::layout::PAGE_SIZE;
use crate::mm::dma::{self, Frames};

/// receiveq of port 0.
const RECEIVEQ: u16 = 0;
/// transmitq of port 0.
const TRANSMITQ: u16 = 1;
/// Descriptors per queue (one buffer is ever outstanding per queue; 2 is what every device
/// supports).
const QUEUE_SIZE: usize = 2;
/// How long a transmit may wait for the host, in TSC cycles (2^31: ~0.8 s at 2.6 GHz).
pub const TX_TIMEOUT_CYCLES: u64 = 1 << 31;

bitflags::bitflags! {
    /// The feature bits this driver knows.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Features: u64 {
        /// Console size in config space (not used).
        const SIZE = 1 << 0;
        /// Multiple ports (not used).
        const MULTIPORT = 1 << 1;
        /// Emergency write register (not used).
        const EMERG_WRITE = 1 << 2;
        /// A modern (virtio 1.x) device.
        const VERSION_1 = 1 << 32;
    }
}

/// A virtio console on a virtio-mmio transport.
pub struct VirtioConsole {
    spec: MmioDeviceSpec,
    transport: MmioTransport<'static>,
    receiveq: VirtQueue<KernelHal, QUEUE_SIZE>,
    transmitq: VirtQueue<KernelHal, QUEUE_SIZE>,
    rx_page: Frames,
    tx_page: Frames,
    /// The token of the posted receive buffer, if it is posted.
    rx_token: Option<u16>,
    /// Bytes of the last filled receive buffer, and how many were handed out.
    rx_len: usize,
    rx_pos: usize,
    /// A transmit the host has not consumed in time: its token and length.
    tx_stuck: Option<(u16, usize)>,
    /// Output bytes dropped because the host did not consume transmit buffers.
    dropped: u64,
}

// SAFETY: the DMA pages are owned by this driver alone (nothing else has their addresses but
// the device), so the driver may move between CPUs; MmioTransport and VirtQueue are Send.
unsafe impl Send for VirtioConsole {}

impl VirtioConsole {
    /// Initialises the device behind `transport` (which must be a console) and posts a
    /// receive buffer. On failure the device is left in the `FAILED` state.
    pub fn new(mut transport: MmioTransport<'static>, spec: MmioDeviceSpec) -> Result<Self, Error> {
        let result = negotiate(&mut transport).and_then(|()| Self::set_up(&mut transport));
        match result {
            Ok((receiveq, transmitq, rx_page, tx_page)) => {
                transport.finish_init();
                let mut console = Self {
                    spec,
                    transport,
                    receiveq,
                    transmitq,
                    rx_page,
                    tx_page,
                    rx_token: None,
                    rx_len: 0,
                    rx_pos: 0,
                    tx_stuck: None,
                    dropped: 0,
                };
                console.post_receive();
                Ok(console)
            }
            Err(e) => {
                transport.set_status(DeviceStatus::FAILED);
                Err(e)
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn set_up(
        transport: &mut MmioTransport<'static>,
    ) -> Result<
        (
            VirtQueue<KernelHal, QUEUE_SIZE>,
            VirtQueue<KernelHal, QUEUE_SIZE>,
            Frames,
            Frames,
        ),
        Error,
    > {
        let mut receiveq = VirtQueue::new(transport, RECEIVEQ, false, false)?;
        let mut transmitq = VirtQueue::new(transport, TRANSMITQ, false, false)?;
        receiveq.set_dev_notify(false);
        transmitq.set_dev_notify(false);
        let rx_page = dma::alloc_zeroed(1).ok_or(Error::DmaError)?;
        let tx_page = dma::alloc_zeroed(1).ok_or(Error::DmaError)?;
        Ok((receiveq, transmitq, rx_page, tx_page))
    }

    /// The transport version in use.
    pub fn version(&self) -> MmioVersion {
        self.transport.version()
    }

    /// The first `len` bytes of a driver-owned DMA page.
    fn page(frames: &Frames, len: usize) -> &'static mut [u8] {
        assert!(len <= PAGE_SIZE);
        // SAFETY: `frames` is one page from the DMA pool, owned by this driver for its whole
        // life (never freed); the device only accesses it between `add` and `pop_used`, and
        // callers only use the slice outside that window (or hand it to `add`/`pop_used`).
        unsafe { core::slice::from_raw_parts_mut(frames.virt.as_ptr(), len) }
    }

    /// Writes `bytes` to the console (see the module docs for what happens if the host does
    /// not consume them).
    pub fn write(&mut self, bytes: &[u8]) {
        if !self.reclaim_stuck_transmit() {
            self.dropped += bytes.len() as u64;
            return;
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = rest.len().min(PAGE_SIZE);
            let buf = Self::page(&self.tx_page, n);
            buf.copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            let inputs: [&[u8]; 1] = [buf];
            // SAFETY: the page stays valid and untouched by the driver until `pop_used` with
            // this token (here, or in `reclaim_stuck_transmit` after a timeout).
            let token = match unsafe { self.transmitq.add(&inputs, &mut []) } {
                Ok(t) => t,
                Err(e) => {
                    log::warn!("virtio console: cannot queue output: {e}");
                    self.dropped += (n + rest.len()) as u64;
                    return;
                }
            };
            if self.transmitq.should_notify() {
                self.transport.notify(TRANSMITQ);
            }
            let deadline = rdtsc().wrapping_add(TX_TIMEOUT_CYCLES);
            while !self.transmitq.can_pop() {
                if rdtsc().wrapping_sub(deadline) < u64::MAX / 2 {
                    self.tx_stuck = Some((token, n));
                    self.dropped += rest.len() as u64;
                    log::warn!(
                        "virtio console: host did not consume {n} bytes within {TX_TIMEOUT_CYCLES} TSC cycles; dropping console output until it does"
                    );
                    return;
                }
                core::hint::spin_loop();
            }
            // SAFETY: the same buffer as passed to `add` with this token.
            if let Err(e) = unsafe { self.transmitq.pop_used(token, &inputs, &mut []) } {
                log::warn!("virtio console: transmit completion: {e}");
            }
        }
    }

    /// If a transmit timed out earlier, completes it if the host has used it since. Returns
    /// whether the transmit page is free.
    fn reclaim_stuck_transmit(&mut self) -> bool {
        let Some((token, n)) = self.tx_stuck else {
            return true;
        };
        if !self.transmitq.can_pop() {
            return false;
        }
        let inputs: [&[u8]; 1] = [Self::page(&self.tx_page, n)];
        // SAFETY: the same buffer as passed to `add` with this token.
        if let Err(e) = unsafe { self.transmitq.pop_used(token, &inputs, &mut []) } {
            log::warn!("virtio console: late transmit completion: {e}");
        }
        self.tx_stuck = None;
        log::info!(
            "virtio console: host resumed consuming output ({} bytes dropped so far)",
            self.dropped
        );
        true
    }

    /// Posts the receive page on receiveq, unless it is already posted.
    fn post_receive(&mut self) {
        if self.rx_token.is_some() {
            return;
        }
        let mut outputs: [&mut [u8]; 1] = [Self::page(&self.rx_page, PAGE_SIZE)];
        // SAFETY: the page stays valid, and the driver does not touch it, until `pop_used`
        // with this token in `try_read_byte`.
        match unsafe { self.receiveq.add(&[], &mut outputs) } {
            Ok(token) => {
                self.rx_token = Some(token);
                if self.receiveq.should_notify() {
                    self.transport.notify(RECEIVEQ);
                }
            }
            Err(e) => log::warn!("virtio console: cannot post a receive buffer: {e}"),
        }
    }

    /// Returns the next input byte, if one has arrived (never waits).
    pub fn try_read_byte(&mut self) -> Option<u8> {
        loop {
            if self.rx_pos < self.rx_len {
                let byte = Self::page(&self.rx_page, self.rx_len)[self.rx_pos];
                self.rx_pos += 1;
                if self.rx_pos == self.rx_len {
                    self.post_receive();
                }
                return Some(byte);
            }
            let token = self.rx_token?;
            if !self.receiveq.can_pop() {
                return None;
            }
            let mut outputs: [&mut [u8]; 1] = [Self::page(&self.rx_page, PAGE_SIZE)];
            // SAFETY: the same buffer as passed to `add` with this token.
            let len = match unsafe { self.receiveq.pop_used(token, &[], &mut outputs) } {
                Ok(len) => len,
                Err(e) => {
                    log::warn!("virtio console: receive completion: {e}");
                    return None;
                }
            };
            self.rx_token = None;
            self.rx_len = (len as usize).min(PAGE_SIZE);
            self.rx_pos = 0;
            if self.rx_len == 0 {
                self.post_receive();
                return None;
            }
        }
    }
}

/// Device initialisation up to `FEATURES_OK` (virtio 1.2, 3.1.1), one status bit per write as
/// Linux does it (`virtio_dev_probe`): reset; ACKNOWLEDGE; DRIVER; read the device features,
/// write ours; FEATURES_OK and read it back (a modern device clears it if it refuses our
/// features); then the legacy page size (ignored by modern transports).
///
/// `Transport::begin_init` of `virtio-drivers` is not used: it sets ACKNOWLEDGE and DRIVER in
/// one write, which strict devices (the lwpvm VMM's) refuse as a skipped step, and it does not
/// read FEATURES_OK back.
fn negotiate(transport: &mut MmioTransport<'static>) -> Result<(), Error> {
    transport.set_status(DeviceStatus::empty());
    transport.set_status(DeviceStatus::ACKNOWLEDGE);
    transport.set_status(DeviceStatus::ACKNOWLEDGE | DeviceStatus::DRIVER);
    let offered = Features::from_bits_truncate(transport.read_device_features());
    // VERSION_1 is the only feature we take; a legacy device does not offer it.
    let wanted = offered & Features::VERSION_1;
    log::debug!("virtio console: device offers {offered:?}; driver takes {wanted:?}");
    transport.write_driver_features(wanted.bits());
    let features_ok = DeviceStatus::ACKNOWLEDGE | DeviceStatus::DRIVER | DeviceStatus::FEATURES_OK;
    transport.set_status(features_ok);
    if transport.version() == MmioVersion::Modern {
        if !wanted.contains(Features::VERSION_1) {
            log::warn!("virtio console: modern transport without VIRTIO_F_VERSION_1");
            return Err(Error::Unsupported);
        }
        if !transport.get_status().contains(DeviceStatus::FEATURES_OK) {
            log::warn!(
                "virtio console: the device did not accept our features (FEATURES_OK clear)"
            );
            return Err(Error::Unsupported);
        }
    }
    transport.set_guest_page_size(PAGE_SIZE as u32);
    Ok(())
}

impl fmt::Display for VirtioConsole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let version = match self.version() {
            MmioVersion::Legacy => 1,
            MmioVersion::Modern => 2,
        };
        write!(
            f,
            "virtio-console at {:#x} (irq {}, virtio-mmio v{version})",
            self.spec.base, self.spec.irq
        )
    }
}
