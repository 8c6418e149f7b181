//! Time: the TSC's frequency, the monotonic and real-time clocks.
//!
//! # The TSC frequency ([`init`])
//!
//! Sources, tried in this order; the first that answers wins and is logged ([`source`]):
//!
//! 1. CPUID 0x15 (TSC/crystal ratio with a crystal frequency) — exact where offered;
//! 2. CPUID 0x16 (processor base frequency in MHz) — approximate;
//! 3. KVM's CPUID 0x4000_0010 (TSC kHz), when the hypervisor's leaves reach it;
//! 4. `lwpvm.tsc_khz=` on the command line (a VMM can pass `KVM_GET_TSC_KHZ`);
//! 5. KVM's paravirtual clock (`MSR_KVM_SYSTEM_TIME_NEW`, offered with KVM's CPUID signature
//!    and feature bit 3): the host's TSC→ns scale factors give the frequency exactly, as
//!    Linux's `pvclock_tsc_khz` computes it; the clock is enabled once, read, and disabled;
//! 6. the PIT: channel 0 counts down ~10 ms while the TSC runs (latched reads of its count);
//!    an absent PIT (a status read-back of 0xff) is detected at once;
//! 7. otherwise 1 GHz is assumed, with a warning (clocks and ticks are then wrong by the
//!    ratio).
//!
//! Measured: the lwpvm VMM on the development machines' KVM has none of 1–4 and no PIT, and
//! takes 5; QEMU TCG (`qemu64`) takes 6; QEMU with KVM takes 5.
//!
//! # Clocks
//!
//! [`monotonic_ns`] is nanoseconds since [`init`], from the TSC (`rdtsc`, never `rdtscp`):
//! `(tsc - base) * mult >> 32`, one 64×64→128 multiply. The TSC is assumed constant-rate and
//! synchronised across CPUs (true on the hosts we run on: KVM keeps guest TSCs in step).
//! [`realtime_ns`] is the wall-clock time: the CMOS RTC (ports 0x70/0x71) read once at boot
//! plus the monotonic clock; without an RTC (the lwpvm VMM has none: the ports read 0xff) the
//! wall clock starts at the Unix epoch at boot.

use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use super::cpu::{cpuid, rdtsc};
use super::io::{inb, outb};
use super::layout::KERNEL_BASE;
use super::{msr, BootCell};

/// Where the TSC frequency came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum TscSource {
    /// Not initialised.
    None = 0,
    /// CPUID leaf 0x15.
    Cpuid15,
    /// CPUID leaf 0x16.
    Cpuid16,
    /// KVM's CPUID leaf 0x4000_0010.
    KvmLeaf,
    /// `lwpvm.tsc_khz=`.
    Cmdline,
    /// KVM's paravirtual clock.
    KvmClock,
    /// The PIT.
    Pit,
    /// A guess.
    Assumed,
}

impl TscSource {
    /// Its name in logs and test output.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Cpuid15 => "cpuid-0x15",
            Self::Cpuid16 => "cpuid-0x16",
            Self::KvmLeaf => "kvm-cpuid-0x40000010",
            Self::Cmdline => "cmdline",
            Self::KvmClock => "kvmclock",
            Self::Pit => "pit",
            Self::Assumed => "assumed",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Cpuid15,
            2 => Self::Cpuid16,
            3 => Self::KvmLeaf,
            4 => Self::Cmdline,
            5 => Self::KvmClock,
            6 => Self::Pit,
            7 => Self::Assumed,
            _ => Self::None,
        }
    }
}

static SOURCE: AtomicU8 = AtomicU8::new(0);
static TSC_KHZ: AtomicU64 = AtomicU64::new(0);
/// TSC at `init`.
static TSC_BASE: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds per TSC cycle, × 2^32.
static NS_PER_TSC: AtomicU64 = AtomicU64::new(0);
/// TSC cycles per nanosecond, × 2^32.
static TSC_PER_NS: AtomicU64 = AtomicU64::new(0);
/// Real time (ns since the epoch) at monotonic 0.
static REALTIME_BASE: AtomicU64 = AtomicU64::new(0);
/// Whether the real time came from an RTC.
static RTC_PRESENT: AtomicU8 = AtomicU8::new(0);

