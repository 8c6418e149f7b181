//! Fixed I/O ports and the exit-status convention.
//!
//! The exit device is QEMU's `isa-debug-exit` convention at the same port, so one guest image
//! serves both hosts:
//!
//! - under the lwpvm VMM, a 32-bit write of `v` to [`EXIT_PORT`] ends the VM and the VMM exits
//!   with status `v & 0xff`;
//! - under QEMU (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`), QEMU exits with
//!   `(v << 1) | 1`, which `cargo xtask qemu` maps back to `v`.
//!
//! So that the mapping is lossless, guest statuses are 0..=127 ([`MAX_GUEST_STATUS`]).

/// The exit device (QEMU `isa-debug-exit` at iobase 0xf4, iosize 4).
pub const EXIT_PORT: u16 = 0xf4;
/// Width in bytes of the exit port.
pub const EXIT_PORT_SIZE: u16 = 4;
/// COM1, the early-boot serial port (16550, IRQ 4).
pub const COM1_PORT: u16 = 0x3f8;
/// IRQ line of COM1.
pub const COM1_IRQ: u32 = 4;

/// The dump-request port (lwpvm's own; 4 ports, between the exit port 0xf4..=0xf7 and COM1):
/// a 32-bit write of a request id asks the VMM to pause every vCPU, dump the guest's state
/// (see [`super::inspect`]) and resume. A 32-bit read returns the id of the last request
/// dumped, or [`DUMP_NOT_SERVED`] when the VMM does not serve dump requests (the port is then
/// unclaimed, which reads as all-ones, as under QEMU).
pub const DUMP_PORT: u16 = 0xf8;
/// Width in bytes of the dump port.
pub const DUMP_PORT_SIZE: u16 = 4;
/// Read from [`DUMP_PORT`] when no VMM serves dump requests; never a valid request id.
pub const DUMP_NOT_SERVED: u32 = u32::MAX;

/// GSI (IOAPIC pin) the VMM raises after posting a host signal in the inspection header's
/// mailbox (`vmm signal`); the guest's handler is at vector 48 + 6 (ARCHITECTURE.md).
pub const HOST_SIGNAL_GSI: u32 = 6;

/// Largest status the guest reports (QEMU's `isa-debug-exit` keeps 7 bits of it).
pub const MAX_GUEST_STATUS: u32 = 127;

/// Exit statuses with a fixed meaning.
///
/// When the guest runs an init program (process 1), the VM's status is init's:
///
/// - init exits with code N (`exit`/`exit_group`, low 8 bits): status N if N ≤ 127, else
///   127 ([`INIT_FAILED`]'s value: QEMU keeps only 7 bits). Nothing stops init from exiting
///   with 112..=114 or 127: the kernel log tells those apart from the kernel's own.
/// - init is killed by signal S (a fatal fault before signals exist): status
///   [`INIT_SIGNALED_BASE`] + S, at most [`INIT_SIGNALED_MAX`] (SIGSEGV → 75, SIGILL → 68,
///   SIGFPE → 72, SIGTRAP → 69, SIGBUS → 71, SIGKILL → 73).
/// - init cannot be started (not in the initrd, not an ELF program, dynamically linked, no
///   initrd...): [`INIT_FAILED`], after a line on the console saying why.
///
/// Without an init program (no initrd and no `init=`), the status is `lwpvm.exit=N` or 0.
pub mod status {
    /// Everything went well.
    pub const SUCCESS: u32 = 0;
    /// The guest kernel panicked (a kernel bug, or an assertion of the LWP state machine).
    pub const KERNEL_PANIC: u32 = 112;
    /// The guest kernel took an unexpected exception in ring 0.
    pub const KERNEL_FAULT: u32 = 113;
    /// The guest kernel could not boot (bad boot information, no memory, no console).
    pub const BOOT_FAILURE: u32 = 114;
    /// Init was killed by signal S: the status is this + S (see the module documentation).
    pub const INIT_SIGNALED_BASE: u32 = 64;
    /// The largest status of a killed init (64 + 47; higher signals are clamped to it).
    pub const INIT_SIGNALED_MAX: u32 = 111;
    /// Init could not be started (and init's exit codes above 127).
    pub const INIT_FAILED: u32 = 127;
}

/// Statuses of the VMM process itself, outside the guest's 0..=127 range.
pub mod vmm_status {
    /// Bad arguments or bad input files (no kernel, not an ELF, no /dev/kvm ...).
    pub const USAGE_OR_INPUT: i32 = 200;
    /// The guest crashed in a way the VMM saw: triple fault, KVM internal error, unexpected exit.
    pub const GUEST_CRASH: i32 = 201;
    /// The VMM failed on its own (a host error while running).
    pub const VMM_ERROR: i32 = 202;
    /// The guest ran past the VMM's `--timeout`.
    pub const TIMEOUT: i32 = 203;
}

/// The instruction-count mark port (4 ports). A write of a 32-bit id makes the lwpvm VMM (with
/// `vmm run --marks FILE`) record the writing vCPU's KVM `insn_emulation` statistic: on the
/// development machines' KVM, ring 0 is interpreted, so that counter is the exact number of
/// guest ring-0 instructions the vCPU has executed. The kernel lets ring 3 write these ports
/// (TSS I/O bitmap), so a benchmark brackets a loop with two marks and adds no kernel
/// instructions of its own. Without `--marks` (and under QEMU) writes are ignored.
pub const MARK_PORT: u16 = 0xfc;
/// Width in bytes of the mark port.
pub const MARK_PORT_SIZE: u16 = 4;
