//! The lwpvm guest kernel.
//!
//! A small `no_std` kernel for `x86_64-unknown-none`, booted through PVH by the lwpvm VMM or
//! by QEMU `microvm`. It is a testbed for light-weight processes (LWPs) and POSIX signals:
//! later work adds ring-3 programs, LWPs, the scheduler and signal delivery on top of what is
//! here. What is here is the boot path:
//!
//! - `arch/`: the only place with assembly and privileged instructions (PVH entry, per-CPU
//!   GDT/TSS and GS, IDT and the trap path, LAPIC/IOAPIC, time, SMP bring-up, context
//!   switch, TLB shoot-down, page-table changes, MP table, host detection);
//! - `boot_info`: the arch-neutral description of what the loader handed over;
//! - `drivers/`: the 16550 serial port (kernel log) and the virtio-mmio console;
//! - `console`: where the banner and, later, user output go (virtio console, else serial);
//! - `klog`: the `log` backend (serial only);
//! - `mm/`: frames, the kernel heap, page tables' users (kernel stacks, address spaces),
//!   user-memory access;
//! - `sched/`: kernel threads, per-CPU run queues, sleep queues, the clock, preemption;
//! - `proc/`: processes and LWPs (the user side of threads), starting programs from the
//!   initrd, user faults;
//! - `syscall/`: the system-call table and its handlers;
//! - `sync`: `IrqMutex`, the kernel's spin lock;
//! - `panic`: the panic report.
//!
//! `unsafe` is denied crate-wide and allowed only in `arch`, the low parts of `mm`, `sync`
//! (the lock's `UnsafeCell`), and the virtio driver (whose crate's API is unsafe); every
//! `unsafe` block carries a `// SAFETY:` comment.
//!
//! # Cost model
//!
//! On the development machines /dev/kvm interprets ring 0 at ~0.6 µs per instruction, and
//! every port or MMIO access is a VM exit. Boot therefore builds nothing it can assemble
//! statically (page tables are initialised data), zeroes nothing (guest RAM starts zeroed;
//! `.bss` is never cleared by the kernel), and batches device accesses.
//!
//! # Init order
//!
//! `arch::boot`'s assembly enters [`kernel_main`] on the boot stack, in the higher half, with
//! the boot page tables (identity map + direct map + kernel window) and the boot GDT. Then:
//!
//! 1. **Serial port**: COM1 programmed, so every later step can report a failure.
//! 2. **CPU tables**: the IDT (all 256 vectors), the boot CPU's per-CPU area (GDT and TSS with
//!    IST stacks for `#DF`/NMI/`#MC`, GS base), the legacy PIC remapped and masked; from here
//!    on an exception in the kernel prints a full report and exits with `KERNEL_FAULT`, and
//!    locks (`sync::IrqMutex`) work.
//! 3. **Boot information**: `hvm_start_info` validated and copied into the `BootInfo`; a bad
//!    one prints `lwpvm: bad boot information: ...` and exits with `BOOT_FAILURE`.
//! 4. **Logger**: the `log` backend on the serial port, level from `loglevel=`.
//! 5. **Identity map removed**: the lower half now belongs to (future) ring-3 programs.
//! 6. **Memory**: the frame allocator takes the usable RAM of the memory map (less the first
//!    MiB, the kernel image and the boot modules); the heap (`alloc`) grows from it on demand.
//! 7. **CPUs**: MP table (count, APIC ids, IOAPIC), else `lwpvm.cpus=`, else 1. Then the
//!    inspection table (`inspect`) is marked running, with a record per counted CPU, for the
//!    VMM's dumps.
//! 8. **Host detection**: hypervisor signature, brand string and a timed ring-0 loop.
//! 9. **Time**: the TSC frequency (CPUID, KVM, `lwpvm.tsc_khz=`, kvmclock or the PIT), the
//!    monotonic clock, the wall clock (RTC).
//! 10. **Interrupt controllers**: the boot CPU's LAPIC (x2APIC if offered), the IOAPIC (all
//!     pins masked), the TLB shoot-down IPI.
//! 11. **Scheduler**: the boot code becomes thread `main` on CPU 0, CPU 0's idle thread and
//!     clock (`lwpvm.hz=`) start; interrupts are enabled.
//! 12. **SMP**: the other CPUs are started (INIT-SIPI-SIPI), each with its idle thread and
//!     clock. Then the inspection table says `running`: the machine has its steady shape.
//! 13. **Console**: the first virtio console announced on the command line, else serial.
//! 14. **Banner**: one line on the console (`cpus=` counts CPUs started, or
//!     `started/expected` when some did not start).
//! 15. **Test hooks**: `lwpvm.selftest=mm|kstack-overflow|sched|smp|pingpong` (in-kernel
//!     self-tests), `lwpvm.bench=SINK:BYTES`, `lwpvm.dump=ID` (ask the VMM for a dump),
//!     `lwpvm.inspect_selftest=N` (made-up inspection records and three dumps), then
//!     `lwpvm.panic=1`, `lwpvm.fault=ud2|pf|de|df`, `lwpvm.halt=1`, `lwpvm.echo=1` (in that
//!     order of precedence).
//! 16. **Init**: with an initrd (or an explicit `init=`), the program `init=PATH` (default
//!     `/bin/init`) from the initrd becomes process 1, with `argv` = PATH and the words
//!     after a lone `--`, `envp` = `HOME=/ TERM=linux`; this thread waits for it to end
//!     (logging `heartbeat N` every `lwpvm.heartbeat=MS` milliseconds meanwhile, if set). A
//!     program that cannot be started prints `init: cannot run PATH: why` on the console
//!     and the VM exits with `INIT_FAILED` (127).
//! 17. **Exit** with init's status mapped as `ports::status` documents (exit code N → N,
//!     above 127 → 127; killed by signal S → 64 + S, at most 111), or without init with
//!     `lwpvm.exit=N` or 0.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

