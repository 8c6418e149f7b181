//! Tests of the decoder against synthetic guests: the states the dump must show, corruption it
//! must report, and a deterministic fuzz of tables and page tables.

use std::time::{Duration, Instant};

use shared_abi::current::inspect::*;
use shared_abi::current::lwp::LSSLEEP;

use super::mem::GuestPhys;
use super::model::{Dump, Reason, RecordStatus};
use super::testkit::*;
use super::{capture, render, DumpFormat};

fn dump(g: &SynthGuest) -> Dump {
    capture(&g.mem, Some(g.header_gpa), Reason::Control, Vec::new())
}

#[test]
fn sample_guest_decodes_to_the_states_it_was_given() {
    let g = sample_guest();
    let d = dump(&g);
    assert!(d.problems.is_empty(), "{:#?}", d.problems);
    assert_eq!(d.table.status, "ok");
    assert_eq!(d.table.kernel_state.as_deref(), Some("running"));
    assert_eq!(d.table.features, ["cpus", "procs"]);
    assert_eq!(d.cpus.len(), 2);
    assert!(d.cpus[0].bsp && d.cpus[0].online && d.cpus[0].current.is_none());
    let cur = d.cpus[1].current.unwrap();
    assert_eq!((cur.pid, cur.lid), (1, 4));

    assert_eq!(d.processes.len(), 2);
    let p1 = &d.processes[0];
    assert_eq!(
        (p1.pid, p1.name.as_str(), p1.state.as_str()),
        (1, "init", "SACTIVE")
    );
    assert_eq!(p1.flags, ["init"]);
    assert_eq!(p1.pending.signals, ["SIGTERM"]);
    assert_eq!(p1.queue.entries[0].code_name, "SI_USER");
    assert_eq!(p1.actions.len(), 2);
    let usr1 = p1.actions.iter().find(|a| a.signal == "SIGUSR1").unwrap();
    assert_eq!(usr1.handler, "0x401000");
    assert_eq!(usr1.flag_names, ["SA_SIGINFO", "SA_RESTORER"]);
    assert_eq!(usr1.mask.signals, ["SIGUSR2"]);
    assert!(p1
        .actions
        .iter()
        .any(|a| a.signal == "SIGPIPE" && a.handler == "SIG_IGN"));

    // LWP 1.1: asleep in sigsuspend with its mask, lpmap with the held bit.
    let l1 = &p1.lwps[0];
    assert_eq!((l1.lid, l1.state.as_str()), (1, "LSSLEEP"));
    assert_eq!(l1.syscall.as_deref(), Some("rt_sigsuspend"));
    assert_eq!(l1.wmesg.as_deref(), Some("sigsuspend"));
    assert_eq!(l1.sigmask.signals, ["SIGINT", "SIGUSR1"]);
    assert_eq!(l1.saved_sigmask.as_ref().unwrap().signals.len(), 0);
    assert_eq!(l1.flags, ["sintr", "lpmap", "in_syscall", "saved_mask"]);
    let ctl = l1.lwpctl.as_ref().unwrap().value.unwrap();
    assert_eq!((ctl.curcpu, ctl.pctr), (-1, 7));
    let lp = l1.lpmap.as_ref().unwrap().value.as_ref().unwrap();
    assert_eq!((lp.block_count, lp.held, lp.tid), (1, true, 1));
    assert_eq!(lp.title, "worker");
    assert_eq!(l1.regs.unwrap().rip.0, 0x40_2000);

    // LWP 1.2: suspended, RT signals queued, sigfastblock word.
    let l2 = &p1.lwps[1];
    assert_eq!(l2.state, "LSSUSPENDED");
    assert_eq!(l2.pending.signals, ["SIGRTMIN"]);
    assert_eq!(l2.queue.count, 2);
    assert_eq!(
        l2.queue
            .entries
            .iter()
            .map(|e| (e.code_name.as_str(), e.value.0))
            .collect::<Vec<_>>(),
        [("SI_QUEUE", 11), ("SI_QUEUE", 22)]
    );
    let fb = l2.sigfastblock.as_ref().unwrap();
    assert_eq!(fb.va.0, FASTBLOCK_VA);
    let fbv = fb.value.unwrap();
    assert_eq!((fbv.block_count, fbv.pend), (1, true));
    assert_eq!(l2.lwpctl.as_ref().unwrap().value.unwrap().curcpu, 1);
    assert!(l2.regs.is_none());

    // LWP 1.3: a zombie in the second chunk.
    assert_eq!(
        (p1.lwps[2].lid, p1.lwps[2].state.as_str(), p1.lwps[2].slot),
        (3, "LSZOMB", 9)
    );

    // Process 2: zombie, killed by SIGSEGV with a core.
    let p2 = &d.processes[1];
    assert_eq!((p2.pid, p2.state.as_str(), p2.slot), (2, "SZOMB", 3));
    assert_eq!(
        p2.exit_meaning.as_deref(),
        Some("killed by SIGSEGV (core dumped)")
    );
    assert!(d.orphan_lwps.is_empty());
}

