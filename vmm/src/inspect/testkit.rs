//! Synthetic guests for the inspector's tests: guest memory holding an inspection table (and
//! page tables) written exactly as the ABI says, through the same codec the decoder uses.

use shared_abi::current::inspect::*;
use shared_abi::current::lwp::{LSONPROC, LSSLEEP, LSSUSPENDED, LSZOMB};
use shared_abi::current::signal::{self, SigSet};
use shared_abi::current::upmap::{LpMap, BLOCKALLSIGS_HELD, SIGFASTBLOCK_INC, SIGFASTBLOCK_PEND};
use vm_memory::{GuestAddress, GuestMemoryMmap};

use super::mem::GuestPhys;
use super::paging::test_tables::{Tables, USER_RW};

/// Which table.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// CPU records.
    Cpus,
    /// Process records.
    Procs,
    /// LWP records.
    Lwps,
}

/// A synthetic guest.
pub struct SynthGuest {
    /// Its memory.
    pub mem: GuestMemoryMmap,
    /// Where the header is.
    pub header_gpa: u64,
    /// The header as last published.
    pub header: InspectHeader,
    next_page: u64,
}

impl SynthGuest {
    /// 16 MiB of RAM, header at 0x1000, pages handed out from 1 MiB.
    pub fn new() -> Self {
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 16 << 20)]).unwrap();
        let mut g = SynthGuest {
            mem,
            header_gpa: 0x1000,
            header: initial_header(),
            next_page: 0x10_0000,
        };
        g.header.kernel_state = KSTATE_RUNNING;
        g.header.boot_generation = 0x1234_5678;
        g.header.features = FEATURE_CPUS | FEATURE_PROCS;
        g.publish();
        g
    }

    /// A fresh zeroed page.
    pub fn page(&mut self) -> u64 {
        let p = self.next_page;
        self.next_page += 4096;
        assert!(self.mem.write_phys(p, &[0u8; 4096]));
        p
    }

    fn desc(&mut self, k: Kind) -> &mut TableDesc {
        match k {
            Kind::Cpus => &mut self.header.cpus,
            Kind::Procs => &mut self.header.procs,
            Kind::Lwps => &mut self.header.lwps,
        }
    }

    /// The address of slot `slot` of table `k`, growing the table as the kernel would.
    pub fn slot_gpa(&mut self, k: Kind, slot: usize) -> u64 {
        let per = self.desc(k).per_chunk as usize;
        let size = self.desc(k).record_size as u64;
        let (di, ci, ri) = slot_position(slot, per).unwrap();
        let chunk_index = slot / per;
        while (self.desc(k).nchunks as usize) <= chunk_index {
            let n = self.desc(k).nchunks as usize;
            let d = n / CHUNKS_PER_DIR;
            if self.desc(k).dir[d] == 0 {
                let p = self.page();
                self.desc(k).dir[d] = p;
            }
            let chunk = self.page();
            let dir = self.desc(k).dir[d];
            assert!(self
                .mem
                .write_phys(dir + (n % CHUNKS_PER_DIR) as u64 * 8, &chunk.to_le_bytes()));
            self.desc(k).nchunks += 1;
        }
        let dir = self.desc(k).dir[di];
        let chunk = self.mem.read_u64(dir + ci as u64 * 8).unwrap();
        let hw = &mut self.desc(k).high_water;
        *hw = (*hw).max(slot as u32 + 1);
        chunk + ri as u64 * size
    }

    fn put<R: Record>(&mut self, k: Kind, slot: usize, r: &R) {
        let gpa = self.slot_gpa(k, slot);
        let mut b = vec![0u8; R::SIZE];
        r.encode_into(&mut b);
        let was_live = self.mem.read_u32(gpa + 4) == Some(SLOT_LIVE);
        let live = u32::from_le_bytes(b[4..8].try_into().unwrap()) == SLOT_LIVE;
        assert!(self.mem.write_phys(gpa, &b));
        let d = self.desc(k);
        match (was_live, live) {
            (false, true) => d.live += 1,
            (true, false) => d.live -= 1,
            _ => {}
        }
    }

    /// Writes a CPU record.
    pub fn put_cpu(&mut self, slot: usize, r: &CpuRecord) {
        self.put(Kind::Cpus, slot, r);
    }

    /// Writes a process record.
    pub fn put_proc(&mut self, slot: usize, r: &ProcRecord) {
        self.put(Kind::Procs, slot, r);
    }

    /// Writes an LWP record.
    pub fn put_lwp(&mut self, slot: usize, r: &LwpRecord) {
        self.put(Kind::Lwps, slot, r);
    }

    /// Writes the header.
    pub fn publish(&mut self) {
        let mut b = vec![0u8; HEADER_SIZE];
        self.header.encode_into(&mut b);
        assert!(self.mem.write_phys(self.header_gpa, &b));
    }
}

