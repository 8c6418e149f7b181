//! The validated description of one VM run: [`VmConfig`].
//!
//! Owns the limits of the user-facing knobs (vCPU count, memory size, timeout, serial sink) and
//! their validation. It does not know how arguments are spelled on the command line (`cli.rs`)
//! and knows nothing of KVM, guest memory layout or devices: it only says what was asked for.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::inspect::{DumpFormat, DumpSink, Triggers};
use crate::scenario::ScenarioConfig;

/// Fewest vCPUs a VM can have.
pub const MIN_CPUS: u32 = 1;
/// Most vCPUs a VM can have (APIC ids 0..=63; the MP table has room for them).
pub const MAX_CPUS: u32 = 64;
/// Default number of vCPUs.
pub const DEFAULT_CPUS: u32 = 1;
/// Smallest guest memory in MiB (1 MiB of legacy area plus room for a kernel and an initrd).
pub const MIN_MEM_MIB: u64 = 16;
/// Largest guest memory in MiB (64 GiB; the mapping is reserved lazily).
pub const MAX_MEM_MIB: u64 = 64 * 1024;
/// Default guest memory in MiB.
pub const DEFAULT_MEM_MIB: u64 = 256;

/// Errors in the requested configuration (all of them are the user's to fix).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The vCPU count is out of range.
    #[error("--cpus {0} is out of range: a VM has {MIN_CPUS}..={MAX_CPUS} vCPUs")]
    Cpus(u32),
    /// The memory size is out of range.
    #[error("--mem {0} is out of range: guest memory is {MIN_MEM_MIB}..={MAX_MEM_MIB} MiB")]
    Memory(u64),
    /// A zero timeout.
    #[error("--timeout 0 is not allowed: give at least 1 second, or leave --timeout out")]
    ZeroTimeout,
    /// An empty `--serial` value.
    #[error("--serial needs one of stderr, stdout, off or a file path")]
    EmptySerial,
    /// An empty `--kernel` value.
    #[error("--kernel needs a path to a PVH ELF kernel")]
    EmptyKernel,
    /// A bad `--dump-on` list or `--dump-format`.
    #[error("{0}")]
    Dump(String),
    /// `--dump-format`/`--dump-file` without `--dump-on` or `--control`.
    #[error("--dump-format and --dump-file need --dump-on or --control")]
    DumpOptionsUnused,
    /// `--scenario-report` without `--scenario`.
    #[error("--scenario-report needs --scenario")]
    ScenarioReportUnused,
}

/// Where the guest's COM1 output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SerialOutput {
    /// The VMM's standard error (the default).
    Stderr,
    /// The VMM's standard output.
    Stdout,
    /// Discarded.
    Off,
    /// A file, created or truncated.
    File(PathBuf),
}

impl FromStr for SerialOutput {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "" => return Err(ConfigError::EmptySerial),
            "stderr" => Self::Stderr,
            "stdout" => Self::Stdout,
            "off" => Self::Off,
            path => Self::File(PathBuf::from(path)),
        })
    }
}

/// Everything one `vmm run` needs, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmConfig {
    /// The PVH ELF kernel image.
    pub kernel: PathBuf,
    /// An initrd, handed to the guest as PVH module 0.
    pub initrd: Option<PathBuf>,
    /// The user's part of the kernel command line (the VMM appends its own keys).
    pub cmdline: String,
    /// Number of vCPUs, in `MIN_CPUS..=MAX_CPUS`.
    pub cpus: u8,
    /// Guest memory in bytes.
    pub mem_bytes: u64,
    /// Wall-clock limit of the run.
    pub timeout: Option<Duration>,
    /// Where COM1 output goes.
    pub serial: SerialOutput,
    /// The KVM device node (normally `/dev/kvm`).
    pub kvm_device: PathBuf,
    /// Inspection: when to dump, in what format, where; the control socket.
    pub inspect: InspectConfig,
    /// Where instruction-count marks go (`--marks`); no mark port without it.
    pub marks: Option<PathBuf>,
}

/// What `vmm run` does about inspection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InspectConfig {
    /// Events that produce a dump.
    pub dump_on: Triggers,
    /// Dump format.
    pub format: DumpFormat,
    /// Where dumps go.
    pub sink: DumpSink,
    /// The control socket to listen on.
    pub control: Option<PathBuf>,
    /// Where core files the kernel requests are written.
    pub core_dir: Option<PathBuf>,
    /// The scenario whose dump assertions the VMM evaluates (`--scenario`).
    pub scenario: Option<ScenarioConfig>,
}