/// What the host told us about the hypervisor (from `host::probe`).
#[derive(Clone, Copy, Debug)]
pub struct HypervisorInfo {
    /// Signature at CPUID 0x4000_0000 is `KVMKVMKVM`.
    pub kvm: bool,
    /// Highest hypervisor leaf.
    pub max_leaf: u32,
}

/// Determines the TSC frequency (see the module docs), starts the monotonic clock and reads
/// the RTC. Call once, on the boot CPU, before other CPUs start.
pub fn init(hv: HypervisorInfo, cmdline_khz: Option<u64>) -> (TscSource, u64) {
    let (source, khz) = tsc_khz_from_sources(hv, cmdline_khz);
    TSC_KHZ.store(khz, Ordering::Relaxed);
    // ns per cycle × 2^32 = 10^6 × 2^32 / khz; cycles per ns × 2^32 = khz × 2^32 / 10^6.
    NS_PER_TSC.store(
        ((1_000_000u128 << 32) / u128::from(khz)) as u64,
        Ordering::Relaxed,
    );
    TSC_PER_NS.store(
        ((u128::from(khz) << 32) / 1_000_000) as u64,
        Ordering::Relaxed,
    );
    SOURCE.store(source as u8, Ordering::Relaxed);
    TSC_BASE.store(rdtsc(), Ordering::Release);
    match read_rtc() {
        Some(secs) => {
            RTC_PRESENT.store(1, Ordering::Relaxed);
            let now = monotonic_ns();
            REALTIME_BASE.store(
                (secs * 1_000_000_000).saturating_sub(now),
                Ordering::Relaxed,
            );
        }
        None => REALTIME_BASE.store(0, Ordering::Relaxed),
    }
    (source, khz)
}

fn tsc_khz_from_sources(hv: HypervisorInfo, cmdline_khz: Option<u64>) -> (TscSource, u64) {
    let max_basic = cpuid(0, 0).eax;
    if max_basic >= 0x15 {
        let l = cpuid(0x15, 0);
        if l.eax != 0 && l.ebx != 0 && l.ecx != 0 {
            let khz = u64::from(l.ecx) * u64::from(l.ebx) / u64::from(l.eax) / 1000;
            if khz > 0 {
                return (TscSource::Cpuid15, khz);
            }
        }
    }
    if max_basic >= 0x16 {
        let mhz = cpuid(0x16, 0).eax & 0xffff;
        if mhz != 0 {
            return (TscSource::Cpuid16, u64::from(mhz) * 1000);
        }
    }
    if hv.max_leaf >= 0x4000_0010 {
        let khz = cpuid(0x4000_0010, 0).eax;
        if khz != 0 {
            return (TscSource::KvmLeaf, u64::from(khz));
        }
    }
    if let Some(khz) = cmdline_khz.filter(|&k| k > 0) {
        return (TscSource::Cmdline, khz);
    }
    if hv.kvm && hv.max_leaf >= 0x4000_0001 && cpuid(0x4000_0001, 0).eax & (1 << 3) != 0 {
        if let Some(khz) = kvmclock_khz() {
            return (TscSource::KvmClock, khz);
        }
    }
    if let Some(khz) = pit_khz() {
        return (TscSource::Pit, khz);
    }
    (TscSource::Assumed, 1_000_000)
}

/// KVM's `pvclock_vcpu_time_info` (32 bytes, must not cross a page).
#[repr(C, align(64))]
struct PvClock {
    version: u32,
    _pad0: u32,
    tsc_timestamp: u64,
    system_time: u64,
    tsc_to_system_mul: u32,
    tsc_shift: i8,
    flags: u8,
    _pad: [u8; 2],
}

