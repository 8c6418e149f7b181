//! Inspection: the table the VMM reads to show this kernel's CPUs, processes and LWPs.
//!
//! The layout is `shared_abi::inspect` (read its overview first). This module is the writing
//! side:
//!
//! - the **header** is a `static` with a constant initialiser ([`initial_header`]), so it is
//!   valid in the image file itself; an ELF note (`.note.lwpvm`, emitted below) carries its
//!   physical address, which is how the VMM finds it, even after a crash and without asking
//!   this kernel anything. [`init`] marks the kernel running and publishes the CPU records;
//! - **records** live in 4 KiB chunks reached through directory pages: first from a small
//!   pool in `.bss` (zero at boot, so nothing is cleared), then from the page source memory
//!   management registers ([`set_page_source`]). A chunk is never moved or freed, so a record
//!   keeps its address for the kernel's lifetime;
//! - every record write follows the **seqcount** protocol ([`write_seq`]): counter to odd,
//!   fields, counter to even with release ordering. Writers need no lock of ours; they must
//!   exclude each other on the same record: a CPU record is written by its own CPU with
//!   interrupts disabled (the scheduler and interrupt handlers already run so), a process
//!   record under its process's lock, an LWP record by whoever owns the LWP's state at that
//!   moment (see below);
//! - **who publishes what**: `proc` allocates a process record when it creates the process
//!   (ids, name, `SACTIVE`, CR3, `PROCF_INIT` for pid 1), keeps `nlwps`/`nrlwps`/`nzlwps`
//!   current as LWPs come and go, and marks it `SZOMB` with the wait status (CR3 0: the
//!   address space is gone) when the last LWP leaves; records are freed when the process is
//!   collected, except init's, which nobody collects (its end is the VM's, and the exit dump
//!   shows it). An LWP allocates its record when it attaches (`LSONPROC` on its CPU) and
//!   binds it to its scheduler thread slot ([`bind_thread`]); the scheduler then publishes
//!   the transitions, with one load for threads that are not LWPs: switch-in
//!   ([`thread_on_cpu`]: `LSONPROC`, CPU, switches, and the CPU record's current LWP, written
//!   only when it changes), preemption or yield ([`thread_preempted`]: `LSRUN` and the user
//!   registers from the user frame, under the run queue lock), sleep ([`thread_sleeping`]:
//!   `LSSLEEP`, wait channel, the name given by [`set_wmesg`], the user registers, under the
//!   sleep-queue bucket lock) and wake-up ([`thread_woken`]: `LSRUN`, under the same lock,
//!   before the LWP is runnable); these locks order the writers of one record. On its way
//!   out the LWP unbinds and marks its record `LSZOMB`. Nothing is written per system call;
//! - **slot allocation** ([`alloc_proc`], [`alloc_lwp`], and their `free`) takes the table
//!   lock (a spin lock; it may grow a table, so it must not be called with interrupts disabled
//!   on the hot path) and keeps free slots on an intrusive list threaded through the free
//!   records' `reserved[0]` (the VMM skips free records), so nothing is allocated to free;
//! - **dump requests** ([`dump_request`], and [`sys_lwpvm_dump`] for `SYS_LWPVM_DUMP`) write
//!   the dump port; the VMM pauses every CPU, dumps and resumes before the `out` completes;
//! - **scenario dump requests** ([`scenario_dump`], `lwpvm_dump(LWPVM_DUMP_SCENARIO, &req)`)
//!   pass the request and its bindings to the VMM in a block in `.bss` whose address the
//!   header's `scenario_request` publishes during the port write; the VMM evaluates the
//!   scenario's dump assertions and answers in the block (shared_abi::scenario);
//! - the **host-signal mailbox** ([`take_host_signal`], [`ack_host_signal`]) is read by the
//!   handler of GSI `HOST_SIGNAL_GSI`, which the signal subsystem will install; until then
//!   `FEATURE_HOST_SIGNAL` stays clear and the VMM refuses to post;
//! - the **panic path** records its message ([`note_panic`]) so that a dump on panic says why;
//! - [`selftest`] (`lwpvm.inspect_selftest=N`) publishes a made-up process with `N` LWPs and
//!   asks for dumps, so the writing side is tested end to end before real processes exist.
//!
//! Cost: an update is a handful of stores (ring 0 is interpreted on the development machines'
//! KVM: no loops, no formatting, no zeroing on update paths). Nothing here allocates from the
//! heap or sleeps.
//!
//! `unsafe` is allowed in this module only to write the memory the VMM reads (the header,
//! directory pages and records) and for the dump port's `in`/`out`; each block says why it
//! is sound.

#![allow(unsafe_code)]

pub mod selftest;

use core::arch::{asm, global_asm};
use core::cell::UnsafeCell;
use core::fmt::Write as _;
use core::mem::offset_of;
use core::panic::PanicInfo;
use core::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};

use shared_abi::current::inspect::{
    initial_header, slot_position, CpuRecord, InspectHeader, LwpRecord, ProcRecord, Record,
    TableDesc, APIC_ID_UNKNOWN, CHUNK_SIZE, CPUF_BSP, CPUF_ONLINE, FEATURE_CPUS, FEATURE_DUMP_PORT,
    FEATURE_HOST_SIGNAL, FEATURE_PROCS, HEADER_SIZE, KSTATE_PANICKED, KSTATE_RUNNING, LWPF_SINTR,
    NONE_I32, NO_LWP, NT_LWPVM_INSPECT, PANIC_MSG_LEN, SLOT_FREE, SLOT_LIVE,
};
use shared_abi::current::lwp::LSIDL;
use shared_abi::current::ports::{DUMP_NOT_SERVED, DUMP_PORT};
use shared_abi::current::scenario::{
    ScenarioDumpBlock, ScenarioDumpRequest, BLOCK_ANSWERED_OFFSET, BLOCK_RESULT_OFFSET,
    LWPVM_DUMP_SCENARIO, MAX_BINDINGS_LEN, MAX_VERDICTS, SCENARIO_BLOCK_HEADER_SIZE,
    SCENARIO_BLOCK_MAGIC, SCENARIO_BLOCK_MAX,
};
use shared_abi::current::{errno, ABI_VERSION};
use spin::Mutex;

