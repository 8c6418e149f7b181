//! SMP: starting the other CPUs (INIT-SIPI-SIPI and a real-mode trampoline), and stopping
//! them when the kernel dies.
//!
//! # Bring-up ([`start_aps`])
//!
//! Under both hosts the APs wait for INIT-SIPI-SIPI (QEMU `-smp N`; the lwpvm VMM leaves them
//! in KVM's wait-for-SIPI state, like hardware). The boot CPU copies the trampoline (below)
//! to [`TRAMPOLINE_PHYS`] (0x8000: SIPI vector 0x08; the frame allocator never hands out the
//! first MiB, and boot checks that no boot module lies there), then starts the APs one at a
//! time, in MP-table order:
//!
//! 1. It writes the AP's parameters into the trampoline page's data area: the trampoline's
//!    page tables, the boot CPU's EFER (LME, NXE, SCE), a kernel stack (`mm::kstack`),
//!    the CPU index, the kernel's CR3 and the 64-bit entry address.
//! 2. INIT (assert, de-assert), 10 µs, SIPI; if the AP has not reported in after 10 ms, a
//!    second SIPI (ignored by an AP that already left wait-for-SIPI), then up to 1 s more.
//! 3. It waits (up to 5 s: ring 0 is interpreted on the development machines' KVM) until the
//!    AP has set itself up and marked itself online, then starts the next one. If an AP does
//!    not start, bring-up stops there (the trampoline is not reused while an AP might still
//!    wake up and run it).
//!
//! The AP's path: real mode at 0x8000 → `lgdt` of the trampoline's own GDT → protected mode →
//! PAE, CR3 = the trampoline's page tables, EFER, paging: long mode (compatibility) → far jump
//! to 64-bit code, still identity-mapped → report "started" → jump to `ap_entry64` in the
//! kernel window → CR3 = the kernel's page tables, the stack → `ap_main`: its GDT/TSS/IDT/GS
//! (`percpu`), its LAPIC (`apic`), a log line, then the registered AP entry (the scheduler:
//! the idle thread, the clock, online).
//!
//! The trampoline's page tables are assembled data in the kernel image (at a physical address
//! below 4 GiB, as a 32-bit CR3 load requires): PML4[0] → an identity map of the first 2 MiB
//! (the trampoline page), PML4[511] = a copy of the kernel's PML4[511] (the kernel window),
//! taken when bring-up starts. The boot identity map is long gone by then, and the kernel's
//! own tables are not changed.
//!
//! # Stopping ([`stop_others`])
//!
//! A panic or kernel fault on one CPU sends an NMI to all others (NMI reaches CPUs spinning
//! with interrupts disabled); their NMI handler sees the stop flag and halts for good.

use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::cpu::{halt_forever, rdtsc};
use super::layout::{KERNEL_BASE, PHYS_OFFSET};
use super::trap::TrapFrame;
use super::{apic, msr, percpu, time, BootCell};
use crate::mm::kstack::KernelStack;
use crate::sync::IrqMutex;

/// Physical address of the trampoline page (below 1 MiB, page aligned).
pub const TRAMPOLINE_PHYS: u64 = 0x8000;
/// SIPI vector: the trampoline's page number.
const SIPI_VECTOR: u8 = (TRAMPOLINE_PHYS >> 12) as u8;
/// Offset of the parameter block in the trampoline page.
const DATA: u64 = 0xf00;
const D_TRAMP_CR3: u64 = DATA;
const D_EFER: u64 = DATA + 0x08;
const D_STACK: u64 = DATA + 0x10;
const D_CPU: u64 = DATA + 0x18;
const D_KERNEL_CR3: u64 = DATA + 0x20;
const D_ENTRY: u64 = DATA + 0x28;
const D_STARTED: u64 = DATA + 0x30;

/// Adding this to a kernel symbol's virtual address gives its physical address (mod 2^64).
const PHYS_ADJ: u64 = 0u64.wrapping_sub(KERNEL_BASE);

