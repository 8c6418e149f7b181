//! The IOAPIC: routing device interrupt lines (GSIs) to vectors and CPUs.
//!
//! One IOAPIC, at the address the MP table gives (0xfec0_0000 on both hosts), reached through
//! the uncached part of the direct map: an index register (`IOREGSEL`, offset 0) and a data
//! window (`IOWIN`, offset 0x10). Pin n is GSI n; the vector map gives GSI n the vector
//! `irq::IRQ_BASE + n`. Redirection entries (registers 0x10 + 2n, 0x11 + 2n) are written high
//! half first, while masked, then the low half, which carries the mask bit.
//!
//! Known lines: COM1 is GSI 4 (edge) on both hosts; the virtio-mmio console is GSI 5 under the
//! lwpvm VMM (KVM irqfd: an edge pulse) and GSI 12 under QEMU `microvm` (slot n has GSI 5 + n;
//! QEMU holds the line high until the driver acknowledges: level). The command line's
//! `virtio_mmio.device=...:<irq>` is the GSI. Nothing is routed by default: drivers call
//! [`route`]. All pins are masked at [`init`] (the reset state on both hosts; real firmware
//! may leave entries set up).
//!
//! Access is serialised by a lock (the index/data pair is not atomic).

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::irq::IRQ_BASE;
use super::layout::PHYS_OFFSET;
use crate::sync::IrqMutex;

/// Default IOAPIC address (both hosts).
pub const DEFAULT_PHYS: u64 = 0xfec0_0000;

const IOREGSEL: u64 = 0x00;
const IOWIN: u64 = 0x10;
const REG_VERSION: u32 = 0x01;
const REG_REDIR: u32 = 0x10;

/// Redirection entry: masked.
const MASKED: u32 = 1 << 16;
/// Redirection entry: level-triggered.
const LEVEL: u32 = 1 << 15;
/// Redirection entry: active low.
const ACTIVE_LOW: u32 = 1 << 13;

/// How a line signals.
#[allow(dead_code)] // for drivers (QEMU's virtio-mmio is level-triggered)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// Edge-triggered, active high (ISA devices, KVM irqfds).
    Edge,
    /// Level-triggered, active high (QEMU's virtio-mmio).
    Level,
    /// Level-triggered, active low (PCI INTx).
    LevelLow,
}

static BASE: AtomicU64 = AtomicU64::new(PHYS_OFFSET + DEFAULT_PHYS);
static PINS: AtomicU32 = AtomicU32::new(0);
/// Serialises IOREGSEL/IOWIN pairs.
static LOCK: IrqMutex<()> = IrqMutex::new(());

fn read(reg: u32) -> u32 {
    let base = BASE.load(Ordering::Relaxed);
    // SAFETY: IOREGSEL and IOWIN are aligned 32-bit registers of the IOAPIC's MMIO page,
    // mapped uncached by the direct map; the caller holds LOCK, so the pair is not split.
    unsafe {
        ((base + IOREGSEL) as *mut u32).write_volatile(reg);
        ((base + IOWIN) as *const u32).read_volatile()
    }
}

fn write(reg: u32, value: u32) {
    let base = BASE.load(Ordering::Relaxed);
    // SAFETY: as in `read`; a redirection write only changes interrupt routing.
    unsafe {
        ((base + IOREGSEL) as *mut u32).write_volatile(reg);
        ((base + IOWIN) as *mut u32).write_volatile(value);
    }
}

/// Finds the IOAPIC at `phys`, counts its pins and masks them all. Returns the pin count.
pub fn init(phys: u64) -> u32 {
    BASE.store(PHYS_OFFSET + phys, Ordering::Relaxed);
    let _g = LOCK.lock();
    let version = read(REG_VERSION);
    let pins = ((version >> 16) & 0xff) + 1;
    let pins = if version == u32::MAX { 0 } else { pins };
    for pin in 0..pins {
        write(REG_REDIR + 2 * pin, MASKED);
    }
    PINS.store(pins, Ordering::Relaxed);
    pins
}

/// Number of pins (0 before [`init`] or without an IOAPIC).
pub fn pins() -> u32 {
    PINS.load(Ordering::Relaxed)
}

/// The vector of GSI `gsi` in the vector map.
pub fn vector_of(gsi: u32) -> u8 {
    IRQ_BASE + gsi as u8
}

/// Routes GSI `gsi` to `vector` on the CPU with APIC id `apic_id` (physical destination,
/// fixed delivery) and unmasks it.
///
/// # Panics
///
/// If the IOAPIC has no pin `gsi`, or `apic_id` does not fit the 8-bit destination field.
pub fn route(gsi: u32, vector: u8, apic_id: u32, trigger: Trigger) {
    assert!(gsi < pins(), "IOAPIC has no pin {gsi}");
    assert!(apic_id < 256, "APIC id {apic_id} needs interrupt remapping");
    let mut low = u32::from(vector);
    match trigger {
        Trigger::Edge => {}
        Trigger::Level => low |= LEVEL,
        Trigger::LevelLow => low |= LEVEL | ACTIVE_LOW,
    }
    let _g = LOCK.lock();
    write(REG_REDIR + 2 * gsi, MASKED);
    write(REG_REDIR + 2 * gsi + 1, apic_id << 24);
    write(REG_REDIR + 2 * gsi, low);
}

/// Masks GSI `gsi` (its routing is kept).
pub fn mask(gsi: u32) {
    if gsi >= pins() {
        return;
    }
    let _g = LOCK.lock();
    let low = read(REG_REDIR + 2 * gsi);
    write(REG_REDIR + 2 * gsi, low | MASKED);
}

/// Unmasks GSI `gsi` with its current routing.
#[allow(dead_code)] // for drivers
pub fn unmask(gsi: u32) {
    if gsi >= pins() {
        return;
    }
    let _g = LOCK.lock();
    let low = read(REG_REDIR + 2 * gsi);
    write(REG_REDIR + 2 * gsi, low & !MASKED);
}

/// The redirection entry of `gsi` as (high, low), for tests and reports.
pub fn entry(gsi: u32) -> (u32, u32) {
    let _g = LOCK.lock();
    (read(REG_REDIR + 2 * gsi + 1), read(REG_REDIR + 2 * gsi))
}