use crate::arch::layout::KERNEL_BASE;
use crate::arch::phys::{phys_to_virt, virt_to_phys};
use crate::mm::uaccess::{self, UserPtr};

/// Pages of the boot pool (directories and the first chunks): 3 for 64 CPUs, a directory
/// each for processes and LWPs, the rest for process and LWP chunks until memory management
/// registers a page source.
const POOL_PAGES: usize = 16;
/// Most CPUs the CPU table holds (two chunks of 32).
pub const MAX_CPUS: u32 = 64;
/// End of a free list.
const NO_SLOT: u32 = u32::MAX;

// ---------------------------------------------------------------------------------------------
// The header and its ELF note.
// ---------------------------------------------------------------------------------------------

#[repr(C, align(4096))]
struct HeaderPage(UnsafeCell<InspectHeader>);

// SAFETY: the header is only written through `write_header` (under `TABLES`' lock, or by the
// single panicking CPU) and read by the VMM from outside; Rust code takes no references that
// outlive one update.
unsafe impl Sync for HeaderPage {}

/// The header, valid from the image file on (magic, version, sizes); the ELF note below
/// points at it.
static HEADER: HeaderPage = HeaderPage(UnsafeCell::new(initial_header()));

const _: () = assert!(HEADER_SIZE <= CHUNK_SIZE);

// The note the VMM reads at load time (shared_abi::inspect::InspectNote): name "lwpvm",
// type NT_LWPVM_INSPECT, desc = { header physical address, ABI version, header size }.
global_asm!(
    r#"
    .pushsection .note.lwpvm, "a", @note
    .balign 4
    .long 6
    .long 16
    .long {note_type}
    .asciz "lwpvm"
    .balign 4
    .quad {header} + {phys_adj}
    .long {abi}
    .long {size}
    .balign 4
    .popsection
    "#,
    note_type = const NT_LWPVM_INSPECT,
    header = sym HEADER,
    phys_adj = const 0u64.wrapping_sub(KERNEL_BASE),
    abi = const ABI_VERSION,
    size = const HEADER_SIZE,
);

/// Updates the header under its sequence counter. The caller excludes other header writers
/// (the `TABLES` lock, or being the one panicking CPU).
fn write_header(f: impl FnOnce(&mut InspectHeader)) {
    let p = HEADER.0.get();
    // SAFETY: `p` points to the live static header; `seq` is a u32 at a 4-aligned offset.
    // Exclusion of other writers is the caller's contract; the VMM only reads.
    unsafe { write_seq(p, offset_of!(InspectHeader, seq), f) }
}

/// A copy of one header field group (reads race only with our own writers, who hold the lock
/// we hold, or with nobody).
fn read_header<T>(f: impl FnOnce(&InspectHeader) -> T) -> T {
    // SAFETY: plain reads of the static header; concurrent writers are excluded by the
    // caller (same contract as `write_header`).
    f(unsafe { &*HEADER.0.get() })
}

/// The seqcount write protocol on the record at `p` whose counter is at byte `seq_offset`.
///
/// # Safety
///
/// `p` must point to a live record in memory that stays mapped, the counter must be a 4-byte
/// aligned u32 inside it, and no other writer may update the same record concurrently.
unsafe fn write_seq<R>(p: *mut R, seq_offset: usize, f: impl FnOnce(&mut R)) {
    let seq_ptr = p.cast::<u8>().wrapping_add(seq_offset).cast::<u32>();
    // SAFETY: the caller guarantees `seq_ptr` is an aligned u32 in live memory; the atomic
    // view lasts for this statement only, so it never overlaps the `&mut R` below.
    let s = unsafe { AtomicU32::from_ptr(seq_ptr) }.load(Ordering::Relaxed);
    // SAFETY: as above.
    unsafe { AtomicU32::from_ptr(seq_ptr) }.store(s.wrapping_add(1) | 1, Ordering::Relaxed);
    fence(Ordering::Release);
    // SAFETY: the caller guarantees exclusive writing; the VMM is an outside reader.
    f(unsafe { &mut *p });
    // SAFETY: as for the first store. Release: the fields are visible before the even value.
    unsafe { AtomicU32::from_ptr(seq_ptr) }
        .store((s.wrapping_add(1) | 1).wrapping_add(1), Ordering::Release);
}

// ---------------------------------------------------------------------------------------------
// Pages: the boot pool, then the page source.
// ---------------------------------------------------------------------------------------------

#[repr(C, align(4096))]
struct Pool(UnsafeCell<[[u8; CHUNK_SIZE]; POOL_PAGES]>);

// SAFETY: pool pages are handed out once each (under `TABLES`' lock) and then only written
// through `write_seq` / directory-entry stores under the same lock.
unsafe impl Sync for Pool {}

static POOL: Pool = Pool(UnsafeCell::new([[0; CHUNK_SIZE]; POOL_PAGES]));

/// A zeroed 4 KiB page in the direct map, handed to inspection for good.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Its physical address (4 KiB aligned, below the direct map's end).
    pub phys: u64,
}

/// Where pages come from once the boot pool is used up: memory management registers a
/// function returning zeroed, direct-mapped pages that are never given back.
static PAGE_SOURCE: spin::Once<fn() -> Option<Page>> = spin::Once::new();

/// Registers the page source (once; later calls are ignored).
pub fn set_page_source(source: fn() -> Option<Page>) {
    PAGE_SOURCE.call_once(|| source);
}

// ---------------------------------------------------------------------------------------------
// Tables.
// ---------------------------------------------------------------------------------------------

/// The tables that have slots and free lists (the value indexes [`Tables::free`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Procs = 0,
    Lwps = 1,
}

struct Tables {
    /// Next unused boot-pool page.
    pool_next: usize,
    /// Free-list heads, by [`Kind`].
    free: [u32; 2],
}

static TABLES: Mutex<Tables> = Mutex::new(Tables {
    pool_next: 0,
    free: [NO_SLOT; 2],
});

/// Records that sit on a table's free list while unused: `reserved[0]` links the list.
trait FreeListRecord {
    fn make_free(&mut self, next: u32);
}

impl FreeListRecord for ProcRecord {
    fn make_free(&mut self, next: u32) {
        self.live = SLOT_FREE;
        self.reserved[0] = u64::from(next);
    }
}

