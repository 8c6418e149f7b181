//! The command line: `vmm <subcommand> [options]`, declared with clap.
//!
//! Owns only the spelling of arguments and their help texts; every subcommand's arguments are
//! turned into a validated config type (`run` → [`VmConfig`]) and nothing here knows KVM,
//! memory layout or devices. To add a subcommand: add a variant to [`Command`] with its own
//! `Args` struct, and a conversion to the config type it needs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{ConfigError, VmConfig, VmRequest, DEFAULT_CPUS, DEFAULT_MEM_MIB};
use crate::control::{check_signal, ControlCommand, HostSignal};
use crate::inspect::DumpFormat;

/// The lwpvm VMM: boots a PVH ELF kernel on KVM with a 16550 serial port, a virtio-mmio
/// console and an exit port, and dumps the guest kernel's state (docs/DUMP-SCHEMA.md).
///
/// Exit status of `run`: the guest's status when it writes one to port 0xf4 (with
/// `--scenario`, 1 instead of 0 when the scenario failed in the VMM); 200 bad arguments
/// or input files (a --scenario file that does not validate); 201 guest crash (triple fault, KVM internal error); 202 VMM host error;
/// 203 --timeout expired; 128+N when stopped by signal N (SIGINT, SIGTERM, SIGHUP). Of `dump`,
/// `signal`, `core`: 0 done, 1 refused or failed (the message says why), 200 bad arguments.
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
    Run(Box<RunArgs>),
    /// Print a dump of a running guest (`vmm run --control PATH`): the VMM pauses every vCPU,
    /// reads the guest's inspection table, and resumes.
    Dump(DumpArgs),
    /// Post a signal to a process of a running guest (`vmm run --control PATH`), as if sent by
    /// the kernel (si_code SI_KERNEL) or with sigqueue (SI_QUEUE, with --value). Needs the
    /// guest kernel's cooperation (FEATURE_HOST_SIGNAL); refused otherwise.
    Signal(SignalArgs),
    /// Write an ELF core file of one process of a running guest (`vmm run --control PATH`):
    /// registers of its LWPs, its user memory from its page tables.
    Core(CoreArgs),
}

/// Arguments of `vmm core`.
#[derive(Debug, Args)]
pub struct CoreArgs {
    /// The control socket of the running VMM.
    #[arg(long, value_name = "PATH")]
    pub socket: PathBuf,
    /// The process.
    #[arg(long, value_name = "N")]
    pub pid: i32,
    /// The core file to write (by the VMM).
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
}

impl CoreArgs {
    /// The control request (the path made absolute: the VMM writes it).
    pub fn command(&self) -> Result<ControlCommand, String> {
        let out =
            std::path::absolute(&self.out).map_err(|e| format!("{}: {e}", self.out.display()))?;
        if self.pid <= 0 {
            return Err(format!("pid {} is not a process id", self.pid));
        }
        Ok(ControlCommand::Core {
            pid: self.pid,
            path: out,
        })
    }
}

/// Arguments of `vmm dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// The control socket of the running VMM.
    #[arg(long, value_name = "PATH")]
    pub socket: PathBuf,
    /// Print JSON (one line; schema in docs/DUMP-SCHEMA.md) instead of text.
    #[arg(long)]
    pub json: bool,
}

impl DumpArgs {
    /// The control request.
    pub fn command(&self) -> ControlCommand {
        ControlCommand::Dump(if self.json {
            DumpFormat::Json
        } else {
            DumpFormat::Text
        })
    }
}

/// Arguments of `vmm signal`.
#[derive(Debug, Args)]
pub struct SignalArgs {
    /// The control socket of the running VMM.
    #[arg(long, value_name = "PATH")]
    pub socket: PathBuf,
    /// Target process id.
    #[arg(long, value_name = "N")]
    pub pid: i32,
    /// The signal: a name (SIGUSR1, USR1, SIGRTMIN+3) or a number (1..=64).
    #[arg(value_name = "SIG")]
    pub signal: String,
    /// si_value (implies --code queue).
    #[arg(long, value_name = "V", allow_hyphen_values = true)]
    pub value: Option<i64>,
    /// si_code: kernel (SI_KERNEL, the default without --value) or queue (SI_QUEUE).
    #[arg(long, value_name = "kernel|queue")]
    pub code: Option<String>,
}

