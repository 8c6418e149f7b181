//! PVH boot information: `hvm_start_info`, the memory map, the module list and the command
//! line, written through linux-loader's `PvhBootConfigurator`.
//!
//! What the guest finds (addresses from `layout.rs`):
//! - `hvm_start_info` (magic 0x336ec578, version 1) at `PVH_START_INFO`, passed in EBX;
//! - `cmdline_paddr` → NUL-terminated command line at `CMDLINE_START`: the user's `--cmdline`,
//!   then `virtio_mmio.device=4K@0xd0000000:5`, then `lwpvm.host=lwpvm` (init arguments after
//!   a `--` in the user's command line stay last);
//! - `memmap_paddr`/`memmap_entries` → E820-style entries at `PVH_MEMMAP_START`: RAM
//!   `[0, 0x9fc00)`, reserved `[0xf0000, 0x100000)` (boot data and MP table), RAM from 1 MiB to
//!   the top of low RAM, RAM above 4 GiB if any;
//! - `nr_modules`/`modlist_paddr` → one `hvm_modlist_entry` at `PVH_MODLIST_START` for the
//!   initrd, when there is one (no module command line).
//!
//! This module knows the PVH ABI and the layout, not what the guest does with it.

use linux_loader::cmdline::Cmdline;
use linux_loader::configurator::pvh::PvhBootConfigurator;
use linux_loader::configurator::{BootConfigurator, BootParams};
use linux_loader::loader::elf::start_info::{
    hvm_memmap_table_entry, hvm_modlist_entry, hvm_start_info,
};
use linux_loader::loader::load_cmdline;
use vm_memory::{GuestAddress, GuestMemoryMmap};

use shared_abi::current::boot::{CMDLINE_HOST, HVM_START_MAGIC};

use crate::layout::{
    BOOT_DATA_END, BOOT_DATA_START, BOOT_GDT_START, CMDLINE_MAX_SIZE, CMDLINE_START,
    KERNEL_MIN_ADDR, LOW_RAM_USABLE_END, MPTABLE_MAX_SIZE, MPTABLE_START, PVH_MAX_MODULES,
    PVH_MEMMAP_MAX_ENTRIES, PVH_MEMMAP_START, PVH_MODLIST_START, PVH_START_INFO, RAM_START,
    VIRTIO_CONSOLE_GSI, VIRTIO_CONSOLE_MMIO_BASE, VIRTIO_MMIO_SIZE,
};
use crate::memory::RamLayout;

/// `hvm_start_info.version` written by the VMM (the version with the memory map fields).
pub const HVM_START_INFO_VERSION: u32 = 1;
/// E820 type of usable RAM.
pub const E820_RAM: u32 = 1;
/// E820 type of reserved memory.
pub const E820_RESERVED: u32 = 2;
/// The value of the `lwpvm.host=` key.
pub const HOST_NAME: &str = "lwpvm";

/// Errors building or writing boot information.
#[derive(Debug, thiserror::Error)]
pub enum BootInfoError {
    /// The command line is invalid (an input problem).
    #[error("invalid kernel command line: {0}")]
    Cmdline(linux_loader::cmdline::Error),
    /// The command line is too long (an input problem).
    #[error("kernel command line too long: {len} bytes given, at most {max} fit next to the VMM's own keys")]
    CmdlineTooLong {
        /// Length of the user's part.
        len: usize,
        /// Most the user's part may have.
        max: usize,
    },
    /// Writing the command line into guest memory failed.
    #[error("cannot write the command line into guest memory: {0}")]
    WriteCmdline(linux_loader::loader::Error),
    /// Writing `hvm_start_info` and its tables failed.
    #[error("cannot write PVH boot information: {0}")]
    Write(linux_loader::configurator::Error),
    /// The memory map has more entries than the VMM reserved room for.
    #[error("the memory map has {0} entries, more than the {PVH_MEMMAP_MAX_ENTRIES} reserved")]
    MemmapTooLarge(usize),
}

// The boot-data tables must not overlap each other or leave the reserved area.
const _: () = {
    use std::mem::size_of;
    assert!(MPTABLE_START + MPTABLE_MAX_SIZE <= BOOT_GDT_START);
    assert!(BOOT_GDT_START + 4 * 8 <= PVH_START_INFO);
    assert!(PVH_START_INFO + size_of::<hvm_start_info>() as u64 <= PVH_MODLIST_START);
    assert!(
        PVH_MODLIST_START + PVH_MAX_MODULES * size_of::<hvm_modlist_entry>() as u64
            <= PVH_MEMMAP_START
    );
    assert!(
        PVH_MEMMAP_START + PVH_MEMMAP_MAX_ENTRIES * size_of::<hvm_memmap_table_entry>() as u64
            <= CMDLINE_START
    );
    assert!(CMDLINE_START + CMDLINE_MAX_SIZE as u64 <= BOOT_DATA_END);
    assert!(BOOT_DATA_START <= MPTABLE_START);
};