extern crate alloc;

mod arch;
mod boot_info;
mod cmdline;
mod console;
mod drivers;
mod inspect;
mod klog;
mod mm;
mod panic;
mod proc;
mod sched;
#[allow(unsafe_code)]
mod sync;
mod syscall;

use alloc::string::String;
use core::fmt::Write;

use shared_abi::current::boot::CMDLINE_HOST;
use shared_abi::current::ports::{status, MAX_GUEST_STATUS};

use crate::arch::host::{self, HostInfo};
use crate::arch::trap::TestFault;
use crate::boot_info::{BootInfo, BootInfoError};
use crate::drivers::serial::Serial;
use crate::klog::LineBuf;

/// Kernel name and version for the banner.
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The program run as init without `init=`.
const DEFAULT_INIT: &str = "/bin/init";
/// Longest line `lwpvm.echo=1` keeps.
const ECHO_LINE_MAX: usize = 1024;

/// The generic kernel entry, called by `arch::boot` (see the init order above).
extern "C" fn kernel_main(start_info_phys: u64) -> ! {
    let entry_tsc = arch::cpu::rdtsc();

    // 1. Serial port.
    Serial::COM1.init();

    // 2. CPU tables.
    arch::init_cpu();

    // 3. Boot information.
    let boot = match arch::boot::parse_start_info(start_info_phys) {
        Ok(boot) => boot,
        Err(e) => boot_failure(start_info_phys, e),
    };
    let cmdline = boot.cmdline();

    // 4. Logger.
    let level = match cmdline::get(cmdline, "loglevel") {
        None => klog::DEFAULT_LEVEL,
        Some(name) => klog::parse_level(name).unwrap_or_else(|| {
            klog::init(klog::DEFAULT_LEVEL);
            log::warn!("unknown loglevel={name}, using {}", klog::DEFAULT_LEVEL);
            klog::DEFAULT_LEVEL
        }),
    };
    klog::init(level);
    log::info!("lwpvm {VERSION} booting; command line: {cmdline:?}");
    log_boot_info(boot);

    // 5. Identity map removed.
    arch::paging::drop_identity_map();
    log::debug!("identity map removed; lower half unmapped");

    // 6. Memory: frame allocator over the memory map, kernel PDPTs, heap (grows on demand).
    mm::init(boot);

    // 7. CPUs.
    let mp = arch::mptable::scan();
    let cpus = count_cpus(cmdline, mp.as_ref());

    // 7. (cont.) Inspection.
    inspect::init(cpus, entry_tsc, arch::cpu::cpuid(1, 0).ebx >> 24);
    // Record chunks beyond the boot pool come from zeroed frames, never given back.
    inspect::set_page_source(|| mm::frame::alloc_zeroed().map(|phys| inspect::Page { phys }));

    // 8. Host detection.
    let host = host::probe();
    log_host(&host);

    // 9. Time.
    let hv = arch::time::HypervisorInfo {
        kvm: host.signature_str() == "KVMKVMKVM",
        max_leaf: host.hypervisor_max_leaf,
    };
    let cmdline_khz = cmdline::get(cmdline, "lwpvm.tsc_khz").and_then(cmdline::parse_u64);
    let (source, khz) = arch::time::init(hv, cmdline_khz);
    if source == arch::time::TscSource::Assumed {
        log::warn!(
            "time: TSC frequency unknown (no CPUID leaf, no kvmclock, no PIT); assuming 1 GHz"
        );
    }
    log::info!(
        "time: TSC {}.{:03} MHz from {}; wall clock from {}",
        khz / 1000,
        khz % 1000,
        source.name(),
        if arch::time::rtc_present() {
            "the RTC"
        } else {
            "nothing (starts at the epoch)"
        }
    );

    // 10. Interrupt controllers.
    let lapic_phys = mp.map_or(0xfee0_0000, |m| u64::from(m.lapic_phys));
    arch::apic::init_bsp(
        lapic_phys,
        cmdline::get(cmdline, "lwpvm.apic") == Some("xapic"),
    );
    arch::percpu::this().set_apic_id(arch::apic::id());
    let [mmio, x2] = arch::apic::access_cycles();
    log::info!(
        "apic: {} mode (LAPIC id {}); register read {} cycles by MMIO, {} by x2APIC MSR; TSC-deadline timer {}; FSGSBASE {} (not enabled)",
        if arch::apic::is_x2apic() { "x2APIC" } else { "xAPIC" },
        arch::apic::id(),
        mmio,
        x2,
        if arch::apic::tsc_deadline_available() { "offered" } else { "absent" },
        if arch::percpu::fsgsbase_available() { "offered" } else { "absent" },
    );
    let ioapic_phys = mp
        .and_then(|m| m.ioapic_phys)
        .map_or(arch::ioapic::DEFAULT_PHYS, u64::from);
    let pins = arch::ioapic::init(ioapic_phys);
    log::debug!("ioapic: {pins} pins at {ioapic_phys:#x}, all masked");
    arch::tlb::init();

    // 11. Scheduler.
    let hz = cmdline::get(cmdline, "lwpvm.hz")
        .and_then(cmdline::parse_u64)
        .unwrap_or(sched::DEFAULT_HZ);
    sched::init_bsp(hz, arch::boot_stack_top());
    proc::init();
    arch::irq::enable();

    // 12. SMP.
    let started = match mp {
        Some(mp) if trampoline_free(boot) => arch::smp::start_aps(mp.apic_ids(), sched::run_ap),
        Some(_) => {
            log::error!("smp: the trampoline page is not free RAM; not starting other CPUs");
            1
        }
        None => 1,
    };
    log::info!("smp: {started} of {cpus} CPUs online");
    inspect::boot_done();

    // 13. Console.
    match drivers::virtio::probe(cmdline) {
        Some(dev) => {
            log::info!("console: {dev}");
            console::set_virtio(dev);
        }
        None => log::warn!("console: no virtio console found; falling back to the serial port"),
    }

    // 14. Banner (formatted once, into a stack buffer: core::fmt costs thousands of ring-0
    // instructions per line).
    let mut banner = LineBuf::<160>::new();
    let _ = write!(
        banner,
        "lwpvm {VERSION}: host={} vmm={} cpus={} mem={}MiB",
        host.flavour().name(),
        vmm_name(cmdline, &host),
        CpuCount(started, cpus),
        (boot.usable_memory() + (1 << 19)) >> 20,
    );
    if let Some(initrd) = boot.initrd() {
        let _ = write!(banner, " initrd={}B", initrd.size);
    }
    banner.finish_line();
    console::write_bytes(banner.as_bytes());
    if !console::is_serial() {
        log::info!("banner: {}", banner.as_str().trim_end());
    }
    log::debug!(
        "kernel_main to banner: {} TSC cycles",
        arch::cpu::rdtsc().wrapping_sub(entry_tsc)
    );

    // 15. Test hooks.
    run_test_hooks(cmdline);

    // 16. Init.
    let initrd = boot
        .initrd()
        .and_then(|m| arch::phys::ram_bytes(m.phys, m.size));
    if let Some(status) = run_init(cmdline, initrd) {
        // 17. Exit with init's status.
        log::info!("exiting with status {status}");
        arch::exit(status);
    }

    // 17. Exit without init.
    let code = match cmdline::get(cmdline, "lwpvm.exit") {
        None => status::SUCCESS,
        Some(v) => match cmdline::parse_u64(v) {
            Some(n) if n <= u64::from(MAX_GUEST_STATUS) => n as u32,
            _ => {
                log::warn!("lwpvm.exit={v} is not a status in 0..={MAX_GUEST_STATUS}; using 0");
                status::SUCCESS
            }
        },
    };
    log::info!("exiting with status {code}");
    arch::exit(code)
}

