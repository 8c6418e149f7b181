//! The Intel MultiProcessor Specification 1.4 table: how the guest learns its CPUs.
//!
//! Layout (modelled on Firecracker's `arch/x86_64/mptable.rs`): the 16-byte floating pointer
//! `"_MP_"` at [`MPTABLE_START`](crate::layout::MPTABLE_START) points at the configuration table
//! `"PCMP"` right behind it, which lists, in order: one processor entry per vCPU (APIC ids
//! 0..N-1, vCPU 0 flagged as the bootstrap processor), one ISA bus, the IOAPIC (id N, at
//! 0xfec00000), an interrupt-source entry per IOAPIC pin (ISA IRQ i → pin i), and the two local
//! interrupt entries (ExtINT → LINT0, NMI → LINT1). Both structures carry checksums that make
//! their bytes sum to zero. QEMU's qboot firmware writes an equivalent table, so the guest's
//! parser is the same under both hosts.
//!
//! This module builds bytes and writes them; it knows nothing of how vCPUs are created.

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::layout::{IOAPIC_START, LAPIC_START, MPTABLE_MAX_SIZE, MPTABLE_START};

/// Floating pointer signature.
pub const MPF_SIGNATURE: &[u8; 4] = b"_MP_";
/// Configuration table signature.
pub const MPC_SIGNATURE: &[u8; 4] = b"PCMP";
/// Size of the floating pointer structure.
pub const MPF_SIZE: usize = 16;
/// Size of the configuration table header.
pub const MPC_HEADER_SIZE: usize = 44;
/// Size of a processor entry.
pub const MPC_CPU_SIZE: usize = 20;
/// Size of every other entry kind.
pub const MPC_ENTRY_SIZE: usize = 8;
/// Number of IOAPIC pins (KVM's in-kernel IOAPIC).
pub const IOAPIC_PINS: u8 = 24;

const SPEC_REV_1_4: u8 = 4;
const ENTRY_PROCESSOR: u8 = 0;
const ENTRY_BUS: u8 = 1;
const ENTRY_IOAPIC: u8 = 2;
const ENTRY_INTSRC: u8 = 3;
const ENTRY_LINTSRC: u8 = 4;
const CPU_ENABLED: u8 = 1;
const CPU_BOOTPROCESSOR: u8 = 2;
const APIC_VERSION: u8 = 0x14;
const IOAPIC_VERSION: u8 = 0x11;
const CPU_SIGNATURE_FAMILY6: u32 = 0x600;
const CPU_FEATURE_FPU_APIC: u32 = (1 << 0) | (1 << 9);
const MP_INT: u8 = 0;
const MP_NMI: u8 = 1;
const MP_EXTINT: u8 = 3;

/// Errors building the MP table.
#[derive(Debug, thiserror::Error)]
pub enum MptableError {
    /// Too many CPUs for the table's room.
    #[error(
        "an MP table for {0} vCPUs does not fit in the {MPTABLE_MAX_SIZE} bytes reserved for it"
    )]
    TooLarge(u8),
    /// No vCPUs.
    #[error("an MP table needs at least one vCPU")]
    NoCpus,
    /// Writing guest memory failed.
    #[error("cannot write the MP table into guest memory: {0}")]
    Write(#[source] vm_memory::GuestMemoryError),
}

/// Size of the whole structure (floating pointer + configuration table) for `num_cpus`.
pub fn size(num_cpus: u8) -> usize {
    MPF_SIZE
        + MPC_HEADER_SIZE
        + MPC_CPU_SIZE * usize::from(num_cpus)
        + MPC_ENTRY_SIZE * (2 + usize::from(IOAPIC_PINS) + 2)
}

fn checksum(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b)))
}