#[test]
fn text_and_json_views() {
    let g = sample_guest();
    let d = dump(&g);
    let text = render(&d, DumpFormat::Text);
    for needle in [
        "=== lwpvm dump: control socket ===",
        "process 1 \"init\" SACTIVE",
        "LWP 1.1 LSSLEEP cpu 0 [sintr,lpmap,in_syscall,saved_mask] in rt_sigsuspend wchan \"sigsuspend\"",
        "mask {SIGINT SIGUSR1} saved mask {}",
        "blockallsigs 0x80000001 (count 1, held)",
        "sigfastblock at 0x70002010",
        "2 queued; SIGRTMIN SI_QUEUE from pid 1 uid 0 value 0xb; SIGRTMIN SI_QUEUE from pid 1 uid 0 value 0x16",
        "killed by SIGSEGV (core dumped)",
        "action SIGUSR1: 0x401000 flags [SA_SIGINFO,SA_RESTORER] mask {SIGUSR2}",
        "no problems found",
    ] {
        assert!(text.contains(needle), "{needle:?} not in\n{text}");
    }
    let json = render(&d, DumpFormat::Json);
    assert_eq!(json.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["schema"], 1);
    assert_eq!(v["reason"]["kind"], "control");
    assert_eq!(v["table"]["status"], "ok");
    assert_eq!(v["processes"][0]["lwps"][0]["state"], "LSSLEEP");
    assert_eq!(v["processes"][0]["lwps"][0]["sigmask"]["bits"], "0x202");
    assert_eq!(
        v["processes"][0]["lwps"][1]["queue"]["entries"][1]["value"],
        "0x16"
    );
    assert_eq!(v["processes"][0]["lwps"][0]["lpmap"]["value"]["held"], true);
    assert_eq!(v["cpus"][1]["current"]["lid"], 4);
}

#[test]
fn no_note_and_bad_headers_are_reported() {
    let g = sample_guest();
    let d = capture(&g.mem, None, Reason::Timeout, Vec::new());
    assert_eq!(d.table.status, "absent");
    assert!(d.processes.is_empty());

    let d = capture(&g.mem, Some(0xffff_0000_0000), Reason::Timeout, Vec::new());
    assert_eq!(d.table.status, "unreadable");

    let mut g = sample_guest();
    g.header.magic = 0;
    g.publish();
    assert_eq!(dump(&g).table.status, "bad_magic");

    let mut g = sample_guest();
    g.header.abi_version = 2;
    g.publish();
    assert_eq!(dump(&g).table.status, "unsupported_version");

    let mut g = sample_guest();
    g.header.seq = 3; // odd: being written
    g.header.kernel_state = 9;
    g.publish();
    let d = dump(&g);
    assert_eq!(d.table.status, "torn");
    assert_eq!(d.table.kernel_state.as_deref(), Some("invalid(9)"));
    assert_eq!(d.processes.len(), 2, "a torn header is still decoded");
}

#[test]
fn torn_and_corrupt_records_are_shown_as_such() {
    let mut g = sample_guest();
    // A torn LWP (odd seq), an impossible state, a bad live value, an orphan, a bad queue.
    let mut torn = lwp(1, 4, LSSLEEP);
    torn.seq = 7;
    g.put_lwp(2, &torn);
    g.put_lwp(3, &lwp(1, 5, 6)); // 6 = the removed LSDEAD
    let mut orphan = lwp(42, 1, LSSLEEP);
    orphan.queue.count = 1;
    orphan.queue.shown = 7;
    g.put_lwp(4, &orphan);
    let gpa = g.slot_gpa(Kind::Lwps, 5);
    let mut bad_live = lwp(1, 6, LSSLEEP);
    bad_live.live = 77;
    let mut b = vec![0u8; LwpRecord::SIZE];
    bad_live.encode_into(&mut b);
    assert!(g.mem.write_phys(gpa, &b));
    g.publish();
    let d = dump(&g);
    let lwps = &d.processes[0].lwps;
    let by_lid = |lid| lwps.iter().find(|l| l.lid == lid).unwrap();
    assert_eq!(by_lid(4).status, RecordStatus::Torn);
    assert_eq!(by_lid(5).status, RecordStatus::Corrupt);
    assert_eq!(by_lid(5).state, "invalid(6)");
    assert!(lwps.iter().all(|l| l.lid != 6), "live = 77 is skipped");
    assert_eq!(d.orphan_lwps.len(), 1);
    assert_eq!(d.orphan_lwps[0].status, RecordStatus::Corrupt);
    assert_eq!(d.orphan_lwps[0].queue.entries.len(), 1, "clamped to count");
    let problems: String = d
        .problems
        .iter()
        .map(|p| format!("{}: {}\n", p.at, p.what))
        .collect();
    for needle in [
        "lwps slot 2: torn",
        "lwps slot 3: LWP 1.5: state 6",
        "lwps slot 5: live = 77",
        "LWP 42.1 has no process record",
        "queue shows 7 of 1",
        "pid 1 claims nlwps 4 but 6 LWP records were found",
    ] {
        assert!(problems.contains(needle), "{needle:?} not in\n{problems}");
    }
    // The lwpctl of an orphan cannot be translated: no address space.
    let text = render(&d, DumpFormat::Text);
    assert!(
        text.contains("[TORN]") && text.contains("[CORRUPT]"),
        "{text}"
    );
}