/// Runs init (step 16) and returns the VM status it ended with, or `None` when there is no
/// initrd and no `init=`.
fn run_init(cmdline: &str, initrd: Option<&'static [u8]>) -> Option<u32> {
    let explicit = cmdline::get(cmdline, "init");
    if initrd.is_none() && explicit.is_none() {
        log::info!("init: no initrd and no init=: no program to run");
        return None;
    }
    let path = explicit.unwrap_or(DEFAULT_INIT);
    let args: alloc::vec::Vec<&str> = lwpvm_kcore::cmdline::init_args(cmdline).collect();
    log::info!("init: starting {path} with arguments {args:?}");
    let p = match proc::exec::start_init(initrd, path, &args) {
        Ok(p) => p,
        Err(e) => {
            println!("init: cannot run {path}: {e}");
            log::error!("init: cannot run {path}: {e}");
            return Some(status::INIT_FAILED);
        }
    };
    let heartbeat = cmdline::get(cmdline, "lwpvm.heartbeat")
        .and_then(cmdline::parse_u64)
        .filter(|&ms| ms > 0);
    let mut beats = 0u64;
    let ws = p.wait_exit(heartbeat.map(|ms| ms * 1_000_000), || {
        beats += 1;
        log::info!("heartbeat {beats}");
    });
    proc::remove_process(p.pid());
    let vm_status = init_vm_status(ws);
    match (ws.exit_code(), ws.signal()) {
        (Some(code), _) => log::info!("init: {p:?} exited with status {code}"),
        (_, Some(sig)) => log::info!("init: {p:?} was killed by {}", proc::fault::name_of(sig)),
        _ => log::info!("init: {p:?} ended with wait status {:#x}", ws.0),
    }
    Some(vm_status)
}

