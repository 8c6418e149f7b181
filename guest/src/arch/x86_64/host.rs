//! Which kind of host runs the kernel, for the banner and for choosing costly paths later.
//!
//! Three facts are gathered ([`probe`]):
//!
//! - the CPUID hypervisor bit (leaf 1 ECX bit 31) and, when it is set, the hypervisor
//!   signature at leaf 0x4000_0000 (`KVMKVMKVM\0\0\0` under KVM, `TCGTCGTCGTCG` under QEMU's
//!   TCG, as measured with QEMU 7.2);
//! - the CPU brand string (leaves 0x8000_0002..4): QEMU's CPU models say `QEMU Virtual CPU`;
//! - the TSC cycles per iteration of a short ring-0 `dec`/`jnz` loop ([`LOOP_ITERATIONS`]
//!   iterations, a few hundred instructions). On the development machines' KVM ring 0 is
//!   interpreted: thousands of cycles per iteration. Hardware virtualisation takes about one;
//!   QEMU 7.2's TCG a few hundred (measured: ~275, with the host's TSC).
//!
//! and classified ([`HostInfo::flavour`]):
//!
//! | flavour | rule |
//! |---|---|
//! | `qemu-tcg` | signature `TCGTCGTCGTCG` |
//! | `kvm-interpreted` | otherwise, the loop costs more than [`INTERPRETED_CYCLES_PER_ITER`] |
//! | `kvm` | otherwise, signature `KVMKVMKVM` |
//! | `unknown` | anything else |
//!
//! The timing is tested before the KVM signature because this KVM reports whatever CPUID the
//! host has (the lwpvm VMM cannot hide a signature the host CPU shows), and because the
//! interpreted case is the one that changes how the kernel must behave.

use core::arch::asm;

use super::cpu::{cpuid, rdtsc};

/// Iterations of the timing loop.
pub const LOOP_ITERATIONS: u64 = 200;
/// Above this many TSC cycles per loop iteration, ring 0 is being interpreted (measured:
/// thousands on the development machines' KVM, a few hundred under QEMU 7.2 TCG (whose TSC
/// is the host's), ~1 on hardware).
pub const INTERPRETED_CYCLES_PER_ITER: u64 = 1000;

/// The kind of host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// KVM whose ring 0 is interpreted instruction by instruction (the development machines).
    KvmInterpreted,
    /// KVM on hardware virtualisation.
    Kvm,
    /// QEMU's TCG binary translator.
    QemuTcg,
    /// Anything else (bare metal, another hypervisor).
    Unknown,
}

impl Flavour {
    /// The name used in the banner.
    pub fn name(self) -> &'static str {
        match self {
            Self::KvmInterpreted => "kvm-interpreted",
            Self::Kvm => "kvm",
            Self::QemuTcg => "qemu-tcg",
            Self::Unknown => "unknown",
        }
    }
}

/// Raw facts about the host.
#[derive(Clone, Copy, Debug)]
pub struct HostInfo {
    /// CPUID vendor string (leaf 0).
    pub vendor: [u8; 12],
    /// CPUID leaf 1 ECX bit 31.
    pub hypervisor_bit: bool,
    /// Leaf 0x4000_0000 EAX (highest hypervisor leaf), if the hypervisor bit is set.
    pub hypervisor_max_leaf: u32,
    /// Leaf 0x4000_0000 EBX, ECX, EDX as text, if the hypervisor bit is set.
    pub signature: [u8; 12],
    /// CPU brand string (leaves 0x8000_0002..4), NUL-padded.
    pub brand: [u8; 48],
    /// TSC cycles for [`LOOP_ITERATIONS`] iterations of the timing loop.
    pub loop_cycles: u64,
}

fn regs_to_bytes(out: &mut [u8], regs: &[u32]) {
    for (chunk, r) in out.chunks_exact_mut(4).zip(regs) {
        chunk.copy_from_slice(&r.to_le_bytes());
    }
}

/// Times [`LOOP_ITERATIONS`] iterations of `dec`/`jnz` with the TSC.
fn time_loop() -> u64 {
    let start = rdtsc();
    // SAFETY: a register-only loop; it touches no memory and ends when the counter hits 0.
    unsafe {
        asm!(
            "2:",
            "dec {n}",
            "jnz 2b",
            n = inout(reg) LOOP_ITERATIONS => _,
            options(nomem, nostack)
        );
    }
    rdtsc().wrapping_sub(start)
}

/// Gathers the facts (a few CPUID leaves and a ~400-instruction timing loop).
pub fn probe() -> HostInfo {
    let mut info = HostInfo {
        vendor: [0; 12],
        hypervisor_bit: false,
        hypervisor_max_leaf: 0,
        signature: [0; 12],
        brand: [0; 48],
        loop_cycles: 0,
    };
    let l0 = cpuid(0, 0);
    regs_to_bytes(&mut info.vendor, &[l0.ebx, l0.edx, l0.ecx]);
    info.hypervisor_bit = cpuid(1, 0).ecx & (1 << 31) != 0;
    if info.hypervisor_bit {
        let h = cpuid(0x4000_0000, 0);
        info.hypervisor_max_leaf = h.eax;
        regs_to_bytes(&mut info.signature, &[h.ebx, h.ecx, h.edx]);
    }
    if cpuid(0x8000_0000, 0).eax >= 0x8000_0004 {
        for (i, leaf) in (0x8000_0002u32..=0x8000_0004).enumerate() {
            let r = cpuid(leaf, 0);
            regs_to_bytes(
                &mut info.brand[16 * i..16 * (i + 1)],
                &[r.eax, r.ebx, r.ecx, r.edx],
            );
        }
    }
    // Once to warm up (first execution may take a page walk and an emulation-batch start).
    time_loop();
    info.loop_cycles = time_loop();
    info
}

impl HostInfo {
    /// TSC cycles per iteration of the timing loop.
    pub fn cycles_per_iteration(&self) -> u64 {
        self.loop_cycles / LOOP_ITERATIONS
    }

    /// The hypervisor signature as text (NULs removed from the end).
    pub fn signature_str(&self) -> &str {
        trim_text(&self.signature)
    }

    /// The CPU vendor string.
    pub fn vendor_str(&self) -> &str {
        trim_text(&self.vendor)
    }

    /// The CPU brand string.
    pub fn brand_str(&self) -> &str {
        trim_text(&self.brand).trim()
    }

    /// Classifies the host (see the module docs).
    pub fn flavour(&self) -> Flavour {
        if self.signature_str() == "TCGTCGTCGTCG" {
            Flavour::QemuTcg
        } else if self.cycles_per_iteration() > INTERPRETED_CYCLES_PER_ITER {
            Flavour::KvmInterpreted
        } else if self.signature_str() == "KVMKVMKVM" {
            Flavour::Kvm
        } else {
            Flavour::Unknown
        }
    }

    /// Whether CPUID shows a QEMU signature (TCG's hypervisor signature or a QEMU CPU model's
    /// brand string).
    pub fn looks_like_qemu(&self) -> bool {
        self.signature_str() == "TCGTCGTCGTCG" || self.brand_str().contains("QEMU")
    }
}

/// `bytes` up to the first NUL, as text (non-UTF-8 → empty).
fn trim_text(bytes: &[u8]) -> &str {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    core::str::from_utf8(&bytes[..end]).unwrap_or("")
}
