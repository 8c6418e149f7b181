//! How a VM run ends ([`VmEnd`]), the VMM's exit status for it, and the message printed.
//!
//! Statuses come from `shared_abi::current::ports`: the guest's own status (`v & 0xff`) when it
//! writes the exit port, `GUEST_CRASH` (201), `VMM_ERROR` (202), `TIMEOUT` (203); a SIGINT or
//! SIGTERM sent to the VMM gives the shell convention 128 + signal number. Errors before the VM
//! runs are `error::Error`, not a `VmEnd`.

use std::time::Duration;

use shared_abi::current::ports::{status, vmm_status, MAX_GUEST_STATUS};

/// What the vCPU threads, the event loop and the control socket tell the main thread.
#[derive(Debug)]
pub enum VmEvent {
    /// The VM ends.
    End(VmEnd),
    /// The guest wrote request `id` to the dump port from vCPU `vcpu` (which has parked).
    DumpRequest {
        /// The vCPU that wrote it.
        vcpu: u8,
        /// The request id.
        id: u32,
    },
    /// A request on the control socket.
    Control(crate::control::ControlRequest),
}

impl From<VmEnd> for VmEvent {
    fn from(end: VmEnd) -> Self {
        VmEvent::End(end)
    }
}

/// The first thing that ended the VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmEnd {
    /// The guest wrote `status` to the exit port.
    GuestExit {
        /// The value written.
        status: u32,
        /// Which vCPU wrote it.
        vcpu: u8,
    },
    /// The guest crashed (triple fault, KVM internal error, failed entry, unexpected exit).
    GuestCrash {
        /// The vCPU that saw it.
        vcpu: u8,
        /// What happened.
        reason: String,
        /// The vCPU's registers at that point.
        registers: String,
    },
    /// `--timeout` expired.
    Timeout {
        /// The timeout.
        after: Duration,
        /// Where each vCPU was when it was stopped (filled in after the stop).
        vcpus: Vec<String>,
    },
    /// The VMM received SIGINT or SIGTERM.
    Signal {
        /// The signal number.
        signal: i32,
    },
    /// The VMM itself failed while the VM ran.
    HostError {
        /// What failed.
        what: String,
    },
    /// The guest exited with status 0, but the scenario the VMM was given (`--scenario`)
    /// failed in the VMM: a dump assertion failed, a request was refused, or a dump with
    /// assertions was never requested. Exit status 1, the scenario runner's "failed".
    ScenarioFailed {
        /// The vCPU that wrote the exit port.
        vcpu: u8,
        /// The scenario file's name.
        scenario: String,
        /// What failed.
        reasons: Vec<String>,
    },
}

/// The VMM's exit status for [`VmEnd::ScenarioFailed`]: the scenario runner's "failed".
pub const SCENARIO_FAILED: i32 = 1;

impl VmEnd {
    /// The VMM's exit status for this end.
    pub fn exit_status(&self) -> i32 {
        match self {
            VmEnd::GuestExit { status, .. } => (status & 0xff) as i32,
            VmEnd::GuestCrash { .. } => vmm_status::GUEST_CRASH,
            VmEnd::Timeout { .. } => vmm_status::TIMEOUT,
            VmEnd::Signal { signal } => 128 + signal,
            VmEnd::HostError { .. } => vmm_status::VMM_ERROR,
            VmEnd::ScenarioFailed { .. } => SCENARIO_FAILED,
        }
    }