static PVCLOCK: BootCell<PvClock> = BootCell::new(PvClock {
    version: 0,
    _pad0: 0,
    tsc_timestamp: 0,
    system_time: 0,
    tsc_to_system_mul: 0,
    tsc_shift: 0,
    flags: 0,
    _pad: [0; 2],
});

/// The TSC frequency from KVM's paravirtual clock, if the MSR is accepted and the host fills
/// the structure in.
fn kvmclock_khz() -> Option<u64> {
    let va = PVCLOCK.get() as u64;
    let pa = va - KERNEL_BASE;
    // SAFETY: the MSR asks KVM to write the structure at `pa`, which is PVCLOCK (a static of
    // the kernel image, 64-byte aligned, so it does not cross a page). A #GP (no kvmclock) is
    // caught by the probe.
    if !unsafe { msr::probe_write(msr::MSR_KVM_SYSTEM_TIME_NEW, pa | 1) } {
        return None;
    }
    // KVM fills it in before the vCPU next enters the guest: wait (bounded) for an even,
    // non-zero version with a multiplier.
    let mut result = None;
    for _ in 0..100_000 {
        // SAFETY: volatile reads of a static the host writes; any bit pattern is a valid
        // integer. The version protocol below rejects torn reads.
        let (v0, mul, shift, v1) = unsafe {
            let p = PVCLOCK.get();
            let v0 = core::ptr::addr_of!((*p).version).read_volatile();
            core::sync::atomic::fence(Ordering::Acquire);
            let mul = core::ptr::addr_of!((*p).tsc_to_system_mul).read_volatile();
            let shift = core::ptr::addr_of!((*p).tsc_shift).read_volatile();
            core::sync::atomic::fence(Ordering::Acquire);
            let v1 = core::ptr::addr_of!((*p).version).read_volatile();
            (v0, mul, shift, v1)
        };
        if v0 != 0 && v0 & 1 == 0 && v0 == v1 && mul != 0 {
            // Linux's pvclock_tsc_khz.
            let mut khz = (1_000_000u64 << 32) / u64::from(mul);
            if shift < 0 {
                khz <<= -shift;
            } else {
                khz >>= shift;
            }
            result = Some(khz);
            break;
        }
        core::hint::spin_loop();
    }
    // SAFETY: disables the paravirtual clock again (KVM stops writing the structure).
    unsafe { msr::probe_write(msr::MSR_KVM_SYSTEM_TIME_NEW, 0) };
    result
}

/// The TSC frequency measured against the PIT over ~10 ms, if there is a PIT.
///
/// Channel 0 (its gate is always open; channel 2's gate is port 0x61, which QEMU `microvm`
/// does not have) counts down from 0xffff in mode 0 while the TSC runs; its count is latched
/// and read until it has dropped by 10 ms worth. Interrupt 0 is masked at the PIC and the
/// IOAPIC, so reprogramming channel 0 has no other effect. A read-back of the channel's
/// status detects an absent PIT (unbacked ports read 0xff) before any waiting.
fn pit_khz() -> Option<u64> {
    const PIT_HZ: u64 = 1_193_182;
    const TICKS: u64 = PIT_HZ / 100; // 10 ms
    fn count() -> u64 {
        outb(0x43, 0x00); // latch channel 0
        let lo = inb(0x40);
        let hi = inb(0x40);
        u64::from(u16::from_le_bytes([lo, hi]))
    }
    outb(0x43, 0x30); // channel 0, lobyte/hibyte, mode 0, binary
    outb(0x40, 0xff);
    outb(0x40, 0xff);
    outb(0x43, 0xe2); // read-back: status of channel 0
    if inb(0x40) & 0x3f != 0x30 {
        return None;
    }
    let c0 = count();
    let t0 = rdtsc();
    let mut last = c0;
    for _ in 0..10_000_000u32 {
        let c = count();
        if c > last {
            return None; // wrapped or reloaded: not the counter we programmed
        }
        last = c;
        if c0 - c >= TICKS {
            let t1 = rdtsc();
            let khz = t1.wrapping_sub(t0) * PIT_HZ / (c0 - c) / 1000;
            return (khz > 0).then_some(khz);
        }
    }
    None
}

