//! vCPUs: creation (CPUID), the BSP's entry state, one host thread per vCPU, the exit handler,
//! and the kick that forces a vCPU out of `KVM_RUN`.
//!
//! # Start-up
//!
//! Every vCPU gets the host-supported CPUID with its APIC id patched in (leaf 1 EBX[31:24],
//! leaves 0xB/0x1F EDX); `KVM_SET_CPUID2` is mandatory on the development hosts (without it the
//! guest's `wrmsr` to EFER faults). Only vCPU 0, the BSP, gets registers: the PVH entry state
//! from `boot/regs.rs`. The APs keep KVM's reset state — with the in-kernel irqchip they are in
//! wait-for-SIPI, and their thread's `KVM_RUN` blocks inside the host kernel until the guest
//! sends INIT-SIPI-SIPI, exactly as on QEMU (`-smp N`) or hardware. The VMM never sets an AP's
//! MP state.
//!
//! The LAPICs also keep KVM's reset state: on the BSP that means LINT0 = ExtINT (virtual-wire
//! mode, KVM's `LINT0_REENABLED` quirk), and the in-kernel 8259 PIC resets with every IRQ
//! unmasked and vector base 0 — so, as on any PC, the guest must mask the PIC (write 0xff to
//! ports 0x21 and 0xa1) before it enables interrupts, or device IRQs also arrive as vectors
//! 0–15 (observed: a virtio interrupt then triple-faults a guest whose IDT lacks vector 5).
//!
//! # Running
//!
//! Each vCPU runs `KVM_RUN` in a loop on its own thread; [`handle_exit`] decides what each exit
//! means: port and MMIO accesses go to the [`IoBuses`] (an access no device claims reads as
//! all-ones and is otherwise ignored, counted and logged with `-v`), an exit-port write ends the
//! VM with the guest's status, and a shutdown (triple fault), internal error, failed entry,
//! system event or any exit the VMM does not expect ends it as a guest crash, reported with the
//! registers. The first end is sent to the main thread over a channel.
//!
//! # Kick
//!
//! [`VcpuHandle::kick`] sets the thread's stop flag and sends it a real-time signal
//! (`SIGRTMIN + KICK_SIGNAL_OFFSET`). The handler sets `kvm_run.immediate_exit`, so whether the
//! signal lands while the thread is inside `KVM_RUN` (which then returns `EINTR`) or just before
//! it enters (which then returns at once), the loop sees the stop flag before running the guest
//! again. No stop request is lost and no thread stays blocked, including APs still waiting for
//! a SIPI.
//!
//! # Pause
//!
//! The same kick serves pause-and-dump (`pause.rs`): the loop checks a shared [`PauseGate`]
//! before every `KVM_RUN`, and a requested pause parks the thread (after it has read its own
//! registers) until the gate is lowered. A write to the dump port raises the gate from the
//! vCPU thread itself, which then parks at once, and asks the main thread for the dump.

use std::cell::Cell;
use std::ffi::c_void;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use kvm_bindings::{
    CpuId, KVM_SYSTEM_EVENT_CRASH, KVM_SYSTEM_EVENT_RESET, KVM_SYSTEM_EVENT_SHUTDOWN,
};
use kvm_ioctls::{VcpuExit, VcpuFd};
use libc::{c_int, siginfo_t};
use vmm_sys_util::signal::{register_signal_handler, Killable, SIGRTMIN};

use super::pause::PauseGate;
use super::regs::{
    apply_entry_sregs, cpu_regs, default_fpu, entry_regs, format_registers, summarize,
};
use super::stats::VcpuStats;
use super::{ioctl_err, KvmError};
use crate::boot::regs::EntryState;
use crate::bus::{Bus, IoBuses, WriteOutcome};
use crate::inspect::model::VcpuDump;
use crate::marks::MarkLog;
use crate::outcome::{VmEnd, VmEvent};

/// Offset from `SIGRTMIN` of the signal that kicks vCPU threads out of `KVM_RUN`.
pub const KICK_SIGNAL_OFFSET: c_int = 0;
/// How many unhandled accesses a vCPU logs (with `-v`) before it only counts them.
const UNHANDLED_LOG_LIMIT: u64 = 16;