impl FreeListRecord for LwpRecord {
    fn make_free(&mut self, next: u32) {
        self.live = SLOT_FREE;
        self.reserved[0] = u64::from(next);
    }
}

/// Marks the record at `p` free, linked to `next`.
///
/// # Safety
/// `p` is a live record of type `R` of ours that nobody else writes (its handle was given
/// up), with the table lock held.
unsafe fn mark_free<R: FreeListRecord>(p: *mut u8, next: u32) {
    // SAFETY: per the contract; the sequence counter is the record's first field.
    unsafe { write_seq(p.cast::<R>(), 0, |r| r.make_free(next)) }
}

impl Tables {
    fn page(&mut self) -> Option<Page> {
        if self.pool_next < POOL_PAGES {
            let i = self.pool_next;
            self.pool_next += 1;
            let virt = POOL.0.get().cast::<[u8; CHUNK_SIZE]>().wrapping_add(i) as u64;
            return virt_to_phys(virt).map(|phys| Page { phys });
        }
        PAGE_SOURCE.get().and_then(|source| source())
    }
}

fn desc_of(h: &mut InspectHeader, kind: Kind) -> &mut TableDesc {
    match kind {
        Kind::Procs => &mut h.procs,
        Kind::Lwps => &mut h.lwps,
    }
}

/// The kernel-virtual address of slot `slot` of a table, if its chunk is published.
fn slot_ptr(desc: &TableDesc, slot: u32) -> Option<*mut u8> {
    let (di, ci, ri) = slot_position(slot as usize, desc.per_chunk as usize)?;
    if slot / desc.per_chunk >= desc.nchunks {
        return None;
    }
    let dir = phys_to_virt(*desc.dir.get(di)?)? as *const u64;
    // SAFETY: `dir` is a directory page this module published (page-aligned, 512 entries,
    // `ci` < 512); entries below `nchunks` were written before `nchunks` was raised.
    let chunk = unsafe { dir.add(ci).read_volatile() };
    let base = phys_to_virt(chunk)?;
    Some((base + u64::from(desc.record_size) * ri as u64) as *mut u8)
}

/// Adds a chunk to `kind`'s table (and a directory page if needed). Called with the lock.
fn grow(t: &mut Tables, kind: Kind) -> bool {
    let (n, di, has_dir) = read_header(|h| {
        let d = desc_of_ref(h, kind);
        let n = d.nchunks as usize;
        let di = n / shared_abi::current::inspect::CHUNKS_PER_DIR;
        (n, di, d.dir.get(di).is_some_and(|&p| p != 0))
    });
    if n >= shared_abi::current::inspect::MAX_CHUNKS {
        return false;
    }
    if !has_dir {
        let Some(dir) = t.page() else { return false };
        write_header(|h| desc_of(h, kind).dir[di] = dir.phys);
    }
    let Some(chunk) = t.page() else { return false };
    let dir_phys = read_header(|h| desc_of_ref(h, kind).dir[di]);
    let Some(dir) = phys_to_virt(dir_phys) else {
        return false;
    };
    let ci = n % shared_abi::current::inspect::CHUNKS_PER_DIR;
    // SAFETY: `dir` is our zeroed, direct-mapped directory page; entry `ci` < 512 is not yet
    // published (it is at index `nchunks`), so the VMM does not read it before the release
    // in `write_header` below.
    unsafe { (dir as *mut u64).add(ci).write_volatile(chunk.phys) };
    write_header(|h| desc_of(h, kind).nchunks += 1);
    true
}

/// Takes a slot of `kind`: from the free list, else the next never-used slot (growing the
/// table). Returns the slot, its record's address, and whether it was used before.
fn alloc_slot(kind: Kind) -> Option<(u32, *mut u8, bool)> {
    let mut t = TABLES.lock();
    let head = t.free[kind as usize];
    let next_off = match kind {
        Kind::Procs => offset_of!(ProcRecord, reserved),
        Kind::Lwps => offset_of!(LwpRecord, reserved),
    };
    if head != NO_SLOT {
        let p = read_header(|h| slot_ptr(desc_of_ref(h, kind), head))?;
        // SAFETY: a free record of ours; `reserved[0]` holds the next free slot (written by
        // `free_slot` under this lock).
        let next = unsafe { p.add(next_off).cast::<u64>().read_volatile() } as u32;
        t.free[kind as usize] = next;
        write_header(|h| desc_of(h, kind).live += 1);
        return Some((head, p, true));
    }
    let (slot, capacity) = read_header(|h| {
        let d = desc_of_ref(h, kind);
        (d.high_water, d.nchunks * d.per_chunk)
    });
    if slot >= capacity && !grow(&mut t, kind) {
        write_header(|h| h.dropped = h.dropped.saturating_add(1));
        return None;
    }
    let p = read_header(|h| slot_ptr(desc_of_ref(h, kind), slot))?;
    write_header(|h| {
        let d = desc_of(h, kind);
        d.high_water = slot + 1;
        d.live += 1;
    });
    Some((slot, p, false))
}

fn desc_of_ref(h: &InspectHeader, kind: Kind) -> &TableDesc {
    match kind {
        Kind::Procs => &h.procs,
        Kind::Lwps => &h.lwps,
    }
}

/// Marks `slot` free and puts it on the free list.
fn free_slot(kind: Kind, slot: u32, p: *mut u8) {
    let mut t = TABLES.lock();
    let head = t.free[kind as usize];
    // SAFETY: `p` is this slot's live record (from `alloc_slot`); the caller gives up its
    // handle, so nobody else writes it; the table lock is held.
    unsafe {
        match kind {
            Kind::Procs => mark_free::<ProcRecord>(p, head),
            Kind::Lwps => mark_free::<LwpRecord>(p, head),
        }
    }
    t.free[kind as usize] = slot;
    write_header(|h| desc_of(h, kind).live -= 1);
}

// ---------------------------------------------------------------------------------------------
// Process and LWP records.
// ---------------------------------------------------------------------------------------------

/// A process's record. Dropping it does not free the slot: call [`free_proc`].
#[derive(Debug)]
pub struct ProcSlot {
    slot: u32,
    rec: *mut ProcRecord,
}

// SAFETY: the handle is the unique right to write its record; the owning process's lock
// serialises its use across CPUs.
unsafe impl Send for ProcSlot {}

