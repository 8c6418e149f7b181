//! The inspection table: what the guest kernel publishes in its own memory so that the VMM can
//! read its CPUs, processes and LWPs without the guest's help — while the guest is paused, or
//! after it crashed.
//!
//! # Finding the table
//!
//! The kernel image carries an ELF note ([`NOTE_NAME`] `"lwpvm"`, type [`NT_LWPVM_INSPECT`])
//! whose descriptor is an [`InspectNote`]: the guest-physical address of the [`InspectHeader`],
//! the ABI version and the header size. The header is a `static` in the kernel image with a
//! constant initialiser (magic, version, sizes already set in the file), so the VMM knows where
//! it is from the moment it loads the kernel, and a dump works even if the guest dies before
//! its first instruction of inspection code ([`InspectHeader::kernel_state`] then says
//! `BOOTING`). QEMU ignores the note.
//!
//! # Layout
//!
//! ```text
//! InspectHeader (static, in the image)      directory page (4 KiB)     chunk (4 KiB)
//! ┌────────────────────────────┐            ┌──────────────────┐       ┌──────────────┐
//! │ magic, version, sizes, seq │            │ chunk GPA [0]    │──────▶│ record 0     │
//! │ cpus  TableDesc ─ dir[32] ─┼──────────▶ │ chunk GPA [1]    │       │ record 1 ... │
//! │ procs TableDesc ─ dir[32]  │            │ ... [511]        │       └──────────────┘
//! │ lwps  TableDesc ─ dir[32]  │            └──────────────────┘
//! │ host-signal mailbox, panic │
//! └────────────────────────────┘
//! ```
//!
//! Each table ([`TableDesc`]) is an array of fixed-size records split into [`CHUNK_SIZE`]
//! chunks (4 KiB pages the kernel allocates at run time), reached through a two-level directory
//! of guest-physical addresses: `dir[i]` is a directory page of [`CHUNKS_PER_DIR`] chunk
//! addresses. Slot `s` lives in chunk `s / per_chunk` at index `s % per_chunk`. The kernel grows
//! a table by filling a directory entry and *then* publishing the larger `nchunks` (release
//! order), so nothing ever moves: the VMM never sees a record at two addresses. Capacity with
//! [`DIR_ENTRIES`] = 32: 131,072 LWPs, 32,768 processes.
//!
//! A slot is in use when its `live` field is 1 (0 = free; any other value is corruption). The
//! VMM scans slots `0..min(high_water, nchunks * per_chunk)` and trusts nothing: every address,
//! count and state is bounds-checked, and decoding never panics.
//!
//! # Sequence counters
//!
//! The header and every record begin with a `u32` sequence counter (Linux's seqcount): even =
//! stable, odd = being written. The writer increments it (odd), writes the fields, and
//! increments it again (even) with release ordering. A reader reads the counter, the record,
//! and the counter again; if the first value is odd or the two differ, the record was torn: it
//! retries a bounded number of times and then reports it as torn (with the bytes it saw). In a
//! paused guest an odd counter means a vCPU was stopped in the middle of an update.
//!
//! # Rules for every type here
//!
//! `#[repr(C)]`, little-endian x86_64, no implicit padding (explicit `pad`/`reserved` fields,
//! checked at compile time: the sizes of the fields add up to the size of the type), every bit
//! pattern valid (no enums, no `bool`: states are `u32` decoded with [`TryFrom`]). The
//! [`Record`] trait reads and writes each type field by field from/to bytes, so the VMM decodes
//! guest memory without `unsafe`, and synthetic tables for tests are written the same way.
//!
//! # Host-posted signals (mailbox)
//!
//! `vmm signal` posts a signal through [`HostSignalMailbox`]: with the guest paused the VMM
//! checks `ack == req` (mailbox free), writes `pid`, `signo`, `code` ([`SI_KERNEL`] by default,
//! or [`SI_QUEUE`] with `value` as `si_value`), then `req += 1`, resumes the guest and raises
//! GSI [`super::ports::HOST_SIGNAL_GSI`] through an irqfd. The guest's handler posts the signal
//! as if `kill`/`sigqueue` from pid 0, writes `result` (0 or `-errno`) and sets `ack = req`. The
//! VMM posts only if the guest sets [`FEATURE_HOST_SIGNAL`] in `features`.
//!
//! # Dump requests
//!
//! The guest asks for a dump by writing a 32-bit request id to [`super::ports::DUMP_PORT`]; the
//! VMM pauses every vCPU, dumps, and resumes. A read of the port returns the id of the last
//! request the VMM dumped, or all-ones if the VMM does not serve dump requests (the port is then
//! unclaimed, as under QEMU).
//!
//! A *scenario* dump request (`lwpvm_dump(LWPVM_DUMP_SCENARIO, ...)`) is a dump request whose
//! id matches a `super::scenario::ScenarioDumpBlock` the kernel published in
//! [`InspectHeader::scenario_request`] just before the port write: the VMM evaluates the
//! scenario's dump assertions on the dump and answers in the block (see `super::scenario`).
//!
//! # Core files
//!
//! A process dying of a signal whose default action dumps core: the kernel fills
//! [`InspectHeader::core_request`] (pid, signal, code, address) and writes the dump port; a VMM
//! run with a core directory writes an ELF core of that process (its LWPs' registers from their
//! records, its memory found by walking its page tables) besides the dump. The kernel clears
//! the request after the port write returns.
//!
//! [`SI_KERNEL`]: super::signal::SI_KERNEL
//! [`SI_QUEUE`]: super::signal::SI_QUEUE

