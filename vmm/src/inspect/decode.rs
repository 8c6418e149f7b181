//! Decoding the inspection table from guest memory into a [`Dump`].
//!
//! Everything read here is untrusted guest data. The rules:
//!
//! - every read goes through [`GuestPhys`] (bounds-checked; a failed read is a problem, not a
//!   panic);
//! - every loop is bounded by the ABI's fixed limits (at most [`MAX_CHUNKS`] chunks per table,
//!   [`CHUNK_SIZE`] bytes per chunk, a fixed number of retries per record), never by a count
//!   the guest wrote without clamping it first;
//! - a record is read with its sequence counter (before, record, after) up to
//!   [`Decoder::retries`] + 1 times; if it never reads stable it is shown with status `torn`;
//! - a stable record with impossible contents (unknown state, a `live` value other than 0/1,
//!   more queue entries shown than queued ...) is shown with status `corrupt`, and each finding
//!   is listed in [`Dump::problems`] with where it was found.

use std::collections::HashMap;
use std::mem::{offset_of, size_of};

use shared_abi::current::inspect::{
    self as abi, CpuRecord, InspectHeader, LwpRecord, ProcRecord, ProcState, QueueSummary, Record,
    SigDisposition, TableDesc, UserRegs, CHUNKS_PER_DIR, CHUNK_SIZE, DIR_ENTRIES, HEADER_SIZE,
    INSPECT_MAGIC, MAX_CHUNKS, QUEUE_SHOWN,
};
use shared_abi::current::lwp::{LwpCtl, LwpState};
use shared_abi::current::upmap::{
    LpMap, BLOCKALLSIGS_COUNT, BLOCKALLSIGS_HELD, SIGFASTBLOCK_INC, SIGFASTBLOCK_PEND,
};
use shared_abi::current::{signal, syscall, ABI_VERSION};

use super::mem::GuestPhys;
use super::model::*;
use super::paging;

/// Offset of the header's sequence counter.
pub const HEADER_SEQ_OFFSET: u64 = offset_of!(InspectHeader, seq) as u64;

/// Default number of re-reads of a record whose sequence counter is odd or changes.
pub const DEFAULT_RETRIES: u32 = 3;

/// The decoder: guest memory, the retry policy, and the problems found so far.
pub struct Decoder<'a> {
    mem: &'a dyn GuestPhys,
    /// Re-reads of a torn record before it is reported torn.
    pub retries: u32,
    problems: Vec<Problem>,
}

/// A record's bytes as read, with its slot and whether it read stable.
struct RawRecord {
    slot: u32,
    bytes: Vec<u8>,
    torn: bool,
}

/// Reads `buf.len()` bytes at `gpa`, with a sequence counter at `gpa + seq_offset`, until the
/// counter is even and unchanged across the read (at most `retries + 1` times). Returns
/// `None` if the memory cannot be read, else whether the last read was stable.
pub fn stable_read(
    mem: &dyn GuestPhys,
    gpa: u64,
    seq_offset: u64,
    buf: &mut [u8],
    retries: u32,
) -> Option<bool> {
    let seq = gpa.checked_add(seq_offset)?;
    for _ in 0..=retries {
        let before = mem.read_u32(seq)?;
        if !mem.read_phys(gpa, buf) {
            return None;
        }
        let after = mem.read_u32(seq)?;
        if before % 2 == 0 && before == after {
            return Some(true);
        }
        std::hint::spin_loop();
    }
    Some(false)
}

