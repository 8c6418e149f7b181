//! Boot-time conventions: the PVH entry and the kernel command-line keys lwpvm uses.
//!
//! The guest is booted through PVH (Xen's `XEN_ELFNOTE_PHYS32_ENTRY`, note type 18): 32-bit
//! flat protected mode, paging off, `EBX` = guest-physical address of `hvm_start_info`. Both the
//! lwpvm VMM and QEMU's `microvm` machine boot the same ELF that way. Devices are announced on
//! the command line in Linux's syntax (`virtio_mmio.device=<size>@<base>:<irq>`), so the guest
//! finds them the same way under both hosts.

/// ELF note type of the PVH 32-bit entry point (Xen public/elfnote.h).
pub const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;
/// `hvm_start_info.magic` ("xEn3" with the top bit set).
pub const HVM_START_MAGIC: u32 = 0x336e_c578;

/// Command-line key with which a host announces a virtio-mmio device (Linux syntax).
pub const CMDLINE_VIRTIO_MMIO: &str = "virtio_mmio.device=";
/// Command-line key naming the host kind, set by the lwpvm VMM (`lwpvm.host=lwpvm`).
/// QEMU does not set it; the guest then tells QEMU TCG from KVM by CPUID.
pub const CMDLINE_HOST: &str = "lwpvm.host=";
