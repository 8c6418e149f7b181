//! The panic handler: report, then end the VM with `KERNEL_PANIC`.
//!
//! The report goes to the serial port and, if it can be had, the console (see
//! `console::Emergency`):
//!
//! ```text
//! kernel panic: <message> at <file>:<line>:<column>
//!   rsp 0x...  rbp 0x...  rflags 0x...
//!   cr0 0x...  cr2 0x...  cr3 0x...  cr4 0x...
//! backtrace:
//!   #0  0x...            (return addresses; resolve with addr2line -e lwpvm-kernel)
//! ```
//!
//! The other CPUs are stopped first (an NMI each: `smp::stop_others`). A panic during the
//! report (or a second CPU's panic) prints one short line on the serial port and exits at
//! once.

use core::fmt::Write;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

use shared_abi::current::ports::status;

use crate::arch::{backtrace, cpu, smp};
use crate::console::Emergency;
use crate::drivers::serial::Serial;

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let (rsp, rbp) = cpu::stack_regs();
    let regs = cpu::control_regs();
    if PANICKING.swap(true, Ordering::AcqRel) {
        let mut serial = Serial::COM1;
        let _ = writeln!(serial, "kernel panic while panicking: {}", info.message());
        cpu::exit(status::KERNEL_PANIC);
    }
    smp::stop_others();
    // For a dump on panic.
    crate::inspect::note_panic(crate::arch::percpu::cpu_id() as u32, info);
    let mut out = Emergency::new();
    let _ = write!(out, "kernel panic: {}", info.message());
    if let Some(loc) = info.location() {
        let _ = write!(out, " at {}:{}:{}", loc.file(), loc.line(), loc.column());
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  rsp {rsp:#018x}  rbp {rbp:#018x}  rflags {:#010x}",
        regs.rflags
    );
    let _ = writeln!(
        out,
        "  cr0 {:#010x}  cr2 {:#018x}  cr3 {:#018x}  cr4 {:#010x}",
        regs.cr0, regs.cr2, regs.cr3, regs.cr4
    );
    let _ = backtrace::write(&mut out, None, rbp);
    drop(out);
    cpu::exit(status::KERNEL_PANIC)
}
