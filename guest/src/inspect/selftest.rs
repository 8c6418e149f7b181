//! `lwpvm.inspect_selftest=N`: exercises the writing side end to end while the kernel has no
//! processes of its own. It publishes a made-up process (pid [`PID`], named "selftest") with
//! `N` LWPs, asks the VMM for a dump (request 1), frees LWP 2 and allocates LWP N+1 (which
//! reuses LWP 2's slot through the free list; request 2), then frees everything (request 3).
//! The integration tests check the three dumps; nothing else in the kernel sees these records.

use alloc::vec::Vec;

use shared_abi::current::inspect::{
    set_c_str, ProcState, QueuedSigInfo, SigDisposition, LWPF_SINTR, NO_LWP,
};
use shared_abi::current::lwp::{LSONPROC, LSSLEEP};
use shared_abi::current::signal::{self, SigSet};

use super::{alloc_lwp, alloc_proc, cpu, dump_request, free_lwp, free_proc, LwpSlot};

/// The made-up process's id.
pub const PID: i32 = 1000;

fn lwp(lid: i32) -> Option<LwpSlot> {
    let s = alloc_lwp(PID, lid)?;
    s.update(|r| {
        r.state = if lid == 1 { LSONPROC } else { LSSLEEP };
        r.cpu = 0;
        if lid != 1 {
            r.flags = LWPF_SINTR;
            r.wchan = 0xffff_8000_0000_1000 + lid as u64;
            set_c_str(&mut r.wmesg, "selftest");
        }
        // Signal `lid` (1..=64) blocked, so each LWP's mask tells it apart.
        r.sigmask = SigSet::single(lid as u32).blockable().bits();
        r.switches = lid as u64;
    });
    Some(s)
}

/// Runs the self-test with `n` LWPs (1..=20,000); returns whether all three dumps were served.
pub fn run(n: u32) -> bool {
    let n = n.clamp(1, 20_000) as i32;
    let Some(p) = alloc_proc(PID) else {
        return false;
    };
    let mut lwps: Vec<LwpSlot> = (1..=n).filter_map(lwp).collect();
    p.update(|r| {
        r.state = ProcState::Active as u32;
        r.ppid = 0;
        set_c_str(&mut r.name, "selftest");
        r.nlwps = lwps.len() as u32;
        r.nrlwps = 1;
        r.pending = SigSet::single(signal::SIGUSR1).bits();
        r.queue.count = 1;
        r.queue.shown = 1;
        r.queue.entries[0] = QueuedSigInfo {
            signo: signal::SIGUSR1 as i32,
            code: signal::SI_QUEUE,
            pid: PID,
            uid: 0,
            value: 42,
        };
        r.actions[signal::SIGUSR1 as usize - 1] = SigDisposition {
            handler: 0x40_1234,
            flags: signal::SA_SIGINFO,
            mask: 0,
        };
    });
    let cpu0 = cpu(0);
    if let Some(c) = cpu0 {
        c.update(|r| {
            r.cur_pid = PID;
            r.cur_lid = 1;
        });
    }
    let mut served = dump_request(1);

    if lwps.len() >= 2 {
        free_lwp(lwps.remove(1));
        if let Some(s) = lwp(n + 1) {
            lwps.push(s);
        }
    }
    served &= dump_request(2);

    for s in lwps {
        free_lwp(s);
    }
    free_proc(p);
    if let Some(c) = cpu0 {
        c.update(|r| {
            r.cur_pid = NO_LWP;
            r.cur_lid = NO_LWP;
        });
    }
    served & dump_request(3)
}
