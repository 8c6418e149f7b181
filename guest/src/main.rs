//! The lwpvm guest kernel.
//!
//! A small `no_std` kernel for `x86_64-unknown-none`, booted through PVH by the lwpvm VMM or
//! by QEMU `microvm`. It is a testbed for light-weight processes (LWPs) and POSIX signals:
//! later work adds ring-3 programs, LWPs, the scheduler and signal delivery on top of what is
//! here. What is here is the boot path:
//!
//! - `arch/`: the only place with assembly and privileged instructions (PVH entry, GDT/TSS,
//!   IDT and trap frames, page-table changes, MP table, host detection);
//! - `boot_info`: the arch-neutral description of what the loader handed over;
//! - `drivers/`: the 16550 serial port (kernel log) and the virtio-mmio console;
//! - `console`: where the banner and, later, user output go (virtio console, else serial);
//! - `klog`: the `log` backend (serial only);
//! - `mm/`: frames, the kernel heap, page tables' users (kernel stacks, address spaces),
//!   user-memory access;
//! - `panic`: the panic report.
//!
//! `unsafe` is denied crate-wide and allowed only in `arch`, the low parts of `mm`, and the
//! virtio driver (whose crate's API is unsafe); every `unsafe` block carries a `// SAFETY:`
//! comment.
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
//! 2. **CPU tables**: the final GDT and TSS (IST1 for `#DF`), then the IDT; from here on an
//!    exception in the kernel prints a full report and exits with `KERNEL_FAULT`.
//! 3. **Boot information**: `hvm_start_info` validated and copied into the `BootInfo`; a bad
//!    one prints `lwpvm: bad boot information: ...` and exits with `BOOT_FAILURE`.
//! 4. **Logger**: the `log` backend on the serial port, level from `loglevel=`.
//! 5. **Identity map removed**: the lower half now belongs to (future) ring-3 programs.
//! 6. **Memory**: the frame allocator takes the usable RAM of the memory map (less the first
//!    MiB, the kernel image and the boot modules); the heap (`alloc`) grows from it on demand.
//! 7. **CPU count**: MP table, else `lwpvm.cpus=`, else 1 (the source is logged). The other
//!    CPUs are only counted, not started. Then the inspection table (`inspect`) is marked
//!    running, with a record per counted CPU (the boot CPU online), for the VMM's dumps.
//! 8. **Host detection**: hypervisor signature, brand string and a timed ring-0 loop.
//! 9. **Console**: the first virtio console announced on the command line, else serial.
//! 10. **Banner**: one line on the console.
//! 11. **Test hooks**: `lwpvm.selftest=mm|kstack-overflow` (in-kernel self-tests, see
//!     `mm::selftest`), `lwpvm.bench=SINK:BYTES`, `lwpvm.dump=ID` (ask the VMM for a dump),
//!     `lwpvm.inspect_selftest=N` (made-up inspection records and three dumps), then
//!     `lwpvm.panic=1`, `lwpvm.fault=ud2|pf|de|df`, `lwpvm.halt=1`, `lwpvm.echo=1` (in that
//!     order of precedence).
//! 12. **Exit** with `lwpvm.exit=N` or 0 (later: init's status).

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

    // 7. CPU count.
    let cpus = count_cpus(cmdline);

    // 7. (cont.) Inspection.
    inspect::init(cpus, entry_tsc, arch::cpu::cpuid(1, 0).ebx >> 24);
    // Record chunks beyond the boot pool come from zeroed frames, never given back.
    inspect::set_page_source(|| mm::frame::alloc_zeroed().map(|phys| inspect::Page { phys }));

    // 8. Host detection.
    let host = host::probe();
    log_host(&host);

    // 9. Console.
    match drivers::virtio::probe(cmdline) {
        Some(dev) => {
            log::info!("console: {dev}");
            console::set_virtio(dev);
        }
        None => log::warn!("console: no virtio console found; falling back to the serial port"),
    }

    // 10. Banner (formatted once, into a stack buffer: core::fmt costs thousands of ring-0
    // instructions per line).
    let mut banner = LineBuf::<160>::new();
    let _ = write!(
        banner,
        "lwpvm {VERSION}: host={} vmm={} cpus={cpus} mem={}MiB",
        host.flavour().name(),
        vmm_name(cmdline, &host),
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

    // 11. Test hooks.
    run_test_hooks(cmdline);

    // 12. Exit.
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

/// CPU count: MP table, else `lwpvm.cpus=`, else 1.
fn count_cpus(cmdline: &str) -> u32 {
    if let Some(mp) = arch::mptable::scan() {
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

/// `lwpvm.selftest=`, `lwpvm.bench=SINK:BYTES`, `lwpvm.dump=ID`, `lwpvm.inspect_selftest=N`,
/// `lwpvm.panic=1`, `lwpvm.fault=ud2|pf|de|df`, `lwpvm.halt=1`, `lwpvm.echo=1`.
fn run_test_hooks(cmdline: &str) {
    if let Some(which) = cmdline::get(cmdline, "lwpvm.selftest") {
        mm::selftest::run(which);
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
                let served = inspect::selftest::run(n);
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
