//! CPUs, their APIC ids and the IOAPIC from the Intel MultiProcessor table (MP spec 1.4).
//!
//! Both hosts describe their CPUs this way: the lwpvm VMM writes an MP table (as Firecracker
//! does, in the last KiB of base memory), and QEMU's qboot builds one in the BIOS area. The
//! search follows the spec (and Linux's `smp_scan_config`), in this order:
//!
//! 1. the first KiB of the EBDA, whose segment is the BIOS data area word at 0x40e;
//! 2. the last KiB of base memory (size in KiB: the BDA word at 0x413; 640 KiB if unset, so
//!    0x9fc00..0xa0000, where the lwpvm VMM and QEMU `microvm` put theirs);
//! 3. the BIOS ROM area 0xf0000..0xfffff.
//!
//! A floating pointer is the 16-byte-aligned signature `_MP_`, length 1 (16 bytes) and a zero
//! byte checksum. It points at the configuration table (`PCMP`, with its own checksum), whose
//! processor entries (type 0, 20 bytes) carry an "enabled" flag: the CPU count is the number
//! of enabled processor entries. The entries are walked up to the table's length, not its
//! entry count (qboot writes 0 there; Linux ignores it too). A floating pointer with no table but a default-configuration
//! number means two CPUs (spec 5.x). Every read goes through `phys::ram_bytes`, so a bogus
//! pointer cannot make the kernel read outside low RAM. The APIC ids of the enabled
//! processors (for INIT-SIPI-SIPI) and the first enabled IOAPIC's address (entry type 2) are
//! kept; starting the other CPUs is `smp`'s job.

use super::phys::{le16, le32, ram_bytes};

/// What the MP table says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MpInfo {
    /// Enabled processors.
    pub cpus: u32,
    /// Physical address of the floating pointer structure.
    pub floating_pointer: u64,
    /// Physical address of the configuration table (0 for a default configuration).
    pub config_table: u64,
    /// Local APIC id of the boot processor, if an entry is marked BSP.
    pub bsp_apic_id: Option<u8>,
    /// Physical address of the local APIC (from the table header).
    pub lapic_phys: u32,
    /// Local APIC ids of the enabled processors, in table order (the first [`MAX_APIC_IDS`]).
    pub apic_ids: [u8; MAX_APIC_IDS],
    /// Physical address of the (first) IOAPIC, if the table lists one.
    pub ioapic_phys: Option<u32>,
}

/// Most APIC ids [`MpInfo`] keeps.
pub const MAX_APIC_IDS: usize = 64;

impl MpInfo {
    /// The APIC ids of the enabled processors.
    pub fn apic_ids(&self) -> &[u8] {
        &self.apic_ids[..(self.cpus as usize).min(MAX_APIC_IDS)]
    }
}

/// Finds the MP floating pointer and counts the enabled processors. `None` if there is no
/// valid MP table.
pub fn scan() -> Option<MpInfo> {
    let bda = ram_bytes(0x400, 0x100)?;
    let ebda = u64::from(le16(bda, 0x0e)) << 4;
    let base_kib = u64::from(le16(bda, 0x13));
    let base_end = if (512..=640).contains(&base_kib) {
        base_kib * 1024
    } else {
        640 * 1024
    };
    let mut areas = [(0u64, 0u64); 3];
    if (0x8_0000..0xa_0000).contains(&ebda) {
        areas[0] = (ebda, 1024);
    }
    areas[1] = (base_end - 1024, 1024);
    areas[2] = (0xf_0000, 0x1_0000);
    areas
        .into_iter()
        .filter(|&(_, len)| len > 0)
        .find_map(|(start, len)| find_floating_pointer(start, len))
        .and_then(parse)
}

/// The physical address of a valid floating pointer in `[start, start + len)`.
fn find_floating_pointer(start: u64, len: u64) -> Option<u64> {
    let area = ram_bytes(start, len)?;
    area.chunks_exact(16)
        .position(|p| &p[..4] == b"_MP_" && p[8] == 1 && checksum_ok(p))
        .map(|i| start + 16 * i as u64)
}

fn checksum_ok(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |sum, &b| sum.wrapping_add(b)) == 0
}

/// Parses the floating pointer at `fp` and its configuration table.
fn parse(fp: u64) -> Option<MpInfo> {
    let p = ram_bytes(fp, 16)?;
    let table = u64::from(le32(p, 4));
    let default_config = p[11];
    if table == 0 {
        // A default configuration (MP spec chapter 5): always two processors.
        let mut apic_ids = [0; MAX_APIC_IDS];
        apic_ids[1] = 1;
        return (default_config != 0).then_some(MpInfo {
            cpus: 2,
            floating_pointer: fp,
            config_table: 0,
            bsp_apic_id: Some(0),
            lapic_phys: 0xfee0_0000,
            apic_ids,
            ioapic_phys: Some(0xfec0_0000),
        });
    }
    let header = ram_bytes(table, 44)?;
    if &header[..4] != b"PCMP" {
        return None;
    }
    let base_len = le16(header, 4);
    let lapic_phys = le32(header, 36);
    if base_len < 44 {
        return None;
    }
    let whole = ram_bytes(table, base_len.into())?;
    if !checksum_ok(whole) {
        return None;
    }
    // Walk the entries by the table length, as Linux does (`smp_read_mpc`): qboot leaves the
    // header's entry count at 0.
    let mut cpus = 0;
    let mut bsp_apic_id = None;
    let mut apic_ids = [0; MAX_APIC_IDS];
    let mut ioapic_phys = None;
    let mut rest = &whole[44..];
    while let Some(&kind) = rest.first() {
        let len = match kind {
            0 => 20, // processor
            1..=4 => 8,
            _ => return None, // unknown entry type: the table is not what we think
        };
        let entry = rest.get(..len)?;
        if kind == 2 && entry[3] & 1 != 0 && ioapic_phys.is_none() {
            ioapic_phys = Some(le32(entry, 4));
        }
        if kind == 0 {
            let flags = entry[3];
            if flags & 1 != 0 {
                if (cpus as usize) < MAX_APIC_IDS {
                    apic_ids[cpus as usize] = entry[1];
                }
                cpus += 1;
                if flags & 2 != 0 {
                    bsp_apic_id = Some(entry[1]);
                }
            }
        }
        rest = &rest[len..];
    }
    (cpus > 0).then_some(MpInfo {
        cpus,
        floating_pointer: fp,
        config_table: table,
        bsp_apic_id,
        lapic_phys,
        apic_ids,
        ioapic_phys,
    })
}