use core::mem::{offset_of, size_of};

// ---------------------------------------------------------------------------------------------
// The codec.
// ---------------------------------------------------------------------------------------------

/// A fixed-size little-endian value in an inspection record, read and written field by field.
///
/// `get` and `put` take slices at least [`Record::SIZE`] long (they index them; callers go
/// through [`Record::decode`] / [`Record::encode_into`], which check the length).
pub trait Record: Sized + Copy {
    /// Size in bytes (equal to `size_of::<Self>()`, checked at compile time).
    const SIZE: usize;
    /// The all-zero value.
    const ZERO: Self;
    /// Reads from `b[..SIZE]`.
    fn get(b: &[u8]) -> Self;
    /// Writes to `b[..SIZE]`.
    fn put(&self, b: &mut [u8]);

    /// Decodes from the start of `bytes`, or `None` if it is shorter than [`Self::SIZE`].
    fn decode(bytes: &[u8]) -> Option<Self> {
        (bytes.len() >= Self::SIZE).then(|| Self::get(bytes))
    }

    /// Encodes into the start of `out`; `false` (and nothing written) if it is too short.
    fn encode_into(&self, out: &mut [u8]) -> bool {
        if out.len() < Self::SIZE {
            return false;
        }
        self.put(out);
        true
    }
}