thread_local! {
    /// This thread's `kvm_run.immediate_exit`, for the kick signal handler (null when the thread
    /// runs no vCPU).
    static IMMEDIATE_EXIT: Cell<*mut u8> = const { Cell::new(std::ptr::null_mut()) };
}

extern "C" fn kick_handler(_signal: c_int, _info: *mut siginfo_t, _ctx: *mut c_void) {
    let flag = IMMEDIATE_EXIT.with(Cell::get);
    if !flag.is_null() {
        // SAFETY: the pointer was set by this very thread to the `immediate_exit` byte of its
        // vCPU's mmapped `kvm_run`, and is reset to null (by `ImmediateExitGuard`) before the
        // `VcpuFd` owning that mapping is dropped. A single volatile byte store is
        // async-signal-safe; the byte is only otherwise written by this thread's loop and read
        // by the kernel at `KVM_RUN` entry (Firecracker kicks vCPUs the same way).
        unsafe { std::ptr::write_volatile(flag, 1) };
    }
}

/// The kick signal number.
pub fn kick_signal() -> c_int {
    SIGRTMIN() + KICK_SIGNAL_OFFSET
}

/// Installs the kick signal handler (once per process, before any vCPU thread starts).
pub fn install_kick_handler() -> Result<(), KvmError> {
    register_signal_handler(kick_signal(), kick_handler).map_err(ioctl_err("sigaction (kick)"))
}

/// Publishes a `kvm_run.immediate_exit` pointer to the kick handler for as long as it lives.
struct ImmediateExitGuard;

impl ImmediateExitGuard {
    fn set(flag: *mut u8) -> Self {
        IMMEDIATE_EXIT.with(|c| c.set(flag));
        ImmediateExitGuard
    }
}

impl Drop for ImmediateExitGuard {
    fn drop(&mut self) {
        IMMEDIATE_EXIT.with(|c| c.set(std::ptr::null_mut()));
    }
}

/// Why a vCPU stops the VM as a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrashKind {
    /// `KVM_EXIT_SHUTDOWN`: a triple fault.
    Shutdown,
    /// `KVM_EXIT_INTERNAL_ERROR` (details are read from `kvm_run` by the loop).
    InternalError,
    /// `KVM_EXIT_FAIL_ENTRY`.
    FailEntry {
        /// Hardware entry failure reason.
        reason: u64,
        /// Host CPU.
        cpu: u32,
    },
    /// `KVM_EXIT_SYSTEM_EVENT` (reset, shutdown or crash request).
    SystemEvent {
        /// Event type.
        kind: u32,
    },
    /// Any exit the VMM does not expect with the in-kernel irqchip.
    Unexpected(String),
}

impl CrashKind {
    fn describe(&self) -> String {
        match self {
            CrashKind::Shutdown => {
                "triple fault (KVM_EXIT_SHUTDOWN): an exception could not be delivered, e.g. no valid IDT, or a fault in the double-fault handler".into()
            }
            CrashKind::InternalError => "KVM internal error (KVM_EXIT_INTERNAL_ERROR)".into(),
            CrashKind::FailEntry { reason, cpu } => format!(
                "KVM could not enter the guest (KVM_EXIT_FAIL_ENTRY, hardware reason {reason:#x}, host CPU {cpu}): invalid guest state"
            ),
            CrashKind::SystemEvent { kind } => {
                let what = match *kind {
                    KVM_SYSTEM_EVENT_SHUTDOWN => "shutdown",
                    KVM_SYSTEM_EVENT_RESET => "reset",
                    KVM_SYSTEM_EVENT_CRASH => "crash",
                    _ => "unknown",
                };
                format!("the guest requested a system {what} (KVM_EXIT_SYSTEM_EVENT type {kind}), which lwpvm does not support")
            }
            CrashKind::Unexpected(exit) => format!("unexpected vCPU exit {exit}"),
        }
    }
}

/// What the vCPU loop does after an exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitAction {
    /// Run the guest again.
    Continue,
    /// The guest wrote its exit status.
    GuestExit(u32),
    /// The guest asked for a dump (dump port) with this request id.
    DumpRequest(u32),
    /// The guest wrote an instruction-count mark with this id.
    Mark(u32),
    /// The guest crashed.
    Crash(CrashKind),
}

