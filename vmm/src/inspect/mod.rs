//! Inspection: reading the paused (or stopped) guest's kernel state from outside.
//!
//! The guest kernel publishes an inspection table in its own memory (`shared_abi::inspect`:
//! a header located by an ELF note in the kernel image, then per-CPU, per-process and per-LWP
//! records). This module turns guest memory plus the vCPUs' registers into a [`model::Dump`],
//! and renders it as text or JSON. It only reads (the host-signal mailbox is the one field the
//! VMM writes, in `control`), and treats everything it reads as untrusted.
//!
//! | module | concern |
//! |---|---|
//! | [`mem`] | bounds-checked guest-physical reads ([`mem::GuestPhys`]) |
//! | [`paging`] | the guest's own page tables: translating user addresses from any CR3 |
//! | [`decode`] | the table → [`model::Dump`], with sequence counters, bounds and problems |
//! | [`model`] | the dump as data (serde; the JSON schema of `docs/DUMP-SCHEMA.md`) |
//! | [`render`] | the text view |
//! | [`core`] | ELF core files of one process (PT_NOTE + PT_LOAD from its page tables) |
//! | [`view`] | the scenario language's `DumpView` over a dump (dump assertions) |
//!
//! Pausing the vCPUs is `kvm::vcpu`'s business (`VcpuGroup::pause_all`); this module gets the
//! parked vCPUs' registers as [`model::VcpuDump`]s and never touches KVM.
//!
//! # When a dump is taken
//!
//! `vmm run --dump-on LIST` ([`Triggers`]): `exit` (the guest wrote the exit port), `panic`
//! (the exit status is KERNEL_PANIC or KERNEL_FAULT), `crash` (triple fault, KVM internal
//! error, failed entry: written before the VMM exits), `request` (the guest wrote the dump
//! port: the VMM pauses, dumps and resumes), `timeout` (`--timeout` expired). `vmm dump
//! --socket` asks a running VMM's control socket for a dump at any time.

pub mod core;
pub mod decode;
#[cfg(test)]
mod decode_tests;
pub mod mem;
pub mod model;
pub mod paging;
pub mod render;
#[cfg(test)]
pub mod testkit;
pub mod view;

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::PathBuf;
use std::str::FromStr;

use self::mem::GuestPhys;
use self::model::{Dump, Reason, Timing, VcpuDump};

/// Output format of a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DumpFormat {
    /// The readable view.
    #[default]
    Text,
    /// One JSON object per dump, on one line (JSON Lines when appended to a file).
    Json,
}

impl FromStr for DumpFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "unknown dump format {other:?} (expected text or json)"
            )),
        }
    }
}

/// Which events produce a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Triggers {
    /// Any exit-port write.
    pub exit: bool,
    /// An exit with KERNEL_PANIC or KERNEL_FAULT.
    pub panic: bool,
    /// A guest crash.
    pub crash: bool,
    /// A dump-port write.
    pub request: bool,
    /// `--timeout` expiry.
    pub timeout: bool,
}

impl Triggers {
    /// Whether any trigger is set.
    pub fn any(&self) -> bool {
        self.exit || self.panic || self.crash || self.request || self.timeout
    }
}

impl FromStr for Triggers {
    type Err = String;
    /// Parses a comma-separated list of `exit`, `panic`, `crash`, `request`, `timeout`, `all`.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut t = Triggers::default();
        for word in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match word {
                "exit" => t.exit = true,
                "panic" => t.panic = true,
                "crash" => t.crash = true,
                "request" => t.request = true,
                "timeout" => t.timeout = true,
                "all" => {
                    t = Triggers {
                        exit: true,
                        panic: true,
                        crash: true,
                        request: true,
                        timeout: true,
                    }
                }
                other => {
                    return Err(format!(
                        "unknown --dump-on event {other:?} (expected exit, panic, crash, request, timeout or all)"
                    ))
                }
            }
        }
        if !t.any() {
            return Err("--dump-on needs at least one event".into());
        }
        Ok(t)
    }
}

/// Where dumps go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DumpSink {
    /// The VMM's stderr (shared with the serial log; each dump is written in one piece).
    #[default]
    Stderr,
    /// A file, appended to.
    File(PathBuf),
}

/// Renders `dump` in `format` (text ends with a newline; JSON is one line plus a newline).
pub fn render(dump: &Dump, format: DumpFormat) -> String {
    match format {
        DumpFormat::Text => render::text(dump),
        DumpFormat::Json => {
            let mut s = serde_json::to_string(dump)
                .unwrap_or_else(|e| format!("{{\"error\":\"cannot serialise the dump: {e}\"}}"));
            s.push('\n');
            s
        }
    }
}

/// Appends `text` to `sink` in one write.
pub fn write_to(sink: &DumpSink, text: &str) -> io::Result<()> {
    match sink {
        DumpSink::Stderr => {
            let mut e = io::stderr().lock();
            e.write_all(text.as_bytes())?;
            e.flush()
        }
        DumpSink::File(path) => {
            let mut f = OpenOptions::new().create(true).append(true).open(path)?;
            f.write_all(text.as_bytes())
        }
    }
}

/// Decodes guest memory into a dump (the caller fills in `timing`).
pub fn capture(
    mem: &dyn GuestPhys,
    header_gpa: Option<u64>,
    reason: Reason,
    vcpus: Vec<VcpuDump>,
) -> Dump {
    let started = std::time::Instant::now();
    let mut d = decode::Decoder::new(mem).capture(header_gpa, reason, vcpus);
    d.timing = Timing {
        capture_ns: started.elapsed().as_nanos() as u64,
        ..Timing::default()
    };
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_parse() {
        let t: Triggers = "exit,crash".parse().unwrap();
        assert!(t.exit && t.crash && !t.panic && !t.request && !t.timeout);
        let all: Triggers = "all".parse().unwrap();
        assert!(all.exit && all.panic && all.crash && all.request && all.timeout);
        assert!("".parse::<Triggers>().is_err());
        assert!("exit,bogus".parse::<Triggers>().is_err());
        assert_eq!("json".parse(), Ok(DumpFormat::Json));
        assert!("yaml".parse::<DumpFormat>().is_err());
    }
}