global_asm!(
    r#"
    /* The real-mode trampoline: data here, copied to TRAMPOLINE_PHYS at run time. */
    .pushsection .rodata.ap_trampoline, "a"
    .balign 16
    .global ap_tramp_start
ap_tramp_start:
    .code16
    cli
    cld
    mov ax, cs
    mov ds, ax
    .byte 0x0f, 0x01, 0x16                             /* lgdt [disp16] (ds = cs) */
    .word ap_tramp_gdtr - ap_tramp_start
    mov eax, cr0
    or al, 1
    mov cr0, eax
    .byte 0x66, 0xea                                   /* ljmpl 0x08:pm32 */
    .long {tramp} + (ap_tramp_pm32 - ap_tramp_start)
    .word 0x08

    .code32
ap_tramp_pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr4
    or eax, 1 << 5                                     /* PAE */
    mov cr4, eax
    mov eax, dword ptr [{d_tramp_cr3}]
    mov cr3, eax
    mov ecx, 0xc0000080                                /* IA32_EFER */
    mov eax, dword ptr [{d_efer}]
    mov edx, dword ptr [{d_efer} + 4]
    wrmsr
    mov eax, cr0
    or eax, 0x80010001                                 /* PG | WP | PE */
    mov cr0, eax
    .byte 0xea                                         /* ljmp 0x18:lm64 */
    .long {tramp} + (ap_tramp_lm64 - ap_tramp_start)
    .word 0x18

    .code64
ap_tramp_lm64:
    mov dword ptr [{d_started}], 1
    mov rsp, qword ptr [{d_stack}]
    mov rdi, qword ptr [{d_cpu}]
    mov rsi, qword ptr [{d_kernel_cr3}]
    mov rax, qword ptr [{d_entry}]
    jmp rax

    .balign 8
ap_tramp_gdt:
    .quad 0
    .quad 0x00cf9b000000ffff                           /* 0x08: 32-bit code */
    .quad 0x00cf93000000ffff                           /* 0x10: data */
    .quad 0x00af9b000000ffff                           /* 0x18: 64-bit code */
ap_tramp_gdtr:
    .word ap_tramp_gdtr - ap_tramp_gdt - 1
    .long {tramp} + (ap_tramp_gdt - ap_tramp_start)
    .global ap_tramp_end
ap_tramp_end:
    .popsection

    /* The trampoline's page tables (see the module docs). */
    .pushsection .data.ap_page_tables, "aw"
    .balign 4096
    .global ap_pml4
ap_pml4:
    .quad ap_pdpt + {phys_adj} + 0x003
    .fill 511, 8, 0                                    /* [511] filled at run time */
ap_pdpt:
    .quad ap_pd + {phys_adj} + 0x003
    .fill 511, 8, 0
ap_pd:
    .quad 0x083                                        /* 0..2 MiB identity: P|RW|PS */
    .fill 511, 8, 0
    .popsection

    /* The AP's first kernel code: rsp = its stack, rdi = cpu index, rsi = kernel CR3. */
    .pushsection .text.ap_entry, "ax"
    .balign 16
    .global ap_entry64
ap_entry64:
    mov cr3, rsi
    xor ebp, ebp
    call {ap_main}
    ud2
    .popsection
    "#,
    tramp = const TRAMPOLINE_PHYS,
    d_tramp_cr3 = const TRAMPOLINE_PHYS + D_TRAMP_CR3,
    d_efer = const TRAMPOLINE_PHYS + D_EFER,
    d_stack = const TRAMPOLINE_PHYS + D_STACK,
    d_cpu = const TRAMPOLINE_PHYS + D_CPU,
    d_kernel_cr3 = const TRAMPOLINE_PHYS + D_KERNEL_CR3,
    d_entry = const TRAMPOLINE_PHYS + D_ENTRY,
    d_started = const TRAMPOLINE_PHYS + D_STARTED,
    phys_adj = const PHYS_ADJ,
    ap_main = sym ap_main,
);

unsafe extern "C" {
    static ap_tramp_start: u8;
    static ap_tramp_end: u8;
    static ap_pml4: BootCell<[u64; 512]>;
    fn ap_entry64();
}