#[test]
fn broken_directories_and_counts_are_bounded() {
    let mut g = sample_guest();
    g.header.lwps.nchunks = u32::MAX;
    g.header.lwps.high_water = u32::MAX;
    g.header.procs.record_size = 3;
    g.header.cpus.dir[0] = 0x123; // misaligned
    g.publish();
    let started = Instant::now();
    let d = dump(&g);
    assert!(started.elapsed() < Duration::from_secs(10));
    let problems: String = d
        .problems
        .iter()
        .map(|p| format!("{}: {}\n", p.at, p.what))
        .collect();
    assert!(
        problems.contains("nchunks 4294967295 > 16384; clamped"),
        "{problems}"
    );
    assert!(problems.contains("procs: record_size 3"), "{problems}");
    assert!(
        problems.contains("cpus chunk 0: directory page 0"),
        "{problems}"
    );
    assert!(d.cpus.is_empty() && d.processes.is_empty());
    // The LWPs that exist are still found, reported as orphans (no process records).
    assert_eq!(d.orphan_lwps.len(), 4);
}

#[test]
fn unmapped_user_pointers_are_errors_not_failures() {
    let mut g = sample_guest();
    let mut l = lwp(1, 4, LSSLEEP);
    l.lwpctl = 0x6000_0000; // unmapped
    l.lpmap = 0xffff_8000_0000_0000; // kernel address
    l.sigfastblock = 0x7000_0ffe; // straddles into the (mapped) lpmap page: fine
    g.put_lwp(2, &l);
    g.publish();
    let d = dump(&g);
    let l = d.processes[0].lwps.iter().find(|l| l.lid == 4).unwrap();
    assert!(l
        .lwpctl
        .as_ref()
        .unwrap()
        .error
        .as_ref()
        .unwrap()
        .contains("not mapped"));
    assert_eq!(
        l.lpmap.as_ref().unwrap().error.as_deref(),
        Some("not a user address")
    );
    assert!(l.sigfastblock.as_ref().unwrap().value.is_some());
}

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
fn fuzzed_tables_and_page_tables_never_panic_and_stay_bounded() {
    let g = sample_guest();
    // Hot words: the header, and every non-zero word of the directories, chunks and page
    // tables (most of the page area is unused zero bytes, where damage is invisible).
    let mut hot: Vec<u64> = (0..HEADER_SIZE as u64 / 8)
        .map(|i| g.header_gpa + i * 8)
        .collect();
    for at in (0x10_0000u64..0x14_0000).step_by(8) {
        if g.mem.read_u64(at) != Some(0) {
            hot.push(at);
        }
    }
    let interesting = [
        0u64,
        1,
        2,
        u64::MAX,
        u64::MAX / 2,
        0x10_0000,
        g.header_gpa,
        16 << 20,
        (16 << 20) - 8,
        0x8000_0000_0000,
    ];
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut with_problems = 0;
    let started = Instant::now();
    const ITERATIONS: usize = 3000;
    for _ in 0..ITERATIONS {
        let mut undo: Vec<(u64, [u8; 8])> = Vec::new();
        for _ in 0..1 + rng.below(6) {
            let at = if rng.below(4) == 0 {
                (0x10_0000 + rng.below(0x4_0000)) & !7
            } else {
                hot[rng.below(hot.len() as u64) as usize]
            };
            let mut old = [0u8; 8];
            assert!(g.mem.read_phys(at, &mut old));
            undo.push((at, old));
            let new = match rng.below(4) {
                0 => interesting[rng.below(interesting.len() as u64) as usize],
                1 => rng.next(),
                2 => u64::from_le_bytes(old) ^ (1 << rng.below(64)),
                _ => ((0x10_0000 + rng.below(0x4_0000)) & !0xfff) | (rng.below(8) & 7),
            };
            assert!(g.mem.write_phys(at, &new.to_le_bytes()));
        }
        let t = Instant::now();
        let d = capture(&g.mem, Some(g.header_gpa), Reason::Control, Vec::new());
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "one decode took {:?}",
            t.elapsed()
        );
        let _ = render(&d, DumpFormat::Text);
        let json = render(&d, DumpFormat::Json);
        assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok());
        // Every record not marked ok has its slot in the problem list.
        for l in d
            .processes
            .iter()
            .flat_map(|p| &p.lwps)
            .chain(&d.orphan_lwps)
        {
            if l.status != RecordStatus::Ok {
                let at = format!("lwps slot {}", l.slot);
                assert!(d.problems.iter().any(|p| p.at == at), "{at} {:?}", l.status);
            }
        }
        if !d.problems.is_empty() {
            with_problems += 1;
        }
        for (at, old) in undo.into_iter().rev() {
            assert!(g.mem.write_phys(at, &old));
        }
    }
    // Most random damage is noticed; the rest hit bytes whose every value is valid (counters,
    // registers, reserved fields, unused page-table entries).
    eprintln!("fuzz: {with_problems} of {ITERATIONS} mutated tables reported problems");
    assert!(
        with_problems > ITERATIONS / 3,
        "only {with_problems} of {ITERATIONS} reported"
    );
    assert!(dump(&g).problems.is_empty(), "undo restored the sample");
    assert!(started.elapsed() < Duration::from_secs(120));
}

