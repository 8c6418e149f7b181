//! The local APIC: enable, EOI, IPIs (fixed, NMI, INIT, SIPI), the timer.
//!
//! # xAPIC or x2APIC
//!
//! The LAPIC is used in x2APIC mode (registers are MSRs `0x800 + offset / 16`, the ICR one
//! 64-bit MSR) when CPUID.1:ECX[21] offers it, else in xAPIC mode (MMIO at the MP table's
//! LAPIC address, 0xfee0_0000, through the uncached part of the direct map). The boot CPU
//! decides ([`init_bsp`]; `lwpvm.apic=xapic` forces xAPIC) and every CPU follows. Before
//! switching, the boot CPU times both kinds of access with the TSC ([`access_cycles`]): on the
//! development machines' KVM each is handled by the host kernel's LAPIC emulation (~20 k
//! cycles either way), so x2APIC's gain there is in needing fewer accesses: an IPI is one MSR
//! write instead of an ICR-idle poll and two MMIO writes, and no interrupt-off window is
//! needed around it. QEMU 7.2's TCG does not offer x2APIC with its default CPU.
//!
//! # Setup ([`init_this_cpu`])
//!
//! Software-enable with spurious vector 0xff, TPR 0, LINT0 masked (KVM resets the BSP's LINT0
//! to ExtINT: the PIC's virtual wire; the PIC is not used), LINT1 = NMI, the error LVT
//! masked. The timer is programmed by its user (the scheduler's clock) through
//! [`timer_deadline_mode`]/[`timer_set_deadline`] (TSC-deadline, when CPUID.1:ECX[24] offers
//! it) or [`timer_periodic`].
//!
//! # Interrupt state
//!
//! The functions here may be called with interrupts enabled or not. The xAPIC ICR write is
//! two MMIO writes that an interrupt handler sending its own IPI must not split, so it runs
//! with interrupts disabled.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::cpu::{cpuid, rdtsc};
use super::layout::PHYS_OFFSET;
use super::msr;
use super::trap::RFLAGS_IF;

/// LAPIC register offsets (xAPIC MMIO; x2APIC MSR = 0x800 + offset / 16).
mod reg {
    pub const ID: u32 = 0x20;
    pub const VERSION: u32 = 0x30;
    pub const TPR: u32 = 0x80;
    pub const EOI: u32 = 0xb0;
    pub const SVR: u32 = 0xf0;
    pub const ESR: u32 = 0x280;
    pub const ICR_LOW: u32 = 0x300;
    pub const ICR_HIGH: u32 = 0x310;
    pub const LVT_TIMER: u32 = 0x320;
    pub const LVT_LINT0: u32 = 0x350;
    pub const LVT_LINT1: u32 = 0x360;
    pub const LVT_ERROR: u32 = 0x370;
    pub const TIMER_INITIAL: u32 = 0x380;
    pub const TIMER_CURRENT: u32 = 0x390;
    pub const TIMER_DIVIDE: u32 = 0x3e0;
}

/// LVT mask bit.
const LVT_MASKED: u32 = 1 << 16;
/// LVT delivery mode NMI.
const LVT_NMI: u32 = 0b100 << 8;
/// LVT timer mode: periodic.
const TIMER_PERIODIC: u32 = 0b01 << 17;
/// LVT timer mode: TSC-deadline.
const TIMER_TSC_DEADLINE: u32 = 0b10 << 17;
/// SVR: APIC software enable.
const SVR_ENABLE: u32 = 1 << 8;
/// IA32_APIC_BASE: global enable.
const BASE_ENABLE: u64 = 1 << 11;
/// IA32_APIC_BASE: x2APIC mode.
const BASE_X2APIC: u64 = 1 << 10;

/// ICR delivery modes and flags.
const ICR_FIXED: u32 = 0b000 << 8;
const ICR_NMI: u32 = 0b100 << 8;
const ICR_INIT: u32 = 0b101 << 8;
const ICR_STARTUP: u32 = 0b110 << 8;
const ICR_BUSY: u32 = 1 << 12;
const ICR_ASSERT: u32 = 1 << 14;
const ICR_LEVEL: u32 = 1 << 15;
const ICR_SELF: u32 = 0b01 << 18;
const ICR_ALL_BUT_SELF: u32 = 0b11 << 18;

/// Where an IPI goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dest {
    /// The CPU with this APIC id.
    Apic(u32),
    /// Every other CPU.
    AllButSelf,
    /// This CPU.
    ThisCpu,
}

static X2APIC: AtomicBool = AtomicBool::new(false);
/// Virtual address of the xAPIC MMIO page.
static MMIO: AtomicU64 = AtomicU64::new(PHYS_OFFSET + 0xfee0_0000);
/// TSC cycles per register read, measured at boot: xAPIC MMIO, x2APIC MSR (0 = not measured).
static ACCESS_CYCLES: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];

#[inline]
fn x2apic() -> bool {
    X2APIC.load(Ordering::Relaxed)
}