impl ProcSlot {
    /// The table slot.
    #[allow(dead_code)] // for reports
    pub fn slot(&self) -> u32 {
        self.slot
    }

    /// Updates the record (seqcount protocol). The caller holds the process's lock.
    pub fn update(&self, f: impl FnOnce(&mut ProcRecord)) {
        // SAFETY: `rec` is our live record (chunks are never freed); exclusive writing is
        // this handle's contract.
        unsafe { write_seq(self.rec, 0, f) }
    }
}

/// An LWP's record. Dropping it does not free the slot: call [`free_lwp`].
#[derive(Debug)]
pub struct LwpSlot {
    slot: u32,
    rec: *mut LwpRecord,
}

// SAFETY: as for `ProcSlot`, with the LWP's lock.
unsafe impl Send for LwpSlot {}

impl LwpSlot {
    /// The table slot.
    #[allow(dead_code)] // for reports
    pub fn slot(&self) -> u32 {
        self.slot
    }

    /// Updates the record (seqcount protocol). The caller holds the LWP's lock (or is the
    /// LWP itself on its own CPU with interrupts disabled).
    pub fn update(&self, f: impl FnOnce(&mut LwpRecord)) {
        // SAFETY: as for `ProcSlot::update`.
        unsafe { write_seq(self.rec, 0, f) }
    }
}

/// A record for process `pid` (state `SIDL`), or `None` when no page is left (counted in
/// the header's `dropped`; the process runs unpublished). Every scalar field is reset; the
/// dispositions are zeroed only if the slot was used before (fresh pages are zero). The
/// creator fills in the rest (fork copies the parent's dispositions).
pub fn alloc_proc(pid: i32) -> Option<ProcSlot> {
    let (slot, p, reused) = alloc_slot(Kind::Procs)?;
    let s = ProcSlot {
        slot,
        rec: p.cast(),
    };
    s.update(|r| {
        r.live = SLOT_LIVE;
        r.pid = pid;
        r.ppid = 0;
        r.pgid = pid;
        r.sid = pid;
        r.state = shared_abi::current::inspect::ProcState::Idle as u32;
        r.flags = 0;
        r.exit_status = 0;
        r.nlwps = 0;
        r.nrlwps = 0;
        r.nzlwps = 0;
        r.ndlwps = 0;
        r.nlwpwait = 0;
        r.pending = 0;
        r.queue.count = 0;
        r.queue.shown = 0;
        r.lwpctl_area = 0;
        r.cr3 = 0;
        r.name = [0; 16];
        r.stop_signal = 0;
        r.signals_received = 0;
        r.reserved[0] = 0;
        if reused {
            for a in &mut r.actions {
                *a = Record::ZERO;
            }
        }
    });
    Some(s)
}

/// Frees a process record (when the process is collected).
pub fn free_proc(s: ProcSlot) {
    free_slot(Kind::Procs, s.slot, s.rec.cast());
}

/// A record for LWP `lid` of process `pid` (state `LSIDL`, no CPU, no system call), or
/// `None` when no page is left (counted in `dropped`).
pub fn alloc_lwp(pid: i32, lid: i32) -> Option<LwpSlot> {
    let (slot, p, _) = alloc_slot(Kind::Lwps)?;
    let s = LwpSlot {
        slot,
        rec: p.cast(),
    };
    s.update(|r| {
        r.live = SLOT_LIVE;
        r.pid = pid;
        r.lid = lid;
        r.state = LSIDL;
        r.flags = 0;
        r.cpu = NONE_I32;
        r.syscall = NONE_I32;
        r.sigmask = 0;
        r.pending = 0;
        r.queue.count = 0;
        r.queue.shown = 0;
        r.saved_sigmask = 0;
        r.wchan = 0;
        r.wmesg = [0; 16];
        r.lwpctl = 0;
        r.lpmap = 0;
        r.sigfastblock = 0;
        r.regs_valid = 0;
        r.switches = 0;
        r.signals_delivered = 0;
        r.syscalls = 0;
        r.altstack_sp = 0;
        r.altstack_size = 0;
        r.altstack_flags = 0;
        r.reserved[0] = 0;
    });
    Some(s)
}

/// Frees an LWP record (when the LWP is collected).
pub fn free_lwp(s: LwpSlot) {
    free_slot(Kind::Lwps, s.slot, s.rec.cast());
}

// ---------------------------------------------------------------------------------------------
// The scheduler's transitions (LWP records by scheduler thread slot).
// ---------------------------------------------------------------------------------------------

/// The LWP record of each scheduler thread slot that is an LWP (null for kernel threads), so
/// that the scheduler publishes its state transitions with one load and no process lock.
/// Set by [`bind_thread`] (the LWP itself, before it enters ring 3) and cleared by
/// [`unbind_thread`] (the LWP itself, on its way out). Writers of a bound record are
/// serialised by the scheduler: the switch (run queue lock, on the thread's CPU), the sleep
/// (the thread itself, with interrupts off, before it is on a sleep queue) and the wake-up
/// (sleep-queue bucket lock, before the thread is runnable).
static THREAD_LWPS: [AtomicPtr<LwpRecord>; crate::sched::MAX_THREADS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; crate::sched::MAX_THREADS];

/// The wait-channel name each thread slot gives its next sleep (16 bytes, NUL-padded, in
/// two words so that setting it is two stores), set by [`set_wmesg`].
static THREAD_WMESG: [[AtomicU64; 2]; crate::sched::MAX_THREADS] =
    [const { [AtomicU64::new(0), AtomicU64::new(0)] }; crate::sched::MAX_THREADS];

/// Publishes the scheduler's transitions of thread slot `thread` in `s` (see
/// [`THREAD_LWPS`]), and makes it its CPU's current LWP. Call from the thread itself, which
/// is running: `s` must say `LSONPROC` on this CPU already.
pub fn bind_thread(thread: usize, s: &LwpSlot) {
    let Some(p) = THREAD_LWPS.get(thread) else {
        return;
    };
    // Interrupts off: no switch between the binding and the CPU record (which only its own
    // CPU writes, with interrupts off).
    let saved = crate::arch::irq::save_disable();
    p.store(s.rec, Ordering::Release);
    // SAFETY: our record; pid and lid do not change while it is live.
    let (pid, lid) = unsafe { ((*s.rec).pid, (*s.rec).lid) };
    set_cpu_current(crate::arch::percpu::cpu_id() as u32, pid, lid);
    crate::arch::irq::restore(saved);
}

