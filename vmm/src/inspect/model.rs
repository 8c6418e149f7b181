//! The dump: what the inspector found, as plain data with stable field names.
//!
//! This is the JSON schema of `docs/DUMP-SCHEMA.md` (serde, field names as written here) and
//! what the text view renders. Addresses, registers, signal sets and other 64-bit bit patterns
//! are hex strings (`"0x1f"`), because JSON numbers lose precision above 2^53; counters are
//! numbers. A record that could not be trusted is still shown, with `status` saying why
//! (`"torn"`, `"corrupt"`) and its problems listed.

use serde::{Serialize, Serializer};

/// Version of this schema (the `schema` field); bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// A 64-bit value shown in hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hex(pub u64);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:#x}", self.0))
    }
}

impl std::fmt::Display for Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// One whole dump.
#[derive(Debug, Clone, Serialize)]
pub struct Dump {
    /// [`SCHEMA_VERSION`].
    pub schema: u32,
    /// Why the dump was taken.
    pub reason: Reason,
    /// How long the guest was stopped for it.
    pub timing: Timing,
    /// Every vCPU, as KVM reports it.
    pub vcpus: Vec<VcpuDump>,
    /// The inspection header, or why it could not be read.
    pub table: TableInfo,
    /// Per-CPU records.
    pub cpus: Vec<CpuDump>,
    /// Process records, each with its LWPs, by pid.
    pub processes: Vec<ProcDump>,
    /// LWP records whose process has no record.
    pub orphan_lwps: Vec<LwpDump>,
    /// Everything that looked wrong, with where.
    pub problems: Vec<Problem>,
}

/// Why a dump was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// The guest wrote the exit port.
    Exit {
        /// Its status.
        status: u32,
    },
    /// The guest wrote a kernel panic or kernel fault status.
    Panic {
        /// Its status (112 or 113).
        status: u32,
    },
    /// The guest crashed (triple fault, KVM internal error ...).
    Crash {
        /// The vCPU that saw it.
        vcpu: u8,
        /// What happened.
        what: String,
    },
    /// The guest asked through the dump port.
    Request {
        /// The request id it wrote.
        id: u32,
        /// The vCPU that wrote it.
        vcpu: u8,
    },
    /// `vmm dump` on the control socket.
    Control,
    /// `--timeout` expired.
    Timeout,
}

/// How the guest was stopped for the dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Timing {
    /// `true`: paused and resumed afterwards; `false`: the VM had already stopped for good.
    pub paused: bool,
    /// From the pause request until every vCPU was parked (ns).
    pub pause_ns: u64,
    /// Reading and decoding guest memory while parked (ns).
    pub capture_ns: u64,
    /// From the pause request until every vCPU was released again (ns); 0 when not paused.
    pub paused_total_ns: u64,
}

/// A vCPU's state when it was parked or stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VcpuDump {
    /// vCPU index (= APIC id).
    pub id: u8,
    /// `"running"`, `"halted"`, `"wait_for_sipi"`, `"ended"` or `"unknown"`.
    pub state: String,
    /// KVM's `mp_state` number, when read.
    pub mp_state: Option<u32>,
    /// Registers, when read.
    pub regs: Option<CpuRegs>,
}

/// The registers of a vCPU (general, then special).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CpuRegs {
    /// rax.
    pub rax: Hex,
    /// rbx.
    pub rbx: Hex,
    /// rcx.
    pub rcx: Hex,
    /// rdx.
    pub rdx: Hex,
    /// rsi.
    pub rsi: Hex,
    /// rdi.
    pub rdi: Hex,
    /// rbp.
    pub rbp: Hex,
    /// rsp.
    pub rsp: Hex,
    /// r8.
    pub r8: Hex,
    /// r9.
    pub r9: Hex,
    /// r10.
    pub r10: Hex,
    /// r11.
    pub r11: Hex,
    /// r12.
    pub r12: Hex,
    /// r13.
    pub r13: Hex,
    /// r14.
    pub r14: Hex,
    /// r15.
    pub r15: Hex,
    /// rip.
    pub rip: Hex,
    /// rflags.
    pub rflags: Hex,
    /// CS selector.
    pub cs: u16,
    /// SS selector.
    pub ss: u16,
    /// Current privilege level (CS.DPL in long mode).
    pub cpl: u8,
    /// CR0.
    pub cr0: Hex,
    /// CR2.
    pub cr2: Hex,
    /// CR3.
    pub cr3: Hex,
    /// CR4.
    pub cr4: Hex,
    /// EFER.
    pub efer: Hex,
    /// FS base.
    pub fs_base: Hex,
    /// GS base.
    pub gs_base: Hex,
}