/// What each AP runs once its CPU is set up (the scheduler's idle entry); it gets the AP's
/// start-up stack and never returns.
pub type ApEntry = fn(KernelStack) -> !;

static AP_ENTRY: AtomicUsize = AtomicUsize::new(0);
/// The stack handle of the AP being started (taken by the AP).
static AP_STACK: IrqMutex<Option<KernelStack>> = IrqMutex::new(None);
/// The APIC id of the AP being started.
static AP_APIC_ID: AtomicUsize = AtomicUsize::new(0);

/// Writes a quadword into the trampoline page's parameter block.
fn put(off: u64, value: u64) {
    let p = (PHYS_OFFSET + TRAMPOLINE_PHYS + off) as *mut u64;
    // SAFETY: the trampoline page (below 1 MiB, checked free by the caller of `start_aps`)
    // belongs to this module; no AP runs the trampoline while the boot CPU writes it.
    unsafe { p.write_volatile(value) }
}

fn get(off: u64) -> u64 {
    let p = (PHYS_OFFSET + TRAMPOLINE_PHYS + off) as *const u64;
    // SAFETY: as in `put`; the AP writes `started` with a plain store: read volatile.
    unsafe { p.read_volatile() }
}

/// Busy-waits `ns` nanoseconds (TSC).
fn delay_ns(ns: u64) {
    let t0 = rdtsc();
    let cycles = time::ns_to_tsc(ns);
    while rdtsc().wrapping_sub(t0) < cycles {
        core::hint::spin_loop();
    }
}

/// Waits up to `ns` for `cond`.
fn wait_for(ns: u64, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = rdtsc();
    let cycles = time::ns_to_tsc(ns);
    loop {
        if cond() {
            return true;
        }
        if rdtsc().wrapping_sub(t0) >= cycles {
            return cond();
        }
        core::hint::spin_loop();
    }
}

/// Starts the CPUs whose APIC ids are `apic_ids` (except this one's), one by one, running
/// `entry` on each. Returns how many CPUs are online afterwards (this one included).
/// Call on the boot CPU with interrupts enabled, after `time::init`, the boot CPU's LAPIC and
/// the scheduler.
pub fn start_aps(apic_ids: &[u8], entry: ApEntry) -> usize {
    AP_ENTRY.store(entry as usize, Ordering::Release);
    super::irq::register(super::irq::VECTOR_STOP, stop_ipi);
    let my_apic = percpu::this().apic_id();
    if apic_ids.iter().all(|&a| u32::from(a) == my_apic) {
        return percpu::ncpus();
    }
    // The trampoline code.
    // Only the addresses of the assembly labels are taken.
    let start = core::ptr::addr_of!(ap_tramp_start) as u64;
    let len = core::ptr::addr_of!(ap_tramp_end) as u64 - start;
    assert!(len <= DATA, "AP trampoline too long");
    // SAFETY: copies the trampoline (read-only kernel data) into the trampoline page through
    // the direct map; the page is reserved for it (see `put`).
    unsafe {
        core::ptr::copy_nonoverlapping(
            start as *const u8,
            (PHYS_OFFSET + TRAMPOLINE_PHYS) as *mut u8,
            len as usize,
        );
    }
    // The trampoline's PML4[511] = the kernel window of the running page tables.
    let cr3 = super::cpu::control_regs().cr3 & 0x000f_ffff_ffff_f000;
    // SAFETY: `cr3` is the running PML4, mapped by the direct map; entry 511 is read only.
    let kernel_511 = unsafe { ((PHYS_OFFSET + cr3) as *const u64).add(511).read_volatile() };
    // SAFETY: only the boot CPU touches ap_pml4, before any AP uses it.
    let tramp_pml4 = unsafe {
        let t = ap_pml4.get();
        (*t)[511] = kernel_511;
        t as u64 - KERNEL_BASE
    };
    let efer = msr::read(msr::IA32_EFER) & !(1 << 10); // without LMA

    let mut next_cpu = percpu::ncpus();
    for &apic_id in apic_ids {
        let apic_id = u32::from(apic_id);
        if apic_id == my_apic {
            continue;
        }
        if next_cpu >= percpu::MAX_CPUS {
            log::warn!(
                "smp: more than {} CPUs; not starting the rest",
                percpu::MAX_CPUS
            );
            break;
        }
        let Ok(stack) = KernelStack::new() else {
            log::warn!("smp: no stack for CPU {next_cpu}; not starting the rest");
            break;
        };
        put(D_TRAMP_CR3, tramp_pml4);
        put(D_EFER, efer);
        put(D_STACK, stack.top());
        put(D_CPU, next_cpu as u64);
        put(D_KERNEL_CR3, cr3);
        put(D_ENTRY, ap_entry64 as *const () as u64);
        put(D_STARTED, 0);
        *AP_STACK.lock() = Some(stack);
        AP_APIC_ID.store(apic_id as usize, Ordering::Release);

        let t0 = rdtsc();
        apic::send_init(apic_id);
        apic::send_init_deassert(apic_id);
        delay_ns(10_000);
        apic::send_sipi(apic_id, SIPI_VECTOR);
        let mut started = wait_for(10_000_000, || get(D_STARTED) != 0);
        if !started {
            apic::send_sipi(apic_id, SIPI_VECTOR);
            started = wait_for(1_000_000_000, || get(D_STARTED) != 0);
        }
        if !started {
            log::error!("smp: CPU with APIC id {apic_id} did not start; stopping bring-up");
            AP_STACK.lock().take();
            break;
        }
        let pc = percpu::get(next_cpu);
        if !wait_for(5_000_000_000, || pc.is_online()) {
            log::error!("smp: cpu{next_cpu} (APIC id {apic_id}) started but did not come online");
            break;
        }
        log::debug!(
            "smp: cpu{next_cpu} up in {} µs",
            time::tsc_to_ns(rdtsc().wrapping_sub(t0)) / 1000
        );
        next_cpu += 1;
    }
    percpu::ncpus()
}