macro_rules! le_int {
    ($($t:ty),*) => {$(
        impl Record for $t {
            const SIZE: usize = size_of::<$t>();
            const ZERO: Self = 0;
            fn get(b: &[u8]) -> Self {
                let mut a = [0u8; size_of::<$t>()];
                a.copy_from_slice(&b[..size_of::<$t>()]);
                <$t>::from_le_bytes(a)
            }
            fn put(&self, b: &mut [u8]) {
                b[..size_of::<$t>()].copy_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
le_int!(u8, u16, u32, u64, i32, i64);

impl<T: Record, const N: usize> Record for [T; N] {
    const SIZE: usize = T::SIZE * N;
    const ZERO: Self = [T::ZERO; N];
    fn get(b: &[u8]) -> Self {
        core::array::from_fn(|i| T::get(&b[i * T::SIZE..]))
    }
    fn put(&self, b: &mut [u8]) {
        for (i, v) in self.iter().enumerate() {
            v.put(&mut b[i * T::SIZE..]);
        }
    }
}

/// Declares a `#[repr(C)]` record, its [`Record`] codec, and the compile-time checks that its
/// fields are laid out with no hole (the field sizes add up to the struct size, and each
/// field's codec size is its memory size).
macro_rules! record {
    (
        $(#[$m:meta])*
        pub struct $name:ident { $( $(#[$fm:meta])* pub $f:ident : $t:ty ),* $(,)? }
        size = $size:expr;
    ) => {
        $(#[$m])*
        #[repr(C)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name { $( $(#[$fm])* pub $f: $t ),* }

        impl Record for $name {
            const SIZE: usize = $size;
            const ZERO: Self = Self { $( $f: <$t as Record>::ZERO ),* };
            fn get(b: &[u8]) -> Self {
                Self { $( $f: <$t as Record>::get(&b[offset_of!($name, $f)..]) ),* }
            }
            fn put(&self, b: &mut [u8]) {
                $( Record::put(&self.$f, &mut b[offset_of!($name, $f)..]); )*
            }
        }

        impl Default for $name {
            fn default() -> Self {
                <Self as Record>::ZERO
            }
        }

        const _: () = {
            assert!(size_of::<$name>() == $size);
            assert!(0 $(+ <$t as Record>::SIZE)* == $size, "a padding hole: add explicit pad fields");
            $( assert!(<$t as Record>::SIZE == size_of::<$t>()); )*
        };
    };
}

// ---------------------------------------------------------------------------------------------
// Constants.
// ---------------------------------------------------------------------------------------------

/// ELF note name (with its NUL, `namesz` = 6) of the note locating the header.
pub const NOTE_NAME: &[u8; 6] = b"lwpvm\0";
/// ELF note type of the [`InspectNote`] ("LW").
pub const NT_LWPVM_INSPECT: u32 = 0x4c57;

/// [`InspectHeader::magic`]: `"LWPVMINS"` read as a little-endian u64.
pub const INSPECT_MAGIC: u64 = u64::from_le_bytes(*b"LWPVMINS");
/// Size of a chunk of records and of a directory page: one 4 KiB page.
pub const CHUNK_SIZE: usize = 4096;
/// Chunk addresses per directory page.
pub const CHUNKS_PER_DIR: usize = CHUNK_SIZE / 8;
/// Directory pages per table.
pub const DIR_ENTRIES: usize = 32;
/// Most chunks a table can have.
pub const MAX_CHUNKS: usize = DIR_ENTRIES * CHUNKS_PER_DIR;
/// Queued siginfos shown per pending queue ([`QueueSummary::entries`]).
pub const QUEUE_SHOWN: usize = 6;
/// Bytes of the wait-channel name ([`LwpRecord::wmesg`], NUL-padded).
pub const WMESG_LEN: usize = 16;
/// Bytes of the process name ([`ProcRecord::name`], NUL-padded).
pub const PROC_NAME_LEN: usize = 16;
/// Bytes of the panic message ([`InspectHeader::panic_msg`], NUL-padded).
pub const PANIC_MSG_LEN: usize = 256;

/// `live`: the slot is free.
pub const SLOT_FREE: u32 = 0;
/// `live`: the slot holds a record.
pub const SLOT_LIVE: u32 = 1;

/// [`InspectHeader::kernel_state`]: before `inspect::init` (the header is the image's
/// initialiser).
pub const KSTATE_BOOTING: u32 = 0;
/// The kernel is running.
pub const KSTATE_RUNNING: u32 = 1;
/// The kernel panicked (`panic_msg` says why).
pub const KSTATE_PANICKED: u32 = 2;

/// `features`: CPU records are maintained.
pub const FEATURE_CPUS: u32 = 1 << 0;
/// `features`: process and LWP records are maintained.
pub const FEATURE_PROCS: u32 = 1 << 1;
/// `features`: the kernel handles the host-signal mailbox (GSI `HOST_SIGNAL_GSI`).
pub const FEATURE_HOST_SIGNAL: u32 = 1 << 2;
/// `features`: the kernel may request dumps through the dump port.
pub const FEATURE_DUMP_PORT: u32 = 1 << 3;
/// Names of the feature bits, lowest first.
pub const FEATURE_NAMES: [(u32, &str); 4] = [
    (FEATURE_CPUS, "cpus"),
    (FEATURE_PROCS, "procs"),
    (FEATURE_HOST_SIGNAL, "host_signal"),
    (FEATURE_DUMP_PORT, "dump_port"),
];

/// [`CpuRecord::apic_id`] of a CPU that has not started yet.
pub const APIC_ID_UNKNOWN: u32 = u32::MAX;

/// [`CpuRecord::flags`]: the CPU is online (started and running the kernel).
pub const CPUF_ONLINE: u32 = 1 << 0;
/// [`CpuRecord::flags`]: this is the bootstrap processor.
pub const CPUF_BSP: u32 = 1 << 1;

/// [`ProcRecord::flags`]: the process is exiting.
pub const PROCF_EXITING: u32 = 1 << 0;
/// [`ProcRecord::flags`]: the process is dying of a signal that dumps core.
pub const PROCF_COREDUMP: u32 = 1 << 1;
/// [`ProcRecord::flags`]: the process is init (pid 1).
pub const PROCF_INIT: u32 = 1 << 2;
/// Names of the process flag bits.
pub const PROCF_NAMES: [(u32, &str); 3] = [
    (PROCF_EXITING, "exiting"),
    (PROCF_COREDUMP, "coredump"),
    (PROCF_INIT, "init"),
];

/// [`LwpRecord::flags`]: created detached.
pub const LWPF_DETACHED: u32 = 1 << 0;
/// [`LwpRecord::flags`]: an `_lwp_suspend` is pending (acted on at the next userret).
pub const LWPF_SUSPEND_PENDING: u32 = 1 << 1;
/// [`LwpRecord::flags`]: the LWP is exiting.
pub const LWPF_EXITING: u32 = 1 << 2;
/// [`LwpRecord::flags`]: the current sleep is interruptible by signals.
pub const LWPF_SINTR: u32 = 1 << 3;
/// [`LwpRecord::flags`]: a sigfastblock word is registered.
pub const LWPF_SIGFASTBLOCK: u32 = 1 << 4;
/// [`LwpRecord::flags`]: an lpmap page is mapped.
pub const LWPF_LPMAP: u32 = 1 << 5;
/// [`LwpRecord::flags`]: inside a system call (`syscall` is its number).
pub const LWPF_IN_SYSCALL: u32 = 1 << 6;
/// [`LwpRecord::flags`]: `saved_sigmask` holds the mask to restore (sigsuspend, pselect).
pub const LWPF_SAVED_MASK: u32 = 1 << 7;
/// [`LwpRecord::flags`]: the LWP is on its alternate signal stack.
pub const LWPF_ON_ALTSTACK: u32 = 1 << 8;
/// [`LwpRecord::flags`]: a kernel thread (no user context).
pub const LWPF_SYSTEM: u32 = 1 << 9;
/// Names of the LWP flag bits.
pub const LWPF_NAMES: [(u32, &str); 10] = [
    (LWPF_DETACHED, "detached"),
    (LWPF_SUSPEND_PENDING, "suspend_pending"),
    (LWPF_EXITING, "exiting"),
    (LWPF_SINTR, "sintr"),
    (LWPF_SIGFASTBLOCK, "sigfastblock"),
    (LWPF_LPMAP, "lpmap"),
    (LWPF_IN_SYSCALL, "in_syscall"),
    (LWPF_SAVED_MASK, "saved_mask"),
    (LWPF_ON_ALTSTACK, "on_altstack"),
    (LWPF_SYSTEM, "system"),
];

/// [`CpuRecord::cur_pid`] / `cur_lid` when no LWP is current (idle or in the kernel's own
/// context).
pub const NO_LWP: i32 = 0;
/// [`LwpRecord::cpu`] when the LWP has never run; also [`LwpRecord::syscall`] outside a call.
pub const NONE_I32: i32 = -1;

// ---------------------------------------------------------------------------------------------
// Process states.
// ---------------------------------------------------------------------------------------------

/// NetBSD process states (`p_stat`, NetBSD/src `sys/sys/proc.h`: `SIDL` 1 .. `SDEAD` 6).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcState {
    /// Being created by fork (`SIDL`).
    Idle = 1,
    /// Active (`SACTIVE`).
    Active = 2,
    /// Exiting, LWPs being torn down (`SDYING`).
    Dying = 3,
    /// Stopped by a job-control signal (`SSTOP`).
    Stop = 4,
    /// Exited, awaiting collection by the parent (`SZOMB`).
    Zombie = 5,
    /// Collected, being freed (`SDEAD`).
    Dead = 6,
}

/// A process state number that is not a [`ProcState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InvalidProcState(pub u32);

impl ProcState {
    /// NetBSD's name (`"SACTIVE"` ...).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Idle => "SIDL",
            Self::Active => "SACTIVE",
            Self::Dying => "SDYING",
            Self::Stop => "SSTOP",
            Self::Zombie => "SZOMB",
            Self::Dead => "SDEAD",
        }
    }

    /// The state numbered `v`, if any.
    pub const fn from_u32(v: u32) -> Option<Self> {
        match v {
            1 => Some(Self::Idle),
            2 => Some(Self::Active),
            3 => Some(Self::Dying),
            4 => Some(Self::Stop),
            5 => Some(Self::Zombie),
            6 => Some(Self::Dead),
            _ => None,
        }
    }
}

impl TryFrom<u32> for ProcState {
    type Error = InvalidProcState;
    fn try_from(v: u32) -> Result<Self, InvalidProcState> {
        Self::from_u32(v).ok_or(InvalidProcState(v))
    }
}

// ---------------------------------------------------------------------------------------------
// Records.
// ---------------------------------------------------------------------------------------------

record! {
    /// The descriptor of the ELF note that locates the header (note name [`NOTE_NAME`], type
    /// [`NT_LWPVM_INSPECT`]).
    pub struct InspectNote {
        /// Guest-physical address of the [`InspectHeader`].
        pub header_gpa: u64,
        /// [`super::ABI_VERSION`] of the kernel.
        pub abi_version: u32,
        /// `size_of::<InspectHeader>()` of the kernel.
        pub header_size: u32,
    }
    size = 16;
}

record! {
    /// One table of records: sizes, how far it has grown, and its directory.
    pub struct TableDesc {
        /// Bytes per record (≥ the size the reader knows; a newer kernel may append fields).
        pub record_size: u32,
        /// Records per chunk (`CHUNK_SIZE / record_size`).
        pub per_chunk: u32,
        /// Chunks published (their directory entries are valid).
        pub nchunks: u32,
        /// Slots ever handed out: the reader scans `0..min(high_water, nchunks * per_chunk)`.
        pub high_water: u32,
        /// Slots in use now (informative; the reader counts live slots itself).
        pub live: u32,
        /// Explicit padding.
        pub pad: u32,
        /// Guest-physical addresses of the directory pages (0 = none yet).
        pub dir: [u64; DIR_ENTRIES],
    }
    size = 280;
}

record! {
    /// A `siginfo` waiting in a pending queue, reduced to what identifies it.
    pub struct QueuedSigInfo {
        /// `si_signo`.
        pub signo: i32,
        /// `si_code` (`SI_USER`, `SI_QUEUE`, `SI_KERNEL` ...).
        pub code: i32,
        /// `si_pid` of the sender (0 for the kernel).
        pub pid: i32,
        /// `si_uid` of the sender.
        pub uid: u32,
        /// `si_value` (`sival_ptr` / `sival_int`), or the fault address for faults.
        pub value: u64,
    }
    size = 24;
}

record! {
    /// A pending queue: how many siginfos it holds and the first [`QUEUE_SHOWN`] of them, in
    /// queue order.
    pub struct QueueSummary {
        /// Siginfos queued in total.
        pub count: u32,
        /// Entries of `entries` that are valid (`min(count, QUEUE_SHOWN)`).
        pub shown: u32,
        /// The first queued siginfos.
        pub entries: [QueuedSigInfo; QUEUE_SHOWN],
    }
    size = 152;
}

record! {
    /// One signal's disposition (the kernel's `sigaction`).
    pub struct SigDisposition {
        /// `sa_handler`: `SIG_DFL` (0), `SIG_IGN` (1) or a user address.
        pub handler: u64,
        /// `sa_flags`.
        pub flags: u64,
        /// `sa_mask`.
        pub mask: u64,
    }
    size = 24;
}

record! {
    /// User registers saved when an LWP is off CPU, in Linux `sigcontext` order, plus the
    /// FS and GS bases.
    pub struct UserRegs {
        /// r8.
        pub r8: u64,
        /// r9.
        pub r9: u64,
        /// r10.
        pub r10: u64,
        /// r11.
        pub r11: u64,
        /// r12.
        pub r12: u64,
        /// r13.
        pub r13: u64,
        /// r14.
        pub r14: u64,
        /// r15.
        pub r15: u64,
        /// rdi.
        pub rdi: u64,
        /// rsi.
        pub rsi: u64,
        /// rbp.
        pub rbp: u64,
        /// rbx.
        pub rbx: u64,
        /// rdx.
        pub rdx: u64,
        /// rax.
        pub rax: u64,
        /// rcx.
        pub rcx: u64,
        /// rsp.
        pub rsp: u64,
        /// rip.
        pub rip: u64,
        /// rflags.
        pub rflags: u64,
        /// FS base.
        pub fs_base: u64,
        /// GS base (the user's, `KERNEL_GS_BASE` while in the kernel).
        pub gs_base: u64,
    }
    size = 160;
}

record! {
    /// Host → guest signal request (see the module docs).
    pub struct HostSignalMailbox {
        /// Request number: the VMM increments it after filling the fields.
        pub req: u32,
        /// The guest sets it to `req` once it has acted on the request.
        pub ack: u32,
        /// Target process.
        pub pid: i32,
        /// Signal number.
        pub signo: i32,
        /// `si_code`: `SI_KERNEL` (0x80) or `SI_QUEUE` (-1).
        pub code: i32,
        /// The guest's answer: 0 or `-errno` (valid once `ack == req`).
        pub result: i32,
        /// `si_value` (with `SI_QUEUE`).
        pub value: u64,
    }
    size = 32;
}

record! {
    /// A core file the kernel asks for (a "+core" death, signals-abi §2): filled before the
    /// kernel writes the dump port, cleared (`pid` = 0) after.
    pub struct CoreRequest {
        /// The dying process (0 = no request).
        pub pid: i32,
        /// The signal that kills it.
        pub signo: i32,
        /// Its `si_code`.
        pub code: i32,
        /// Explicit padding.
        pub pad: u32,
        /// `si_addr` for faults, else 0.
        pub addr: u64,
    }
    size = 24;
}

record! {
    /// The header of the inspection table (see the module docs).
    pub struct InspectHeader {
        /// [`INSPECT_MAGIC`].
        pub magic: u64,
        /// [`super::ABI_VERSION`].
        pub abi_version: u32,
        /// `size_of::<InspectHeader>()`.
        pub header_size: u32,
        /// Sequence counter of the header's own fields (tables, counts).
        pub seq: u32,
        /// `KSTATE_*`.
        pub kernel_state: u32,
        /// Differs between boots (TSC at boot, mixed): tells dumps of different boots apart.
        pub boot_generation: u64,
        /// `FEATURE_*` bits.
        pub features: u32,
        /// CPUs the kernel counted.
        pub ncpus: u32,
        /// [`CHUNK_SIZE`].
        pub chunk_size: u32,
        /// [`DIR_ENTRIES`].
        pub dir_entries: u32,
        /// Records the kernel could not publish for lack of memory.
        pub dropped: u32,
        /// Explicit padding.
        pub pad0: u32,
        /// Per-CPU records ([`CpuRecord`]).
        pub cpus: TableDesc,
        /// Process records ([`ProcRecord`]).
        pub procs: TableDesc,
        /// LWP records ([`LwpRecord`]).
        pub lwps: TableDesc,
        /// Host-posted signals.
        pub mailbox: HostSignalMailbox,
        /// Dump requests the guest made.
        pub dump_requests: u32,
        /// Id of the last dump request the guest made.
        pub last_dump_id: u32,
        /// CPU that panicked (valid when `kernel_state` is `PANICKED`).
        pub panic_cpu: u32,
        /// Bytes of `panic_msg` in use.
        pub panic_len: u32,
        /// The panic message (UTF-8, truncated).
        pub panic_msg: [u8; PANIC_MSG_LEN],
        /// A core file request (with a dump-port write).
        pub core_request: CoreRequest,
        /// Guest-physical address of a scenario dump request block
        /// (`super::scenario::ScenarioDumpBlock`) while one is in flight, else 0.
        pub scenario_request: u64,
        /// Room for later fields.
        pub reserved: [u64; 6],
    }
    size = 1280;
}

/// Size of the header.
pub const HEADER_SIZE: usize = size_of::<InspectHeader>();

const _: () = {
    assert!(HEADER_SIZE <= CHUNK_SIZE);
    assert!(offset_of!(InspectHeader, magic) == 0);
    assert!(offset_of!(InspectHeader, abi_version) == 8);
    assert!(offset_of!(InspectHeader, header_size) == 12);
    assert!(offset_of!(InspectHeader, seq) == 16);
    assert!(offset_of!(InspectHeader, kernel_state) == 20);
    assert!(offset_of!(InspectHeader, boot_generation) == 24);
    assert!(offset_of!(InspectHeader, features) == 32);
    assert!(offset_of!(InspectHeader, ncpus) == 36);
    assert!(offset_of!(InspectHeader, cpus) == 56);
    assert!(offset_of!(InspectHeader, procs) == 336);
    assert!(offset_of!(InspectHeader, lwps) == 616);
    assert!(offset_of!(InspectHeader, mailbox) == 896);
    assert!(offset_of!(InspectHeader, dump_requests) == 928);
    assert!(offset_of!(InspectHeader, panic_msg) == 944);
    assert!(offset_of!(InspectHeader, core_request) == 1200);
    assert!(offset_of!(InspectHeader, scenario_request) == 1224);
    assert!(offset_of!(TableDesc, dir) == 24);
    assert!(offset_of!(HostSignalMailbox, req) == 0);
    assert!(offset_of!(HostSignalMailbox, ack) == 4);
    assert!(offset_of!(HostSignalMailbox, value) == 24);
    assert!(offset_of!(QueueSummary, entries) == 8);
    assert!(offset_of!(UserRegs, rip) == 128);
};

/// Byte offset of the mailbox's `req` in the header (the VMM writes it).
pub const MAILBOX_OFFSET: usize = offset_of!(InspectHeader, mailbox);

record! {
    /// One CPU.
    pub struct CpuRecord {
        /// Sequence counter.
        pub seq: u32,
        /// [`SLOT_LIVE`] once the CPU has a record.
        pub live: u32,
        /// The kernel's CPU number.
        pub cpu_id: u32,
        /// Its local APIC id ([`APIC_ID_UNKNOWN`] until it starts).
        pub apic_id: u32,
        /// Process of the current LWP, or [`NO_LWP`].
        pub cur_pid: i32,
        /// Current LWP, or [`NO_LWP`].
        pub cur_lid: i32,
        /// 1 while the CPU idles (`hlt` in the idle loop), else 0.
        pub idle: u32,
        /// `CPUF_*`.
        pub flags: u32,
        /// Timer ticks taken.
        pub ticks: u64,
        /// Context switches.
        pub context_switches: u64,
        /// Device and IPI interrupts taken (not the timer).
        pub irqs: u64,
        /// System calls entered on this CPU.
        pub syscalls: u64,
        /// Ticks spent idle.
        pub idle_ticks: u64,
        /// Room for later fields.
        pub reserved: [u64; 7],
    }
    size = 128;
}

const _: () = {
    assert!(offset_of!(CpuRecord, seq) == 0);
    assert!(offset_of!(CpuRecord, live) == 4);
    assert!(offset_of!(CpuRecord, cur_pid) == 16);
    assert!(offset_of!(CpuRecord, ticks) == 32);
    assert!(offset_of!(CpuRecord, idle_ticks) == 64);
};

record! {
    /// One process.
    pub struct ProcRecord {
        /// Sequence counter.
        pub seq: u32,
        /// [`SLOT_LIVE`] or [`SLOT_FREE`].
        pub live: u32,
        /// Process id.
        pub pid: i32,
        /// Parent's pid.
        pub ppid: i32,
        /// Process group.
        pub pgid: i32,
        /// Session.
        pub sid: i32,
        /// [`ProcState`] number.
        pub state: u32,
        /// `PROCF_*`.
        pub flags: u32,
        /// Wait status (Linux encoding: `w_exitcode`/`w_termcode`), valid in `SZOMB`.
        pub exit_status: i32,
        /// LWPs in the process.
        pub nlwps: u32,
        /// Runnable or running LWPs.
        pub nrlwps: u32,
        /// Zombie LWPs.
        pub nzlwps: u32,
        /// Detached LWPs.
        pub ndlwps: u32,
        /// LWPs blocked in `_lwp_wait`.
        pub nlwpwait: u32,
        /// Shared (process-directed) pending signals.
        pub pending: u64,
        /// The shared pending queue.
        pub queue: QueueSummary,
        /// User address of the process's lwpctl area (0 if none).
        pub lwpctl_area: u64,
        /// CR3 of its address space (the PML4's physical address).
        pub cr3: u64,
        /// Program name (NUL-padded).
        pub name: [u8; PROC_NAME_LEN],
        /// Dispositions of signals 1..=64 (index `sig - 1`).
        pub actions: [SigDisposition; 64],
        /// Signal that stopped the process (0 if not stopped).
        pub stop_signal: u32,
        /// Explicit padding.
        pub pad: u32,
        /// Signals posted to the process.
        pub signals_received: u64,
        /// Room for later fields.
        pub reserved: [u64; 31],
    }
    size = 2048;
}

const _: () = {
    assert!(offset_of!(ProcRecord, seq) == 0);
    assert!(offset_of!(ProcRecord, pid) == 8);
    assert!(offset_of!(ProcRecord, pending) == 56);
    assert!(offset_of!(ProcRecord, queue) == 64);
    assert!(offset_of!(ProcRecord, lwpctl_area) == 216);
    assert!(offset_of!(ProcRecord, cr3) == 224);
    assert!(offset_of!(ProcRecord, actions) == 248);
    assert!(offset_of!(ProcRecord, stop_signal) == 1784);
};

record! {
    /// One LWP.
    pub struct LwpRecord {
        /// Sequence counter.
        pub seq: u32,
        /// [`SLOT_LIVE`] or [`SLOT_FREE`].
        pub live: u32,
        /// Its process.
        pub pid: i32,
        /// LWP id.
        pub lid: i32,
        /// NetBSD state number ([`super::lwp::LwpState`]).
        pub state: u32,
        /// `LWPF_*`.
        pub flags: u32,
        /// CPU it runs on or last ran on, or [`NONE_I32`].
        pub cpu: i32,
        /// System call in progress (with [`LWPF_IN_SYSCALL`]), else [`NONE_I32`].
        pub syscall: i32,
        /// Signal mask.
        pub sigmask: u64,
        /// Private (thread-directed) pending signals.
        pub pending: u64,
        /// The private pending queue.
        pub queue: QueueSummary,
        /// The mask to restore after sigsuspend (with [`LWPF_SAVED_MASK`]).
        pub saved_sigmask: u64,
        /// Wait channel (a kernel address), 0 when not sleeping.
        pub wchan: u64,
        /// Wait channel name (NUL-padded), e.g. `"sigsuspend"`.
        pub wmesg: [u8; WMESG_LEN],
        /// User address of its lwpctl slot (0 if none).
        pub lwpctl: u64,
        /// User address of its lpmap page (0 if none).
        pub lpmap: u64,
        /// User address of its sigfastblock word (0 if none).
        pub sigfastblock: u64,
        /// 1 if `regs` holds the user registers (off CPU), else 0.
        pub regs_valid: u32,
        /// Explicit padding.
        pub pad: u32,
        /// Saved user registers.
        pub regs: UserRegs,
        /// Times switched to.
        pub switches: u64,
        /// Signals delivered to handlers.
        pub signals_delivered: u64,
        /// System calls made.
        pub syscalls: u64,
        /// Alternate signal stack base (`ss_sp`).
        pub altstack_sp: u64,
        /// Alternate signal stack size.
        pub altstack_size: u64,
        /// `ss_flags` (`SS_DISABLE` ...).
        pub altstack_flags: u32,
        /// Explicit padding.
        pub pad2: u32,
        /// Room for later fields.
        pub reserved: [u64; 5],
    }
    size = 512;
}

const _: () = {
    assert!(offset_of!(LwpRecord, seq) == 0);
    assert!(offset_of!(LwpRecord, pid) == 8);
    assert!(offset_of!(LwpRecord, state) == 16);
    assert!(offset_of!(LwpRecord, sigmask) == 32);
    assert!(offset_of!(LwpRecord, queue) == 48);
    assert!(offset_of!(LwpRecord, saved_sigmask) == 200);
    assert!(offset_of!(LwpRecord, wchan) == 208);
    assert!(offset_of!(LwpRecord, lwpctl) == 232);
    assert!(offset_of!(LwpRecord, regs_valid) == 256);
    assert!(offset_of!(LwpRecord, regs) == 264);
    assert!(offset_of!(LwpRecord, switches) == 424);
    assert!(offset_of!(LwpRecord, altstack_sp) == 448);
};

/// Records per chunk for a record of `size` bytes.
pub const fn per_chunk(size: usize) -> usize {
    CHUNK_SIZE / size
}

/// CPU records per chunk (32).
pub const CPUS_PER_CHUNK: usize = per_chunk(CpuRecord::SIZE);
/// Process records per chunk (2).
pub const PROCS_PER_CHUNK: usize = per_chunk(ProcRecord::SIZE);
/// LWP records per chunk (8).
pub const LWPS_PER_CHUNK: usize = per_chunk(LwpRecord::SIZE);

const _: () = {
    assert!(CPUS_PER_CHUNK == 32 && PROCS_PER_CHUNK == 2 && LWPS_PER_CHUNK == 8);
    // The design target: 10,000 LWPs without relocation.
    assert!(MAX_CHUNKS * LWPS_PER_CHUNK >= 10_000);
};

/// Where slot `slot` of a table with `per_chunk` records per chunk lives:
/// `(directory index, index in the directory page, index in the chunk)`, or `None` beyond
/// the table's maximum capacity or for `per_chunk == 0`.
pub const fn slot_position(slot: usize, per_chunk: usize) -> Option<(usize, usize, usize)> {
    if per_chunk == 0 {
        return None;
    }
    let chunk = slot / per_chunk;
    if chunk >= MAX_CHUNKS {
        return None;
    }
    Some((
        chunk / CHUNKS_PER_DIR,
        chunk % CHUNKS_PER_DIR,
        slot % per_chunk,
    ))
}

/// The header as the kernel image initialises it: magic, version, sizes and the per-table
/// record sizes set; nothing published; `BOOTING`.
pub const fn initial_header() -> InspectHeader {
    let mut h = InspectHeader::ZERO;
    h.magic = INSPECT_MAGIC;
    h.abi_version = super::ABI_VERSION;
    h.header_size = HEADER_SIZE as u32;
    h.chunk_size = CHUNK_SIZE as u32;
    h.dir_entries = DIR_ENTRIES as u32;
    h.cpus.record_size = CpuRecord::SIZE as u32;
    h.cpus.per_chunk = CPUS_PER_CHUNK as u32;
    h.procs.record_size = ProcRecord::SIZE as u32;
    h.procs.per_chunk = PROCS_PER_CHUNK as u32;
    h.lwps.record_size = LwpRecord::SIZE as u32;
    h.lwps.per_chunk = LWPS_PER_CHUNK as u32;
    h
}

/// The bytes of a NUL-padded field before its first NUL (all of it if there is none).
pub fn c_bytes(field: &[u8]) -> &[u8] {
    match field.iter().position(|&b| b == 0) {
        Some(n) => &field[..n],
        None => field,
    }
}

/// Copies `s` into a NUL-padded field, truncated at a UTF-8 character boundary so the field
/// stays valid UTF-8.
pub fn set_c_str(field: &mut [u8], s: &str) {
    let mut n = s.len().min(field.len());
    while n > 0 && !s.is_char_boundary(n) {
        n -= 1;
    }
    field[..n].copy_from_slice(&s.as_bytes()[..n]);
    for b in &mut field[n..] {
        *b = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_round_trips_every_record() {
        let mut lwp = LwpRecord::ZERO;
        lwp.seq = 2;
        lwp.live = SLOT_LIVE;
        lwp.pid = 7;
        lwp.lid = 3;
        lwp.state = 3;
        lwp.sigmask = 0x8000_0000_0000_0001;
        lwp.queue.count = 9;
        lwp.queue.shown = 6;
        lwp.queue.entries[5] = QueuedSigInfo {
            signo: 34,
            code: -1,
            pid: 2,
            uid: 0,
            value: u64::MAX,
        };
        lwp.regs.rip = 0x40_1000;
        lwp.regs.gs_base = 0xdead;
        set_c_str(&mut lwp.wmesg, "sigsuspend");
        lwp.reserved[4] = 5;
        let mut buf = [0u8; 512];
        assert!(lwp.encode_into(&mut buf));
        assert_eq!(LwpRecord::decode(&buf), Some(lwp));
        assert_eq!(&buf[264 + 128..264 + 136], &0x40_1000u64.to_le_bytes());
        assert_eq!(&buf[16..20], &3u32.to_le_bytes());
        assert_eq!(c_bytes(&lwp.wmesg), b"sigsuspend");
        assert_eq!(LwpRecord::decode(&buf[..511]), None);
        assert!(!lwp.encode_into(&mut [0u8; 100]));

        let mut p = ProcRecord::ZERO;
        p.pid = 1;
        p.actions[63].handler = 0x1234;
        p.actions[0].mask = 1;
        p.cr3 = 0x1000;
        let mut buf = [0u8; 2048];
        p.encode_into(&mut buf);
        assert_eq!(ProcRecord::decode(&buf), Some(p));
        assert_eq!(
            &buf[248 + 63 * 24..248 + 63 * 24 + 8],
            &0x1234u64.to_le_bytes()
        );

        let h = initial_header();
        let mut buf = [0u8; HEADER_SIZE];
        h.encode_into(&mut buf);
        assert_eq!(&buf[..8], b"LWPVMINS");
        assert_eq!(InspectHeader::decode(&buf), Some(h));
        assert_eq!(h.lwps.per_chunk, 8);
        assert_eq!(h.header_size as usize, HEADER_SIZE);
    }

    #[test]
    fn every_bit_pattern_decodes() {
        let buf = [0xa5u8; 2048];
        let l = LwpRecord::decode(&buf).unwrap();
        assert_eq!(l.live, 0xa5a5_a5a5);
        let c = CpuRecord::decode(&buf).unwrap();
        assert_eq!(c.cpu_id, 0xa5a5_a5a5);
        assert!(ProcRecord::decode(&buf).is_some());
        assert!(ProcState::try_from(0xa5a5_a5a5).is_err());
    }

    #[test]
    fn slot_positions() {
        assert_eq!(slot_position(0, 8), Some((0, 0, 0)));
        assert_eq!(slot_position(9, 8), Some((0, 1, 1)));
        assert_eq!(slot_position(8 * 512, 8), Some((1, 0, 0)));
        assert_eq!(slot_position(8 * MAX_CHUNKS, 8), None);
        assert_eq!(slot_position(1, 0), None);
        assert_eq!(slot_position(usize::MAX, 1), None);
    }

    #[test]
    fn proc_states() {
        for v in 0..10 {
            match ProcState::try_from(v) {
                Ok(s) => assert_eq!(s as u32, v),
                Err(e) => assert_eq!(e, InvalidProcState(v)),
            }
        }
        assert_eq!(ProcState::Zombie.name(), "SZOMB");
    }

    #[test]
    fn c_strings() {
        let mut f = [0xffu8; 4];
        set_c_str(&mut f, "abcdef");
        assert_eq!(&f, b"abcd");
        set_c_str(&mut f, "ab");
        assert_eq!(&f, b"ab\0\0");
        set_c_str(&mut f, "aé€");
        // 'a' (1) + 'é' (2) fit; '€' (3) does not.
        assert_eq!(c_bytes(&f), "aé".as_bytes());
    }
}