    /// The paragraph to print on stderr (without the `vmm: ` prefix), if any. A guest exit
    /// with status 0 is silent.
    pub fn message(&self) -> Option<String> {
        match self {
            VmEnd::GuestExit { status: 0, .. } => None,
            VmEnd::GuestExit { status: st, vcpu } => {
                let meaning = match *st {
                    status::KERNEL_PANIC => " (guest kernel panic)",
                    status::KERNEL_FAULT => " (unexpected exception in the guest kernel)",
                    status::BOOT_FAILURE => " (the guest kernel could not boot)",
                    v if v > MAX_GUEST_STATUS => " (outside the guest's 0..=127 range)",
                    _ => "",
                };
                Some(format!(
                    "guest exited with status {st}{meaning} (written to the exit port by vCPU {vcpu}); exiting with status {}",
                    self.exit_status()
                ))
            }
            VmEnd::GuestCrash {
                vcpu,
                reason,
                registers,
            } => Some(format!(
                "guest crashed on vCPU {vcpu}: {reason}; exiting with status {}. Registers of vCPU {vcpu}:\n{registers}",
                vmm_status::GUEST_CRASH
            )),
            VmEnd::Timeout { after, vcpus } => {
                let mut m = format!(
                    "guest still running after the {}-second --timeout; stopped it, exiting with status {}",
                    after.as_secs(),
                    vmm_status::TIMEOUT
                );
                // Consecutive vCPUs in the same state (typically APs never started) share a line.
                let mut i = 0;
                while i < vcpus.len() {
                    let mut j = i;
                    while j + 1 < vcpus.len() && vcpus[j + 1] == vcpus[i] {
                        j += 1;
                    }
                    if i == j {
                        m.push_str(&format!("\n  vCPU {i}: {}", vcpus[i]));
                    } else {
                        m.push_str(&format!("\n  vCPUs {i}-{j}: {}", vcpus[i]));
                    }
                    i = j + 1;
                }
                Some(m)
            }
            VmEnd::Signal { signal } => Some(format!(
                "received {}; stopped the guest, exiting with status {}",
                signal_name(*signal),
                self.exit_status()
            )),
            VmEnd::HostError { what } => Some(format!(
                "host error while running the guest: {what}; exiting with status {}",
                vmm_status::VMM_ERROR
            )),
            VmEnd::ScenarioFailed {
                vcpu,
                scenario,
                reasons,
            } => Some(format!(
                "the guest exited with status 0 (vCPU {vcpu}), but scenario {scenario} failed in the VMM: {}; exiting with status {SCENARIO_FAILED}",
                reasons.join("; ")
            )),
        }
    }
}

fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP".into(),
        n => format!("signal {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(VmEnd::GuestExit { status: 0, vcpu: 0 }.exit_status(), 0);
        assert_eq!(
            VmEnd::GuestExit {
                status: 42,
                vcpu: 0
            }
            .exit_status(),
            42
        );
        assert_eq!(
            VmEnd::GuestExit {
                status: 0x1_2345,
                vcpu: 0
            }
            .exit_status(),
            0x45
        );
        let crash = VmEnd::GuestCrash {
            vcpu: 1,
            reason: "triple fault".into(),
            registers: "  RIP=0".into(),
        };
        assert_eq!(crash.exit_status(), 201);
        assert!(crash.message().unwrap().contains("RIP=0"));
        assert_eq!(
            VmEnd::Timeout {
                after: Duration::from_secs(1),
                vcpus: vec![]
            }
            .exit_status(),
            203
        );
        assert_eq!(VmEnd::Signal { signal: 15 }.exit_status(), 143);
        assert_eq!(VmEnd::HostError { what: "x".into() }.exit_status(), 202);
        let scn = VmEnd::ScenarioFailed {
            vcpu: 0,
            scenario: "x.scn".into(),
            reasons: vec!["1 dump assertion(s) failed".into()],
        };
        assert_eq!(scn.exit_status(), 1);
        assert!(scn
            .message()
            .unwrap()
            .contains("x.scn failed in the VMM: 1 dump assertion"));
    }

    #[test]
    fn messages() {
        assert_eq!(VmEnd::GuestExit { status: 0, vcpu: 0 }.message(), None);
        let m = VmEnd::GuestExit {
            status: 112,
            vcpu: 0,
        }
        .message()
        .unwrap();
        assert!(m.contains("panic"), "{m}");
        let t = VmEnd::Timeout {
            after: Duration::from_secs(2),
            vcpus: vec!["RIP=0x100000".into()],
        }
        .message()
        .unwrap();
        assert!(
            t.contains("2-second") && t.contains("vCPU 0: RIP=0x100000"),
            "{t}"
        );
        assert!(VmEnd::Signal { signal: 2 }
            .message()
            .unwrap()
            .contains("SIGINT"));
    }
}