/// Per-vCPU exit counters.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ExitStats {
    /// Exits handled.
    pub exits: u64,
    /// Port accesses no device claimed.
    pub unhandled_pio: u64,
    /// MMIO accesses no device claimed.
    pub unhandled_mmio: u64,
}

impl ExitStats {
    /// Counts an access no device claimed and logs the first few (with `-v`).
    fn unhandled(&mut self, bus: &Bus, is_pio: bool, write: bool, addr: u64, data: &[u8]) {
        if is_pio {
            self.unhandled_pio += 1;
        } else {
            self.unhandled_mmio += 1;
        }
        let total = self.unhandled_pio + self.unhandled_mmio;
        if total > UNHANDLED_LOG_LIMIT {
            return;
        }
        let more = if total == UNHANDLED_LOG_LIMIT {
            " (further unhandled accesses are only counted)"
        } else {
            ""
        };
        let name = bus.name();
        if write {
            log::debug!("unhandled {name} write of {data:02x?} to {addr:#x}: ignored{more}");
        } else {
            log::debug!(
                "unhandled {}-byte {name} read at {addr:#x}: returned all-ones{more}",
                data.len()
            );
        }
    }
}

/// A guest read from `bus`: the device's answer, or all-ones if no device claims it.
fn bus_read(bus: &Bus, is_pio: bool, addr: u64, data: &mut [u8], stats: &mut ExitStats) {
    if !bus.read(addr, data) {
        data.fill(0xff);
        stats.unhandled(bus, is_pio, false, addr, data);
    }
}

/// A guest write to `bus`: the device's request, or nothing if no device claims it.
fn bus_write(bus: &Bus, is_pio: bool, addr: u64, data: &[u8], stats: &mut ExitStats) -> ExitAction {
    match bus.write(addr, data) {
        Some(WriteOutcome::Continue) => ExitAction::Continue,
        Some(WriteOutcome::ExitVm { status }) => ExitAction::GuestExit(status),
        Some(WriteOutcome::DumpRequest { id }) => ExitAction::DumpRequest(id),
        Some(WriteOutcome::Mark { id }) => ExitAction::Mark(id),
        None => {
            stats.unhandled(bus, is_pio, true, addr, data);
            ExitAction::Continue
        }
    }
}

/// Maps one exit to an action. Never fails: whatever the guest does, the answer is an action.
pub fn handle_exit(exit: VcpuExit<'_>, buses: &IoBuses, stats: &mut ExitStats) -> ExitAction {
    stats.exits += 1;
    match exit {
        VcpuExit::IoIn(port, data) => {
            bus_read(&buses.pio, true, u64::from(port), data, stats);
            ExitAction::Continue
        }
        VcpuExit::IoOut(port, data) => bus_write(&buses.pio, true, u64::from(port), data, stats),
        VcpuExit::MmioRead(addr, data) => {
            bus_read(&buses.mmio, false, addr, data, stats);
            ExitAction::Continue
        }
        VcpuExit::MmioWrite(addr, data) => bus_write(&buses.mmio, false, addr, data, stats),
        // A signal interrupted the run; the loop re-checks its stop flag.
        VcpuExit::Intr => ExitAction::Continue,
        VcpuExit::Shutdown => ExitAction::Crash(CrashKind::Shutdown),
        VcpuExit::InternalError => ExitAction::Crash(CrashKind::InternalError),
        VcpuExit::FailEntry(reason, cpu) => ExitAction::Crash(CrashKind::FailEntry { reason, cpu }),
        VcpuExit::SystemEvent(kind, _) => ExitAction::Crash(CrashKind::SystemEvent { kind }),
        other => ExitAction::Crash(CrashKind::Unexpected(format!("{other:?}"))),
    }
}

/// A created vCPU, not yet running.
#[derive(Debug)]
pub struct Vcpu {
    id: u8,
    fd: VcpuFd,
    marks: Option<Arc<MarkLog>>,
}

impl Vcpu {
    /// Sets CPUID (APIC id = `id`) on a freshly created vCPU.
    pub(super) fn new(id: u8, fd: VcpuFd, supported: &CpuId) -> Result<Self, KvmError> {
        let mut cpuid = supported.clone();
        patch_cpuid(&mut cpuid, id);
        fd.set_cpuid2(&cpuid).map_err(ioctl_err("KVM_SET_CPUID2"))?;
        Ok(Vcpu {
            id,
            fd,
            marks: None,
        })
    }