impl InspectConfig {
    /// Whether the dump port exists (dump requests, core requests or scenario dump requests
    /// are served).
    pub fn dump_port(&self) -> bool {
        self.dump_on.request || self.core_dir.is_some() || self.scenario.is_some()
    }
}

/// The raw requested values, as the command line spelled them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmRequest {
    /// See [`VmConfig::kernel`].
    pub kernel: PathBuf,
    /// See [`VmConfig::initrd`].
    pub initrd: Option<PathBuf>,
    /// See [`VmConfig::cmdline`].
    pub cmdline: String,
    /// Requested vCPU count.
    pub cpus: u32,
    /// Requested memory in MiB.
    pub mem_mib: u64,
    /// Requested timeout in seconds.
    pub timeout_secs: Option<u64>,
    /// Requested serial sink: `stderr`, `stdout`, `off` or a path.
    pub serial: String,
    /// See [`VmConfig::kvm_device`].
    pub kvm_device: PathBuf,
    /// `--dump-on` list.
    pub dump_on: Option<String>,
    /// `--dump-format` (`text` or `json`).
    pub dump_format: Option<String>,
    /// `--dump-file`.
    pub dump_file: Option<PathBuf>,
    /// `--control`.
    pub control: Option<PathBuf>,
    /// `--core-dir`.
    pub core_dir: Option<PathBuf>,
    /// `--marks`.
    pub marks: Option<PathBuf>,
    /// `--scenario`.
    pub scenario: Option<PathBuf>,
    /// `--scenario-report`.
    pub scenario_report: Option<PathBuf>,
}

impl TryFrom<VmRequest> for VmConfig {
    type Error = ConfigError;

