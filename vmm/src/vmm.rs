//! One VM run, from a validated [`VmConfig`] to the [`VmEnd`] that stopped it.
//!
//! The boot recipe, in order:
//! 1. **Inputs** (nothing created yet, so every input error is reported before KVM is touched):
//!    validate the kernel ELF and check its segments fit the RAM layout; place the initrd at
//!    the top of low RAM; build the command line; open the `--serial` sink.
//! 2. **KVM**: open `/dev/kvm`, map guest RAM, create the VM (memory slots, in-kernel irqchip).
//! 3. **Guest memory**: load the kernel (linux-loader), copy the initrd, write `hvm_start_info`
//!    + memory map + module list + command line, the MP table and the boot GDT.
//! 4. **Devices**: COM1 (irqfd GSI 4), the exit port and (with `--dump-on request`) the dump
//!    port on the port bus; the virtio-mmio console (irqfd GSI 5, one ioeventfd per queue on
//!    QueueNotify) on the MMIO bus; the host-signal irqfd (GSI 6) with `--control`.
//! 5. **vCPUs**: create all (CPUID, LAPIC); the BSP gets the PVH entry state, APs wait for SIPI.
//! 6. **Run**: start the event loop (console queues, stdin, SIGINT/SIGTERM), the control socket
//!    (`--control`), put the terminal in raw mode, start one thread per vCPU, and serve events
//!    until the first end (exit port, crash, host error, signal) or the timeout: dump requests
//!    from the guest and control requests pause every vCPU, dump or post a signal, and resume.
//!    With `--scenario`, a dump request that carries a scenario request block is answered
//!    (dump assertions evaluated, verdicts written) before the requesting vCPU is released
//!    (`scenario.rs`); the scenario is loaded in step 1, and its verdict can turn the guest's
//!    exit status 0 into 1 at the end.
//! 7. **Stop**: kick every vCPU out of `KVM_RUN` and join it, stop the event loop, drain what
//!    the guest left on the console's transmit queue, flush stdout, and write the end-of-run
//!    dump if `--dump-on` asks for one (from the stopped vCPUs' registers and guest memory).
//!    The caller restores the terminal and prints the message.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::{Duration, Instant};

use shared_abi::current::ports::{
    status, COM1_IRQ, COM1_PORT, DUMP_PORT, DUMP_PORT_SIZE, EXIT_PORT, EXIT_PORT_SIZE,
    HOST_SIGNAL_GSI, MARK_PORT, MARK_PORT_SIZE,
};
use shared_abi::current::signal;
use virtio_bindings::virtio_mmio::VIRTIO_MMIO_QUEUE_NOTIFY;
use vmm_sys_util::eventfd::EventFd;

use crate::boot::bootinfo::{self, Module};
use crate::boot::initrd::Initrd;
use crate::boot::loader::KernelImage;
use crate::boot::mptable;
use crate::boot::regs::{pvh_entry_state, write_boot_gdt};
use crate::bus::IoBuses;
use crate::config::{InspectConfig, SerialOutput, VmConfig};
use crate::control::{self, ControlCommand, ControlReply, ControlRequest, ControlServer};
use crate::devices::dump_port::DumpPort;
use crate::devices::exit::ExitDevice;
use crate::devices::mark_port::MarkPort;
use crate::devices::serial::{open_output, SerialDevice, SERIAL_PORT_COUNT};
use crate::devices::virtio::console::{Console, ConsoleEventHandler};
use crate::devices::virtio::mmio::MmioTransport;
use crate::error::Error;
use crate::event_loop::EventLoop;
use crate::inspect;
use crate::inspect::core::{write_core, CoreSignal, DEFAULT_MEMORY_BUDGET};
use crate::inspect::model::{Reason, VcpuDump};
use crate::kvm::pause::PauseGate;
use crate::kvm::vcpu::{install_kick_handler, VcpuHandle};
use crate::kvm::{Kvm, Vm};
use crate::layout::{
    PVH_START_INFO, VIRTIO_CONSOLE_GSI, VIRTIO_CONSOLE_MMIO_BASE, VIRTIO_MMIO_SIZE,
};
use crate::marks::MarkLog;
use crate::memory::RamLayout;
use crate::outcome::{VmEnd, VmEvent};
use crate::scenario::{self, ScenarioHost};
use crate::terminal;

/// How long a vCPU or the event loop gets to stop after being asked.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);
/// How long every vCPU gets to park for a dump.
const PAUSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The devices the run needs to reach after the guest stops.
struct Devices {
    buses: Arc<IoBuses>,
    console: Arc<Mutex<Console>>,
    /// Id of the last dump request served (read back through the dump port).
    last_dump: Arc<AtomicU32>,
    /// Raises the host-signal GSI.
    host_signal_irq: Option<EventFd>,
}