    /// Records this vCPU's instruction counters in `log` at each guest mark.
    pub fn record_marks(&mut self, log: Arc<MarkLog>) {
        self.marks = Some(log);
    }

    /// Puts the BSP in the PVH entry state.
    pub fn set_entry_state(&self, state: &EntryState) -> Result<(), KvmError> {
        let mut sregs = self.fd.get_sregs().map_err(ioctl_err("KVM_GET_SREGS"))?;
        apply_entry_sregs(&mut sregs, state);
        self.fd
            .set_sregs(&sregs)
            .map_err(ioctl_err("KVM_SET_SREGS"))?;
        self.fd
            .set_regs(&entry_regs(state))
            .map_err(ioctl_err("KVM_SET_REGS"))?;
        self.fd
            .set_fpu(&default_fpu())
            .map_err(ioctl_err("KVM_SET_FPU"))?;
        Ok(())
    }

    /// Starts the vCPU's thread. The first VM-ending event it sees, and its dump requests, are
    /// sent on `events`; it parks whenever `gate` asks.
    pub fn start(
        self,
        buses: Arc<IoBuses>,
        events: Sender<VmEvent>,
        gate: Arc<PauseGate>,
    ) -> io::Result<VcpuHandle> {
        let id = self.id;
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let thread = thread::Builder::new()
            .name(format!("vcpu{id}"))
            .spawn(move || self.run(&buses, &thread_stop, &events, &gate))?;
        Ok(VcpuHandle {
            id,
            stop,
            thread: Some(thread),
        })
    }