impl<'a> Decoder<'a> {
    /// A decoder over `mem`.
    pub fn new(mem: &'a dyn GuestPhys) -> Self {
        Decoder {
            mem,
            retries: DEFAULT_RETRIES,
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, at: impl Into<String>, what: impl Into<String>) {
        self.problems.push(Problem {
            at: at.into(),
            what: what.into(),
        });
    }

    /// Reads the table whose header is at `header_gpa` (if the kernel has the note) and builds
    /// a dump with `reason` and the given vCPU states. `timing` is left for the caller.
    pub fn capture(
        mut self,
        header_gpa: Option<u64>,
        reason: Reason,
        vcpus: Vec<VcpuDump>,
    ) -> Dump {
        let mut dump = Dump {
            schema: SCHEMA_VERSION,
            reason,
            timing: Timing::default(),
            vcpus,
            table: TableInfo {
                header_gpa: header_gpa.map(Hex),
                status: "absent".into(),
                abi_version: None,
                kernel_state: None,
                boot_generation: None,
                features: Vec::new(),
                ncpus: None,
                dropped: None,
                panic: None,
                dump_requests: None,
                last_dump_id: None,
                mailbox: None,
                core_request: None,
                tables: Vec::new(),
            },
            cpus: Vec::new(),
            processes: Vec::new(),
            orphan_lwps: Vec::new(),
            problems: Vec::new(),
        };
        if let Some(gpa) = header_gpa {
            if let Some(h) = self.header(gpa, &mut dump.table) {
                self.tables(&h, &mut dump);
            }
        }
        dump.problems = self.problems;
        dump
    }

    /// Reads and checks the header; `None` if nothing more can be decoded.
    fn header(&mut self, gpa: u64, info: &mut TableInfo) -> Option<InspectHeader> {
        let mut buf = vec![0u8; HEADER_SIZE];
        let Some(stable) = stable_read(self.mem, gpa, HEADER_SEQ_OFFSET, &mut buf, self.retries)
        else {
            info.status = "unreadable".into();
            self.problem(
                "header",
                format!("the header at {gpa:#x} is not in guest RAM"),
            );
            return None;
        };
        let h = InspectHeader::decode(&buf)?;
        if h.magic != INSPECT_MAGIC {
            info.status = "bad_magic".into();
            self.problem(
                "header",
                format!("magic is {:#x}, expected {INSPECT_MAGIC:#x}", h.magic),
            );
            return None;
        }
        info.abi_version = Some(h.abi_version);
        if h.abi_version != ABI_VERSION {
            info.status = "unsupported_version".into();
            self.problem(
                "header",
                format!(
                    "ABI version {} (this VMM decodes version {ABI_VERSION})",
                    h.abi_version
                ),
            );
            return None;
        }
        if (h.header_size as usize) < HEADER_SIZE {
            info.status = "corrupt".into();
            self.problem(
                "header",
                format!("header_size {} < {HEADER_SIZE}", h.header_size),
            );
            return None;
        }
        info.status = if stable { "ok" } else { "torn" }.into();
        if !stable {
            self.problem("header", "sequence counter odd or changing (being updated)");
        }
        let kernel_state = match h.kernel_state {
            abi::KSTATE_BOOTING => "booting".to_string(),
            abi::KSTATE_RUNNING => "running".to_string(),
            abi::KSTATE_PANICKED => "panicked".to_string(),
            n => {
                self.problem(
                    "header",
                    format!("kernel_state {n} is not a KSTATE_* value"),
                );
                format!("invalid({n})")
            }
        };
        info.kernel_state = Some(kernel_state);
        self.header_facts(&h, info);
        Some(h)
    }

    fn header_facts(&mut self, h: &InspectHeader, info: &mut TableInfo) {
        info.boot_generation = Some(Hex(h.boot_generation));
        info.features = abi::FEATURE_NAMES
            .iter()
            .filter(|(bit, _)| h.features & bit != 0)
            .map(|(_, n)| (*n).to_string())
            .collect();
        let known: u32 = abi::FEATURE_NAMES.iter().map(|(b, _)| b).sum();
        if h.features & !known != 0 {
            info.features
                .push(format!("unknown({:#x})", h.features & !known));
        }
        info.ncpus = Some(h.ncpus);
        info.dropped = Some(h.dropped);
        info.dump_requests = Some(h.dump_requests);
        info.last_dump_id = Some(h.last_dump_id);
        if h.kernel_state == abi::KSTATE_PANICKED {
            let len = (h.panic_len as usize).min(h.panic_msg.len());
            info.panic = Some(PanicInfo {
                cpu: h.panic_cpu,
                message: String::from_utf8_lossy(abi::c_bytes(&h.panic_msg[..len])).into_owned(),
            });
        }
        let c = h.core_request;
        info.core_request = (c.pid != 0).then(|| CoreRequestDump {
            pid: c.pid,
            signal: sig_name(c.signo),
            code: c.code,
            addr: Hex(c.addr),
        });
        let m = h.mailbox;
        info.mailbox = Some(MailboxDump {
            req: m.req,
            ack: m.ack,
            pid: m.pid,
            signo: m.signo,
            code: m.code,
            result: m.result,
        });
    }

    /// Reads the three tables and assembles CPUs, processes and LWPs.
    fn tables(&mut self, h: &InspectHeader, dump: &mut Dump) {
        let (cpus, t) = self.scan("cpus", &h.cpus, CpuRecord::SIZE);
        dump.table.tables.push(t);
        let (procs, t) = self.scan("procs", &h.procs, ProcRecord::SIZE);
        dump.table.tables.push(t);
        let (lwps, t) = self.scan("lwps", &h.lwps, LwpRecord::SIZE);
        dump.table.tables.push(t);

        for raw in cpus {
            if let Some(c) = self.cpu(&raw, h.ncpus) {
                dump.cpus.push(c);
            }
        }
        dump.cpus.sort_by_key(|c| (c.cpu_id, c.slot));

        let mut procs: Vec<(ProcDump, u64)> =
            procs.iter().filter_map(|raw| self.process(raw)).collect();
        procs.sort_by_key(|(p, _)| (p.pid, p.slot));
        let mut by_pid: HashMap<i32, usize> = HashMap::new();
        for (i, (p, _)) in procs.iter().enumerate() {
            if let Some(&first) = by_pid.get(&p.pid) {
                let (pid, a, b) = (p.pid, procs[first].0.slot, p.slot);
                self.problem(
                    format!("procs slot {b}"),
                    format!("pid {pid} also has a record in slot {a}; its LWPs go to slot {a}"),
                );
            } else {
                by_pid.insert(p.pid, i);
            }
        }
        for raw in lwps {
            let pid = i32::get(&raw.bytes[8..]);
            let owner = by_pid.get(&pid).copied();
            let cr3 = owner.map(|i| procs[i].1);
            let Some(l) = self.lwp(&raw, cr3, h.ncpus) else {
                continue;
            };
            match owner {
                Some(i) => procs[i].0.lwps.push(l),
                None => {
                    self.problem(
                        format!("lwps slot {}", l.slot),
                        format!("LWP {pid}.{} has no process record", l.lid),
                    );
                    dump.orphan_lwps.push(l);
                }
            }
        }
        for (p, _) in &mut procs {
            p.lwps.sort_by_key(|l| (l.lid, l.slot));
            let n = p.lwps.len() as u32;
            if p.nlwps != n && p.status == RecordStatus::Ok {
                self.problem(
                    format!("procs slot {}", p.slot),
                    format!(
                        "pid {} claims nlwps {} but {n} LWP records were found",
                        p.pid, p.nlwps
                    ),
                );
            }
        }
        dump.processes = procs.into_iter().map(|(p, _)| p).collect();
    }

    /// Reads every live slot of a table. Returns the records and the table's summary.
    fn scan(&mut self, name: &str, d: &TableDesc, known: usize) -> (Vec<RawRecord>, TableDump) {
        let mut summary = TableDump {
            name: name.into(),
            record_size: d.record_size,
            nchunks: d.nchunks,
            high_water: d.high_water,
            live_claimed: d.live,
            live_found: 0,
            scanned: 0,
        };
        let size = d.record_size as usize;
        if size < known || size > CHUNK_SIZE || d.per_chunk as usize != CHUNK_SIZE / size.max(1) {
            self.problem(
                name,
                format!(
                    "record_size {} / per_chunk {} are inconsistent (need record_size in {known}..={CHUNK_SIZE} and per_chunk = {CHUNK_SIZE} / record_size)",
                    d.record_size, d.per_chunk
                ),
            );
            return (Vec::new(), summary);
        }
        let per_chunk = d.per_chunk as usize;
        let mut nchunks = d.nchunks as usize;
        if nchunks > MAX_CHUNKS {
            self.problem(name, format!("nchunks {nchunks} > {MAX_CHUNKS}; clamped"));
            nchunks = MAX_CHUNKS;
        }
        let capacity = nchunks * per_chunk;
        let mut limit = d.high_water as usize;
        if limit > capacity {
            self.problem(
                name,
                format!("high_water {limit} > capacity {capacity} ({nchunks} chunks); clamped"),
            );
            limit = capacity;
        }
        let mut dir_pages: Vec<Option<Option<Vec<u64>>>> = vec![None; DIR_ENTRIES];
        let mut out = Vec::new();
        let chunks = limit.div_ceil(per_chunk);
        for c in 0..chunks {
            let di = c / CHUNKS_PER_DIR;
            let dir = dir_pages[di].get_or_insert_with(|| {
                let gpa = d.dir[di];
                if gpa == 0 || !gpa.is_multiple_of(CHUNK_SIZE as u64) {
                    return None;
                }
                let mut page = vec![0u8; CHUNK_SIZE];
                self.mem
                    .read_phys(gpa, &mut page)
                    .then(|| page.chunks_exact(8).map(u64::get).collect())
            });
            let Some(dir) = dir else {
                self.problem(
                    format!("{name} chunk {c}"),
                    format!(
                        "directory page {di} at {:#x} is missing, misaligned or outside RAM",
                        d.dir[di]
                    ),
                );
                continue;
            };
            let chunk = dir[c % CHUNKS_PER_DIR];
            if chunk == 0 || !chunk.is_multiple_of(CHUNK_SIZE as u64) {
                self.problem(
                    format!("{name} chunk {c}"),
                    format!("chunk address {chunk:#x} is null or not page-aligned"),
                );
                continue;
            }
            let first = c * per_chunk;
            for i in 0..per_chunk.min(limit - first) {
                let slot = (first + i) as u32;
                summary.scanned += 1;
                let gpa = chunk + (i * size) as u64;
                let mut bytes = vec![0u8; known];
                let Some(stable) = stable_read(self.mem, gpa, 0, &mut bytes, self.retries) else {
                    self.problem(
                        format!("{name} slot {slot}"),
                        format!("record at {gpa:#x} is outside guest RAM"),
                    );
                    continue;
                };
                match u32::get(&bytes[4..]) {
                    abi::SLOT_FREE if stable => continue,
                    abi::SLOT_LIVE => {}
                    abi::SLOT_FREE => continue, // torn while being freed or allocated
                    other => {
                        self.problem(
                            format!("{name} slot {slot}"),
                            format!("live = {other} (expected 0 or 1); record skipped"),
                        );
                        continue;
                    }
                }
                summary.live_found += 1;
                if !stable {
                    self.problem(
                        format!("{name} slot {slot}"),
                        "torn: sequence counter odd or changing (a vCPU was stopped mid-update)",
                    );
                }
                out.push(RawRecord {
                    slot,
                    bytes,
                    torn: !stable,
                });
            }
        }
        if summary.live_found != d.live {
            self.problem(
                name,
                format!(
                    "header claims {} live records, {} found",
                    d.live, summary.live_found
                ),
            );
        }
        (out, summary)
    }

    fn status(&self, torn: bool, corrupt: bool) -> RecordStatus {
        if torn {
            RecordStatus::Torn
        } else if corrupt {
            RecordStatus::Corrupt
        } else {
            RecordStatus::Ok
        }
    }

    fn cpu(&mut self, raw: &RawRecord, ncpus: u32) -> Option<CpuDump> {
        let r = CpuRecord::decode(&raw.bytes)?;
        let at = format!("cpus slot {}", raw.slot);
        let mut corrupt = false;
        if r.idle > 1 {
            self.problem(&at, format!("idle = {} (expected 0 or 1)", r.idle));
            corrupt = true;
        }
        if ncpus != 0 && r.cpu_id >= ncpus {
            self.problem(&at, format!("cpu_id {} >= ncpus {ncpus}", r.cpu_id));
            corrupt = true;
        }
        let known = abi::CPUF_ONLINE | abi::CPUF_BSP;
        if r.flags & !known != 0 {
            self.problem(&at, format!("unknown flags {:#x}", r.flags & !known));
            corrupt = true;
        }
        let current =
            (r.cur_pid != abi::NO_LWP || r.cur_lid != abi::NO_LWP).then_some(CurrentLwp {
                pid: r.cur_pid,
                lid: r.cur_lid,
            });
        Some(CpuDump {
            slot: raw.slot,
            status: self.status(raw.torn, corrupt),
            cpu_id: r.cpu_id,
            apic_id: (r.apic_id != abi::APIC_ID_UNKNOWN).then_some(r.apic_id),
            online: r.flags & abi::CPUF_ONLINE != 0,
            bsp: r.flags & abi::CPUF_BSP != 0,
            current,
            idle: r.idle == 1,
            ticks: r.ticks,
            context_switches: r.context_switches,
            irqs: r.irqs,
            syscalls: r.syscalls,
            idle_ticks: r.idle_ticks,
        })
    }

    fn queue(&mut self, at: &str, q: &QueueSummary, corrupt: &mut bool) -> QueueDump {
        let mut shown = q.shown as usize;
        if shown > QUEUE_SHOWN || q.shown > q.count {
            self.problem(
                at,
                format!(
                    "queue shows {} of {} siginfos (at most {QUEUE_SHOWN})",
                    q.shown, q.count
                ),
            );
            *corrupt = true;
            shown = shown.min(QUEUE_SHOWN).min(q.count as usize);
        }
        let entries = q.entries[..shown]
            .iter()
            .map(|e| {
                if !signal::valid(e.signo as u32) || e.signo <= 0 {
                    self.problem(at, format!("queued siginfo with signo {}", e.signo));
                    *corrupt = true;
                }
                SigInfoDump {
                    signal: sig_name(e.signo),
                    signo: e.signo,
                    code: e.code,
                    code_name: si_code_name(e.code),
                    pid: e.pid,
                    uid: e.uid,
                    value: Hex(e.value),
                }
            })
            .collect();
        QueueDump {
            count: q.count,
            entries,
        }
    }

    fn process(&mut self, raw: &RawRecord) -> Option<(ProcDump, u64)> {
        let r = ProcRecord::decode(&raw.bytes)?;
        let at = format!("procs slot {}", raw.slot);
        let mut corrupt = false;
        let state = match ProcState::try_from(r.state) {
            Ok(s) => s.name().to_string(),
            Err(_) => {
                self.problem(
                    &at,
                    format!("pid {}: state {} is not a process state", r.pid, r.state),
                );
                corrupt = true;
                format!("invalid({})", r.state)
            }
        };
        if r.pid <= 0 {
            self.problem(&at, format!("pid {} is not positive", r.pid));
            corrupt = true;
        }
        let counts_ok = r.nrlwps <= r.nlwps && r.nzlwps <= r.nlwps && r.ndlwps <= r.nlwps;
        if !counts_ok {
            self.problem(
                &at,
                format!(
                    "pid {}: LWP counters inconsistent (nlwps {} nrlwps {} nzlwps {} ndlwps {})",
                    r.pid, r.nlwps, r.nrlwps, r.nzlwps, r.ndlwps
                ),
            );
            corrupt = true;
        }
        let queue = self.queue(&at, &r.queue, &mut corrupt);
        let actions = r
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| **a != SigDisposition::ZERO)
            .map(|(i, a)| action_dump(i as u32 + 1, a))
            .collect();
        let exit_meaning = (r.state == ProcState::Zombie as u32
            || r.state == ProcState::Dead as u32)
            .then(|| wait_status_meaning(r.exit_status as u32));
        let known = abi::PROCF_NAMES.iter().map(|(b, _)| b).sum::<u32>();
        if r.flags & !known != 0 {
            self.problem(&at, format!("unknown flags {:#x}", r.flags & !known));
        }
        let p = ProcDump {
            slot: raw.slot,
            status: RecordStatus::Ok,
            pid: r.pid,
            ppid: r.ppid,
            pgid: r.pgid,
            sid: r.sid,
            name: String::from_utf8_lossy(abi::c_bytes(&r.name)).into_owned(),
            state,
            flags: flag_names(r.flags, &abi::PROCF_NAMES),
            exit_status: r.exit_status,
            exit_meaning,
            nlwps: r.nlwps,
            nrlwps: r.nrlwps,
            nzlwps: r.nzlwps,
            ndlwps: r.ndlwps,
            nlwpwait: r.nlwpwait,
            pending: sigset(r.pending),
            queue,
            actions,
            lwpctl_area: Hex(r.lwpctl_area),
            cr3: Hex(r.cr3),
            stop_signal: (r.stop_signal != 0).then(|| sig_name(r.stop_signal as i32)),
            signals_received: r.signals_received,
            lwps: Vec::new(),
        };
        let status = self.status(raw.torn, corrupt);
        Some((ProcDump { status, ..p }, r.cr3))
    }

