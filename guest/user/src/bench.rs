//! Measuring from ring 3: instruction-count marks and the TSC.
//!
//! [`mark`] writes an id to the mark port (`shared_abi::ports::MARK_PORT`), which the kernel
//! opens to ring 3 through the TSS I/O permission bitmap: the lwpvm VMM run with
//! `--marks FILE` records the writing vCPU's KVM counters there (on an interpreting KVM,
//! `insn_emulation` = ring-0 instructions executed so far), so two marks around a loop give
//! the kernel instructions the loop cost, with no kernel code of the measurement in it.
//! Elsewhere (QEMU, a VMM without `--marks`) the write is ignored. [`rdtsc`] reads the TSC
//! (under QEMU TCG with `-icount shift=0` it counts instructions).

use core::arch::asm;

use shared_abi::current::ports::MARK_PORT;

/// Writes mark `id` (a VM exit; no kernel instruction).
#[inline(always)]
pub fn mark(id: u32) {
    // SAFETY: a 32-bit write to the mark port, which the kernel lets ring 3 use; it touches
    // no memory and no register but those named.
    unsafe {
        asm!("out dx, eax", in("dx") MARK_PORT, in("eax") id, options(nomem, nostack, preserves_flags))
    };
}

/// The time-stamp counter.
#[inline(always)]
pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: `rdtsc` reads the TSC into edx:eax and has no other effect.
    unsafe {
        asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags))
    };
    u64::from(lo) | (u64::from(hi) << 32)
}