/// The inspection header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableInfo {
    /// Where the ELF note said the header is (absent: no note in the kernel).
    pub header_gpa: Option<Hex>,
    /// `"ok"`, `"absent"` (no note), `"unreadable"`, `"bad_magic"`, `"unsupported_version"`,
    /// `"torn"`, `"corrupt"`.
    pub status: String,
    /// ABI version the guest published.
    pub abi_version: Option<u32>,
    /// `"booting"`, `"running"`, `"panicked"` or `"invalid(N)"`.
    pub kernel_state: Option<String>,
    /// Boot generation.
    pub boot_generation: Option<Hex>,
    /// Feature names.
    pub features: Vec<String>,
    /// CPUs the kernel counted.
    pub ncpus: Option<u32>,
    /// Records the kernel could not publish.
    pub dropped: Option<u32>,
    /// The panic message, when panicked.
    pub panic: Option<PanicInfo>,
    /// Dump requests the guest made so far, and the last id.
    pub dump_requests: Option<u32>,
    /// The last dump request id the guest wrote.
    pub last_dump_id: Option<u32>,
    /// The host-signal mailbox.
    pub mailbox: Option<MailboxDump>,
    /// A pending core-file request.
    pub core_request: Option<CoreRequestDump>,
    /// Table sizes: `[cpus, procs, lwps]`.
    pub tables: Vec<TableDump>,
}

/// A kernel panic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PanicInfo {
    /// The CPU that panicked.
    pub cpu: u32,
    /// The message.
    pub message: String,
}

/// The host-signal mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MailboxDump {
    /// Request number.
    pub req: u32,
    /// Acknowledged request number.
    pub ack: u32,
    /// Last target pid.
    pub pid: i32,
    /// Last signal.
    pub signo: i32,
    /// Last si_code.
    pub code: i32,
    /// The guest's last answer.
    pub result: i32,
}

/// A core-file request from the kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoreRequestDump {
    /// The dying process.
    pub pid: i32,
    /// The signal, by name.
    pub signal: String,
    /// si_code.
    pub code: i32,
    /// si_addr.
    pub addr: Hex,
}

/// One table's descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableDump {
    /// `"cpus"`, `"procs"`, `"lwps"`.
    pub name: String,
    /// Bytes per record.
    pub record_size: u32,
    /// Chunks published.
    pub nchunks: u32,
    /// Slots ever used.
    pub high_water: u32,
    /// Live slots the guest claims.
    pub live_claimed: u32,
    /// Live slots found.
    pub live_found: u32,
    /// Slots scanned.
    pub scanned: u32,
}

/// A record's trustworthiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// Stable and consistent.
    Ok,
    /// Being written when read (odd or changing sequence counter).
    Torn,
    /// Stable but impossible (bad state, out-of-range fields).
    Corrupt,
}

/// A signal set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SigSetDump {
    /// The raw mask (bit n-1 = signal n).
    pub bits: Hex,
    /// The signals, by name.
    pub signals: Vec<String>,
}

/// A queued siginfo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SigInfoDump {
    /// Signal name.
    pub signal: String,
    /// si_signo.
    pub signo: i32,
    /// si_code number.
    pub code: i32,
    /// si_code name (`"SI_QUEUE"` ...).
    pub code_name: String,
    /// Sender pid.
    pub pid: i32,
    /// Sender uid.
    pub uid: u32,
    /// si_value.
    pub value: Hex,
}

/// A pending queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueDump {
    /// Siginfos queued in total.
    pub count: u32,
    /// The first ones.
    pub entries: Vec<SigInfoDump>,
}

/// A non-default disposition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionDump {
    /// The signal.
    pub signal: String,
    /// `"SIG_DFL"`, `"SIG_IGN"` or the handler address.
    pub handler: String,
    /// sa_flags.
    pub flags: Hex,
    /// sa_flags by name.
    pub flag_names: Vec<String>,
    /// sa_mask.
    pub mask: SigSetDump,
}

/// A process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcDump {
    /// Table slot.
    pub slot: u32,
    /// Trust.
    pub status: RecordStatus,
    /// pid.
    pub pid: i32,
    /// Parent pid.
    pub ppid: i32,
    /// Process group.
    pub pgid: i32,
    /// Session.
    pub sid: i32,
    /// Program name.
    pub name: String,
    /// State name (`"SACTIVE"` ...), or `"invalid(N)"`.
    pub state: String,
    /// Flag names.
    pub flags: Vec<String>,
    /// Wait status (raw) and its meaning.
    pub exit_status: i32,
    /// `"exited 3"`, `"killed by SIGSEGV (core dumped)"`, ... (for zombies).
    pub exit_meaning: Option<String>,
    /// LWP counters.
    pub nlwps: u32,
    /// Runnable or running LWPs.
    pub nrlwps: u32,
    /// Zombie LWPs.
    pub nzlwps: u32,
    /// Detached LWPs.
    pub ndlwps: u32,
    /// LWPs in `_lwp_wait`.
    pub nlwpwait: u32,
    /// Shared pending set.
    pub pending: SigSetDump,
    /// Shared pending queue.
    pub queue: QueueDump,
    /// Dispositions other than SIG_DFL with no flags.
    pub actions: Vec<ActionDump>,
    /// lwpctl area (user address).
    pub lwpctl_area: Hex,
    /// CR3.
    pub cr3: Hex,
    /// Stopping signal, if stopped.
    pub stop_signal: Option<String>,
    /// Signals posted to it.
    pub signals_received: u64,
    /// Its LWPs, by lid.
    pub lwps: Vec<LwpDump>,
}