/// The VM exit status for init's wait status (documented in `ports::status`).
fn init_vm_status(ws: proc::WaitStatus) -> u32 {
    match (ws.exit_code(), ws.signal()) {
        (Some(code), _) => (code as u32).min(MAX_GUEST_STATUS),
        (_, Some(sig)) => (status::INIT_SIGNALED_BASE + sig).min(status::INIT_SIGNALED_MAX),
        _ => status::INIT_FAILED,
    }
}

/// Reports unusable boot information and exits with `BOOT_FAILURE`.
fn boot_failure(start_info_phys: u64, e: BootInfoError) -> ! {
    let mut serial = Serial::COM1;
    let _ = writeln!(
        serial,
        "lwpvm: bad boot information (hvm_start_info at {start_info_phys:#x}): {e}"
    );
    arch::exit(status::BOOT_FAILURE)
}

fn log_boot_info(boot: &BootInfo) {
    let (image_start, image_end) = arch::layout::kernel_image_phys();
    log::debug!("kernel image at physical {image_start:#x}..{image_end:#x}");
    log::debug!("boot info from {} at {:#x}", boot.source, boot.raw_phys);
    for r in boot.memory_regions() {
        log::debug!("  memory {:#012x}..{:#012x} {:?}", r.start, r.end(), r.kind);
    }
    if boot.skipped_regions > 0 {
        log::debug!(
            "  {} empty or bogus memory-map entries skipped",
            boot.skipped_regions
        );
    }
    for (i, m) in boot.modules().iter().enumerate() {
        log::debug!("  module {i}: {:#x} +{:#x}", m.phys, m.size);
    }
    if let Some(rsdp) = boot.rsdp_phys {
        log::debug!("  ACPI RSDP at {rsdp:#x}");
    }
    log::info!(
        "memory: {} KiB usable; {} boot module(s)",
        boot.usable_memory() >> 10,
        boot.modules().len()
    );
}