    fn lwp(&mut self, raw: &RawRecord, cr3: Option<u64>, ncpus: u32) -> Option<LwpDump> {
        let r = LwpRecord::decode(&raw.bytes)?;
        let at = format!("lwps slot {}", raw.slot);
        let mut corrupt = false;
        let state = match LwpState::try_from(r.state) {
            Ok(s) => s.name().to_string(),
            Err(_) => {
                self.problem(
                    &at,
                    format!(
                        "LWP {}.{}: state {} is not an LWP state",
                        r.pid, r.lid, r.state
                    ),
                );
                corrupt = true;
                format!("invalid({})", r.state)
            }
        };
        if r.lid <= 0 {
            self.problem(&at, format!("lid {} is not positive", r.lid));
            corrupt = true;
        }
        let cpu = (r.cpu != abi::NONE_I32).then_some(r.cpu);
        if r.cpu < abi::NONE_I32 || (ncpus != 0 && r.cpu >= 0 && r.cpu as u32 >= ncpus) {
            self.problem(&at, format!("cpu {} is not a CPU (ncpus {ncpus})", r.cpu));
            corrupt = true;
        }
        if r.regs_valid > 1 {
            self.problem(&at, format!("regs_valid = {}", r.regs_valid));
            corrupt = true;
        }
        let known = abi::LWPF_NAMES.iter().map(|(b, _)| b).sum::<u32>();
        if r.flags & !known != 0 {
            self.problem(&at, format!("unknown flags {:#x}", r.flags & !known));
        }
        let queue = self.queue(&at, &r.queue, &mut corrupt);
        let in_syscall = r.flags & abi::LWPF_IN_SYSCALL != 0;
        let syscall = (in_syscall && r.syscall >= 0).then(|| {
            syscall::name(r.syscall as usize)
                .map_or_else(|| format!("#{}", r.syscall), str::to_string)
        });
        let wmesg = String::from_utf8_lossy(abi::c_bytes(&r.wmesg)).into_owned();
        let lwpctl = (r.lwpctl != 0).then(|| {
            user_read(self.mem, cr3, r.lwpctl, size_of::<LwpCtl>(), |b| {
                LwpCtlValue {
                    curcpu: i32::get(&b[0..]),
                    pctr: i32::get(&b[4..]),
                }
            })
        });
        let lpmap = (r.lpmap != 0).then(|| {
            user_read(self.mem, cr3, r.lpmap, size_of::<LpMap>(), |b| {
                let word = u32::get(&b[offset_of!(LpMap, blockallsigs)..]);
                let title = &b[offset_of!(LpMap, thread_title)..];
                LpMapValue {
                    version: u32::get(&b[offset_of!(LpMap, version)..]),
                    tid: u32::get(&b[offset_of!(LpMap, tid)..]),
                    blockallsigs: Hex(u64::from(word)),
                    block_count: word & BLOCKALLSIGS_COUNT,
                    held: word & BLOCKALLSIGS_HELD != 0,
                    title: String::from_utf8_lossy(abi::c_bytes(title)).into_owned(),
                }
            })
        });
        let sigfastblock = (r.sigfastblock != 0).then(|| {
            user_read(self.mem, cr3, r.sigfastblock, 4, |b| {
                let word = u32::get(b);
                FastBlockValue {
                    word: Hex(u64::from(word)),
                    block_count: word / SIGFASTBLOCK_INC,
                    pend: word & SIGFASTBLOCK_PEND != 0,
                }
            })
        });
        Some(LwpDump {
            slot: raw.slot,
            status: self.status(raw.torn, corrupt),
            pid: r.pid,
            lid: r.lid,
            state,
            flags: flag_names(r.flags, &abi::LWPF_NAMES),
            cpu,
            syscall,
            sigmask: sigset(r.sigmask),
            saved_sigmask: (r.flags & abi::LWPF_SAVED_MASK != 0).then(|| sigset(r.saved_sigmask)),
            pending: sigset(r.pending),
            queue,
            wchan: (r.wchan != 0).then_some(Hex(r.wchan)),
            wmesg: (!wmesg.is_empty()).then_some(wmesg),
            lwpctl,
            lpmap,
            sigfastblock,
            regs: (r.regs_valid == 1).then(|| user_regs(&r.regs)),
            switches: r.switches,
            signals_delivered: r.signals_delivered,
            syscalls: r.syscalls,
            altstack: (r.altstack_sp != 0 || r.altstack_size != 0 || r.altstack_flags != 0)
                .then_some(AltStackDump {
                    sp: Hex(r.altstack_sp),
                    size: r.altstack_size,
                    flags: r.altstack_flags,
                }),
        })
    }
}

