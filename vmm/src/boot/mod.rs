//! Everything the VMM puts in guest memory and registers before the first instruction runs.
//!
//! - `loader`: validate and load the PVH ELF kernel;
//! - `initrd`: place and copy the initrd;
//! - `bootinfo`: `hvm_start_info`, memory map, module list, command line;
//! - `mptable`: the Intel MP table that enumerates the vCPUs;
//! - `regs`: the BSP's PVH entry state and the boot GDT (APs wait for INIT-SIPI-SIPI).
//!
//! Nothing here touches KVM or devices.

pub mod bootinfo;
pub mod initrd;
pub mod loader;
pub mod mptable;
pub mod regs;