/// What serving pause-and-dump needs during the run.
struct Inspection<'a> {
    config: &'a InspectConfig,
    mem: &'a vm_memory::GuestMemoryMmap,
    header_gpa: Option<u64>,
    gate: &'a PauseGate,
    handles: &'a [VcpuHandle],
}

impl Inspection<'_> {
    /// Kicks every live vCPU out of the guest and parks it (up to `PAUSE_TIMEOUT`).
    fn pause_all(&self) -> crate::kvm::pause::Paused {
        self.gate.pause_all(
            || {
                self.handles
                    .iter()
                    .filter(|h| h.is_alive())
                    .map(VcpuHandle::id)
                    .collect()
            },
            |id| {
                if let Some(h) = self.handles.iter().find(|h| h.id() == id) {
                    h.nudge();
                }
            },
            PAUSE_TIMEOUT,
        )
    }
}

/// Boots and runs the VM described by `config` until it ends.
pub fn run(config: &VmConfig) -> Result<VmEnd, Error> {
    // 1. Inputs.
    let mut scenario = config
        .inspect
        .scenario
        .as_ref()
        .map(ScenarioHost::load)
        .transpose()?;
    let mut kernel = KernelImage::open(&config.kernel)?;
    let header_gpa = kernel.inspect_note.map(|n| n.header_gpa);
    let ram = RamLayout::new(config.mem_bytes);
    kernel.check_fits(&ram)?;
    let mut initrd = config
        .initrd
        .as_deref()
        .map(|path| Initrd::plan(path, &ram, kernel.end()))
        .transpose()?;
    let cmdline = bootinfo::build_cmdline(&config.cmdline)?;
    let serial_out = open_output(&config.serial).map_err(|source| Error::SerialOutput {
        // Only files can fail to open.
        path: match &config.serial {
            SerialOutput::File(p) => p.clone(),
            _ => "-".into(),
        },
        source,
    })?;

    // 2. KVM.
    let kvm = Kvm::open(&config.kvm_device)?;
    if usize::from(config.cpus) > kvm.max_vcpus() {
        return Err(Error::TooManyCpus {
            requested: config.cpus,
            max: kvm.max_vcpus(),
        });
    }
    let mem = ram.create_guest_memory()?;
    // KVM and stray vCPU threads may use guest RAM until the process exits; never unmap it.
    std::mem::forget(mem.clone());
    let vm = kvm.create_vm(&mem)?;

    // 3. Guest memory.
    let entry = kernel.load(&mem)?;
    let mut modules = Vec::new();
    if let Some(initrd) = &mut initrd {
        initrd.load(&mem)?;
        modules.push(Module {
            addr: initrd.addr,
            size: initrd.size,
        });
    }
    bootinfo::write(&mem, &ram, &cmdline, &modules)?;
    mptable::write(&mem, config.cpus)?;
    write_boot_gdt(&mem).map_err(Error::Gdt)?;
    log::debug!(
        "kernel {}: PVH entry {entry:#x}, image ends at {:#x}; RAM {}; start info at {PVH_START_INFO:#x}; initrd {}; command line {:?}",
        kernel.path().display(),
        kernel.end(),
        ram.ranges()
            .iter()
            .map(|r| format!("{:#x}..{:#x}", r.start, r.end()))
            .collect::<Vec<_>>()
            .join(" + "),
        modules
            .first()
            .map_or("none".into(), |m| format!("{:#x}+{:#x}", m.addr, m.size)),
        cmdline
            .as_cstring()
            .map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_default()
    );

    // 4. Devices.
    let devices = build_devices(
        &vm,
        &mem,
        serial_out,
        &config.inspect,
        config.marks.is_some(),
    )?;

    // 5. vCPUs.
    let marks = config.marks.as_ref().map(|_| Arc::new(MarkLog::default()));
    let mut vcpus = Vec::with_capacity(usize::from(config.cpus));
    for id in 0..config.cpus {
        let mut vcpu = vm.create_vcpu(id)?;
        if let Some(log) = &marks {
            vcpu.record_marks(log.clone());
        }
        if id == 0 {
            vcpu.set_entry_state(&pvh_entry_state(entry, PVH_START_INFO))?;
        }
        vcpus.push(vcpu);
    }
    install_kick_handler()?;

    // 6. Run.
    let (ends_tx, ends) = mpsc::channel::<VmEvent>();
    let console_events = ConsoleEventHandler::new(devices.console.clone(), true)
        .map_err(Error::host("setting up console events"))?;
    let mut event_loop = EventLoop::start(vec![Box::new(console_events)], ends_tx.clone(), true)
        .map_err(Error::host("starting the event loop"))?;
    let mut control_server = match &config.inspect.control {
        Some(path) => Some(
            ControlServer::start(path, ends_tx.clone(), Arc::new(mem.clone()), header_gpa)
                .map_err(Error::host("listening on the --control socket"))?,
        ),
        None => None,
    };
    terminal::enter_raw_mode();
    let gate = Arc::new(PauseGate::new());
    let mut handles: Vec<VcpuHandle> = Vec::with_capacity(vcpus.len());
    let mut start_error = None;
    for vcpu in vcpus {
        match vcpu.start(devices.buses.clone(), ends_tx.clone(), gate.clone()) {
            Ok(h) => handles.push(h),
            Err(e) => {
                start_error = Some(e);
                break;
            }
        }
    }
    drop(ends_tx);
    let mut end = match start_error {
        Some(e) => VmEnd::HostError {
            what: format!("cannot start a vCPU thread: {e}"),
        },
        None => {
            let inspection = Inspection {
                config: &config.inspect,
                mem: &mem,
                header_gpa,
                gate: &gate,
                handles: &handles,
            };
            serve_until_end(
                &ends,
                config.timeout,
                &inspection,
                &devices,
                scenario.as_mut(),
            )
        }
    };

    // 7. Stop.
    if let Some(server) = &mut control_server {
        server.stop();
    }
    gate.resume_all();
    let mut states = Vec::with_capacity(handles.len());
    let mut final_vcpus = Vec::with_capacity(handles.len());
    for h in &handles {
        h.kick();
    }
    for h in &mut handles {
        match h.stop(STOP_TIMEOUT) {
            Some(report) => {
                states.push(report.summary);
                final_vcpus.push(report.dump);
            }
            None => {
                states.push("did not stop".into());
                final_vcpus.push(VcpuDump {
                    id: h.id(),
                    state: "not_stopped".into(),
                    mp_state: None,
                    regs: None,
                });
            }
        }
    }
    event_loop.stop(STOP_TIMEOUT);
    // Output the guest queued just before it ended (e.g. right before the exit port write).
    // try_lock: an event loop that did not stop may hold the console (blocked on stdout).
    match devices.console.try_lock() {
        Ok(mut console) => console.process_transmitq(),
        Err(TryLockError::Poisoned(p)) => p.into_inner().process_transmitq(),
        Err(TryLockError::WouldBlock) => log::warn!("console busy; its last output is lost"),
    }
    let _ = io::stdout().flush();
    if let Some(reason) = end_dump_reason(&end, &config.inspect) {
        let mut dump = inspect::capture(&mem, header_gpa, reason, final_vcpus);
        dump.timing.paused = false;
        emit(
            &config.inspect,
            &inspect::render(&dump, config.inspect.format),
        );
    }
    if let (Some(log), Some(path)) = (&marks, &config.marks) {
        if let Err(e) = log.write_json(path) {
            log::warn!("cannot write the marks to {}: {e}", path.display());
        }
    }
    if let VmEnd::Timeout { vcpus, .. } = &mut end {
        *vcpus = states;
    }
    if let Some(scenario) = &mut scenario {
        end = scenario.finish(end);
    }
    Ok(end)
}