impl SignalArgs {
    /// The validated control request.
    pub fn command(&self) -> Result<ControlCommand, String> {
        use shared_abi::current::signal;
        let s = self.signal.trim();
        let signo = match s.parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                let name = if s.starts_with("SIG") {
                    s.to_string()
                } else {
                    format!("SIG{s}")
                };
                signal::number(&name).ok_or_else(|| format!("unknown signal {s:?}"))?
            }
        };
        let code = match (self.code.as_deref(), self.value) {
            (Some("kernel"), Some(_)) => {
                return Err("--value needs --code queue (SI_KERNEL carries no value)".into())
            }
            (Some("kernel"), None) | (None, None) => signal::SI_KERNEL,
            (Some("queue"), _) | (None, Some(_)) => signal::SI_QUEUE,
            (Some(other), _) => return Err(format!("--code {other}: expected kernel or queue")),
        };
        let signo = i32::try_from(signo).map_err(|_| format!("bad signal {s:?}"))?;
        check_signal(&HostSignal {
            pid: self.pid,
            signo,
            code,
            value: self.value.unwrap_or(0) as u64,
        })
        .map(ControlCommand::Signal)
    }
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

    /// Dump the guest's state on these events (comma-separated): exit (exit-port write),
    /// panic (exit status 112/113), crash (triple fault, KVM internal error), request (the
    /// guest's dump port: pause, dump, resume), timeout, all.
    #[arg(long, value_name = "LIST")]
    pub dump_on: Option<String>,

    /// Dump format: text or json (one JSON object per line).
    #[arg(long, value_name = "text|json")]
    pub dump_format: Option<String>,

    /// Append dumps to this file instead of stderr.
    #[arg(long, value_name = "PATH")]
    pub dump_file: Option<PathBuf>,

    /// Listen on this Unix socket for `vmm dump`, `vmm signal` and `vmm core`.
    #[arg(long, value_name = "PATH")]
    pub control: Option<PathBuf>,

    /// Write the ELF core files the guest kernel requests (a process dying of SIGSEGV,
    /// SIGQUIT ...) into this directory, as core.PID.ID.
    #[arg(long, value_name = "DIR")]
    pub core_dir: Option<PathBuf>,

    /// Record instruction-count marks in FILE (JSON lines): each guest write to the mark port
    /// records the writing vCPU's KVM `insn_emulation` statistic (its ring-0 instructions on
    /// an interpreting KVM) and exit count.
    #[arg(long, value_name = "FILE")]
    pub marks: Option<PathBuf>,

    /// The scenario the guest's runner executes (docs/SCENARIOS.md): validated before the
    /// guest boots (errors as file:line:col, status 200); the VMM evaluates its dump
    /// assertions on the dumps the runner requests, prints them, hands the verdicts back, and
    /// exits with status 1 instead of the guest's 0 if any failed, was refused or was never
    /// requested.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,

    /// Write the VMM's scenario report (one line per dump assertion, and the dump when one
    /// failed) to this file instead of stderr.
    #[arg(long, value_name = "FILE")]
    pub scenario_report: Option<PathBuf>,
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
            dump_on: args.dump_on,
            dump_format: args.dump_format,
            dump_file: args.dump_file,
            control: args.control,
            core_dir: args.core_dir,
            marks: args.marks,
            scenario: args.scenario,
            scenario_report: args.scenario_report,
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
            Command::Run(run) => VmConfig::try_from(*run),
            _ => panic!("not a run command"),
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
        let Command::Run(run) = cli.command else {
            panic!("not a run command")
        };
        let cfg = VmConfig::try_from(*run).unwrap();
        assert_eq!(cfg.initrd, Some(PathBuf::from("i")));
        assert_eq!(cfg.cmdline, "-x a=b");
        assert_eq!(cfg.cpus, 4);
        assert_eq!(cfg.mem_bytes, 512 << 20);
        assert_eq!(cfg.timeout, Some(Duration::from_secs(7)));
        assert_eq!(cfg.serial, SerialOutput::Off);
    }

    #[test]
    fn scenario_arguments() {
        let cfg = run_config(&[
            "vmm",
            "run",
            "--kernel",
            "k",
            "--scenario",
            "t.scn",
            "--scenario-report",
            "r.txt",
        ])
        .unwrap();
        let s = cfg.inspect.scenario.unwrap();
        assert_eq!(
            (s.file, s.report),
            (PathBuf::from("t.scn"), Some(PathBuf::from("r.txt")))
        );
        assert_eq!(
            run_config(&["vmm", "run", "--kernel", "k", "--scenario-report", "r"]),
            Err(ConfigError::ScenarioReportUnused)
        );
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
    fn dump_and_signal_commands() {
        let cli = Cli::try_parse_from(["vmm", "dump", "--socket", "/tmp/s", "--json"]).unwrap();
        let Command::Dump(d) = cli.command else {
            panic!()
        };
        assert_eq!(d.command(), ControlCommand::Dump(DumpFormat::Json));
        let sig = |args: &[&str]| {
            let mut v = vec!["vmm", "signal", "--socket", "s"];
            v.extend_from_slice(args);
            match Cli::try_parse_from(v).unwrap().command {
                Command::Signal(s) => s.command(),
                _ => panic!(),
            }
        };
        assert_eq!(
            sig(&["--pid", "3", "USR1"]),
            Ok(ControlCommand::Signal(HostSignal {
                pid: 3,
                signo: 10,
                code: 0x80,
                value: 0
            }))
        );
        assert_eq!(
            sig(&["--pid", "3", "SIGRTMIN+1", "--value", "-5"]),
            Ok(ControlCommand::Signal(HostSignal {
                pid: 3,
                signo: 33,
                code: -1,
                value: (-5i64) as u64
            }))
        );
        assert!(matches!(
            sig(&["--pid", "3", "15", "--code", "queue"]),
            Ok(ControlCommand::Signal(HostSignal {
                signo: 15,
                code: -1,
                ..
            }))
        ));
        assert!(sig(&["--pid", "3", "SIGFOO"]).is_err());
        assert!(sig(&["--pid", "3", "65"]).is_err());
        assert!(sig(&["--pid", "0", "9"]).is_err());
        assert!(sig(&["--pid", "3", "9", "--code", "kernel", "--value", "1"]).is_err());
    }

    #[test]
    fn clap_usage_errors() {
        assert!(Cli::try_parse_from(["vmm", "run"]).is_err());
        assert!(Cli::try_parse_from(["vmm", "run", "--kernel", "k", "--cpus", "x"]).is_err());
        assert!(Cli::try_parse_from(["vmm", "frobnicate"]).is_err());
        assert!(Cli::try_parse_from(["vmm"]).is_err());
    }
}