/// `started` or `started/expected`, for the banner.
struct CpuCount(usize, u32);

impl core::fmt::Display for CpuCount {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0 as u64 == u64::from(self.1) {
            write!(f, "{}", self.0)
        } else {
            write!(f, "{}/{}", self.0, self.1)
        }
    }
}

/// Whether the AP trampoline page lies in usable RAM that no boot module occupies.
fn trampoline_free(boot: &BootInfo) -> bool {
    let (lo, hi) = (
        arch::smp::TRAMPOLINE_PHYS,
        arch::smp::TRAMPOLINE_PHYS + 4096,
    );
    let in_ram = boot
        .memory_regions()
        .iter()
        .any(|r| r.kind == boot_info::MemoryKind::Usable && r.start <= lo && r.end() >= hi);
    let clash = boot
        .modules()
        .iter()
        .any(|m| m.size > 0 && m.phys < hi && m.phys + m.size > lo);
    in_ram && !clash
}

/// CPU count: MP table, else `lwpvm.cpus=`, else 1.
fn count_cpus(cmdline: &str, mp: Option<&arch::mptable::MpInfo>) -> u32 {
    if let Some(mp) = mp {
        log::info!(
            "cpus: {} (MP table: floating pointer at {:#x}, config table at {:#x}, BSP APIC id {:?}, LAPIC at {:#x})",
            mp.cpus,
            mp.floating_pointer,
            mp.config_table,
            mp.bsp_apic_id,
            mp.lapic_phys
        );
        return mp.cpus;
    }
    if let Some(v) = cmdline::get(cmdline, "lwpvm.cpus") {
        match cmdline::parse_u64(v) {
            Some(n @ 1..=4096) => {
                log::info!("cpus: {n} (no MP table; from lwpvm.cpus=)");
                return n as u32;
            }
            _ => log::warn!("ignoring lwpvm.cpus={v}"),
        }
    }
    log::info!("cpus: 1 (no MP table, no lwpvm.cpus=; default)");
    1
}

fn log_host(host: &HostInfo) {
    log::info!(
        "host: {} (vendor {:?}, hypervisor bit {}, signature {:?} max leaf {:#x}, {} TSC cycles per loop iteration)",
        host.flavour().name(),
        host.vendor_str(),
        host.hypervisor_bit,
        host.signature_str(),
        host.hypervisor_max_leaf,
        host.cycles_per_iteration()
    );
    log::debug!("host: CPU brand {:?}", host.brand_str());
}

/// The VMM's name: `lwpvm.host=` if set, else "qemu" if CPUID looks like QEMU, else
/// "unknown".
fn vmm_name<'a>(cmdline: &'a str, host: &HostInfo) -> &'a str {
    match cmdline::get(cmdline, CMDLINE_HOST) {
        Some(name) if !name.is_empty() => name,
        _ if host.looks_like_qemu() => "qemu",
        _ => "unknown",
    }
}