/// Reads `len` bytes of user memory at `va` in the address space `cr3` and decodes them.
fn user_read<T>(
    mem: &dyn GuestPhys,
    cr3: Option<u64>,
    va: u64,
    len: usize,
    decode: impl FnOnce(&[u8]) -> T,
) -> UserWord<T> {
    let mut w = UserWord {
        va: Hex(va),
        gpa: None,
        value: None,
        error: None,
    };
    let Some(cr3) = cr3 else {
        w.error = Some("no process record, so no address space to translate in".into());
        return w;
    };
    if va >= paging::USER_END {
        w.error = Some("not a user address".into());
        return w;
    }
    match paging::translate(mem, cr3, va) {
        Ok(t) => w.gpa = Some(Hex(t.gpa)),
        Err(e) => {
            w.error = Some(e.to_string());
            return w;
        }
    }
    let mut buf = vec![0u8; len];
    match paging::read_virt(mem, cr3, va, &mut buf, true) {
        Ok(()) => w.value = Some(decode(&buf)),
        Err(e) => w.error = Some(e.to_string()),
    }
    w
}

/// A signal number's name, or `"signal N"`.
pub fn sig_name(signo: i32) -> String {
    u32::try_from(signo)
        .ok()
        .and_then(signal::name)
        .map_or_else(|| format!("signal {signo}"), str::to_string)
}