/// The dump reason for the end of a run, if `--dump-on` asks for a dump then.
fn end_dump_reason(end: &VmEnd, config: &InspectConfig) -> Option<Reason> {
    let on = &config.dump_on;
    match end {
        VmEnd::GuestExit { status: st, .. }
            if *st == status::KERNEL_PANIC || *st == status::KERNEL_FAULT =>
        {
            (on.panic || on.exit).then_some(Reason::Panic { status: *st })
        }
        VmEnd::GuestExit { status, .. } => on.exit.then_some(Reason::Exit { status: *status }),
        VmEnd::GuestCrash { vcpu, reason, .. } => on.crash.then(|| Reason::Crash {
            vcpu: *vcpu,
            what: reason.clone(),
        }),
        VmEnd::Timeout { .. } => on.timeout.then_some(Reason::Timeout),
        VmEnd::Signal { .. } | VmEnd::HostError { .. } | VmEnd::ScenarioFailed { .. } => None,
    }
}

/// Writes a rendered dump where `--dump-file` says, logging (not failing) on error.
fn emit(config: &InspectConfig, text: &str) {
    if let Err(e) = inspect::write_to(&config.sink, text) {
        log::warn!("cannot write the dump to {:?}: {e}", config.sink);
    }
}

/// Serves dump requests (answering scenario dump requests) and control requests until the
/// first VM-ending event, or the timeout.
fn serve_until_end(
    events: &mpsc::Receiver<VmEvent>,
    timeout: Option<Duration>,
    insp: &Inspection<'_>,
    devices: &Devices,
    mut scenario: Option<&mut ScenarioHost>,
) -> VmEnd {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let received = match deadline {
            Some(d) => events.recv_timeout(d.saturating_duration_since(Instant::now())),
            None => events.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(VmEvent::End(end)) => return end,
            Ok(VmEvent::DumpRequest { vcpu, id }) => {
                let mut answer = None;
                let dump = paused_dump(insp, Reason::Request { id, vcpu }, |dump| {
                    // A scenario dump request is answered before the requester is released.
                    if let Some(req) = scenario::find_request(insp.mem, insp.header_gpa, id) {
                        let a = scenario::serve(scenario.as_deref_mut(), &req, dump);
                        if !scenario::write_answer(insp.mem, &req, &a) {
                            log::warn!("dump request {id}: cannot write the scenario answer into guest memory");
                        }
                        answer = Some(a);
                    }
                    if let (Some(dir), Some(req)) =
                        (&insp.config.core_dir, &dump.table.core_request)
                    {
                        let path = dir.join(format!("core.{}.{id}", req.pid));
                        let sig = CoreSignal {
                            signo: signal::number(&req.signal).map_or(0, |s| s as i32),
                            code: req.code,
                            addr: req.addr.0,
                        };
                        match write_core_file(insp.mem, dump, req.pid, Some(sig), &path) {
                            Ok(what) => log::info!("{what}"),
                            Err(e) => log::warn!("core of process {} not written: {e}", req.pid),
                        }
                    }
                    devices.last_dump.store(id, Ordering::SeqCst);
                    insp.gate.release(vcpu);
                });
                if insp.config.dump_on.request {
                    emit(insp.config, &inspect::render(&dump, insp.config.format));
                }
                match (answer, scenario.as_deref_mut()) {
                    (Some(a), Some(host)) => host.report(&a, &dump, vcpu),
                    (Some(a), None) => log::warn!(
                        "a scenario dump request ({}) was refused: {}",
                        a.result,
                        a.refused.unwrap_or_default()
                    ),
                    (None, _) => {}
                }
            }
            Ok(VmEvent::Control(req)) => serve_control(insp, devices, req),
            Err(RecvTimeoutError::Timeout) => {
                return VmEnd::Timeout {
                    after: timeout.unwrap_or_default(),
                    vcpus: Vec::new(),
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return VmEnd::HostError {
                    what: "every vCPU and the event loop ended without a reason".into(),
                }
            }
        }
    }
}