    fn run(
        mut self,
        buses: &IoBuses,
        stop: &AtomicBool,
        ends: &Sender<VmEvent>,
        gate: &PauseGate,
    ) -> VcpuReport {
        let flag: *mut u8 = &mut self.fd.get_kvm_run().immediate_exit;
        let _guard = ImmediateExitGuard::set(flag);
        let mut stats = ExitStats::default();
        let counters = self.marks.as_ref().and_then(|_| VcpuStats::open(&self.fd));
        if self.marks.is_some() && counters.is_none() {
            log::warn!(
                "vCPU {}: KVM offers no binary statistics; marks carry no counts",
                self.id
            );
        }
        loop {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            if gate.requested() {
                gate.park(self.id, stop, || self.snapshot("running"));
                continue;
            }
            let action = match self.fd.run() {
                Ok(exit) => handle_exit(exit, buses, &mut stats),
                Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                    self.fd.set_kvm_immediate_exit(0);
                    continue;
                }
                Err(e) => {
                    let _ = ends.send(
                        VmEnd::HostError {
                            what: format!("KVM_RUN failed on vCPU {}: {e}", self.id),
                        }
                        .into(),
                    );
                    break;
                }
            };
            match action {
                ExitAction::Continue => {}
                ExitAction::Mark(id) => {
                    if let Some(log) = &self.marks {
                        let c = counters.as_ref().map(VcpuStats::read).unwrap_or_default();
                        log.record(self.id, id, c);
                    }
                }
                ExitAction::DumpRequest(id) => {
                    // Park before the guest runs on, until this request is served; the main
                    // thread pauses the others.
                    gate.hold(self.id);
                    let _ = ends.send(VmEvent::DumpRequest { vcpu: self.id, id });
                }
                ExitAction::GuestExit(status) => {
                    let _ = ends.send(
                        VmEnd::GuestExit {
                            status,
                            vcpu: self.id,
                        }
                        .into(),
                    );
                    break;
                }
                ExitAction::Crash(kind) => {
                    let mut reason = kind.describe();
                    if kind == CrashKind::InternalError {
                        reason.push_str(&self.internal_error_details());
                    }
                    let _ = ends.send(
                        VmEnd::GuestCrash {
                            vcpu: self.id,
                            reason,
                            registers: self.registers(),
                        }
                        .into(),
                    );
                    break;
                }
            }
        }
        if stats.unhandled_pio + stats.unhandled_mmio > 0 {
            log::debug!(
                "vCPU {}: {} exits, {} unhandled port and {} unhandled MMIO accesses",
                self.id,
                stats.exits,
                stats.unhandled_pio,
                stats.unhandled_mmio
            );
        }
        VcpuReport {
            summary: self.summary(),
            dump: self.snapshot("ended"),
        }
    }

    /// The vCPU's state for a dump: its MP state and registers. `running` names the state of
    /// a runnable vCPU (`"running"` when parked, `"ended"` once its thread stops).
    fn snapshot(&self, running: &str) -> VcpuDump {
        let mp = self.fd.get_mp_state().ok().map(|s| s.mp_state);
        let state = match mp {
            Some(kvm_bindings::KVM_MP_STATE_RUNNABLE) => running.to_string(),
            Some(kvm_bindings::KVM_MP_STATE_HALTED) => "halted".into(),
            Some(
                kvm_bindings::KVM_MP_STATE_UNINITIALIZED | kvm_bindings::KVM_MP_STATE_INIT_RECEIVED,
            ) => "wait_for_sipi".into(),
            Some(_) | None => "unknown".into(),
        };
        let regs = match (self.fd.get_regs(), self.fd.get_sregs()) {
            (Ok(r), Ok(s)) => Some(cpu_regs(&r, &s)),
            _ => None,
        };
        VcpuDump {
            id: self.id,
            state,
            mp_state: mp,
            regs,
        }
    }

    /// The suberror and data of the last `KVM_EXIT_INTERNAL_ERROR`.
    fn internal_error_details(&mut self) -> String {
        let run = self.fd.get_kvm_run();
        // SAFETY: called only right after KVM_RUN returned KVM_EXIT_INTERNAL_ERROR, for which
        // the kernel fills the `internal` member of the exit union; it is plain integers.
        let internal = unsafe { run.__bindgen_anon_1.internal };
        let n = (internal.ndata as usize).min(internal.data.len());
        let what = match internal.suberror {
            1 => " — instruction emulation failed (on hosts that interpret ring 0, e.g. int3, int n, popcnt, SSE ALU ops or xsave in the guest kernel)",
            2 => " — simultaneous exceptions",
            3 => " — delivery of an event (interrupt/exception) failed",
            _ => "",
        };
        format!(
            ", suberror {}{what}, data {:x?}",
            internal.suberror,
            &internal.data[..n]
        )
    }

    /// The full register dump, or why it could not be read.
    fn registers(&self) -> String {
        match (self.fd.get_regs(), self.fd.get_sregs()) {
            (Ok(regs), Ok(sregs)) => format_registers(&regs, &sregs),
            (Err(e), _) | (_, Err(e)) => format!("  (cannot read registers: {e})"),
        }
    }

    /// One line of where the vCPU is.
    fn summary(&self) -> String {
        let mp = match self.fd.get_mp_state() {
            Ok(s) if s.mp_state == kvm_bindings::KVM_MP_STATE_RUNNABLE => String::new(),
            Ok(s)
                if s.mp_state == kvm_bindings::KVM_MP_STATE_UNINITIALIZED
                    || s.mp_state == kvm_bindings::KVM_MP_STATE_INIT_RECEIVED =>
            {
                return "waiting for INIT-SIPI-SIPI (never started)".into();
            }
            Ok(s) if s.mp_state == kvm_bindings::KVM_MP_STATE_HALTED => " (halted)".into(),
            Ok(s) => format!(" (mp_state {})", s.mp_state),
            Err(_) => String::new(),
        };
        match (self.fd.get_regs(), self.fd.get_sregs()) {
            (Ok(regs), Ok(sregs)) => format!("{}{mp}", summarize(&regs, &sregs)),
            (Err(e), _) | (_, Err(e)) => format!("registers unavailable: {e}"),
        }
    }
}

/// Patches APIC ids into CPUID: leaf 1 EBX[31:24] (initial APIC id) and the x2APIC id in EDX
/// of every subleaf of leaves 0xB and 0x1F.
pub fn patch_cpuid(cpuid: &mut CpuId, apic_id: u8) {
    for e in cpuid.as_mut_slice() {
        match e.function {
            1 => e.ebx = (e.ebx & 0x00ff_ffff) | (u32::from(apic_id) << 24),
            0xb | 0x1f => e.edx = u32::from(apic_id),
            _ => {}
        }
    }
}