#[inline]
fn read(r: u32) -> u32 {
    if x2apic() {
        msr::read(msr::X2APIC_BASE + (r >> 4)) as u32
    } else {
        let p = (MMIO.load(Ordering::Relaxed) + u64::from(r)) as *const u32;
        // SAFETY: `p` is an aligned LAPIC register in the MMIO page, mapped uncached by the
        // direct map for the kernel's lifetime; a read has no effect Rust can observe.
        unsafe { p.read_volatile() }
    }
}

#[inline]
fn write(r: u32, value: u32) {
    if x2apic() {
        // SAFETY: LAPIC register MSRs; the callers in this module keep the LAPIC's contract
        // (vectors, masks) and x2APIC mode is enabled on this CPU.
        unsafe { msr::write(msr::X2APIC_BASE + (r >> 4), u64::from(value)) }
    } else {
        let p = (MMIO.load(Ordering::Relaxed) + u64::from(r)) as *mut u32;
        // SAFETY: as in `read`; the register write has only LAPIC effects.
        unsafe { p.write_volatile(value) }
    }
}

/// Whether CPUID offers x2APIC mode.
pub fn x2apic_available() -> bool {
    cpuid(1, 0).ecx & (1 << 21) != 0
}

/// Whether CPUID offers the TSC-deadline timer mode.
pub fn tsc_deadline_available() -> bool {
    cpuid(1, 0).ecx & (1 << 24) != 0
}

/// Whether the LAPIC is used in x2APIC mode.
pub fn is_x2apic() -> bool {
    x2apic()
}

/// TSC cycles per LAPIC register read measured at boot: `[xAPIC MMIO, x2APIC MSR]` (0 where
/// not measured).
pub fn access_cycles() -> [u64; 2] {
    ACCESS_CYCLES.each_ref().map(|c| c.load(Ordering::Relaxed))
}

/// Average TSC cycles of one read of the version register (8 reads after a warm-up read).
fn time_reads() -> u64 {
    let _ = read(reg::VERSION);
    let t0 = rdtsc();
    for _ in 0..8 {
        let _ = read(reg::VERSION);
    }
    rdtsc().wrapping_sub(t0) / 8
}

/// Chooses the mode on the boot CPU (x2APIC if offered, unless `force_xapic`), measures the
/// access cost of both where possible, and sets up the boot CPU's LAPIC.
pub fn init_bsp(lapic_phys: u64, force_xapic: bool) {
    MMIO.store(PHYS_OFFSET + lapic_phys, Ordering::Relaxed);
    // xAPIC first: the reset state (the MMIO page works until x2APIC mode is entered).
    let base = msr::read(msr::IA32_APIC_BASE);
    // SAFETY: enabling the LAPIC globally (it is after reset; this only makes sure).
    unsafe { msr::write(msr::IA32_APIC_BASE, base | BASE_ENABLE) };
    ACCESS_CYCLES[0].store(time_reads(), Ordering::Relaxed);
    if x2apic_available() && !force_xapic {
        X2APIC.store(true, Ordering::Relaxed);
    }
    init_this_cpu();
    if x2apic() {
        ACCESS_CYCLES[1].store(time_reads(), Ordering::Relaxed);
    }
}

/// Sets up this CPU's LAPIC in the mode the boot CPU chose (see the module docs).
pub fn init_this_cpu() {
    let base = msr::read(msr::IA32_APIC_BASE);
    let want = base | BASE_ENABLE | if x2apic() { BASE_X2APIC } else { 0 };
    if want != base {
        // SAFETY: enabling the LAPIC (and x2APIC mode, which CPUID offers: checked in
        // `init_bsp`); xAPIC → x2APIC is a legal transition.
        unsafe { msr::write(msr::IA32_APIC_BASE, want) };
    }
    write(reg::TPR, 0);
    write(
        reg::SVR,
        SVR_ENABLE | u32::from(super::irq::VECTOR_SPURIOUS),
    );
    write(reg::LVT_LINT0, LVT_MASKED);
    write(reg::LVT_LINT1, LVT_NMI);
    write(reg::LVT_ERROR, LVT_MASKED);
    write(reg::LVT_TIMER, LVT_MASKED);
    if !x2apic() {
        // xAPIC: the ESR is read after a write (x2APIC: writing a non-zero value faults).
        write(reg::ESR, 0);
    }
    eoi();
}

/// This CPU's LAPIC id.
pub fn id() -> u32 {
    let v = read(reg::ID);
    if x2apic() {
        v
    } else {
        v >> 24
    }
}

/// Signals the end of the current interrupt.
#[inline]
pub fn eoi() {
    write(reg::EOI, 0);
}

/// Runs `f` with interrupts disabled, restoring the previous state.
fn without_interrupts<R>(f: impl FnOnce() -> R) -> R {
    let rflags: u64;
    // SAFETY: saving RFLAGS and clearing IF has no memory effects.
    unsafe { core::arch::asm!("pushfq", "pop {}", "cli", out(reg) rflags, options(nomem)) };
    let r = f();
    if rflags & RFLAGS_IF != 0 {
        // SAFETY: restores the interrupt flag the caller had.
        unsafe { core::arch::asm!("sti", options(nomem, nostack)) };
    }
    r
}