/// A module handed to the guest (the initrd).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Module {
    /// Guest-physical address.
    pub addr: u64,
    /// Size in bytes.
    pub size: u64,
}

/// Appends the VMM's keys: the virtio-mmio console, then `lwpvm.host=lwpvm`.
fn append_vmm_keys(cmdline: &mut Cmdline) -> Result<(), BootInfoError> {
    cmdline
        .add_virtio_mmio_device(
            VIRTIO_MMIO_SIZE,
            GuestAddress(VIRTIO_CONSOLE_MMIO_BASE),
            VIRTIO_CONSOLE_GSI,
            None,
        )
        .map_err(BootInfoError::Cmdline)?;
    cmdline
        .insert_str(format!("{CMDLINE_HOST}{HOST_NAME}"))
        .map_err(BootInfoError::Cmdline)
}

/// Builds the guest command line: the user's part, the virtio-mmio console, the host key.
pub fn build_cmdline(user: &str) -> Result<Cmdline, BootInfoError> {
    let mut own = Cmdline::new(CMDLINE_MAX_SIZE).map_err(BootInfoError::Cmdline)?;
    append_vmm_keys(&mut own)?;
    let own_len = own
        .as_cstring()
        .map_err(BootInfoError::Cmdline)?
        .as_bytes()
        .len();
    // One space before the VMM's keys and the terminating NUL.
    let max = CMDLINE_MAX_SIZE - own_len - 2;
    let len = user.trim().len();
    if len > max {
        return Err(BootInfoError::CmdlineTooLong { len, max });
    }
    let mut cmdline = Cmdline::try_from(user, CMDLINE_MAX_SIZE).map_err(BootInfoError::Cmdline)?;
    append_vmm_keys(&mut cmdline)?;
    // Rejects embedded NULs and an init-args part without boot args before anything runs.
    cmdline.as_cstring().map_err(BootInfoError::Cmdline)?;
    Ok(cmdline)
}

/// The E820-style memory map for `ram`.
pub fn memory_map(ram: &RamLayout) -> Vec<hvm_memmap_table_entry> {
    let entry = |addr: u64, size: u64, type_: u32| hvm_memmap_table_entry {
        addr,
        size,
        type_,
        reserved: 0,
    };
    let mut map = vec![
        entry(RAM_START, LOW_RAM_USABLE_END - RAM_START, E820_RAM),
        entry(
            BOOT_DATA_START,
            BOOT_DATA_END - BOOT_DATA_START,
            E820_RESERVED,
        ),
    ];
    for r in ram.ranges() {
        // The first range starts at 0; its part above 1 MiB is usable RAM.
        let start = r.start.max(KERNEL_MIN_ADDR);
        if r.end() > start {
            map.push(entry(start, r.end() - start, E820_RAM));
        }
    }
    map
}

/// The `hvm_start_info` for the given counts.
pub fn start_info(memmap_entries: usize, modules: &[Module]) -> hvm_start_info {
    hvm_start_info {
        magic: HVM_START_MAGIC,
        version: HVM_START_INFO_VERSION,
        flags: 0,
        nr_modules: modules.len() as u32,
        modlist_paddr: if modules.is_empty() {
            0
        } else {
            PVH_MODLIST_START
        },
        cmdline_paddr: CMDLINE_START,
        rsdp_paddr: 0,
        memmap_paddr: PVH_MEMMAP_START,
        memmap_entries: memmap_entries as u32,
        reserved: 0,
    }
}