/// Writes the core file of `pid` to `path`; says what it wrote.
fn write_core_file(
    mem: &vm_memory::GuestMemoryMmap,
    dump: &inspect::model::Dump,
    pid: i32,
    sig: Option<CoreSignal>,
    path: &std::path::Path,
) -> Result<String, String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = io::BufWriter::new(file);
    let s = write_core(mem, dump, pid, sig, DEFAULT_MEMORY_BUDGET, &mut out)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut what = format!(
        "wrote core of process {pid} to {}: {} threads, {} segments, {} bytes of memory",
        path.display(),
        s.threads,
        s.segments,
        s.memory_bytes
    );
    for p in &s.problems {
        what.push_str("; ");
        what.push_str(p);
    }
    Ok(what)
}

/// Pauses every vCPU, captures a dump, runs `during` on it (still paused), resumes; fills in
/// the timing.
fn paused_dump(
    insp: &Inspection<'_>,
    reason: Reason,
    during: impl FnOnce(&mut inspect::model::Dump),
) -> inspect::model::Dump {
    let paused = insp.pause_all();
    let mut vcpus = paused.vcpus.clone();
    for h in insp.handles {
        if !vcpus.iter().any(|v| v.id == h.id()) {
            let state = if paused.stragglers.contains(&h.id()) {
                "not_parked"
            } else {
                "ended"
            };
            vcpus.push(VcpuDump {
                id: h.id(),
                state: state.into(),
                mp_state: None,
                regs: None,
            });
        }
    }
    vcpus.sort_by_key(|v| v.id);
    let mut dump = inspect::capture(insp.mem, insp.header_gpa, reason, vcpus);
    for id in &paused.stragglers {
        dump.problems.push(inspect::model::Problem {
            at: format!("vCPU {id}"),
            what: format!("did not park within {PAUSE_TIMEOUT:?}; guest memory may have changed during the dump"),
        });
    }
    during(&mut dump);
    insp.gate.resume_all();
    dump.timing.paused = true;
    dump.timing.pause_ns = paused.pause_ns;
    dump.timing.paused_total_ns = paused.started.elapsed().as_nanos() as u64;
    dump
}

