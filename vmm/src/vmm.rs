//! One VM run, from a validated [`VmConfig`] to the [`VmEnd`] that stopped it.
//!
//! The boot recipe, in order:
//! 1. **Inputs** (nothing created yet, so every input error is reported before KVM is touched):
//!    validate the kernel ELF and check its segments fit the RAM layout; place the initrd at
//!    the top of low RAM; build the command line; open the `--serial` sink.
//! 2. **KVM**: open `/dev/kvm`, map guest RAM, create the VM (memory slots, in-kernel irqchip).
//! 3. **Guest memory**: load the kernel (linux-loader), copy the initrd, write `hvm_start_info`
//!    + memory map + module list + command line, the MP table and the boot GDT.
//! 4. **Devices**: COM1 (irqfd GSI 4) and the exit port on the port bus; the virtio-mmio console
//!    (irqfd GSI 5, one ioeventfd per queue on QueueNotify) on the MMIO bus.
//! 5. **vCPUs**: create all (CPUID, LAPIC); the BSP gets the PVH entry state, APs wait for SIPI.
//! 6. **Run**: start the event loop (console queues, stdin, SIGINT/SIGTERM), put the terminal in
//!    raw mode, start one thread per vCPU, and wait for the first end (exit port, crash, host
//!    error, signal) or the timeout.
//! 7. **Stop**: kick every vCPU out of `KVM_RUN` and join it, stop the event loop, drain what
//!    the guest left on the console's transmit queue, flush stdout. The caller restores the
//!    terminal and prints the message.

use std::io::{self, Write};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::Duration;

use shared_abi::current::ports::{COM1_IRQ, COM1_PORT, EXIT_PORT, EXIT_PORT_SIZE};
use virtio_bindings::virtio_mmio::VIRTIO_MMIO_QUEUE_NOTIFY;
use vmm_sys_util::eventfd::EventFd;

use crate::boot::bootinfo::{self, Module};
use crate::boot::initrd::Initrd;
use crate::boot::loader::KernelImage;
use crate::boot::mptable;
use crate::boot::regs::{pvh_entry_state, write_boot_gdt};
use crate::bus::IoBuses;
use crate::config::{SerialOutput, VmConfig};
use crate::devices::exit::ExitDevice;
use crate::devices::serial::{open_output, SerialDevice, SERIAL_PORT_COUNT};
use crate::devices::virtio::console::{Console, ConsoleEventHandler};
use crate::devices::virtio::mmio::MmioTransport;
use crate::error::Error;
use crate::event_loop::EventLoop;
use crate::kvm::vcpu::{install_kick_handler, VcpuHandle};
use crate::kvm::{Kvm, Vm};
use crate::layout::{
    PVH_START_INFO, VIRTIO_CONSOLE_GSI, VIRTIO_CONSOLE_MMIO_BASE, VIRTIO_MMIO_SIZE,
};
use crate::memory::RamLayout;
use crate::outcome::VmEnd;
use crate::terminal;

/// How long a vCPU or the event loop gets to stop after being asked.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);

/// The devices the run needs to reach after the guest stops.
struct Devices {
    buses: Arc<IoBuses>,
    console: Arc<Mutex<Console>>,
}

/// Boots and runs the VM described by `config` until it ends.
pub fn run(config: &VmConfig) -> Result<VmEnd, Error> {
    // 1. Inputs.
    let mut kernel = KernelImage::open(&config.kernel)?;
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
    let devices = build_devices(&vm, &mem, serial_out)?;

    // 5. vCPUs.
    let mut vcpus = Vec::with_capacity(usize::from(config.cpus));
    for id in 0..config.cpus {
        let vcpu = vm.create_vcpu(id)?;
        if id == 0 {
            vcpu.set_entry_state(&pvh_entry_state(entry, PVH_START_INFO))?;
        }
        vcpus.push(vcpu);
    }
    install_kick_handler()?;

    // 6. Run.
    let (ends_tx, ends) = mpsc::channel();
    let console_events = ConsoleEventHandler::new(devices.console.clone(), true)
        .map_err(Error::host("setting up console events"))?;
    let mut event_loop = EventLoop::start(vec![Box::new(console_events)], ends_tx.clone(), true)
        .map_err(Error::host("starting the event loop"))?;
    terminal::enter_raw_mode();
    let mut handles: Vec<VcpuHandle> = Vec::with_capacity(vcpus.len());
    let mut start_error = None;
    for vcpu in vcpus {
        match vcpu.start(devices.buses.clone(), ends_tx.clone()) {
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
        None => wait_for_end(&ends, config.timeout),
    };

    // 7. Stop.
    let mut states = Vec::with_capacity(handles.len());
    for h in &handles {
        h.kick();
    }
    for h in &mut handles {
        states.push(match h.stop(STOP_TIMEOUT) {
            Some(report) => report.summary,
            None => "did not stop".into(),
        });
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
    if let VmEnd::Timeout { vcpus, .. } = &mut end {
        *vcpus = states;
    }
    Ok(end)
}

/// Waits for the first VM-ending event, or the timeout.
fn wait_for_end(ends: &mpsc::Receiver<VmEnd>, timeout: Option<Duration>) -> VmEnd {
    let received = match timeout {
        Some(t) => ends.recv_timeout(t),
        None => ends.recv().map_err(|_| RecvTimeoutError::Disconnected),
    };
    match received {
        Ok(end) => end,
        Err(RecvTimeoutError::Timeout) => VmEnd::Timeout {
            after: timeout.unwrap_or_default(),
            vcpus: Vec::new(),
        },
        Err(RecvTimeoutError::Disconnected) => VmEnd::HostError {
            what: "every vCPU and the event loop ended without a reason".into(),
        },
    }
}

/// Creates the devices, their interrupts and notification eventfds, and the buses.
fn build_devices(
    vm: &Vm,
    mem: &vm_memory::GuestMemoryMmap,
    serial_out: crate::devices::serial::OutputSink,
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
    })
}
