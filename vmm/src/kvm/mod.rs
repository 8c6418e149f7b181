//! The KVM layer: `/dev/kvm`, the VM file descriptor and its one-time setup.
//!
//! This is the only place (with its submodules) that names `kvm_ioctls`/`kvm_bindings`. It owns
//! the VM fd, guest memory slots, the in-kernel irqchip (PIC + IOAPIC + LAPICs), irqfds and
//! ioeventfds, and creates vCPUs with their CPUID. It knows no device semantics: an irqfd is an
//! `EventFd` and a GSI; an ioeventfd is an `EventFd`, an address and a datamatch value.
//!
//! Setup order (what KVM requires): create VM → TSS address → memory slots → irqchip → irqfds
//! and ioeventfds → vCPUs (the irqchip must exist before the first vCPU).

pub mod pause;
pub mod regs;
pub mod stats;
pub mod vcpu;

use kvm_bindings::{kvm_userspace_memory_region, CpuId, KVM_API_VERSION, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::{Cap, IoEventAddress, VmFd};
use vm_memory::{GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion};
use vmm_sys_util::errno;
use vmm_sys_util::eventfd::EventFd;

use crate::layout::KVM_TSS_ADDRESS;

pub use vcpu::Vcpu;

/// Errors from the KVM layer.
#[derive(Debug, thiserror::Error)]
pub enum KvmError {
    /// The KVM device cannot be opened (an environment problem the user must fix).
    #[error("cannot open {path}: {source} (is KVM available and do you have permission?)")]
    Open {
        /// The device node.
        path: String,
        /// The errno.
        #[source]
        source: errno::Error,
    },
    /// The KVM API version is not the stable one.
    #[error("/dev/kvm reports API version {0}, expected {KVM_API_VERSION}")]
    ApiVersion(i32),
    /// A capability the VMM needs is missing.
    #[error("KVM lacks a capability the VMM needs: {0}")]
    MissingCap(&'static str),
    /// An ioctl failed.
    #[error("KVM {what} failed: {source}")]
    Ioctl {
        /// Which operation.
        what: &'static str,
        /// The errno.
        #[source]
        source: errno::Error,
    },
    /// A guest memory region cannot be described to KVM.
    #[error("guest memory region at {0:#x} cannot be registered with KVM")]
    BadRegion(u64),
}

/// Shorthand for mapping an ioctl error.
pub(crate) fn ioctl_err(what: &'static str) -> impl FnOnce(errno::Error) -> KvmError {
    move |source| KvmError::Ioctl { what, source }
}

/// An open `/dev/kvm`.
#[derive(Debug)]
pub struct Kvm {
    kvm: kvm_ioctls::Kvm,
}

impl Kvm {
    /// Opens the KVM device `path` (normally `/dev/kvm`) and checks the API version and the
    /// capabilities the VMM relies on.
    pub fn open(path: &std::path::Path) -> Result<Self, KvmError> {
        let shown = path.display().to_string();
        let open_err = |source| KvmError::Open {
            path: shown.clone(),
            source,
        };
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| open_err(errno::Error::new(libc::EINVAL)))?;
        let kvm = kvm_ioctls::Kvm::new_with_path(&c_path).map_err(open_err)?;
        let version = kvm.get_api_version();
        if version != KVM_API_VERSION as i32 {
            return Err(KvmError::ApiVersion(version));
        }
        for (cap, name) in [
            (Cap::UserMemory, "KVM_CAP_USER_MEMORY"),
            (Cap::Irqchip, "KVM_CAP_IRQCHIP"),
            (Cap::Irqfd, "KVM_CAP_IRQFD"),
            (Cap::Ioeventfd, "KVM_CAP_IOEVENTFD"),
            (Cap::ImmediateExit, "KVM_CAP_IMMEDIATE_EXIT"),
        ] {
            if !kvm.check_extension(cap) {
                return Err(KvmError::MissingCap(name));
            }
        }
        Ok(Kvm { kvm })
    }

    /// Most vCPUs KVM allows in one VM.
    pub fn max_vcpus(&self) -> usize {
        self.kvm.get_max_vcpus()
    }

    /// Creates a VM backed by `mem`, with the in-kernel irqchip.
    pub fn create_vm(&self, mem: &GuestMemoryMmap) -> Result<Vm, KvmError> {
        let fd = self.kvm.create_vm().map_err(ioctl_err("KVM_CREATE_VM"))?;
        // Needed on Intel before the irqchip; harmless elsewhere, and unsupported on some
        // hosts, where KVM does not need it either.
        if let Err(e) = fd.set_tss_address(KVM_TSS_ADDRESS as usize) {
            log::debug!("KVM_SET_TSS_ADDR failed ({e}); continuing without it");
        }
        for (slot, region) in mem.iter().enumerate() {
            let host = mem
                .get_host_address(region.start_addr())
                .map_err(|_| KvmError::BadRegion(region.start_addr().0))?;
            let desc = kvm_userspace_memory_region {
                slot: slot as u32,
                flags: 0,
                guest_phys_addr: region.start_addr().0,
                memory_size: region.len(),
                userspace_addr: host as u64,
            };
            // SAFETY: `host` is the start of the live mmap backing `region`, which is `len()`
            // bytes long. `mem` (whose regions are reference counted) is kept alive by the VMM
            // until the process exits, which outlives the VM and every vCPU thread, so KVM
            // never accesses unmapped host memory through this slot.
            unsafe { fd.set_user_memory_region(desc) }
                .map_err(ioctl_err("KVM_SET_USER_MEMORY_REGION"))?;
        }
        fd.create_irq_chip()
            .map_err(ioctl_err("KVM_CREATE_IRQCHIP"))?;
        let cpuid = self
            .kvm
            .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map_err(ioctl_err("KVM_GET_SUPPORTED_CPUID"))?;
        Ok(Vm { fd, cpuid })
    }
}

/// A VM with its memory and irqchip set up.
#[derive(Debug)]
pub struct Vm {
    fd: VmFd,
    cpuid: CpuId,
}

impl Vm {
    /// Makes a write to `evt` raise `gsi` on the in-kernel IOAPIC (an edge).
    pub fn register_irqfd(&self, evt: &EventFd, gsi: u32) -> Result<(), KvmError> {
        self.fd
            .register_irqfd(evt, gsi)
            .map_err(ioctl_err("KVM_IRQFD"))
    }

    /// Makes a 4-byte guest write of `datamatch` to MMIO address `addr` signal `evt` in the
    /// host kernel, without an exit to the VMM.
    pub fn register_mmio_ioeventfd(
        &self,
        evt: &EventFd,
        addr: u64,
        datamatch: u32,
    ) -> Result<(), KvmError> {
        self.fd
            .register_ioevent(evt, &IoEventAddress::Mmio(addr), datamatch)
            .map_err(ioctl_err("KVM_IOEVENTFD"))
    }

    /// Creates vCPU `id` (APIC id = `id`) with CPUID set; see [`Vcpu`].
    pub fn create_vcpu(&self, id: u8) -> Result<Vcpu, KvmError> {
        let fd = self
            .fd
            .create_vcpu(u64::from(id))
            .map_err(ioctl_err("KVM_CREATE_VCPU"))?;
        Vcpu::new(id, fd, &self.cpuid)
    }
}