/// Answers one control-socket request.
fn serve_control(insp: &Inspection<'_>, devices: &Devices, req: ControlRequest) {
    let reply = match req.command {
        ControlCommand::Dump(format) => {
            let dump = paused_dump(insp, Reason::Control, |_| {});
            ControlReply::Dump(inspect::render(&dump, format))
        }
        ControlCommand::Core { pid, path } => {
            let mut result = Err(String::new());
            paused_dump(insp, Reason::Control, |dump| {
                result = write_core_file(insp.mem, dump, pid, None, &path);
            });
            match result {
                Ok(what) => ControlReply::Done(what),
                Err(e) => ControlReply::Error(e),
            }
        }
        ControlCommand::Signal(sig) => {
            let paused = insp.pause_all();
            let posted = if paused.stragglers.is_empty() {
                control::post_signal(insp.mem, insp.header_gpa, &sig)
            } else {
                Err(format!(
                    "vCPUs {:?} did not park; nothing was posted",
                    paused.stragglers
                ))
            };
            insp.gate.resume_all();
            match posted {
                Ok(req) => {
                    if let Some(irq) = &devices.host_signal_irq {
                        if let Err(e) = irq.write(1) {
                            log::warn!("cannot raise the host-signal interrupt: {e}");
                        }
                    }
                    ControlReply::Posted { req }
                }
                Err(e) => ControlReply::Error(e),
            }
        }
    };
    let _ = req.reply.send(reply);
}

/// Creates the devices, their interrupts and notification eventfds, and the buses.
fn build_devices(
    vm: &Vm,
    mem: &vm_memory::GuestMemoryMmap,
    serial_out: crate::devices::serial::OutputSink,
    inspect: &InspectConfig,
    marks: bool,
) -> Result<Devices, Error> {
    let mut buses = IoBuses::default();

    let serial_irq =
        EventFd::new(libc::EFD_NONBLOCK).map_err(Error::host("creating an eventfd"))?;
    vm.register_irqfd(&serial_irq, COM1_IRQ)?;
    buses.pio.insert(
        u64::from(COM1_PORT),
        SERIAL_PORT_COUNT,
        Arc::new(Mutex::new(SerialDevice::new(serial_irq, serial_out))),
    )?;
    buses.pio.insert(
        u64::from(EXIT_PORT),
        u64::from(EXIT_PORT_SIZE),
        Arc::new(Mutex::new(ExitDevice)),
    )?;
    if marks {
        buses.pio.insert(
            u64::from(MARK_PORT),
            u64::from(MARK_PORT_SIZE),
            Arc::new(Mutex::new(MarkPort)),
        )?;
    }
    let last_dump = Arc::new(AtomicU32::new(0));
    if inspect.dump_port() {
        buses.pio.insert(
            u64::from(DUMP_PORT),
            u64::from(DUMP_PORT_SIZE),
            Arc::new(Mutex::new(DumpPort::new(last_dump.clone()))),
        )?;
    }
    let host_signal_irq = match &inspect.control {
        Some(_) => {
            let evt =
                EventFd::new(libc::EFD_NONBLOCK).map_err(Error::host("creating an eventfd"))?;
            vm.register_irqfd(&evt, HOST_SIGNAL_GSI)?;
            Some(evt)
        }
        None => None,
    };

    let console_irq =
        EventFd::new(libc::EFD_NONBLOCK).map_err(Error::host("creating an eventfd"))?;
    vm.register_irqfd(&console_irq, VIRTIO_CONSOLE_GSI)?;
    let console = Console::new(mem.clone(), console_irq, Box::new(io::stdout()))
        .map_err(Error::host("creating the virtio console"))?;
    for queue in 0..2u32 {
        if let Some(evt) = console.queue_evt(queue as usize) {
            vm.register_mmio_ioeventfd(
                evt,
                VIRTIO_CONSOLE_MMIO_BASE + u64::from(VIRTIO_MMIO_QUEUE_NOTIFY),
                queue,
            )?;
        }
    }
    let console = Arc::new(Mutex::new(console));
    buses.mmio.insert(
        VIRTIO_CONSOLE_MMIO_BASE,
        VIRTIO_MMIO_SIZE,
        Arc::new(Mutex::new(MmioTransport::new(console.clone()))),
    )?;

    Ok(Devices {
        buses: Arc::new(buses),
        console,
        last_dump,
        host_signal_irq,
    })
}