/// A signal set with its names.
pub fn sigset(bits: u64) -> SigSetDump {
    SigSetDump {
        bits: Hex(bits),
        signals: signal::SigSet::from_bits(bits)
            .iter()
            .map(|s| sig_name(s as i32))
            .collect(),
    }
}

/// The name of a generic `si_code`.
pub fn si_code_name(code: i32) -> String {
    match code {
        signal::SI_USER => "SI_USER".into(),
        signal::SI_KERNEL => "SI_KERNEL".into(),
        signal::SI_QUEUE => "SI_QUEUE".into(),
        signal::SI_TIMER => "SI_TIMER".into(),
        signal::SI_MESGQ => "SI_MESGQ".into(),
        signal::SI_ASYNCIO => "SI_ASYNCIO".into(),
        signal::SI_SIGIO => "SI_SIGIO".into(),
        signal::SI_TKILL => "SI_TKILL".into(),
        n => format!("code {n}"),
    }
}

fn flag_names(flags: u32, names: &[(u32, &str)]) -> Vec<String> {
    let mut v: Vec<String> = names
        .iter()
        .filter(|(b, _)| flags & b != 0)
        .map(|(_, n)| (*n).to_string())
        .collect();
    let known: u32 = names.iter().map(|(b, _)| b).sum();
    if flags & !known != 0 {
        v.push(format!("{:#x}", flags & !known));
    }
    v
}