/// What a vCPU thread leaves behind.
#[derive(Debug, Clone)]
pub struct VcpuReport {
    /// Where the vCPU was when it stopped.
    pub summary: String,
    /// Its state for a dump.
    pub dump: VcpuDump,
}

/// The main thread's handle on a running vCPU thread.
#[derive(Debug)]
pub struct VcpuHandle {
    id: u8,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<VcpuReport>>,
}

impl VcpuHandle {
    /// The vCPU's id.
    pub fn id(&self) -> u8 {
        self.id
    }

    /// Whether its thread still runs.
    pub fn is_alive(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Forces the vCPU out of `KVM_RUN` without asking it to stop (for a pause).
    pub fn nudge(&self) {
        if let Some(t) = &self.thread {
            if !t.is_finished() {
                if let Err(e) = t.kill(kick_signal()) {
                    log::debug!("cannot kick vCPU {}: {e}", self.id);
                }
            }
        }
    }

    /// Asks the vCPU to stop and forces it out of `KVM_RUN`.
    pub fn kick(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = &self.thread {
            if !t.is_finished() {
                if let Err(e) = t.kill(kick_signal()) {
                    log::debug!("cannot kick vCPU {}: {e}", self.id);
                }
            }
        }
    }

    /// Kicks the vCPU until its thread ends, for at most `timeout`; returns its report, or
    /// `None` if it did not stop in time (the thread is then left to die with the process).
    pub fn stop(&mut self, timeout: Duration) -> Option<VcpuReport> {
        let deadline = Instant::now() + timeout;
        loop {
            let finished = self.thread.as_ref().is_none_or(|t| t.is_finished());
            if finished {
                break;
            }
            if Instant::now() >= deadline {
                log::warn!("vCPU {} did not stop within {timeout:?}", self.id);
                return None;
            }
            self.kick();
            thread::sleep(Duration::from_millis(2));
        }
        self.thread.take()?.join().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::BusDevice;
    use crate::devices::exit::ExitDevice;
    use kvm_bindings::kvm_cpuid_entry2;
    use std::sync::Mutex;

    struct Echo;
    impl BusDevice for Echo {
        fn read(&mut self, offset: u64, data: &mut [u8]) {
            data.fill(offset as u8 + 1);
        }
        fn write(&mut self, _: u64, _: &[u8]) -> WriteOutcome {
            WriteOutcome::Continue
        }
    }

    fn buses() -> IoBuses {
        let mut pio = Bus::new("port");
        pio.insert(0xf4, 4, Arc::new(Mutex::new(ExitDevice)))
            .unwrap();
        pio.insert(0x3f8, 8, Arc::new(Mutex::new(Echo))).unwrap();
        let mut mmio = Bus::new("MMIO");
        mmio.insert(0xd000_0000, 0x1000, Arc::new(Mutex::new(Echo)))
            .unwrap();
        IoBuses { pio, mmio }
    }

    #[test]
    fn exit_port_ends_the_vm() {
        let b = buses();
        let mut st = ExitStats::default();
        let v = 42u32.to_le_bytes();
        assert_eq!(
            handle_exit(VcpuExit::IoOut(0xf4, &v), &b, &mut st),
            ExitAction::GuestExit(42)
        );
        assert_eq!(st.exits, 1);
    }

    #[test]
    fn device_io_continues() {
        let b = buses();
        let mut st = ExitStats::default();
        let mut d = [0u8; 1];
        assert_eq!(
            handle_exit(VcpuExit::IoIn(0x3fd, &mut d), &b, &mut st),
            ExitAction::Continue
        );
        assert_eq!(d, [6]);
        assert_eq!(
            handle_exit(VcpuExit::IoOut(0x3f8, b"x"), &b, &mut st),
            ExitAction::Continue
        );
        let mut d = [0u8; 4];
        assert_eq!(
            handle_exit(VcpuExit::MmioRead(0xd000_0070, &mut d), &b, &mut st),
            ExitAction::Continue
        );
        assert_eq!(d, [0x71; 4]);
        assert_eq!(
            handle_exit(VcpuExit::MmioWrite(0xd000_0070, &[1, 0, 0, 0]), &b, &mut st),
            ExitAction::Continue
        );
        assert_eq!((st.unhandled_pio, st.unhandled_mmio), (0, 0));
    }

    #[test]
    fn unknown_ports_and_mmio_are_harmless() {
        let b = buses();
        let mut st = ExitStats::default();
        let mut d = [0u8; 2];
        assert_eq!(
            handle_exit(VcpuExit::IoIn(0x61, &mut d), &b, &mut st),
            ExitAction::Continue
        );
        assert_eq!(d, [0xff, 0xff]);
        for port in [0x80u16, 0x43, 0xcf8, 0xffff] {
            assert_eq!(
                handle_exit(VcpuExit::IoOut(port, &[0xde, 0xad]), &b, &mut st),
                ExitAction::Continue
            );
        }
        let mut d = [0u8; 8];
        assert_eq!(
            handle_exit(VcpuExit::MmioRead(0xe000_0000, &mut d), &b, &mut st),
            ExitAction::Continue
        );
        assert_eq!(d, [0xff; 8]);
        assert_eq!(
            handle_exit(VcpuExit::MmioWrite(0x1_0000_0000, &[1]), &b, &mut st),
            ExitAction::Continue
        );
        // An access straddling the end of the virtio window is not the device's.
        assert_eq!(
            handle_exit(VcpuExit::MmioWrite(0xd000_0ffe, &[1, 2, 3, 4]), &b, &mut st),
            ExitAction::Continue
        );
        assert_eq!((st.unhandled_pio, st.unhandled_mmio), (5, 3));
        // Many more: still fine (only counted).
        for _ in 0..100 {
            handle_exit(VcpuExit::IoOut(0x80, &[0]), &b, &mut st);
        }
        assert_eq!(st.unhandled_pio, 105);
    }

    #[test]
    fn crashes() {
        let b = buses();
        let mut st = ExitStats::default();
        assert_eq!(
            handle_exit(VcpuExit::Shutdown, &b, &mut st),
            ExitAction::Crash(CrashKind::Shutdown)
        );
        assert_eq!(
            handle_exit(VcpuExit::InternalError, &b, &mut st),
            ExitAction::Crash(CrashKind::InternalError)
        );
        assert_eq!(
            handle_exit(VcpuExit::FailEntry(0x21, 3), &b, &mut st),
            ExitAction::Crash(CrashKind::FailEntry {
                reason: 0x21,
                cpu: 3
            })
        );
        assert_eq!(
            handle_exit(
                VcpuExit::SystemEvent(KVM_SYSTEM_EVENT_RESET, &[]),
                &b,
                &mut st
            ),
            ExitAction::Crash(CrashKind::SystemEvent {
                kind: KVM_SYSTEM_EVENT_RESET
            })
        );
        for exit in [
            VcpuExit::Hlt,
            VcpuExit::Unknown,
            VcpuExit::Exception,
            VcpuExit::IoapicEoi(3),
            VcpuExit::Unsupported(999),
        ] {
            assert!(matches!(
                handle_exit(exit, &b, &mut st),
                ExitAction::Crash(CrashKind::Unexpected(_))
            ));
        }
        assert_eq!(
            handle_exit(VcpuExit::Intr, &b, &mut st),
            ExitAction::Continue
        );
        assert!(CrashKind::Shutdown.describe().contains("triple fault"));
    }

    #[test]
    fn cpuid_apic_ids() {
        let mut cpuid = CpuId::from_entries(&[
            kvm_cpuid_entry2 {
                function: 1,
                ebx: 0xaa12_3456,
                ..Default::default()
            },
            kvm_cpuid_entry2 {
                function: 0xb,
                index: 0,
                edx: 0,
                ..Default::default()
            },
            kvm_cpuid_entry2 {
                function: 0xb,
                index: 1,
                edx: 0,
                ..Default::default()
            },
            kvm_cpuid_entry2 {
                function: 4,
                ebx: 7,
                ..Default::default()
            },
        ])
        .unwrap();
        patch_cpuid(&mut cpuid, 5);
        let e = cpuid.as_slice();
        assert_eq!(e[0].ebx, 0x0512_3456);
        assert_eq!((e[1].edx, e[2].edx), (5, 5));
        assert_eq!(e[3].ebx, 7);
    }
}