/// Writes the ICR: delivery `low` (mode, vector, level...) to `dest`.
fn icr(dest: Dest, low: u32) {
    let (apic, low) = match dest {
        Dest::Apic(a) => (a, low),
        Dest::AllButSelf => (0, low | ICR_ALL_BUT_SELF),
        Dest::ThisCpu => (0, low | ICR_SELF),
    };
    if x2apic() {
        // SAFETY: the x2APIC ICR: sends the IPI described by the caller.
        unsafe {
            msr::write(
                msr::X2APIC_BASE + (reg::ICR_LOW >> 4),
                (u64::from(apic) << 32) | u64::from(low),
            )
        };
    } else {
        without_interrupts(|| {
            // Wait (bounded) for the previous IPI to leave: KVM and QEMU are never busy.
            for _ in 0..1000 {
                if read(reg::ICR_LOW) & ICR_BUSY == 0 {
                    break;
                }
                core::hint::spin_loop();
            }
            write(reg::ICR_HIGH, apic << 24);
            write(reg::ICR_LOW, low);
        });
    }
}

/// Sends a fixed interrupt on `vector` to `dest`.
pub fn send_ipi(dest: Dest, vector: u8) {
    icr(dest, ICR_FIXED | ICR_ASSERT | u32::from(vector));
}

/// Sends an NMI to `dest`.
pub fn send_nmi(dest: Dest) {
    icr(dest, ICR_NMI | ICR_ASSERT);
}

/// Sends INIT (level assert) to the CPU with APIC id `apic`.
pub fn send_init(apic: u32) {
    icr(Dest::Apic(apic), ICR_INIT | ICR_LEVEL | ICR_ASSERT);
}

/// Sends INIT level de-assert (only meaningful to old discrete APICs; harmless elsewhere).
pub fn send_init_deassert(apic: u32) {
    icr(Dest::Apic(apic), ICR_INIT | ICR_LEVEL);
}

/// Sends a start-up IPI: the CPU starts in real mode at `page << 12`.
pub fn send_sipi(apic: u32, page: u8) {
    icr(Dest::Apic(apic), ICR_STARTUP | ICR_ASSERT | u32::from(page));
}

/// Puts this CPU's timer in TSC-deadline mode on `vector` (disarmed until
/// [`timer_set_deadline`]).
pub fn timer_deadline_mode(vector: u8) {
    write(reg::LVT_TIMER, TIMER_TSC_DEADLINE | u32::from(vector));
    // Intel SDM 10.5.4.1: order the LVT write before the first IA32_TSC_DEADLINE write.
    // SAFETY: a fence has no other effect.
    unsafe { core::arch::asm!("mfence", options(nostack, preserves_flags)) };
}

/// Arms this CPU's TSC-deadline timer for TSC value `tsc` (0 disarms; a past value fires at
/// once).
#[inline]
pub fn timer_set_deadline(tsc: u64) {
    // SAFETY: IA32_TSC_DEADLINE exists when TSC-deadline mode is offered (the caller chose it
    // after `tsc_deadline_available`); the write only arms the timer.
    unsafe { msr::write(msr::IA32_TSC_DEADLINE, tsc) };
}

/// Starts this CPU's timer in periodic mode on `vector`: an interrupt every `count` ticks of
/// the timer clock divided by 16.
pub fn timer_periodic(vector: u8, count: u32) {
    write(reg::TIMER_DIVIDE, 0b0011); // divide by 16
    write(reg::LVT_TIMER, TIMER_PERIODIC | u32::from(vector));
    write(reg::TIMER_INITIAL, count.max(1));
}

/// Measures the LAPIC timer's frequency (after division by 16) against the TSC: counts down
/// for `tsc_window` TSC cycles with the timer masked. Returns timer ticks per second, given
/// the TSC's frequency in kHz.
pub fn timer_calibrate(tsc_khz: u64, tsc_window: u64) -> u64 {
    write(reg::TIMER_DIVIDE, 0b0011);
    write(reg::LVT_TIMER, LVT_MASKED);
    write(reg::TIMER_INITIAL, u32::MAX);
    let t0 = rdtsc();
    let c0 = read(reg::TIMER_CURRENT);
    while rdtsc().wrapping_sub(t0) < tsc_window {
        core::hint::spin_loop();
    }
    let c1 = read(reg::TIMER_CURRENT);
    let t1 = rdtsc();
    write(reg::TIMER_INITIAL, 0);
    let ticks = u64::from(c0.wrapping_sub(c1));
    let cycles = t1.wrapping_sub(t0).max(1);
    // ticks per second = ticks / (cycles / (tsc_khz * 1000))
    (u128::from(ticks) * u128::from(tsc_khz) * 1000 / u128::from(cycles)) as u64
}