const SA_FLAG_NAMES: [(u64, &str); 8] = [
    (signal::SA_NOCLDSTOP, "SA_NOCLDSTOP"),
    (signal::SA_NOCLDWAIT, "SA_NOCLDWAIT"),
    (signal::SA_SIGINFO, "SA_SIGINFO"),
    (signal::SA_RESTORER, "SA_RESTORER"),
    (signal::SA_ONSTACK, "SA_ONSTACK"),
    (signal::SA_RESTART, "SA_RESTART"),
    (signal::SA_NODEFER, "SA_NODEFER"),
    (signal::SA_RESETHAND, "SA_RESETHAND"),
];

fn action_dump(sig: u32, a: &SigDisposition) -> ActionDump {
    let mut flag_names: Vec<String> = SA_FLAG_NAMES
        .iter()
        .filter(|(b, _)| a.flags & b != 0)
        .map(|(_, n)| (*n).to_string())
        .collect();
    let known: u64 = SA_FLAG_NAMES.iter().map(|(b, _)| b).sum();
    if a.flags & !known != 0 {
        flag_names.push(format!("{:#x}", a.flags & !known));
    }
    ActionDump {
        signal: sig_name(sig as i32),
        handler: match a.handler {
            signal::SIG_DFL => "SIG_DFL".into(),
            signal::SIG_IGN => "SIG_IGN".into(),
            h => format!("{h:#x}"),
        },
        flags: Hex(a.flags),
        flag_names,
        mask: sigset(a.mask),
    }
}

