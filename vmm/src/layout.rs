//! Guest-physical addresses and sizes that only the VMM decides.
//!
//! This file holds documented constants and nothing else. Values the guest must agree on without
//! being told (ports, exit statuses, command-line keys) live in `shared-abi`; everything here is
//! announced to the guest at boot (through `hvm_start_info`, the E820-style memory map, the MP
//! table and the command line), so the guest never hard-codes it.
//!
//! ```text
//! 0x0000_0000 ┬ RAM (E820 type 1) ........................ conventional memory
//! 0x0009_fc00 ┼ not RAM (EBDA / VGA / option ROM hole)
//! 0x000f_0000 ┼ boot data (E820 type 2, reserved): MP table, GDT, hvm_start_info,
//!             │ module list, memory map, command line
//! 0x0010_0000 ┼ RAM: kernel segments, free memory, initrd at the top
//!  low end    ┴ min(--mem, 0xc000_0000)
//! 0xc000_0000 ┬ 32-bit MMIO hole (no RAM): virtio-mmio console at 0xd000_0000,
//!             │ KVM's TSS at 0xfffb_d000, IOAPIC 0xfec0_0000, LAPIC 0xfee0_0000
//! 0x1_0000_0000 RAM above 4 GiB: whatever of --mem did not fit below the hole
//! ```

/// First guest-physical address of RAM.
pub const RAM_START: u64 = 0;

/// End (exclusive) of the conventional memory reported as usable RAM below 1 MiB; the usual
/// start of the EBDA.
pub const LOW_RAM_USABLE_END: u64 = 0x9_fc00;

/// Start of the reserved boot-data area (the legacy BIOS area). Everything the VMM writes for
/// the guest at boot lives here, so the guest's frame allocator never hands it out by mistake.
pub const BOOT_DATA_START: u64 = 0xf_0000;
/// End (exclusive) of the reserved boot-data area.
pub const BOOT_DATA_END: u64 = 0x10_0000;

/// Intel MP floating pointer structure ("_MP_"), followed at once by the MP configuration table
/// ("PCMP"). It sits in the 0xf0000–0xfffff BIOS area, where guests scan for it.
pub const MPTABLE_START: u64 = 0xf_0000;
/// Room reserved for the MP floating pointer plus configuration table (64 vCPUs need 1564
/// bytes).
pub const MPTABLE_MAX_SIZE: u64 = 0x1000;

/// Boot GDT the BSP's PVH entry segments are described by (null, code, data, TSS).
pub const BOOT_GDT_START: u64 = 0xf_1000;

/// `hvm_start_info` (its address is passed in EBX at the PVH entry).
pub const PVH_START_INFO: u64 = 0xf_2000;
/// `hvm_modlist_entry` array (the initrd, when given).
pub const PVH_MODLIST_START: u64 = 0xf_2040;
/// Most modules the module list has room for.
pub const PVH_MAX_MODULES: u64 = 4;
/// `hvm_memmap_table_entry` array (the E820-style memory map).
pub const PVH_MEMMAP_START: u64 = 0xf_2100;
/// Most memory-map entries the table has room for.
pub const PVH_MEMMAP_MAX_ENTRIES: u64 = 16;

/// Kernel command line (NUL-terminated).
pub const CMDLINE_START: u64 = 0xf_3000;
/// Capacity of the command line, including its terminating NUL.
pub const CMDLINE_MAX_SIZE: usize = 0x1000;

/// Lowest address a kernel segment may be loaded at (1 MiB, as for Linux and every PVH kernel).
pub const KERNEL_MIN_ADDR: u64 = 0x10_0000;

/// Start of the 32-bit MMIO hole: RAM beyond this goes above 4 GiB instead.
pub const MMIO_HOLE_START: u64 = 0xc000_0000;
/// Start of the RAM that did not fit below [`MMIO_HOLE_START`].
pub const HIGH_RAM_START: u64 = 0x1_0000_0000;

/// Base of the virtio-mmio console transport.
pub const VIRTIO_CONSOLE_MMIO_BASE: u64 = 0xd000_0000;
/// Size of one virtio-mmio transport window.
pub const VIRTIO_MMIO_SIZE: u64 = 0x1000;
/// GSI (IOAPIC pin) of the virtio-mmio console.
pub const VIRTIO_CONSOLE_GSI: u32 = 5;

/// Base of the in-kernel IOAPIC (fixed by KVM).
pub const IOAPIC_START: u64 = 0xfec0_0000;
/// Base of the local APICs (fixed by KVM).
pub const LAPIC_START: u64 = 0xfee0_0000;

/// Three pages KVM needs for its real-mode TSS on Intel hosts (`KVM_SET_TSS_ADDR`); inside the
/// MMIO hole so they never overlap RAM.
pub const KVM_TSS_ADDRESS: u64 = 0xfffb_d000;

/// Alignment of the initrd (a page).
pub const INITRD_ALIGN: u64 = 0x1000;