/// A live CPU record.
pub fn cpu(id: u32) -> CpuRecord {
    CpuRecord {
        seq: 2,
        live: SLOT_LIVE,
        cpu_id: id,
        apic_id: id,
        flags: CPUF_ONLINE | if id == 0 { CPUF_BSP } else { 0 },
        ticks: 100 + u64::from(id),
        ..CpuRecord::ZERO
    }
}

/// A live process record.
pub fn proc(pid: i32, state: ProcState, nlwps: u32) -> ProcRecord {
    let mut p = ProcRecord {
        seq: 4,
        live: SLOT_LIVE,
        pid,
        ppid: pid - 1,
        pgid: 1,
        sid: 1,
        state: state as u32,
        nlwps,
        ..ProcRecord::ZERO
    };
    set_c_str(&mut p.name, "prog");
    p
}

/// A live LWP record.
pub fn lwp(pid: i32, lid: i32, state: u32) -> LwpRecord {
    LwpRecord {
        seq: 6,
        live: SLOT_LIVE,
        pid,
        lid,
        state,
        cpu: NONE_I32,
        syscall: NONE_I32,
        ..LwpRecord::ZERO
    }
}

/// User addresses of the sample guest's shared pages.
pub const LWPCTL_VA: u64 = 0x7000_0000;
/// The lpmap page of LWP 1.1.
pub const LPMAP_VA: u64 = 0x7000_1000;
/// The sigfastblock word of LWP 1.2 (inside its data page).
pub const FASTBLOCK_VA: u64 = 0x7000_2010;