/// Stops publishing thread slot `thread`'s transitions (its LWP leaves; the record stays,
/// as the LWP's zombie, until it is freed); its CPU has no current LWP any more. Call from
/// the thread itself.
pub fn unbind_thread(thread: usize) {
    if let Some(p) = THREAD_LWPS.get(thread) {
        let saved = crate::arch::irq::save_disable();
        p.store(core::ptr::null_mut(), Ordering::Release);
        set_cpu_current(crate::arch::percpu::cpu_id() as u32, NO_LWP, NO_LWP);
        crate::arch::irq::restore(saved);
    }
}

/// Sets CPU `cpu_id`'s current LWP in its record, if it changes (on that CPU, interrupts
/// off): two loads when it does not.
fn set_cpu_current(cpu_id: u32, pid: i32, lid: i32) {
    if let Some(c) = cpu(cpu_id) {
        // SAFETY: our own CPU's record; only this CPU writes it (interrupts are off).
        let (cp, cl) = unsafe { ((*c.rec).cur_pid, (*c.rec).cur_lid) };
        if (cp, cl) != (pid, lid) {
            c.update(|r| {
                r.cur_pid = pid;
                r.cur_lid = lid;
            });
        }
    }
}

/// Names the next sleep of the calling thread (slot `thread`) for the dump's wait channel
/// (`"nanosleep"`, `"read"`; at most 16 bytes kept). Two stores; the sleep copies it.
pub fn set_wmesg(thread: usize, name: &str) {
    let mut b = [0u8; 16];
    let n = name.len().min(16);
    b[..n].copy_from_slice(&name.as_bytes()[..n]);
    if let Some(w) = THREAD_WMESG.get(thread) {
        let (lo, hi) = b.split_at(8);
        w[0].store(
            u64::from_le_bytes(lo.try_into().unwrap_or([0; 8])),
            Ordering::Relaxed,
        );
        w[1].store(
            u64::from_le_bytes(hi.try_into().unwrap_or([0; 8])),
            Ordering::Relaxed,
        );
    }
}

/// The bound record of `thread`, if any.
fn thread_rec(thread: usize) -> Option<*mut LwpRecord> {
    let p = THREAD_LWPS.get(thread)?.load(Ordering::Acquire);
    (!p.is_null()).then_some(p)
}

/// Copies the user registers from the user frame at the top of the kernel stack whose top is
/// `kstack_top` into `r`, if that frame returns to ring 3 (else marks them invalid).
fn save_user_regs(r: &mut LwpRecord, kstack_top: u64, fs_base: u64, gs_base: u64) {
    let f = crate::arch::trap::user_frame(kstack_top);
    // SAFETY: a bound thread was spawned with `sched::spawn_user`, which reserves its user
    // frame at the top of its kernel stack; the stack lives as long as the thread, which is
    // off its CPU or is the caller, so nobody writes the frame meanwhile. A frame not yet
    // filled holds stale words, which the ring-3 check below rejects (or shows harmlessly).
    let f = unsafe { &*f };
    if f.cs & 3 != 3 {
        r.regs_valid = 0;
        return;
    }
    let g = &mut r.regs;
    g.r8 = f.r8;
    g.r9 = f.r9;
    g.r10 = f.r10;
    g.r11 = f.r11;
    g.r12 = f.r12;
    g.r13 = f.r13;
    g.r14 = f.r14;
    g.r15 = f.r15;
    g.rdi = f.rdi;
    g.rsi = f.rsi;
    g.rbp = f.rbp;
    g.rbx = f.rbx;
    g.rdx = f.rdx;
    g.rax = f.rax;
    g.rcx = f.rcx;
    g.rsp = f.rsp;
    g.rip = f.rip;
    g.rflags = f.rflags;
    g.fs_base = fs_base;
    g.gs_base = gs_base;
    r.regs_valid = 1;
}

/// Thread slot `thread` is switched in on CPU `cpu`: its LWP (if it is one) becomes
/// `LSONPROC` there, and the CPU record's current LWP follows. The switch calls this with
/// the run queue locked and interrupts off.
pub fn thread_on_cpu(thread: usize, cpu_id: u32) {
    let (pid, lid) = match thread_rec(thread) {
        Some(p) => {
            // SAFETY: a bound record; the switch is its only writer now (see `THREAD_LWPS`).
            unsafe {
                write_seq(p, 0, |r| {
                    r.state = shared_abi::current::lwp::LSONPROC;
                    r.cpu = cpu_id as i32;
                    r.regs_valid = 0;
                    r.switches += 1;
                });
                ((*p).pid, (*p).lid)
            }
        }
        None => (NO_LWP, NO_LWP),
    };
    set_cpu_current(cpu_id, pid, lid);
}

/// Thread slot `thread` leaves its CPU runnable (preempted or yielding): `LSRUN`, with its
/// user registers. Under the run queue lock, interrupts off, before the thread is queued
/// where another CPU could take it.
pub fn thread_preempted(thread: usize, kstack_top: u64, fs_base: u64, gs_base: u64) {
    if let Some(p) = thread_rec(thread) {
        // SAFETY: a bound record; the switch is its only writer now.
        unsafe {
            write_seq(p, 0, |r| {
                r.state = shared_abi::current::lwp::LSRUN;
                save_user_regs(r, kstack_top, fs_base, gs_base);
            })
        };
    }
}

/// Thread slot `thread` goes to sleep on `wchan`: `LSSLEEP` with the wait channel, the name
/// from [`set_wmesg`] (consumed) and its user registers. The thread itself calls this with
/// interrupts off, before it is on a sleep queue (so no waker writes the record meanwhile).
pub fn thread_sleeping(
    thread: usize,
    wchan: usize,
    interruptible: bool,
    kstack_top: u64,
    fs_base: u64,
    gs_base: u64,
) {
    let Some(p) = thread_rec(thread) else { return };
    let (lo, hi) = match THREAD_WMESG.get(thread) {
        Some(w) => (
            w[0].swap(0, Ordering::Relaxed),
            w[1].swap(0, Ordering::Relaxed),
        ),
        None => (0, 0),
    };
    // SAFETY: a bound record; its thread is its only writer now.
    unsafe {
        write_seq(p, 0, |r| {
            r.state = shared_abi::current::lwp::LSSLEEP;
            r.wchan = wchan as u64;
            r.wmesg[..8].copy_from_slice(&lo.to_le_bytes());
            r.wmesg[8..].copy_from_slice(&hi.to_le_bytes());
            if interruptible {
                r.flags |= LWPF_SINTR;
            } else {
                r.flags &= !LWPF_SINTR;
            }
            save_user_regs(r, kstack_top, fs_base, gs_base);
        })
    };
}