/// Reads the CMOS RTC: seconds since the Unix epoch, or `None` without an RTC.
fn read_rtc() -> Option<u64> {
    fn reg(r: u8) -> u8 {
        outb(0x70, r);
        inb(0x71)
    }
    let status_b = reg(0x0b);
    if status_b == 0xff {
        return None;
    }
    let read = || {
        // Wait (bounded) for no update in progress.
        for _ in 0..10_000 {
            if reg(0x0a) & 0x80 == 0 {
                break;
            }
        }
        [
            reg(0x00),
            reg(0x02),
            reg(0x04),
            reg(0x07),
            reg(0x08),
            reg(0x09),
            reg(0x32),
        ]
    };
    let mut t = read();
    for _ in 0..5 {
        let again = read();
        if again == t {
            break;
        }
        t = again;
    }
    let bcd = status_b & 0x04 == 0;
    let h24 = status_b & 0x02 != 0;
    let conv = |v: u8| -> u64 {
        if bcd {
            u64::from((v >> 4) * 10 + (v & 0x0f))
        } else {
            u64::from(v)
        }
    };
    let pm = !h24 && t[2] & 0x80 != 0;
    let (sec, min) = (conv(t[0]), conv(t[1]));
    let mut hour = conv(t[2] & 0x7f);
    if !h24 {
        hour %= 12;
        if pm {
            hour += 12;
        }
    }
    let (day, month, year2) = (conv(t[3]), conv(t[4]), conv(t[5]));
    let century = match conv(t[6]) {
        c @ 19..=21 => c,
        _ => 20,
    };
    if sec > 59 || min > 59 || hour > 23 || !(1..=31).contains(&day) || !(1..=12).contains(&month) {
        return None;
    }
    let year = century * 100 + year2;
    let days = days_from_civil(year as i64, month as i64, day as i64);
    (days >= 0).then(|| days as u64 * 86_400 + hour * 3600 + min * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Where the TSC frequency came from.
pub fn source() -> TscSource {
    TscSource::from_u8(SOURCE.load(Ordering::Relaxed))
}

/// The TSC frequency in kHz (0 before [`init`]).
pub fn tsc_khz() -> u64 {
    TSC_KHZ.load(Ordering::Relaxed)
}

/// Whether the wall clock came from an RTC.
pub fn rtc_present() -> bool {
    RTC_PRESENT.load(Ordering::Relaxed) != 0
}

/// TSC cycles → nanoseconds.
#[inline]
pub fn tsc_to_ns(cycles: u64) -> u64 {
    ((u128::from(cycles) * u128::from(NS_PER_TSC.load(Ordering::Relaxed))) >> 32) as u64
}

/// Nanoseconds → TSC cycles.
#[inline]
pub fn ns_to_tsc(ns: u64) -> u64 {
    ((u128::from(ns) * u128::from(TSC_PER_NS.load(Ordering::Relaxed))) >> 32) as u64
}

/// The TSC value at monotonic time `ns`.
#[inline]
pub fn tsc_at(ns: u64) -> u64 {
    TSC_BASE.load(Ordering::Relaxed).wrapping_add(ns_to_tsc(ns))
}

/// Nanoseconds since [`init`].
#[inline]
pub fn monotonic_ns() -> u64 {
    tsc_to_ns(rdtsc().wrapping_sub(TSC_BASE.load(Ordering::Relaxed)))
}

/// Nanoseconds since the Unix epoch (see the module docs for hosts without an RTC).
pub fn realtime_ns() -> u64 {
    REALTIME_BASE.load(Ordering::Relaxed) + monotonic_ns()
}