/// Builds the floating pointer and configuration table for a table placed at `base`.
pub fn build(num_cpus: u8, base: u64) -> Result<Vec<u8>, MptableError> {
    if num_cpus == 0 {
        return Err(MptableError::NoCpus);
    }
    let total = size(num_cpus);
    if total as u64 > MPTABLE_MAX_SIZE {
        return Err(MptableError::TooLarge(num_cpus));
    }
    let ioapic_id = num_cpus;
    let mut t = Vec::with_capacity(total);

    // Floating pointer.
    t.extend_from_slice(MPF_SIGNATURE);
    t.extend_from_slice(&((base + MPF_SIZE as u64) as u32).to_le_bytes());
    t.push(1); // length in 16-byte units
    t.push(SPEC_REV_1_4);
    t.push(0); // checksum, below
    t.extend_from_slice(&[0; 5]); // feature bytes: 0 = a configuration table is present
    t[10] = checksum(&t[..MPF_SIZE]);

    // Configuration table header.
    let mpc = t.len();
    t.extend_from_slice(MPC_SIGNATURE);
    t.extend_from_slice(&((total - MPF_SIZE) as u16).to_le_bytes());
    t.push(SPEC_REV_1_4);
    t.push(0); // checksum, below
    t.extend_from_slice(b"LWPVM   ");
    t.extend_from_slice(b"LWPVM VMM   ");
    t.extend_from_slice(&0u32.to_le_bytes()); // OEM table pointer
    t.extend_from_slice(&0u16.to_le_bytes()); // OEM table size
    let entry_count = u16::from(num_cpus) + 2 + u16::from(IOAPIC_PINS) + 2;
    t.extend_from_slice(&entry_count.to_le_bytes());
    t.extend_from_slice(&(LAPIC_START as u32).to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes()); // extended table length/checksum

    for id in 0..num_cpus {
        t.push(ENTRY_PROCESSOR);
        t.push(id);
        t.push(APIC_VERSION);
        t.push(CPU_ENABLED | if id == 0 { CPU_BOOTPROCESSOR } else { 0 });
        t.extend_from_slice(&CPU_SIGNATURE_FAMILY6.to_le_bytes());
        t.extend_from_slice(&CPU_FEATURE_FPU_APIC.to_le_bytes());
        t.extend_from_slice(&[0; 8]);
    }
    t.extend_from_slice(&[ENTRY_BUS, 0]);
    t.extend_from_slice(b"ISA   ");
    t.extend_from_slice(&[ENTRY_IOAPIC, ioapic_id, IOAPIC_VERSION, 1]);
    t.extend_from_slice(&(IOAPIC_START as u32).to_le_bytes());
    for pin in 0..IOAPIC_PINS {
        // type, irqtype, irqflag (2 bytes: conforming), source bus, source IRQ, dest. IOAPIC, pin
        t.extend_from_slice(&[ENTRY_INTSRC, MP_INT, 0, 0, 0, pin, ioapic_id, pin]);
    }
    t.extend_from_slice(&[ENTRY_LINTSRC, MP_EXTINT, 0, 0, 0, 0, 0, 0]);
    t.extend_from_slice(&[ENTRY_LINTSRC, MP_NMI, 0, 0, 0, 0, 0xff, 1]);
    debug_assert_eq!(t.len(), total);
    t[mpc + 7] = checksum(&t[mpc..]);
    Ok(t)
}