/// `lwpvm.selftest=`, `lwpvm.bench=SINK:BYTES`, `lwpvm.dump=ID`, `lwpvm.inspect_selftest=N`
/// (with `lwpvm.inspect_scenario=pass|fail`),
/// `lwpvm.panic=1`, `lwpvm.fault=ud2|pf|de|df`, `lwpvm.halt=1`, `lwpvm.echo=1`.
fn run_test_hooks(cmdline: &str) {
    match cmdline::get(cmdline, "lwpvm.selftest") {
        Some(which @ ("mm" | "kstack-overflow")) => mm::selftest::run(which),
        Some(which) => sched::selftest::run(which),
        None => {}
    }
    if let Some(spec) = cmdline::get(cmdline, "lwpvm.bench") {
        bench_output(spec);
    }
    if let Some(v) = cmdline::get(cmdline, "lwpvm.dump") {
        match cmdline::parse_u64(v).and_then(|n| u32::try_from(n).ok()) {
            Some(id) => {
                let served = inspect::dump_request(id);
                log::info!("lwpvm.dump={id}: dump request served: {served}");
            }
            None => log::warn!("ignoring lwpvm.dump={v} (expected a 32-bit request id)"),
        }
    }
    if let Some(v) = cmdline::get(cmdline, "lwpvm.inspect_selftest") {
        match cmdline::parse_u64(v).and_then(|n| u32::try_from(n).ok()) {
            Some(n) => {
                let scenario = cmdline::get(cmdline, "lwpvm.inspect_scenario");
                let served = inspect::selftest::run(n, scenario);
                log::info!("lwpvm.inspect_selftest={n}: dumps served: {served}");
            }
            None => log::warn!("ignoring lwpvm.inspect_selftest={v} (expected a count)"),
        }
    }
    if cmdline::flag(cmdline, "lwpvm.panic") {
        log::info!("lwpvm.panic=1: panicking on purpose");
        panic!("deliberate panic (lwpvm.panic=1)");
    }
    if let Some(kind) = cmdline::get(cmdline, "lwpvm.fault") {
        let fault = match kind {
            "ud2" => Some(TestFault::InvalidOpcode),
            "pf" => Some(TestFault::PageFault),
            "de" => Some(TestFault::DivideError),
            "df" => Some(TestFault::DoubleFault),
            _ => None,
        };
        match fault {
            Some(fault) => {
                log::info!("lwpvm.fault={kind}: faulting on purpose");
                arch::trap::trigger(fault);
            }
            None => log::warn!("ignoring lwpvm.fault={kind} (expected ud2, pf, de or df)"),
        }
    }
    if cmdline::flag(cmdline, "lwpvm.halt") {
        log::info!("lwpvm.halt=1: halting with interrupts off");
        arch::cpu::halt_forever();
    }
    if cmdline::flag(cmdline, "lwpvm.echo") {
        let mut line = [0u8; ECHO_LINE_MAX];
        log::info!("lwpvm.echo=1: reading one console line");
        let n = console::read_line(&mut line);
        println!("echo: {}", String::from_utf8_lossy(&line[..n]));
        log::info!("echoed {n} bytes; exiting with status 0");
        arch::exit(status::SUCCESS);
    }
}

/// `lwpvm.bench=console:N` / `serial:N`: writes N bytes of text to the virtio console or the
/// serial port, for `cargo xtask bench boot`'s throughput figure (the host times boots with
/// and without the bytes).
fn bench_output(spec: &str) {
    let parsed = spec
        .split_once(':')
        .and_then(|(sink, n)| Some((sink, cmdline::parse_u64(n)?)));
    let Some((sink, mut left)) = parsed.filter(|(s, _)| matches!(*s, "console" | "serial")) else {
        log::warn!("ignoring lwpvm.bench={spec} (expected console:N or serial:N)");
        return;
    };
    // 64-byte lines: 63 letters and a newline.
    let mut chunk = [b'x'; 4096];
    for line in chunk.chunks_mut(64) {
        line[63] = b'\n';
    }
    log::info!("lwpvm.bench: writing {left} bytes to the {sink}");
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        if sink == "console" {
            console::write_bytes(&chunk[..n]);
        } else {
            Serial::COM1.write_bytes(&chunk[..n]);
        }
        left -= n as u64;
    }
}