#[test]
fn ten_thousand_lwps_decode() {
    let mut g = SynthGuest::new();
    g.header.ncpus = 1;
    g.put_cpu(0, &cpu(0));
    let mut p = proc(1, ProcState::Active, 10_000);
    p.cr3 = 0;
    g.put_proc(0, &p);
    for i in 0..10_000 {
        g.put_lwp(i, &lwp(1, i as i32 + 1, LSSLEEP));
    }
    g.publish();
    let started = Instant::now();
    let d = dump(&g);
    let took = started.elapsed();
    assert!(
        d.problems.is_empty(),
        "{:?}",
        &d.problems[..d.problems.len().min(3)]
    );
    assert_eq!(d.processes[0].lwps.len(), 10_000);
    assert_eq!(d.table.tables[2].nchunks, 1250);
    eprintln!("decoding 10,000 LWPs took {took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

/// The sample dump as the schema document shows it: the sample guest, one parked vCPU, fixed
/// timings.
fn documented_sample() -> Dump {
    use super::model::{CpuRegs, Hex, Timing, VcpuDump};
    let g = sample_guest();
    let vcpu = VcpuDump {
        id: 0,
        state: "running".into(),
        mp_state: Some(0),
        regs: Some(CpuRegs {
            rip: Hex(0xffff_ffff_8010_83a2),
            rsp: Hex(0xffff_ffff_8013_06a0),
            rflags: Hex(0x2),
            cs: 0x10,
            ss: 0x18,
            cr0: Hex(0x8001_0011),
            cr3: Hex(0x11_5000),
            cr4: Hex(0x20),
            efer: Hex(0xd01),
            ..CpuRegs::default()
        }),
    };
    let mut d = capture(
        &g.mem,
        Some(g.header_gpa),
        Reason::Request { id: 9, vcpu: 0 },
        vec![vcpu],
    );
    d.timing = Timing {
        paused: true,
        pause_ns: 154_000,
        capture_ns: 137_000,
        paused_total_ns: 335_000,
    };
    d
}

/// The set of key paths of a JSON value (arrays: the union over their elements).
fn key_paths(v: &serde_json::Value, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let p = format!("{prefix}.{k}");
                out.insert(p.clone());
                key_paths(v, &p, out);
            }
        }
        serde_json::Value::Array(a) => {
            for v in a {
                key_paths(v, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_schema_document_matches_the_model() {
    let doc = include_str!("../../../docs/DUMP-SCHEMA.md");
    let start = doc.find("```json\n").expect("a json example") + 8;
    let end = start + doc[start..].find("\n```").unwrap();
    let documented: serde_json::Value = serde_json::from_str(&doc[start..end]).unwrap();
    let actual = serde_json::to_value(documented_sample()).unwrap();
    if std::env::var_os("LWPVM_PRINT_DUMP_EXAMPLE").is_some() {
        println!(
            "{}",
            serde_json::to_string_pretty(&documented_sample()).unwrap()
        );
    }
    let (mut a, mut b) = (Default::default(), Default::default());
    key_paths(&documented, "", &mut a);
    key_paths(&actual, "", &mut b);
    assert_eq!(
        a, b,
        "docs/DUMP-SCHEMA.md's example has other fields than the model"
    );
    assert_eq!(
        documented, actual,
        "regenerate the example: LWPVM_PRINT_DUMP_EXAMPLE=1"
    );
}

#[test]
fn print_text_example() {
    if std::env::var_os("LWPVM_PRINT_DUMP_EXAMPLE").is_some() {
        print!("{}", render(&documented_sample(), DumpFormat::Text));
    }
}