/// The AP's first Rust code (from `ap_entry64`, on its start-up stack, kernel page tables,
/// interrupts disabled).
extern "C" fn ap_main(cpu: usize) -> ! {
    let apic_id = AP_APIC_ID.load(Ordering::Acquire) as u32;
    // No lock before the per-CPU area exists (locks record the holder's CPU index).
    // SAFETY: first code on this CPU, interrupts disabled; the boot CPU gave it index `cpu`
    // and waits for it, so no other CPU uses that index.
    unsafe { percpu::init_this_cpu(cpu, apic_id, get(D_STACK)) };
    let Some(stack) = AP_STACK.lock().take() else {
        halt_forever()
    };
    apic::init_this_cpu();
    log::info!(
        "cpu{cpu}: online (APIC id {}, {})",
        apic::id(),
        if apic::is_x2apic() { "x2APIC" } else { "xAPIC" }
    );
    let entry = AP_ENTRY.load(Ordering::Acquire);
    // SAFETY: stored by `start_aps` from an `ApEntry`.
    let entry = unsafe { core::mem::transmute::<usize, ApEntry>(entry) };
    entry(stack)
}

/// Set when a CPU stops the others (panic, kernel fault).
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Stops every other online CPU (panic or kernel fault on this one): an NMI to all but self,
/// whose handler halts for good.
pub fn stop_others() {
    STOPPING.store(true, Ordering::SeqCst);
    if percpu::ncpus() > 1 {
        apic::send_nmi(apic::Dest::AllButSelf);
    }
}

/// The stop IPI (vector 0xf3): halts for good. `stop_others` uses NMIs, which also reach CPUs
/// spinning with interrupts disabled; the fixed vector is kept for the vector map's contract.
fn stop_ipi(_frame: &mut TrapFrame) {
    halt_forever();
}

/// The NMI handler (paranoid entry): halts for good if the CPUs are being stopped; otherwise
/// the NMI is ignored.
pub(super) fn nmi(_frame: &mut TrapFrame) {
    if STOPPING.load(Ordering::SeqCst) {
        halt_forever();
    }
}