/// Thread slot `thread` is woken (or its sleep timed out): `LSRUN`, no wait channel. Under
/// the sleep-queue bucket lock, before the thread is made runnable.
pub fn thread_woken(thread: usize) {
    if let Some(p) = thread_rec(thread) {
        // SAFETY: a bound record; the waker is its only writer now.
        unsafe {
            write_seq(p, 0, |r| {
                r.state = shared_abi::current::lwp::LSRUN;
                r.wchan = 0;
                r.wmesg = [0; 16];
                r.flags &= !LWPF_SINTR;
            })
        };
    }
}

// ---------------------------------------------------------------------------------------------
// CPU records.
// ---------------------------------------------------------------------------------------------

/// A CPU's record.
#[derive(Debug, Clone, Copy)]
pub struct CpuSlot {
    rec: *mut CpuRecord,
}

impl CpuSlot {
    /// Updates the record (seqcount protocol). Only CPU `cpu_id` itself calls this, with
    /// interrupts disabled.
    pub fn update(&self, f: impl FnOnce(&mut CpuRecord)) {
        // SAFETY: `rec` is a published CPU record (never freed); the per-CPU, interrupts-off
        // rule makes this the only writer.
        unsafe { write_seq(self.rec, 0, f) }
    }
}

/// The CPU records' addresses, set once by [`init`] (so that the hot path reads one pointer
/// and never the header, which other CPUs may be updating).
static CPU_RECS: [AtomicPtr<CpuRecord>; MAX_CPUS as usize] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CPUS as usize];

/// The record of CPU `cpu_id`, if published.
pub fn cpu(cpu_id: u32) -> Option<CpuSlot> {
    let p = CPU_RECS.get(cpu_id as usize)?.load(Ordering::Acquire);
    (!p.is_null()).then_some(CpuSlot { rec: p })
}