/// What a wait status means.
pub fn wait_status_meaning(status: u32) -> String {
    if signal::wifexited(status) {
        format!("exited {}", signal::wexitstatus(status))
    } else if signal::wifsignaled(status) {
        format!(
            "killed by {}{}",
            sig_name(signal::wtermsig(status) as i32),
            if signal::wcoredump(status) {
                " (core dumped)"
            } else {
                ""
            }
        )
    } else if signal::wifstopped(status) {
        format!("stopped by {}", sig_name(signal::wstopsig(status) as i32))
    } else if signal::wifcontinued(status) {
        "continued".into()
    } else {
        format!("status {status:#x}")
    }
}

fn user_regs(r: &UserRegs) -> UserRegsDump {
    UserRegsDump {
        r8: Hex(r.r8),
        r9: Hex(r.r9),
        r10: Hex(r.r10),
        r11: Hex(r.r11),
        r12: Hex(r.r12),
        r13: Hex(r.r13),
        r14: Hex(r.r14),
        r15: Hex(r.r15),
        rdi: Hex(r.rdi),
        rsi: Hex(r.rsi),
        rbp: Hex(r.rbp),
        rbx: Hex(r.rbx),
        rdx: Hex(r.rdx),
        rax: Hex(r.rax),
        rcx: Hex(r.rcx),
        rsp: Hex(r.rsp),
        rip: Hex(r.rip),
        rflags: Hex(r.rflags),
        fs_base: Hex(r.fs_base),
        gs_base: Hex(r.gs_base),
    }
}
