//! The VMM's top-level error: everything that can stop a run before the guest's first
//! instruction, wrapping each module's own error type, and the exit status it maps to.
//!
//! Input problems (arguments, kernel, initrd, command line, `--serial` file, no access to
//! `/dev/kvm`) are `USAGE_OR_INPUT` (200); failures of the host or of the VMM itself are
//! `VMM_ERROR` (202). Ends of a running VM are `outcome::VmEnd`, not errors.

use std::io;
use std::path::PathBuf;

use shared_abi::current::ports::vmm_status;

use crate::boot::bootinfo::BootInfoError;
use crate::boot::initrd::InitrdError;
use crate::boot::loader::LoaderError;
use crate::boot::mptable::MptableError;
use crate::bus::BusError;
use crate::config::ConfigError;
use crate::kvm::KvmError;
use crate::memory::MemoryError;
use crate::scenario::ScenarioError;

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad arguments.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Bad kernel image.
    #[error(transparent)]
    Kernel(#[from] LoaderError),
    /// The `--scenario` file cannot be read or does not validate, or the report cannot be
    /// created.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// Bad initrd.
    #[error(transparent)]
    Initrd(#[from] InitrdError),
    /// Bad command line, or boot information that cannot be written.
    #[error(transparent)]
    BootInfo(#[from] BootInfoError),
    /// MP table.
    #[error(transparent)]
    Mptable(#[from] MptableError),
    /// Guest memory.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// KVM.
    #[error(transparent)]
    Kvm(#[from] KvmError),
    /// Device placement.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The `--serial` file cannot be created.
    #[error("cannot open the --serial output {path}: {source}")]
    SerialOutput {
        /// The path given.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// More vCPUs than KVM allows here.
    #[error("--cpus {requested}: KVM on this host allows at most {max} vCPUs")]
    TooManyCpus {
        /// Requested.
        requested: u8,
        /// KVM's limit.
        max: usize,
    },
    /// Writing the boot GDT failed.
    #[error("cannot write the boot GDT into guest memory: {0}")]
    Gdt(#[source] vm_memory::GuestMemoryError),
    /// Some other host resource failed (threads, eventfds).
    #[error("{what}: {source}")]
    Host {
        /// What the VMM was doing.
        what: &'static str,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The VMM's exit status for this error.
    pub fn exit_status(&self) -> i32 {
        let input = match self {
            Error::Config(_)
            | Error::Kernel(_)
            | Error::Scenario(_)
            | Error::SerialOutput { .. }
            | Error::TooManyCpus { .. }
            | Error::Kvm(KvmError::Open { .. })
            | Error::BootInfo(BootInfoError::Cmdline(_))
            | Error::BootInfo(BootInfoError::CmdlineTooLong { .. }) => true,
            Error::Initrd(e) => !matches!(e, InitrdError::Copy { .. }),
            _ => false,
        };
        if input {
            vmm_status::USAGE_OR_INPUT
        } else {
            vmm_status::VMM_ERROR
        }
    }

    /// Shorthand for a host I/O failure.
    pub fn host(what: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Host { what, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmm_sys_util::errno;

    #[test]
    fn statuses() {
        assert_eq!(Error::from(ConfigError::Cpus(0)).exit_status(), 200);
        assert_eq!(
            Error::from(LoaderError::NotElf("k".into())).exit_status(),
            200
        );
        assert_eq!(
            Error::from(KvmError::Open {
                path: "/dev/kvm".into(),
                source: errno::Error::new(libc::ENOENT)
            })
            .exit_status(),
            200
        );
        let e = Error::from(KvmError::Open {
            path: "/dev/kvm".into(),
            source: errno::Error::new(libc::EACCES),
        });
        assert!(e.to_string().starts_with("cannot open /dev/kvm: "));
        assert!(e.to_string().contains("do you have permission?"));
        assert_eq!(
            Error::from(KvmError::MissingCap("KVM_CAP_IRQFD")).exit_status(),
            202
        );
        assert_eq!(
            Error::from(InitrdError::Empty("i".into())).exit_status(),
            200
        );
        assert_eq!(
            Error::host("spawning")(io::Error::other("x")).exit_status(),
            202
        );
    }
}