/// Marks CPU `cpu_id` online with its APIC id (SMP bring-up, on that CPU).
pub fn cpu_online(cpu_id: u32, apic_id: u32) {
    if let Some(c) = cpu(cpu_id) {
        c.update(|r| {
            r.apic_id = apic_id;
            r.flags |= CPUF_ONLINE;
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Boot.
// ---------------------------------------------------------------------------------------------

/// Publishes the table: `boot_generation`, `ncpus` CPU records (the boot CPU online with
/// `bsp_apic_id`, the others offline until they start). The kernel state stays `booting`
/// until [`boot_done`]. Call once, on the boot CPU, after the heap and the CPU count, before
/// other CPUs start.
pub fn init(ncpus: u32, boot_generation: u64, bsp_apic_id: u32) {
    let mut t = TABLES.lock();
    let published = ncpus.min(MAX_CPUS);
    let per_chunk = read_header(|h| h.cpus.per_chunk);
    let chunks = published.div_ceil(per_chunk);
    let Some(dir) = t.page() else { return };
    write_header(|h| h.cpus.dir[0] = dir.phys);
    let Some(dir_virt) = phys_to_virt(dir.phys) else {
        return;
    };
    for c in 0..chunks {
        let Some(chunk) = t.page() else { break };
        // SAFETY: our zeroed directory page; entry `c` is published by the `nchunks` store
        // below, after this write.
        unsafe {
            (dir_virt as *mut u64)
                .add(c as usize)
                .write_volatile(chunk.phys)
        };
        write_header(|h| h.cpus.nchunks += 1);
    }
    drop(t);
    for id in 0..published {
        let Some(c) = read_header(|h| slot_ptr(&h.cpus, id)) else {
            break;
        };
        // (Single-threaded boot: no other CPU writes the header yet.)
        let bsp = id == 0;
        CPU_RECS[id as usize].store(c.cast(), Ordering::Release);
        CpuSlot { rec: c.cast() }.update(|r| {
            r.live = SLOT_LIVE;
            r.cpu_id = id;
            r.apic_id = if bsp { bsp_apic_id } else { APIC_ID_UNKNOWN };
            r.flags = if bsp { CPUF_ONLINE | CPUF_BSP } else { 0 };
        });
    }
    let _t = TABLES.lock();
    write_header(|h| {
        // Mix the TSC so that two boots with close TSCs still differ in many bits.
        h.boot_generation = boot_generation.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        h.ncpus = ncpus;
        h.cpus.high_water = published;
        h.cpus.live = published;
        h.dropped = h.dropped.saturating_add(ncpus - published);
        h.features = FEATURE_CPUS | FEATURE_DUMP_PORT;
    });
}

/// Marks the kernel `running`: boot is complete (every CPU that will start has started and
/// published itself), so a dump from now on shows the machine in its steady shape.
pub fn boot_done() {
    let _t = TABLES.lock();
    write_header(|h| h.kernel_state = KSTATE_RUNNING);
}

/// Announces that process and LWP records are maintained (the LWP subsystem calls this once
/// it publishes every process and LWP).
pub fn enable_procs() {
    let _t = TABLES.lock();
    write_header(|h| h.features |= FEATURE_PROCS);
}

// ---------------------------------------------------------------------------------------------
// Dump requests.
// ---------------------------------------------------------------------------------------------

/// The last dump request id handed out.
static NEXT_DUMP_ID: AtomicU32 = AtomicU32::new(0);

/// The next request id (never 0 or `DUMP_NOT_SERVED`).
fn next_dump_id() -> u32 {
    loop {
        let n = NEXT_DUMP_ID.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if n != 0 && n != DUMP_NOT_SERVED {
            return n;
        }
    }
}

/// Writes request `id` to the dump port (the VMM pauses, dumps and resumes before the `out`
/// completes) and returns what the port reads afterwards: `id` if the VMM served it.
fn dump_port_exchange(id: u32) -> u32 {
    let served: u32;
    // SAFETY: port I/O on the dump port touches no Rust-visible memory. Deliberately not
    // `nomem`: the VMM reads guest memory during the `out` (and writes a scenario request's
    // answer), so every earlier store must be emitted before it and no later load hoisted
    // above it.
    unsafe {
        asm!("out dx, eax", in("dx") DUMP_PORT, in("eax") id, options(nostack, preserves_flags));
        asm!("in eax, dx", out("eax") served, in("dx") DUMP_PORT, options(nostack, preserves_flags));
    }
    served
}

/// Asks the VMM for a dump; `id` identifies the request in the dump (0 and `u32::MAX` are
/// replaced by the next id). Returns whether the VMM served it. Costs two port exits.
pub fn dump_request(id: u32) -> bool {
    let id = match id {
        0 | DUMP_NOT_SERVED => next_dump_id(),
        n => n,
    };
    {
        let _t = TABLES.lock();
        write_header(|h| {
            h.dump_requests = h.dump_requests.wrapping_add(1);
            h.last_dump_id = id;
        });
    }
    dump_port_exchange(id) == id
}

/// The block through which [`scenario_dump`] forwards a request (shared_abi::scenario,
/// "Kernel → VMM"): physically contiguous because it is in the image's `.bss` (zero at boot,
/// nothing to allocate), at its largest size.
#[repr(C, align(4096))]
struct ScenarioArea(UnsafeCell<[u8; SCENARIO_BLOCK_MAX]>);

// SAFETY: the area is only accessed by the holder of `SCENARIO_BUSY`, and by the VMM while
// that holder waits in its dump-port `out`.
unsafe impl Sync for ScenarioArea {}

static SCENARIO_AREA: ScenarioArea = ScenarioArea(UnsafeCell::new([0; SCENARIO_BLOCK_MAX]));

/// Set while a scenario request owns [`SCENARIO_AREA`].
static SCENARIO_BUSY: AtomicBool = AtomicBool::new(false);

/// Releases [`SCENARIO_BUSY`] when dropped.
struct ScenarioClaim;

impl Drop for ScenarioClaim {
    fn drop(&mut self) {
        SCENARIO_BUSY.store(false, Ordering::Release);
    }
}

/// A bounded view of [`SCENARIO_AREA`]. Called only by the claim holder, and never while the
/// VMM may write the area (during [`dump_port_exchange`]): the returned slice must be dropped
/// before that.
fn scenario_area(_claim: &mut ScenarioClaim, offset: usize, len: usize) -> &mut [u8] {
    let len = len.min(SCENARIO_BLOCK_MAX.saturating_sub(offset));
    let offset = offset.min(SCENARIO_BLOCK_MAX);
    // SAFETY: `offset + len <= SCENARIO_BLOCK_MAX` (clamped above); the claim makes this CPU
    // the area's only user, and callers drop the slice before the VMM may write the area.
    unsafe { core::slice::from_raw_parts_mut(SCENARIO_AREA.0.get().cast::<u8>().add(offset), len) }
}

/// Forwards a scenario dump request to the VMM (`lwpvm_dump(LWPVM_DUMP_SCENARIO, &req)`;
/// the protocol is shared_abi::scenario): dump `dump_index` of the scenario whose fingerprint
/// is `fingerprint`. `fill_bindings` writes the `bindings_len` bytes of bindings text into the
/// block (the system call copies them from user memory; its error is returned as is);
/// `deliver` receives the verdicts, `min(n, verdicts_len)` bytes, when the VMM evaluated `n`
/// assertions.
///
/// Returns `n`, or `-errno`: `E2BIG` over the limits, `EBUSY` while another request is in
/// flight, `ENODEV` when no VMM serves dump requests (QEMU), `EPROTO` when a VMM dumped
/// without answering, or the VMM's refusal (`ENOENT`, `ESTALE`, `ERANGE`, `EBADMSG`,
/// `EPROTO`). Costs two port exits, the copies, and a few dozen stores.
pub fn scenario_dump(
    dump_index: u32,
    fingerprint: u64,
    bindings_len: usize,
    verdicts_len: usize,
    fill_bindings: impl FnOnce(&mut [u8]) -> Result<(), i32>,
    deliver: impl FnOnce(&[u8]) -> Result<(), i32>,
) -> isize {
    if bindings_len > MAX_BINDINGS_LEN || verdicts_len > MAX_VERDICTS {
        return -(errno::E2BIG as isize);
    }
    if SCENARIO_BUSY
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return -(errno::EBUSY as isize);
    }
    let mut claim = ScenarioClaim;
    if let Err(e) = fill_bindings(scenario_area(
        &mut claim,
        SCENARIO_BLOCK_HEADER_SIZE,
        bindings_len,
    )) {
        return -(e as isize);
    }
    let id = next_dump_id();
    let block = ScenarioDumpBlock {
        magic: SCENARIO_BLOCK_MAGIC,
        request_id: id,
        dump_index,
        bindings_len: bindings_len as u32,
        fingerprint,
        verdicts_len: verdicts_len as u32,
        ..ScenarioDumpBlock::ZERO
    };
    block.encode_into(scenario_area(&mut claim, 0, SCENARIO_BLOCK_HEADER_SIZE));
    let Some(phys) = virt_to_phys(SCENARIO_AREA.0.get() as u64) else {
        return -(errno::EFAULT as isize);
    };
    {
        let _t = TABLES.lock();
        write_header(|h| {
            h.dump_requests = h.dump_requests.wrapping_add(1);
            h.last_dump_id = id;
            h.scenario_request = phys;
        });
    }
    let served = dump_port_exchange(id);
    {
        let _t = TABLES.lock();
        write_header(|h| h.scenario_request = 0);
    }
    if served != id {
        return -(errno::ENODEV as isize);
    }
    let base = SCENARIO_AREA.0.get().cast::<u8>();
    // SAFETY: aligned u32s of the block header (at 4-byte offsets of a page-aligned area),
    // read volatile because the VMM wrote them; it no longer writes (the `out` completed).
    let (answered, result) = unsafe {
        (
            base.add(BLOCK_ANSWERED_OFFSET)
                .cast::<u32>()
                .read_volatile(),
            base.add(BLOCK_RESULT_OFFSET).cast::<i32>().read_volatile(),
        )
    };
    if answered != id {
        return -(errno::EPROTO as isize);
    }
    if result >= 0 {
        let n = (result as usize).min(verdicts_len);
        let verdicts = scenario_area(&mut claim, SCENARIO_BLOCK_HEADER_SIZE + bindings_len, n);
        if let Err(e) = deliver(verdicts) {
            return -(e as isize);
        }
    }
    result as isize
}

/// `SYS_LWPVM_DUMP(what, arg)`: `what == 0` asks for a dump of everything (`arg` = request id,
/// 0 for the next one): 0 when the VMM dumped, `-ENODEV` when no VMM serves dump requests
/// (QEMU, or a VMM run without `--dump-on request`). `what == LWPVM_DUMP_SCENARIO`: `arg` is
/// the user address of a `ScenarioDumpRequest` ([`scenario_dump`]). Other `what`: `-EINVAL`.
#[allow(dead_code)] // the system-call table will call this
pub fn sys_lwpvm_dump(what: usize, arg: usize) -> isize {
    match what {
        0 => {
            let Ok(id) = u32::try_from(arg) else {
                return -(errno::EINVAL as isize);
            };
            if dump_request(id) {
                0
            } else {
                -(errno::ENODEV as isize)
            }
        }
        LWPVM_DUMP_SCENARIO => sys_scenario_dump(UserPtr(arg as u64)),
        _ => -(errno::EINVAL as isize),
    }
}

/// `lwpvm_dump(LWPVM_DUMP_SCENARIO, req)`.
fn sys_scenario_dump(req: UserPtr) -> isize {
    // ScenarioDumpRequest, read as the six little-endian words it is made of (shared-abi
    // checks its layout): dump_index | flags << 32, fingerprint, bindings, bindings_len,
    // verdicts, verdicts_len.
    const _: () = assert!(core::mem::size_of::<ScenarioDumpRequest>() == 48);
    let w = match uaccess::read_user::<[u64; 6]>(req) {
        Ok(w) => w,
        Err(e) => return -(e as isize),
    };
    let (dump_index, flags) = (w[0] as u32, (w[0] >> 32) as u32);
    let (bindings, bindings_len) = (UserPtr(w[2]), w[3]);
    let (verdicts, verdicts_len) = (UserPtr(w[4]), w[5]);
    if flags != 0 {
        return -(errno::EINVAL as isize);
    }
    if bindings_len > MAX_BINDINGS_LEN as u64 || verdicts_len > MAX_VERDICTS as u64 {
        return -(errno::E2BIG as isize);
    }
    if let Err(e) = uaccess::check_range(verdicts, verdicts_len as usize) {
        return -(e as isize);
    }
    scenario_dump(
        dump_index,
        w[1],
        bindings_len as usize,
        verdicts_len as usize,
        |buf| uaccess::copy_from_user(buf, bindings),
        |v| uaccess::copy_to_user(verdicts, v),
    )
}

// ---------------------------------------------------------------------------------------------
// Host-posted signals.
// ---------------------------------------------------------------------------------------------

/// A signal the host posted in the mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)]
pub struct HostSignal {
    /// The mailbox request number (pass it to [`ack_host_signal`]).
    pub req: u32,
    /// Target process.
    pub pid: i32,
    /// Signal number.
    pub signo: i32,
    /// `SI_KERNEL` or `SI_QUEUE`.
    pub code: i32,
    /// `si_value`.
    pub value: u64,
}

/// Announces that the kernel handles the host-signal mailbox (GSI `HOST_SIGNAL_GSI` is routed
/// and its handler calls [`take_host_signal`]).
#[allow(dead_code)]
pub fn enable_host_signals() {
    let _t = TABLES.lock();
    write_header(|h| h.features |= FEATURE_HOST_SIGNAL);
}

/// The pending host signal, if the VMM posted one not yet acknowledged.
#[allow(dead_code)]
pub fn take_host_signal() -> Option<HostSignal> {
    let _t = TABLES.lock();
    let base = HEADER
        .0
        .get()
        .cast::<u8>()
        .wrapping_add(offset_of!(InspectHeader, mailbox));
    // SAFETY: `req` is an aligned u32 of the static header that the VMM writes last; the
    // acquire load orders the field reads after it.
    let req = unsafe { AtomicU32::from_ptr(base.cast::<u32>()) }.load(Ordering::Acquire);
    read_header(|h| {
        let m = h.mailbox;
        (req != m.ack).then_some(HostSignal {
            req,
            pid: m.pid,
            signo: m.signo,
            code: m.code,
            value: m.value,
        })
    })
}

/// Acknowledges mailbox request `req` with `result` (0 or `-errno`).
#[allow(dead_code)]
pub fn ack_host_signal(req: u32, result: i32) {
    let _t = TABLES.lock();
    write_header(|h| {
        h.mailbox.result = result;
        h.mailbox.ack = req;
    });
}

// ---------------------------------------------------------------------------------------------
// Panic.
// ---------------------------------------------------------------------------------------------

/// A fixed buffer `core::fmt` can write into (truncating).
struct MsgBuf {
    buf: [u8; PANIC_MSG_LEN],
    len: usize,
}

impl core::fmt::Write for MsgBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.buf.len() - self.len;
        let mut n = s.len().min(room);
        while n > 0 && !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Records a panic in the header (kernel state `PANICKED`, CPU, message and location), for a
/// dump taken when the VMM sees the panic status. Never blocks: if another CPU holds the table
/// lock it writes anyway (the panicking CPU is the last writer that matters).
pub fn note_panic(cpu_id: u32, info: &PanicInfo<'_>) {
    let mut m = MsgBuf {
        buf: [0; PANIC_MSG_LEN],
        len: 0,
    };
    let _ = write!(m, "{}", info.message());
    if let Some(loc) = info.location() {
        let _ = write!(m, " at {}:{}", loc.file(), loc.line());
    }
    let _guard = TABLES.try_lock();
    write_header(|h| {
        h.kernel_state = KSTATE_PANICKED;
        h.panic_cpu = cpu_id;
        h.panic_len = m.len as u32;
        h.panic_msg = m.buf;
    });
}