/// A value read from user memory through the owning process's page tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserWord<T> {
    /// User virtual address.
    pub va: Hex,
    /// Guest-physical address it maps to.
    pub gpa: Option<Hex>,
    /// The value, if it could be read.
    pub value: Option<T>,
    /// Why not.
    pub error: Option<String>,
}

/// An lwpctl slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LwpCtlValue {
    /// lc_curcpu.
    pub curcpu: i32,
    /// lc_pctr.
    pub pctr: i32,
}

/// An lpmap page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LpMapValue {
    /// Map version.
    pub version: u32,
    /// Thread id.
    pub tid: u32,
    /// The blockallsigs word.
    pub blockallsigs: Hex,
    /// Its nesting count.
    pub block_count: u32,
    /// Bit 31: a signal was held back.
    pub held: bool,
    /// Thread title.
    pub title: String,
}

/// A sigfastblock word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FastBlockValue {
    /// The word.
    pub word: Hex,
    /// Nesting count (`word >> 4`).
    pub block_count: u32,
    /// SIGFASTBLOCK_PEND.
    pub pend: bool,
}

/// Saved user registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UserRegsDump {
    /// r8.
    pub r8: Hex,
    /// r9.
    pub r9: Hex,
    /// r10.
    pub r10: Hex,
    /// r11.
    pub r11: Hex,
    /// r12.
    pub r12: Hex,
    /// r13.
    pub r13: Hex,
    /// r14.
    pub r14: Hex,
    /// r15.
    pub r15: Hex,
    /// rdi.
    pub rdi: Hex,
    /// rsi.
    pub rsi: Hex,
    /// rbp.
    pub rbp: Hex,
    /// rbx.
    pub rbx: Hex,
    /// rdx.
    pub rdx: Hex,
    /// rax.
    pub rax: Hex,
    /// rcx.
    pub rcx: Hex,
    /// rsp.
    pub rsp: Hex,
    /// rip.
    pub rip: Hex,
    /// rflags.
    pub rflags: Hex,
    /// FS base.
    pub fs_base: Hex,
    /// GS base.
    pub gs_base: Hex,
}

/// An LWP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LwpDump {
    /// Table slot.
    pub slot: u32,
    /// Trust.
    pub status: RecordStatus,
    /// pid.
    pub pid: i32,
    /// lid.
    pub lid: i32,
    /// NetBSD state name (`"LSSLEEP"` ...) or `"invalid(N)"`.
    pub state: String,
    /// Flag names.
    pub flags: Vec<String>,
    /// CPU it runs or last ran on.
    pub cpu: Option<i32>,
    /// System call in progress (name or number).
    pub syscall: Option<String>,
    /// Signal mask.
    pub sigmask: SigSetDump,
    /// Mask to restore after sigsuspend.
    pub saved_sigmask: Option<SigSetDump>,
    /// Private pending set.
    pub pending: SigSetDump,
    /// Private pending queue.
    pub queue: QueueDump,
    /// Wait channel address.
    pub wchan: Option<Hex>,
    /// Wait channel name.
    pub wmesg: Option<String>,
    /// lwpctl slot.
    pub lwpctl: Option<UserWord<LwpCtlValue>>,
    /// lpmap page.
    pub lpmap: Option<UserWord<LpMapValue>>,
    /// sigfastblock word.
    pub sigfastblock: Option<UserWord<FastBlockValue>>,
    /// Saved user registers (off CPU).
    pub regs: Option<UserRegsDump>,
    /// Times switched to.
    pub switches: u64,
    /// Signals delivered to handlers.
    pub signals_delivered: u64,
    /// System calls made.
    pub syscalls: u64,
    /// Alternate signal stack `(sp, size, flags)`, if set.
    pub altstack: Option<AltStackDump>,
}

/// An alternate signal stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AltStackDump {
    /// ss_sp.
    pub sp: Hex,
    /// ss_size.
    pub size: u64,
    /// ss_flags.
    pub flags: u32,
}

/// A CPU record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CpuDump {
    /// Table slot.
    pub slot: u32,
    /// Trust.
    pub status: RecordStatus,
    /// CPU number.
    pub cpu_id: u32,
    /// APIC id (absent until the CPU starts).
    pub apic_id: Option<u32>,
    /// Online.
    pub online: bool,
    /// Bootstrap processor.
    pub bsp: bool,
    /// Current `(pid, lid)`, if an LWP is current.
    pub current: Option<CurrentLwp>,
    /// Idling.
    pub idle: bool,
    /// Timer ticks.
    pub ticks: u64,
    /// Context switches.
    pub context_switches: u64,
    /// Interrupts.
    pub irqs: u64,
    /// System calls.
    pub syscalls: u64,
    /// Idle ticks.
    pub idle_ticks: u64,
}

/// The LWP a CPU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CurrentLwp {
    /// pid.
    pub pid: i32,
    /// lid.
    pub lid: i32,
}

/// Something that looked wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Where (`"header"`, `"lwps slot 12"` ...).
    #[serde(rename = "where")]
    pub at: String,
    /// What.
    pub what: String,
}
