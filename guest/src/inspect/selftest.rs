//! `lwpvm.inspect_selftest=N`: exercises the writing side end to end while the kernel has no
//! processes of its own. It publishes a made-up process (pid [`PID`], named "selftest") with
//! `N` LWPs, asks the VMM for a dump (request 1), frees LWP 2 and allocates LWP N+1 (which
//! reuses LWP 2's slot through the free list; request 2), then frees everything (request 3).
//! The integration tests check the three dumps; nothing else in the kernel sees these records.
//!
//! With `lwpvm.inspect_scenario=pass|fail` (and `N` = 20), right after request 1 it also acts
//! as a scenario runner would at a `dump` statement, through [`super::scenario_dump`]: it
//! asks the VMM (`vmm run --scenario guest/src/inspect/selftest-MODE.scn`) to evaluate the
//! dump assertions of that file on the made-up records, and logs what came back:
//!
//! - `pass`: dump 0 of `selftest-pass.scn`, whose assertions all hold;
//! - `fail`: dumps 0 (holds) and 1 (wrong) of `selftest-fail.scn`, then requests the VMM must
//!   refuse (a wrong fingerprint, a dump index past the file, bindings naming what the file
//!   does not declare) and one the kernel refuses itself (bindings over the limit).
//!
//! Each answer is logged as `inspect selftest: scenario dump K (WHAT): RESULT ...` with the
//! verdict bytes (`1` pass, `2` fail), or the errno name. The kernel's own exit status stays
//! 0: the VMM makes the run fail (status 1) when a dump assertion failed.

use alloc::vec::Vec;

use shared_abi::current::errno;
use shared_abi::current::inspect::{
    set_c_str, ProcState, QueuedSigInfo, SigDisposition, LWPF_SINTR, NO_LWP,
};
use shared_abi::current::lwp::{LSONPROC, LSSLEEP};
use shared_abi::current::scenario::MAX_BINDINGS_LEN;
use shared_abi::current::signal::{self, SigSet};

use super::{
    alloc_lwp, alloc_proc, cpu, dump_request, free_lwp, free_proc, scenario_dump, LwpSlot,
};

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

/// Runs the self-test with `n` LWPs (1..=20,000), and the scenario requests of `scenario`
/// (`pass` or `fail`, module docs); returns whether all three dumps were served.
pub fn run(n: u32, scenario: Option<&str>) -> bool {
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
    if let Some(mode) = scenario {
        scenario_requests(mode, n);
    }

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

/// The selftest scenario files (the VMM is given the same file with `--scenario`).
const PASS_SCN: &str = include_str!("selftest-pass.scn");
const FAIL_SCN: &str = include_str!("selftest-fail.scn");

/// The bindings of the made-up process for both files (names a file does not declare are
/// refused by the VMM, so each file gets only its own).
const PASS_BINDINGS: &str = "P1=1000 P1.main=1000:1 P1.A=1000:2 P1.W[*]=1000:3+";
const FAIL_BINDINGS: &str = "P1=1000 P1.main=1000:1 P1.A=1000:2 P1.Gone=1000:999";

const _: () = assert!(PID == 1000, "the bindings above name pid 1000");

/// FNV-1a 64 (`lwpvm_scenario::fingerprint`).
fn fingerprint(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// One request; logs its answer as `scenario dump K (WHAT): ...`.
fn request(what: &str, k: u32, fp: u64, bindings: &str, bindings_len: usize) {
    let mut verdicts = [0u8; 64];
    let mut got = 0;
    let r = scenario_dump(
        k,
        fp,
        bindings_len,
        verdicts.len(),
        |buf| {
            let n = bindings.len().min(buf.len());
            buf[..n].copy_from_slice(&bindings.as_bytes()[..n]);
            Ok(())
        },
        |v| {
            verdicts[..v.len()].copy_from_slice(v);
            got = v.len();
            Ok(())
        },
    );
    if r >= 0 {
        let mut codes = [0u8; 64];
        for (c, v) in codes.iter_mut().zip(&verdicts[..got]) {
            *c = b'0' + (*v).min(9);
        }
        let codes = core::str::from_utf8(&codes[..got]).unwrap_or("?");
        log::info!(
            "inspect selftest: scenario dump {k} ({what}): {r} assertions, verdicts {codes}"
        );
    } else {
        let e = -r as i32;
        log::info!(
            "inspect selftest: scenario dump {k} ({what}): {}",
            errno::name(e).unwrap_or("error")
        );
    }
}

/// The scenario requests of `mode` on the records as they are at request 1.
fn scenario_requests(mode: &str, n: i32) {
    if n != 20 {
        log::warn!(
            "lwpvm.inspect_scenario needs lwpvm.inspect_selftest=20 (the files say 20 LWPs)"
        );
        return;
    }
    match mode {
        "pass" => {
            let fp = fingerprint(PASS_SCN.as_bytes());
            request("holds", 0, fp, PASS_BINDINGS, PASS_BINDINGS.len());
        }
        "fail" => {
            let fp = fingerprint(FAIL_SCN.as_bytes());
            let b = FAIL_BINDINGS;
            request("holds", 0, fp, b, b.len());
            request("wrong", 1, fp, b, b.len());
            request("wrong fingerprint", 0, fp ^ 1, b, b.len());
            request("no such dump", 7, fp, b, b.len());
            request("bad bindings", 0, fp, "P1=1000 P9=1", 12);
            request("bindings over the limit", 0, fp, b, MAX_BINDINGS_LEN + 1);
        }
        other => log::warn!("ignoring lwpvm.inspect_scenario={other} (expected pass or fail)"),
    }
}
