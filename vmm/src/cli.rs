//! The command line: `vmm <subcommand> [options]`, declared with clap.
//!
//! Owns only the spelling of arguments and their help texts; every subcommand's arguments are
//! turned into a validated config type (`run` → [`VmConfig`]) and nothing here knows KVM,
//! memory layout or devices. To add a subcommand: add a variant to [`Command`] with its own
//! `Args` struct, and a conversion to the config type it needs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{ConfigError, VmConfig, VmRequest, DEFAULT_CPUS, DEFAULT_MEM_MIB};

/// The lwpvm VMM: boots a PVH ELF kernel on KVM with a 16550 serial port, a virtio-mmio
/// console and an exit port.
///
/// Exit status: the guest's status when it writes one to port 0xf4; 200 bad arguments or
/// input files; 201 guest crash (triple fault, KVM internal error); 202 VMM host error;
/// 203 --timeout expired; 128+N when stopped by signal N (SIGINT, SIGTERM, SIGHUP).
#[derive(Debug, Parser)]
#[command(name = "vmm", version, propagate_version = true)]
pub struct Cli {
    /// Log VMM activity (setup, unhandled guest port/MMIO accesses, exits) to stderr.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Boot a kernel and run it until it writes the exit port, crashes or times out.
    Run(RunArgs),
}

/// Arguments of `vmm run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// PVH ELF kernel to boot (x86-64 ET_EXEC with a Xen PHYS32_ENTRY note).
    #[arg(long, value_name = "PATH")]
    pub kernel: PathBuf,

    /// Initrd, passed to the guest as PVH module 0.
    #[arg(long, value_name = "PATH")]
    pub initrd: Option<PathBuf>,

    /// Kernel command line; the VMM appends its virtio_mmio.device= and lwpvm.host= keys.
    #[arg(
        long,
        value_name = "STR",
        default_value = "",
        allow_hyphen_values = true
    )]
    pub cmdline: String,

    /// Number of vCPUs (1..=64).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CPUS)]
    pub cpus: u32,

    /// Guest memory in MiB (16..=65536); above 3 GiB the rest is mapped above 4 GiB.
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_MEM_MIB)]
    pub mem: u64,

    /// Stop the guest after this many seconds and exit with status 203.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,

    /// Where COM1 output goes: stderr, stdout, off, or a file path.
    #[arg(long, value_name = "stderr|stdout|off|PATH", default_value = "stderr")]
    pub serial: String,

    /// The KVM device node to open.
    #[arg(long, value_name = "PATH", default_value = "/dev/kvm")]
    pub kvm_device: PathBuf,
}

impl TryFrom<RunArgs> for VmConfig {
    type Error = ConfigError;

    fn try_from(args: RunArgs) -> Result<Self, Self::Error> {
        VmConfig::try_from(VmRequest {
            kernel: args.kernel,
            initrd: args.initrd,
            cmdline: args.cmdline,
            cpus: args.cpus,
            mem_mib: args.mem,
            timeout_secs: args.timeout,
            serial: args.serial,
            kvm_device: args.kvm_device,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SerialOutput;
    use clap::CommandFactory;
    use std::time::Duration;

    fn run_config(args: &[&str]) -> Result<VmConfig, ConfigError> {
        let cli = Cli::try_parse_from(args).unwrap();
        match cli.command {
            Command::Run(run) => VmConfig::try_from(run),
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_defaults() {
        let cfg = run_config(&["vmm", "run", "--kernel", "k"]).unwrap();
        assert_eq!(cfg.kernel, PathBuf::from("k"));
        assert_eq!(cfg.cpus, 1);
        assert_eq!(cfg.mem_bytes, 256 << 20);
        assert_eq!(cfg.serial, SerialOutput::Stderr);
        assert_eq!(cfg.cmdline, "");
        assert_eq!(cfg.initrd, None);
        assert_eq!(cfg.timeout, None);
    }

    #[test]
    fn run_all_options() {
        let cli = Cli::try_parse_from([
            "vmm",
            "run",
            "--kernel",
            "k",
            "--initrd",
            "i",
            "--cmdline",
            "-x a=b",
            "--cpus",
            "4",
            "--mem",
            "512",
            "--timeout",
            "7",
            "--serial",
            "off",
            "-v",
        ])
        .unwrap();
        assert!(cli.verbose);
        let Command::Run(run) = cli.command;
        let cfg = VmConfig::try_from(run).unwrap();
        assert_eq!(cfg.initrd, Some(PathBuf::from("i")));
        assert_eq!(cfg.cmdline, "-x a=b");
        assert_eq!(cfg.cpus, 4);
        assert_eq!(cfg.mem_bytes, 512 << 20);
        assert_eq!(cfg.timeout, Some(Duration::from_secs(7)));
        assert_eq!(cfg.serial, SerialOutput::Off);
    }

    #[test]
    fn our_validation_errors() {
        assert_eq!(
            run_config(&["vmm", "run", "--kernel", "k", "--cpus", "0"]),
            Err(ConfigError::Cpus(0))
        );
        assert_eq!(
            run_config(&["vmm", "run", "--kernel", "k", "--cpus", "65"]),
            Err(ConfigError::Cpus(65))
        );
        assert_eq!(
            run_config(&["vmm", "run", "--kernel", "k", "--mem", "1"]),
            Err(ConfigError::Memory(1))
        );
        assert_eq!(
            run_config(&["vmm", "run", "--kernel", "k", "--timeout", "0"]),
            Err(ConfigError::ZeroTimeout)
        );
    }

    #[test]
    fn clap_usage_errors() {
        assert!(Cli::try_parse_from(["vmm", "run"]).is_err());
        assert!(Cli::try_parse_from(["vmm", "run", "--kernel", "k", "--cpus", "x"]).is_err());
        assert!(Cli::try_parse_from(["vmm", "frobnicate"]).is_err());
        assert!(Cli::try_parse_from(["vmm"]).is_err());
    }
}
