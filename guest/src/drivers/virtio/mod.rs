//! virtio-mmio devices: discovery from the command line, and the drivers.
//!
//! Hosts announce virtio-mmio devices on the kernel command line in Linux's syntax,
//! `virtio_mmio.device=<size>@<base>:<irq>[:<id>]` (size and base as in `memparse`: decimal or
//! `0x` hex, with an optional `K`/`M`/`G` suffix). The lwpvm VMM puts its console at
//! 0xd000_0000 (GSI 5, transport version 2); QEMU `microvm` (only with `acpi=off`) at
//! 0xfeb0_0000 + 0x200·n (IRQ 5 + n, transport version 1 unless
//! `-global virtio-mmio.force-legacy=false`).
//!
//! The transport and the split virtqueues come from the `virtio-drivers` crate
//! (`MmioTransport` handles both transport versions: legacy `GuestPageSize`/`QueuePFN` and a
//! page-aligned contiguous ring, or modern separate ring addresses, `QueueReady` and
//! `FEATURES_OK`). The device logic on top is ours ([`console`]), because the crate's console
//! driver waits for the host without bound. The crate's `Hal` (DMA memory, address
//! translation) is [`hal::KernelHal`].
//!
//! A device's registers must lie in the MMIO hole (3..4 GiB), the only part of the direct map
//! mapped uncached; others are refused with a log line.
//!
//! This module may use `unsafe`: creating a transport over an MMIO address, and handing
//! buffers to the device, are unsafe operations of `virtio-drivers`.

pub mod console;
pub mod hal;

use core::fmt;
use core::ptr::NonNull;

use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};

use crate::arch::layout::{MMIO_WINDOW_END, MMIO_WINDOW_START};
use crate::arch::phys::phys_to_virt;
use crate::cmdline;

/// Command-line key of a virtio-mmio device (`virtio_mmio.device=`).
const CMDLINE_KEY: &str = shared_abi::current::boot::CMDLINE_VIRTIO_MMIO;

/// Smallest register window that holds the header (0x100 bytes) and some config space.
const MIN_MMIO_SIZE: u64 = 0x100;

/// One `virtio_mmio.device=` announcement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmioDeviceSpec {
    /// Size of the register window.
    pub size: u64,
    /// Physical base address of the registers.
    pub base: u64,
    /// Interrupt line (GSI).
    pub irq: u32,
    /// Optional platform device id.
    pub id: Option<u32>,
}

impl fmt::Display for MmioDeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}@{:#x}:{}", self.size, self.base, self.irq)?;
        if let Some(id) = self.id {
            write!(f, ":{id}")?;
        }
        Ok(())
    }
}

/// Parses `<size>@<base>:<irq>[:<id>]`.
pub fn parse_spec(s: &str) -> Option<MmioDeviceSpec> {
    let (size, rest) = s.split_once('@')?;
    let (base, rest) = rest.split_once(':')?;
    let (irq, id) = match rest.split_once(':') {
        Some((irq, id)) => (irq, Some(id)),
        None => (rest, None),
    };
    Some(MmioDeviceSpec {
        size: cmdline::parse_size(size)?,
        base: cmdline::parse_size(base)?,
        irq: cmdline::parse_u64(irq)?.try_into().ok()?,
        id: match id {
            Some(id) => Some(cmdline::parse_u64(id)?.try_into().ok()?),
            None => None,
        },
    })
}

/// Why a device could not be used.
#[derive(Debug)]
pub enum ProbeError {
    /// The register window is outside the uncached MMIO hole, or too small.
    BadWindow,
    /// The transport refused (bad magic, unknown version or device id).
    Transport(virtio_drivers::transport::mmio::MmioError),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadWindow => write!(
                f,
                "register window not inside the uncached MMIO hole {MMIO_WINDOW_START:#x}..{MMIO_WINDOW_END:#x} or smaller than {MIN_MMIO_SIZE:#x}"
            ),
            Self::Transport(e) => write!(f, "{e}"),
        }
    }
}

/// Creates the transport for `spec` (reads magic, version and device id).
pub fn open(spec: &MmioDeviceSpec) -> Result<MmioTransport<'static>, ProbeError> {
    let end = spec
        .base
        .checked_add(spec.size)
        .ok_or(ProbeError::BadWindow)?;
    if spec.base < MMIO_WINDOW_START
        || end > MMIO_WINDOW_END
        || spec.size < MIN_MMIO_SIZE
        || !spec.base.is_multiple_of(4)
    {
        return Err(ProbeError::BadWindow);
    }
    let virt = phys_to_virt(spec.base).ok_or(ProbeError::BadWindow)?;
    let header = NonNull::new(virt as *mut VirtIOHeader).ok_or(ProbeError::BadWindow)?;
    // SAFETY: `[base, base + size)` lies in the MMIO hole, which the direct map maps uncached
    // for the kernel's whole life, 4-byte aligned as the header requires; the host announced
    // a virtio-mmio device there. Each announced window is opened at most once (by `probe`),
    // so no other pointer to these registers exists.
    unsafe { MmioTransport::new(header, spec.size as usize) }.map_err(ProbeError::Transport)
}

/// The virtio-mmio devices announced on the command line, in order. Unparsable
/// announcements are logged and skipped.
pub fn announced(cmdline: &str) -> impl Iterator<Item = MmioDeviceSpec> + '_ {
    cmdline::values_anywhere(cmdline, CMDLINE_KEY).filter_map(|v| {
        let spec = parse_spec(v);
        if spec.is_none() {
            log::warn!("ignoring malformed {CMDLINE_KEY}{v}");
        }
        spec
    })
}

/// Probes every announced device and brings up the first console. Other device types are
/// logged and left alone.
pub fn probe(cmdline: &str) -> Option<console::VirtioConsole> {
    let mut found = None;
    for spec in announced(cmdline) {
        let transport = match open(&spec) {
            Ok(t) => t,
            Err(e) => {
                log::warn!("virtio-mmio {spec}: {e}");
                continue;
            }
        };
        let kind = transport.device_type();
        log::info!(
            "virtio-mmio {spec}: {kind:?}, transport {:?}, vendor {:#x}",
            transport.version(),
            transport.vendor_id()
        );
        if kind == DeviceType::Console && found.is_none() {
            match console::VirtioConsole::new(transport, spec) {
                Ok(c) => found = Some(c),
                Err(e) => log::warn!("virtio-mmio {spec}: console setup failed: {e}"),
            }
        }
    }
    found
}