/// A guest in the states the inspection tests assert on: 2 CPUs; process 1 ("init") with
/// LWP 1.1 asleep in sigsuspend (mask {SIGINT SIGUSR1}, saved mask {}), lpmap with
/// blockallsigs count 1 + held bit; LWP 1.2 suspended with SIGRTMIN queued twice and a
/// sigfastblock word; LWP 1.3 a zombie; LWP 1.4 running on CPU 1; process 2 a zombie killed
/// by SIGSEGV with a core; process 1 has a SIGUSR1 handler and a shared SIGTERM pending.
pub fn sample_guest() -> SynthGuest {
    let mut g = SynthGuest::new();
    g.header.ncpus = 2;
    g.put_cpu(0, &cpu(0));
    let mut c1 = cpu(1);
    c1.cur_pid = 1;
    c1.cur_lid = 4;
    g.put_cpu(1, &c1);

    // Address space of process 1.
    let pml4 = g.page();
    let lwpctl_page = g.page();
    let lpmap_page = g.page();
    let data_page = g.page();
    let tables_start = g.next_page;
    let mut t = Tables::new(&g.mem, pml4);
    t.next = tables_start;
    t.map_4k(LWPCTL_VA, lwpctl_page, USER_RW);
    t.map_4k(LPMAP_VA, lpmap_page, USER_RW);
    t.map_4k(FASTBLOCK_VA & !0xfff, data_page, USER_RW);
    g.next_page = t.next;
    // lwpctl slots of LWPs 1 and 2.
    assert!(g.mem.write_phys(lwpctl_page, &(-1i32).to_le_bytes()));
    assert!(g.mem.write_phys(lwpctl_page + 4, &7i32.to_le_bytes()));
    assert!(g.mem.write_phys(lwpctl_page + 8, &1i32.to_le_bytes()));
    assert!(g.mem.write_phys(lwpctl_page + 12, &3i32.to_le_bytes()));
    // lpmap of LWP 1.1.
    let mut lp = vec![0u8; size_of::<LpMap>()];
    lp[256..260].copy_from_slice(&1u32.to_le_bytes());
    lp[260..264].copy_from_slice(&1u32.to_le_bytes());
    lp[268..272].copy_from_slice(&(BLOCKALLSIGS_HELD | 1).to_le_bytes());
    lp[272..278].copy_from_slice(b"worker");
    assert!(g.mem.write_phys(lpmap_page, &lp));
    // sigfastblock word of LWP 1.2.
    assert!(g.mem.write_phys(
        data_page + 0x10,
        &(SIGFASTBLOCK_INC | SIGFASTBLOCK_PEND).to_le_bytes()
    ));

    let mut p1 = proc(1, ProcState::Active, 4);
    p1.ppid = 0;
    p1.flags = PROCF_INIT;
    p1.cr3 = pml4;
    p1.lwpctl_area = LWPCTL_VA;
    p1.nrlwps = 1;
    p1.nzlwps = 1;
    p1.pending = SigSet::single(signal::SIGTERM).bits();
    p1.queue.count = 1;
    p1.queue.shown = 1;
    p1.queue.entries[0] = QueuedSigInfo {
        signo: signal::SIGTERM as i32,
        code: signal::SI_USER,
        pid: 5,
        uid: 0,
        value: 0,
    };
    p1.actions[signal::SIGUSR1 as usize - 1] = SigDisposition {
        handler: 0x40_1000,
        flags: signal::SA_SIGINFO | signal::SA_RESTORER,
        mask: SigSet::single(signal::SIGUSR2).bits(),
    };
    p1.actions[signal::SIGPIPE as usize - 1].handler = signal::SIG_IGN;
    set_c_str(&mut p1.name, "init");
    g.put_proc(0, &p1);

    let mut p2 = proc(2, ProcState::Zombie, 0);
    p2.ppid = 1;
    p2.exit_status = signal::w_termcode(signal::SIGSEGV, true) as i32;
    p2.flags = PROCF_COREDUMP;
    g.put_proc(3, &p2); // a hole at slots 1-2: the table has grown and shrunk

    let mut l1 = lwp(1, 1, LSSLEEP);
    l1.flags = LWPF_SINTR | LWPF_IN_SYSCALL | LWPF_SAVED_MASK | LWPF_LPMAP;
    l1.syscall = 130; // rt_sigsuspend
    l1.sigmask = SigSet::single(signal::SIGINT).with(signal::SIGUSR1).bits();
    l1.saved_sigmask = 0;
    l1.wchan = 0xffff_8000_0123_4000;
    set_c_str(&mut l1.wmesg, "sigsuspend");
    l1.cpu = 0;
    l1.lwpctl = LWPCTL_VA;
    l1.lpmap = LPMAP_VA;
    l1.regs_valid = 1;
    l1.regs.rip = 0x40_2000;
    l1.regs.rsp = 0x7fff_f000;
    l1.regs.rflags = 0x202;
    l1.switches = 7;
    g.put_lwp(0, &l1);

    let mut l2 = lwp(1, 2, LSSUSPENDED);
    l2.flags = LWPF_SIGFASTBLOCK;
    l2.cpu = 1;
    l2.pending = SigSet::single(signal::SIGRTMIN).bits();
    l2.queue.count = 2;
    l2.queue.shown = 2;
    for (i, v) in [11u64, 22].iter().enumerate() {
        l2.queue.entries[i] = QueuedSigInfo {
            signo: signal::SIGRTMIN as i32,
            code: signal::SI_QUEUE,
            pid: 1,
            uid: 0,
            value: *v,
        };
    }
    l2.lwpctl = LWPCTL_VA + 8;
    l2.sigfastblock = FASTBLOCK_VA;
    g.put_lwp(1, &l2);

    let l3 = lwp(1, 3, LSZOMB);
    g.put_lwp(9, &l3); // in the second chunk

    let mut l4 = lwp(1, 4, LSONPROC);
    l4.cpu = 1;
    l4.switches = 2;
    g.put_lwp(10, &l4);

    g.publish();
    g
}

use std::mem::size_of;