    fn try_from(req: VmRequest) -> Result<Self, Self::Error> {
        if req.kernel.as_os_str().is_empty() {
            return Err(ConfigError::EmptyKernel);
        }
        if !(MIN_CPUS..=MAX_CPUS).contains(&req.cpus) {
            return Err(ConfigError::Cpus(req.cpus));
        }
        let cpus = u8::try_from(req.cpus).map_err(|_| ConfigError::Cpus(req.cpus))?;
        if !(MIN_MEM_MIB..=MAX_MEM_MIB).contains(&req.mem_mib) {
            return Err(ConfigError::Memory(req.mem_mib));
        }
        let timeout = match req.timeout_secs {
            Some(0) => return Err(ConfigError::ZeroTimeout),
            Some(secs) => Some(Duration::from_secs(secs)),
            None => None,
        };
        let dump_on = match &req.dump_on {
            Some(list) => list.parse::<Triggers>().map_err(ConfigError::Dump)?,
            None => Triggers::default(),
        };
        if !dump_on.any()
            && req.control.is_none()
            && (req.dump_format.is_some() || req.dump_file.is_some())
        {
            return Err(ConfigError::DumpOptionsUnused);
        }
        let format = match &req.dump_format {
            Some(f) => f.parse::<DumpFormat>().map_err(ConfigError::Dump)?,
            None => DumpFormat::Text,
        };
        let scenario = match (req.scenario, req.scenario_report) {
            (None, Some(_)) => return Err(ConfigError::ScenarioReportUnused),
            (None, None) => None,
            (Some(file), report) => Some(ScenarioConfig { file, report }),
        };
        let inspect = InspectConfig {
            dump_on,
            format,
            sink: req.dump_file.map_or(DumpSink::Stderr, DumpSink::File),
            control: req.control,
            core_dir: req.core_dir,
            scenario,
        };
        Ok(VmConfig {
            inspect,
            marks: req.marks,
            kernel: req.kernel,
            initrd: req.initrd,
            cmdline: req.cmdline,
            cpus,
            mem_bytes: req.mem_mib << 20,
            timeout,
            serial: req.serial.parse()?,
            kvm_device: req.kvm_device,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> VmRequest {
        VmRequest {
            kernel: PathBuf::from("k.elf"),
            initrd: None,
            cmdline: String::new(),
            cpus: DEFAULT_CPUS,
            mem_mib: DEFAULT_MEM_MIB,
            timeout_secs: None,
            serial: "stderr".into(),
            kvm_device: PathBuf::from("/dev/kvm"),
            dump_on: None,
            dump_format: None,
            dump_file: None,
            control: None,
            core_dir: None,
            marks: None,
            scenario: None,
            scenario_report: None,
        }
    }

    #[test]
    fn scenario_options() {
        let cfg = VmConfig::try_from(VmRequest {
            scenario: Some("x.scn".into()),
            scenario_report: Some("r.txt".into()),
            ..request()
        })
        .unwrap();
        assert_eq!(
            cfg.inspect.scenario,
            Some(ScenarioConfig {
                file: "x.scn".into(),
                report: Some("r.txt".into())
            })
        );
        assert!(
            cfg.inspect.dump_port(),
            "scenario dump requests need the port"
        );
        assert!(!VmConfig::try_from(request()).unwrap().inspect.dump_port());
        assert_eq!(
            VmConfig::try_from(VmRequest {
                scenario_report: Some("r.txt".into()),
                ..request()
            }),
            Err(ConfigError::ScenarioReportUnused)
        );
    }

    #[test]
    fn dump_options() {
        let cfg = VmConfig::try_from(VmRequest {
            dump_on: Some("exit,request".into()),
            dump_format: Some("json".into()),
            dump_file: Some("/tmp/d".into()),
            ..request()
        })
        .unwrap();
        assert!(cfg.inspect.dump_on.exit && cfg.inspect.dump_on.request);
        assert_eq!(cfg.inspect.format, DumpFormat::Json);
        assert_eq!(cfg.inspect.sink, DumpSink::File("/tmp/d".into()));
        assert!(matches!(
            VmConfig::try_from(VmRequest {
                dump_on: Some("sometimes".into()),
                ..request()
            }),
            Err(ConfigError::Dump(_))
        ));
        assert_eq!(
            VmConfig::try_from(VmRequest {
                dump_format: Some("json".into()),
                ..request()
            }),
            Err(ConfigError::DumpOptionsUnused)
        );
        assert!(VmConfig::try_from(VmRequest {
            dump_format: Some("json".into()),
            control: Some("/tmp/s".into()),
            ..request()
        })
        .is_ok());
    }

    #[test]
    fn defaults_are_valid() {
        let cfg = VmConfig::try_from(request()).unwrap();
        assert_eq!(cfg.cpus, 1);
        assert_eq!(cfg.mem_bytes, 256 << 20);
        assert_eq!(cfg.timeout, None);
        assert_eq!(cfg.serial, SerialOutput::Stderr);
    }

    #[test]
    fn cpu_bounds() {
        for ok in [1, 2, 64] {
            let cfg = VmConfig::try_from(VmRequest {
                cpus: ok,
                ..request()
            })
            .unwrap();
            assert_eq!(u32::from(cfg.cpus), ok);
        }
        for bad in [0, 65, 256, u32::MAX] {
            assert_eq!(
                VmConfig::try_from(VmRequest {
                    cpus: bad,
                    ..request()
                }),
                Err(ConfigError::Cpus(bad))
            );
        }
    }

    #[test]
    fn memory_bounds() {
        assert!(VmConfig::try_from(VmRequest {
            mem_mib: 16,
            ..request()
        })
        .is_ok());
        let big = VmConfig::try_from(VmRequest {
            mem_mib: 65536,
            ..request()
        })
        .unwrap();
        assert_eq!(big.mem_bytes, 64 << 30);
        for bad in [0, 15, 65537, u64::MAX] {
            assert_eq!(
                VmConfig::try_from(VmRequest {
                    mem_mib: bad,
                    ..request()
                }),
                Err(ConfigError::Memory(bad))
            );
        }
    }

    #[test]
    fn timeout() {
        assert_eq!(
            VmConfig::try_from(VmRequest {
                timeout_secs: Some(0),
                ..request()
            }),
            Err(ConfigError::ZeroTimeout)
        );
        let cfg = VmConfig::try_from(VmRequest {
            timeout_secs: Some(3),
            ..request()
        })
        .unwrap();
        assert_eq!(cfg.timeout, Some(Duration::from_secs(3)));
    }

    #[test]
    fn serial_sinks() {
        assert_eq!("stdout".parse(), Ok(SerialOutput::Stdout));
        assert_eq!("off".parse(), Ok(SerialOutput::Off));
        assert_eq!("stderr".parse(), Ok(SerialOutput::Stderr));
        assert_eq!(
            "/tmp/x.log".parse(),
            Ok(SerialOutput::File("/tmp/x.log".into()))
        );
        assert_eq!("".parse::<SerialOutput>(), Err(ConfigError::EmptySerial));
    }

    #[test]
    fn empty_kernel_path() {
        assert_eq!(
            VmConfig::try_from(VmRequest {
                kernel: PathBuf::new(),
                ..request()
            }),
            Err(ConfigError::EmptyKernel)
        );
    }
}
