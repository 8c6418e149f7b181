//! The vector map and the interrupt-handler table.
//!
//! | vector | use |
//! |---|---|
//! | 0..=31 | exceptions (`trap`) |
//! | 32..=47 | the legacy PIC's range: remapped here and masked at boot, never used (`pic`) |
//! | 48..=71 | IOAPIC pins 0..=23: GSI n → vector [`IRQ_BASE`] + n (`ioapic`) |
//! | `0xf0` | LAPIC timer ([`VECTOR_TIMER`]) |
//! | `0xf1` | IPI: reschedule ([`VECTOR_RESCHED`]) |
//! | `0xf2` | IPI: TLB shoot-down ([`VECTOR_TLB`]) |
//! | `0xf3` | IPI: stop ([`VECTOR_STOP`]; `smp::stop_others` sends an NMI instead, which also stops a CPU spinning with interrupts off) |
//! | `0xff` | LAPIC spurious ([`VECTOR_SPURIOUS`]) |
//!
//! Handlers are registered by vector ([`register`]) by whoever owns the device or policy: the
//! scheduler registers the timer and reschedule handlers, `tlb` and `smp` their IPIs. A
//! handler runs with interrupts disabled on the interrupted thread's kernel stack (or the
//! kernel stack of the interrupted user thread); it must not sleep, must not allocate (the
//! interrupted code may hold the heap's lock) and should be short. [`dispatch`] sends the
//! LAPIC EOI after the handler returns (so a level-triggered line is serviced before it can
//! be re-raised), except for the spurious vector, which needs none; the trap path's
//! preemption happens after the EOI. Interrupts on vectors nobody registered are counted
//! (`PerCpu::unhandled`) and acknowledged.

use core::sync::atomic::{AtomicUsize, Ordering};

use super::trap::{TrapFrame, TrapHook};
use super::{apic, percpu};

/// Vector of IOAPIC pin 0.
pub const IRQ_BASE: u8 = 48;
/// LAPIC timer.
pub const VECTOR_TIMER: u8 = 0xf0;
/// IPI: reschedule (the handler only has to exist: the trap path does the rest).
pub const VECTOR_RESCHED: u8 = 0xf1;
/// IPI: TLB shoot-down.
pub const VECTOR_TLB: u8 = 0xf2;
/// IPI: stop.
pub const VECTOR_STOP: u8 = 0xf3;
/// LAPIC spurious-interrupt vector.
pub const VECTOR_SPURIOUS: u8 = 0xff;

/// The handler of each vector (a `TrapHook` as usize; 0 = none).
static HANDLERS: [AtomicUsize; 256] = [const { AtomicUsize::new(0) }; 256];

/// Makes `handler` the handler of `vector` (replacing any earlier one).
///
/// # Panics
///
/// If `vector` is an exception vector (< 32) or the spurious vector.
pub fn register(vector: u8, handler: TrapHook) {
    assert!(
        vector >= 32 && vector != VECTOR_SPURIOUS,
        "vector {vector} cannot take an interrupt handler"
    );
    HANDLERS[usize::from(vector)].store(handler as usize, Ordering::Release);
}

/// Removes the handler of `vector`.
pub fn unregister(vector: u8) {
    HANDLERS[usize::from(vector)].store(0, Ordering::Release);
}

/// Runs the handler of interrupt `vector` (>= 32) and acknowledges it.
pub(super) fn dispatch(vector: u8, frame: &mut TrapFrame) {
    let pc = percpu::this();
    pc.interrupts.fetch_add(1, Ordering::Relaxed);
    if vector == VECTOR_SPURIOUS {
        pc.spurious.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let h = HANDLERS[usize::from(vector)].load(Ordering::Acquire);
    if h == 0 {
        pc.unhandled.fetch_add(1, Ordering::Relaxed);
    } else {
        // SAFETY: a non-zero entry was stored by `register` from a `TrapHook`.
        let handler = unsafe { core::mem::transmute::<usize, TrapHook>(h) };
        handler(frame);
    }
    apic::eoi();
}

// ------------------------------------------------------------------------------------------
// The interrupt flag.
// ------------------------------------------------------------------------------------------

/// Whether interrupts were enabled, as saved by [`save_disable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "restore the saved interrupt state"]
pub struct IrqState(bool);

impl IrqState {
    /// Whether interrupts were enabled.
    pub fn was_enabled(self) -> bool {
        self.0
    }

    /// The state "interrupts were enabled" (`true`) or "disabled" (`false`).
    pub fn from_enabled(enabled: bool) -> Self {
        IrqState(enabled)
    }
}

/// Disables interrupts on this CPU and returns whether they were enabled.
#[inline]
pub fn save_disable() -> IrqState {
    let rflags: u64;
    // SAFETY: reading RFLAGS and clearing IF have no memory effects; the compiler barrier
    // (no `nomem`) keeps memory accesses of the critical section after the `cli`.
    unsafe { core::arch::asm!("pushfq", "pop {}", "cli", out(reg) rflags) };
    IrqState(rflags & super::trap::RFLAGS_IF != 0)
}

/// Restores the interrupt state saved by [`save_disable`].
#[inline]
pub fn restore(state: IrqState) {
    if state.0 {
        enable();
    }
}

/// Enables interrupts.
#[inline]
pub fn enable() {
    // SAFETY: `sti`; acts as a compiler barrier so the critical section stays before it.
    unsafe { core::arch::asm!("sti", options(nostack)) };
}

/// Disables interrupts.
#[inline]
pub fn disable() {
    // SAFETY: `cli`; a compiler barrier as well.
    unsafe { core::arch::asm!("cli", options(nostack)) };
}

/// Whether interrupts are enabled on this CPU.
#[inline]
pub fn enabled() -> bool {
    let rflags: u64;
    // SAFETY: reads RFLAGS.
    unsafe {
        core::arch::asm!("pushfq", "pop {}", out(reg) rflags, options(nomem, preserves_flags))
    };
    rflags & super::trap::RFLAGS_IF != 0
}

/// Enables interrupts and halts until the next one, atomically: an interrupt that becomes
/// pending after the caller's last check (made with interrupts disabled) still ends the halt,
/// because `sti` delays its effect by one instruction. Returns with interrupts enabled.
#[inline]
pub fn enable_and_halt() {
    // SAFETY: `sti; hlt` waits for an interrupt; handlers run and return here.
    unsafe { core::arch::asm!("sti", "hlt", options(nostack)) };
}