/// Writes the command line, `hvm_start_info`, the memory map and the module list.
pub fn write(
    mem: &GuestMemoryMmap,
    ram: &RamLayout,
    cmdline: &Cmdline,
    modules: &[Module],
) -> Result<(), BootInfoError> {
    debug_assert!(modules.len() as u64 <= PVH_MAX_MODULES);
    load_cmdline(mem, GuestAddress(CMDLINE_START), cmdline).map_err(BootInfoError::WriteCmdline)?;

    let memmap = memory_map(ram);
    if memmap.len() as u64 > PVH_MEMMAP_MAX_ENTRIES {
        return Err(BootInfoError::MemmapTooLarge(memmap.len()));
    }
    let info = start_info(memmap.len(), modules);
    let mut params = BootParams::new::<hvm_start_info>(&info, GuestAddress(PVH_START_INFO));
    params.set_sections::<hvm_memmap_table_entry>(&memmap, GuestAddress(PVH_MEMMAP_START));
    if !modules.is_empty() {
        let list: Vec<hvm_modlist_entry> = modules
            .iter()
            .map(|m| hvm_modlist_entry {
                paddr: m.addr,
                size: m.size,
                cmdline_paddr: 0,
                reserved: 0,
            })
            .collect();
        params.set_modules::<hvm_modlist_entry>(&list, GuestAddress(PVH_MODLIST_START));
    }
    PvhBootConfigurator::write_bootparams::<GuestMemoryMmap>(&params, mem)
        .map_err(BootInfoError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;
    use vm_memory::Bytes;

    #[test]
    fn cmdline_appends_device_and_host() {
        let c = build_cmdline("console=hvc0 quiet").unwrap();
        assert_eq!(
            c.as_cstring().unwrap().to_str().unwrap(),
            "console=hvc0 quiet virtio_mmio.device=4K@0xd0000000:5 lwpvm.host=lwpvm"
        );
        let c = build_cmdline("").unwrap();
        assert_eq!(
            c.as_cstring().unwrap().to_str().unwrap(),
            "virtio_mmio.device=4K@0xd0000000:5 lwpvm.host=lwpvm"
        );
        let c = build_cmdline("a=1 -- init arg").unwrap();
        assert_eq!(
            c.as_cstring().unwrap().to_str().unwrap(),
            "a=1 virtio_mmio.device=4K@0xd0000000:5 lwpvm.host=lwpvm -- init arg"
        );
    }

    #[test]
    fn cmdline_too_long_is_an_error() {
        let long = "x".repeat(CMDLINE_MAX_SIZE);
        assert!(matches!(
            build_cmdline(&long),
            Err(BootInfoError::CmdlineTooLong { .. })
        ));
        let almost = "y".repeat(CMDLINE_MAX_SIZE - 40);
        assert!(build_cmdline(&almost).is_err());
        // The longest accepted user part fills the capacity exactly.
        let own = "virtio_mmio.device=4K@0xd0000000:5 lwpvm.host=lwpvm".len();
        let max = "z".repeat(CMDLINE_MAX_SIZE - own - 2);
        let c = build_cmdline(&max).unwrap();
        assert_eq!(
            c.as_cstring().unwrap().as_bytes_with_nul().len(),
            CMDLINE_MAX_SIZE
        );
        assert!(build_cmdline(&format!("{max}z")).is_err());
    }

    #[test]
    fn memory_map_small() {
        let m = memory_map(&RamLayout::new(256 << 20));
        let v: Vec<_> = m.iter().map(|e| (e.addr, e.size, e.type_)).collect();
        assert_eq!(
            v,
            vec![
                (0, 0x9_fc00, E820_RAM),
                (0xf_0000, 0x1_0000, E820_RESERVED),
                (0x10_0000, (256 << 20) - 0x10_0000, E820_RAM),
            ]
        );
    }

    #[test]
    fn memory_map_above_4g() {
        let m = memory_map(&RamLayout::new(5 << 30));
        assert_eq!(m.len(), 4);
        assert_eq!((m[2].addr, m[2].size), (0x10_0000, 0xc000_0000 - 0x10_0000));
        assert_eq!(
            (m[3].addr, m[3].size),
            (0x1_0000_0000, (5 << 30) - 0xc000_0000)
        );
    }

    #[test]
    fn boot_info_in_guest_memory() {
        let ram = RamLayout::new(64 << 20);
        let mem = ram.create_guest_memory().unwrap();
        let cmdline = build_cmdline("hello").unwrap();
        let module = Module {
            addr: 0x3ff_f000,
            size: 100,
        };
        write(&mem, &ram, &cmdline, &[module]).unwrap();

        let info: hvm_start_info = mem.read_obj(GuestAddress(PVH_START_INFO)).unwrap();
        assert_eq!(info.magic, 0x336e_c578);
        assert_eq!(info.version, 1);
        assert_eq!(info.nr_modules, 1);
        assert_eq!(info.modlist_paddr, PVH_MODLIST_START);
        assert_eq!(info.cmdline_paddr, CMDLINE_START);
        assert_eq!(info.memmap_paddr, PVH_MEMMAP_START);
        assert_eq!(info.memmap_entries, 3);

        let m: hvm_modlist_entry = mem.read_obj(GuestAddress(PVH_MODLIST_START)).unwrap();
        assert_eq!((m.paddr, m.size, m.cmdline_paddr), (0x3ff_f000, 100, 0));

        let e: hvm_memmap_table_entry = mem
            .read_obj(GuestAddress(
                PVH_MEMMAP_START + 2 * size_of::<hvm_memmap_table_entry>() as u64,
            ))
            .unwrap();
        assert_eq!(
            (e.addr, e.size, e.type_),
            (0x10_0000, (64 << 20) - 0x10_0000, 1)
        );

        let mut buf = vec![0u8; 60];
        mem.read_slice(&mut buf, GuestAddress(CMDLINE_START))
            .unwrap();
        assert!(buf.starts_with(b"hello virtio_mmio.device=4K@0xd0000000:5 lwpvm.host=lwpvm\0"));
    }
}