/// Writes the MP table for `num_cpus` vCPUs at [`MPTABLE_START`].
pub fn write(mem: &GuestMemoryMmap, num_cpus: u8) -> Result<(), MptableError> {
    let bytes = build(num_cpus, MPTABLE_START)?;
    mem.write_slice(&bytes, GuestAddress(MPTABLE_START))
        .map_err(MptableError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(b: &[u8]) -> u8 {
        b.iter().fold(0u8, |a, &x| a.wrapping_add(x))
    }

    #[test]
    fn one_cpu_table_bytes() {
        let t = build(1, 0xf_0000).unwrap();
        assert_eq!(t.len(), size(1));
        assert_eq!(&t[0..4], b"_MP_");
        assert_eq!(u32::from_le_bytes(t[4..8].try_into().unwrap()), 0xf_0010);
        assert_eq!(t[8], 1);
        assert_eq!(t[9], 4);
        assert_eq!(sum(&t[..16]), 0, "floating pointer checksum");
        let mpc = &t[16..];
        assert_eq!(&mpc[0..4], b"PCMP");
        assert_eq!(usize::from(u16::from_le_bytes([mpc[4], mpc[5]])), mpc.len());
        assert_eq!(sum(mpc), 0, "configuration table checksum");
        assert_eq!(
            u32::from_le_bytes(mpc[36..40].try_into().unwrap()),
            0xfee0_0000
        );
        // Entry count: 1 cpu + bus + ioapic + 24 intsrc + 2 lintsrc.
        assert_eq!(u16::from_le_bytes([mpc[34], mpc[35]]), 29);
        // First entry: the BSP.
        let cpu = &mpc[44..64];
        assert_eq!(cpu[0], 0);
        assert_eq!(cpu[1], 0);
        assert_eq!(cpu[3], CPU_ENABLED | CPU_BOOTPROCESSOR);
    }

    /// (APIC id, flags) per processor entry, (id, address) per IOAPIC, interrupt sources.
    type Parsed = (Vec<(u8, u8)>, Vec<(u8, u32)>, usize);

    /// Walks the entries as a guest would.
    fn parse(t: &[u8]) -> Parsed {
        let mpc = &t[16..];
        let count = u16::from_le_bytes([mpc[34], mpc[35]]);
        let mut off = 44;
        let (mut cpus, mut ioapics, mut intsrc) = (vec![], vec![], 0);
        for _ in 0..count {
            match mpc[off] {
                0 => {
                    cpus.push((mpc[off + 1], mpc[off + 3]));
                    off += 20;
                }
                2 => {
                    ioapics.push((
                        mpc[off + 1],
                        u32::from_le_bytes(mpc[off + 4..off + 8].try_into().unwrap()),
                    ));
                    off += 8;
                }
                3 => {
                    intsrc += 1;
                    off += 8;
                }
                1 | 4 => off += 8,
                other => panic!("unknown entry type {other}"),
            }
        }
        assert_eq!(off, mpc.len());
        (cpus, ioapics, intsrc)
    }

    #[test]
    fn sixty_four_cpus() {
        let t = build(64, 0xf_0000).unwrap();
        assert_eq!(t.len(), 1564);
        assert_eq!(sum(&t[..16]), 0);
        assert_eq!(sum(&t[16..]), 0);
        let (cpus, ioapics, intsrc) = parse(&t);
        assert_eq!(cpus.len(), 64);
        for (i, (id, flags)) in cpus.iter().enumerate() {
            assert_eq!(usize::from(*id), i);
            assert_eq!(*flags & CPU_BOOTPROCESSOR != 0, i == 0);
            assert!(*flags & CPU_ENABLED != 0);
        }
        assert_eq!(ioapics, vec![(64, 0xfec0_0000)]);
        assert_eq!(intsrc, 24);
    }

    #[test]
    fn every_cpu_count_checksums() {
        for n in 1..=64u8 {
            let t = build(n, 0xf_0000).unwrap();
            assert_eq!(sum(&t[..16]), 0, "{n}");
            assert_eq!(sum(&t[16..]), 0, "{n}");
            assert_eq!(parse(&t).0.len(), usize::from(n));
        }
    }

    #[test]
    fn limits() {
        assert!(matches!(build(0, 0xf_0000), Err(MptableError::NoCpus)));
        assert!(matches!(
            build(255, 0xf_0000),
            Err(MptableError::TooLarge(255))
        ));
    }

    #[test]
    fn written_to_guest_memory() {
        let mem = crate::memory::RamLayout::new(16 << 20)
            .create_guest_memory()
            .unwrap();
        write(&mem, 2).unwrap();
        let mut sig = [0u8; 4];
        mem.read_slice(&mut sig, GuestAddress(MPTABLE_START))
            .unwrap();
        assert_eq!(&sig, b"_MP_");
        mem.read_slice(&mut sig, GuestAddress(MPTABLE_START + 16))
            .unwrap();
        assert_eq!(&sig, b"PCMP");
    }
}
