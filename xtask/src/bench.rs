//! Benchmarks. Never part of `cargo xtask test`: figures are reported, not asserted.
//!
//! - `boot`: median wall time of booting the same image to its exit under our VMM, QEMU TCG and
//!   QEMU with accel=kvm, measured side by side in one run, with ratios to our VMM; and console
//!   throughput guest → host through the virtio console versus the serial port.
//! - `dump`: how long a dump requested by the guest keeps it paused (pause → every vCPU parked
//!   → decode → resume), as the dumps report it (`timing` in `docs/DUMP-SCHEMA.md`), with the
//!   inspection self-test's 64 LWPs published.
//! - `syscall`: the cost of a null system call (`getpid`) from ring 3, measured by the ring-3
//!   program `bench-syscall` (marks around N calls and around an empty loop of N, each also
//!   timed with `rdtsc`): under our VMM, the kernel instructions per call from KVM's
//!   `insn_emulation` counter at the marks (`vmm run --marks`), minus the empty loop's, and
//!   cycles per call (the fault gate of this machine's KVM); under QEMU TCG with
//!   `-icount shift=0`, where `rdtsc` counts instructions, the user + kernel instructions per
//!   call (the `syscall`/`sysretq` gate), comparable with host-kvm.md's Linux figure (344).
//! - `linux`: the same operations as the guest's benchmark programs on the host's Linux, and
//!   the side-by-side table of both ([`linux`], docs/PERFORMANCE.md).

use std::time::Duration;

use anyhow::{bail, Result};
use lwpvm_tests::{Artifacts, Boot, Host};

use crate::build;

pub mod linux;

/// Runs the named benchmarks (all when `which` is empty).
pub fn run(which: &[String], rounds: usize) -> Result<()> {
    let all = which.is_empty();
    let known = ["boot", "dump", "syscall", "linux"];
    if let Some(w) = which.iter().find(|w| !known.contains(&w.as_str())) {
        bail!("unknown benchmark {w:?}; known: {}", known.join(", "));
    }
    // Linux first (it needs no guest build); the side-by-side table last, after the guest
    // benchmarks have written their results.
    if all || which.iter().any(|w| w == "linux") {
        linux::measure()?;
    }
    if !all && which.iter().all(|w| w == "linux") {
        return linux::side_by_side();
    }
    let art = build::all(true)?;
    if all || which.iter().any(|w| w == "boot") {
        boot(&art, rounds.max(1))?;
    }
    if all || which.iter().any(|w| w == "dump") {
        dump(&art, rounds.max(1))?;
    }
    if all || which.iter().any(|w| w == "syscall") {
        syscall(&art, rounds.max(1))?;
    }
    if all {
        linux::side_by_side()?;
    }
    Ok(())
}

/// `bench-syscall`'s per-round figures from its console: (empty-loop cycles, getpid-loop
/// cycles).
fn bench_rounds(console: &str) -> Vec<(u64, u64)> {
    console
        .lines()
        .filter(|l| l.starts_with("bench-syscall: round "))
        .filter_map(|l| {
            let num = |key: &str| -> Option<u64> {
                let rest = &l[l.find(key)? + key.len()..];
                rest.split_whitespace().next()?.parse().ok()
            };
            Some((num("empty loop ")?, num("getpid loop ")?))
        })
        .collect()
}

/// Median, minimum and maximum.
fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// Null system call: kernel instructions (our VMM, marks), cycles, and user + kernel
/// instructions under QEMU TCG icount.
fn syscall(art: &Artifacts, rounds: usize) -> Result<()> {
    // Ring 0 is interpreted here (~0.6 µs per instruction): a thousand calls per round.
    const N_KVM: u64 = 1000;
    const N_TCG: u64 = 10_000;
    println!("== syscall: null system call (getpid) from ring 3, {rounds} rounds ==");
    let file = std::env::temp_dir().join(format!("lwpvm-bench-marks-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let out = Boot::new(Host::Lwpvm)
        .initrd(&art.initrd)
        .cmdline(&format!("init=/bin/bench-syscall -- {N_KVM} {rounds}"))
        .arg("--marks")
        .arg(&file.to_string_lossy())
        .timeout(Duration::from_secs(600))
        .run(art);
    if out.guest_status != Some(0) {
        bail!("benchmark boot failed:\n{}", out.report());
    }
    let mut marks = std::collections::HashMap::new();
    for line in std::fs::read_to_string(&file)?.lines() {
        let m: serde_json::Value = serde_json::from_str(line)?;
        if let (Some(id), Some(insn)) = (m["id"].as_u64(), m["insn_emulation"].as_u64()) {
            marks.insert(id, insn);
        }
    }
    let _ = std::fs::remove_file(&file);
    let mut insn = Vec::new();
    let mut insn_raw = Vec::new();
    for r in 1..=rounds as u64 {
        let m = |k: u64| marks.get(&((r << 8) | k)).copied();
        let (Some(a), Some(b), Some(c), Some(d)) = (m(1), m(2), m(3), m(4)) else {
            bail!("marks of round {r} missing (no insn_emulation statistic on this host?)");
        };
        let per_call = (d - c) as f64 / N_KVM as f64;
        insn_raw.push(per_call);
        insn.push(per_call - (b - a) as f64 / N_KVM as f64);
    }
    let cycles: Vec<f64> = bench_rounds(&out.stdout)
        .into_iter()
        .map(|(empty, calls)| calls.saturating_sub(empty) as f64 / N_KVM as f64)
        .collect();
    if cycles.len() != rounds {
        bail!(
            "bench-syscall printed {} rounds, not {rounds}:\n{}",
            cycles.len(),
            out.report()
        );
    }
    println!("{:<44} {:>10} {:>10} {:>10}", "", "median", "min", "max");
    let row = |name: &str, v: Vec<f64>| {
        let (m, lo, hi) = stats(v);
        println!("{name:<44} {m:>10.1} {lo:>10.1} {hi:>10.1}");
    };
    row("lwpvm (fault gate): kernel insns / call", insn);
    row("  (before the empty-loop baseline)", insn_raw);
    row("lwpvm (fault gate): TSC cycles / call", cycles);

    for (name, icount) in [
        ("qemu-tcg (sysret gate): TSC cycles / call", false),
        ("qemu-tcg icount (sysret gate): insns / call", true),
    ] {
        let mut b = Boot::new(Host::QemuTcg)
            .initrd(&art.initrd)
            .cmdline(&format!("init=/bin/bench-syscall -- {N_TCG} {rounds}"))
            .timeout(Duration::from_secs(600));
        if icount {
            b = b.arg("-icount").arg("shift=0,sleep=off");
        }
        let out = b.run(art);
        if out.guest_status != Some(0) {
            bail!("benchmark boot failed:\n{}", out.report());
        }
        let v: Vec<f64> = bench_rounds(&out.stdout)
            .into_iter()
            .map(|(empty, calls)| calls.saturating_sub(empty) as f64 / N_TCG as f64)
            .collect();
        if v.is_empty() {
            bail!("no rounds reported:\n{}", out.report());
        }
        row(name, v);
    }
    println!("(icount: user + kernel instructions, the loop's own subtracted; Linux 6.1 measured the same way: 344)");
    Ok(())
}

/// Pause, capture and total paused time of guest-requested dumps (2 vCPUs, 64 LWPs).
fn dump(art: &Artifacts, rounds: usize) -> Result<()> {
    println!("== dump: guest paused for a dump it requested (2 vCPUs, 64 LWPs), {rounds} boots x 3 dumps ==");
    let file = std::env::temp_dir().join(format!("lwpvm-bench-dump-{}.json", std::process::id()));
    let mut fields: [(&str, Vec<u64>); 3] = [
        ("pause_ns", Vec::new()),
        ("capture_ns", Vec::new()),
        ("paused_total_ns", Vec::new()),
    ];
    for _ in 0..rounds {
        let _ = std::fs::remove_file(&file);
        let out = Boot::new(Host::Lwpvm)
            .cpus(2)
            .cmdline("lwpvm.inspect_selftest=64")
            .arg("--dump-on")
            .arg("request")
            .arg("--dump-format")
            .arg("json")
            .arg("--dump-file")
            .arg(&file.to_string_lossy())
            .timeout(Duration::from_secs(120))
            .run(art);
        if out.guest_status != Some(0) {
            bail!("benchmark boot failed:\n{}", out.report());
        }
        for line in std::fs::read_to_string(&file)?.lines() {
            let d: serde_json::Value = serde_json::from_str(line)?;
            for (name, v) in &mut fields {
                v.push(d["timing"][*name].as_u64().unwrap_or_default());
            }
        }
    }
    let _ = std::fs::remove_file(&file);
    println!(
        "{:<16} {:>10} {:>10} {:>10}",
        "", "median ms", "min ms", "max ms"
    );
    for (name, mut v) in fields {
        if v.is_empty() {
            bail!("no dumps were written");
        }
        v.sort_unstable();
        let ms = |ns: u64| ns as f64 / 1e6;
        println!(
            "{:<16} {:>10.3} {:>10.3} {:>10.3}",
            name,
            ms(v[v.len() / 2]),
            ms(v[0]),
            ms(v[v.len() - 1])
        );
    }
    Ok(())
}

/// One boot to exit, returning its wall time.
fn time_boot(art: &Artifacts, host: Host, cmdline: &str) -> Result<Duration> {
    let out = Boot::new(host)
        .cmdline(cmdline)
        .timeout(Duration::from_secs(120))
        .run(art);
    if out.guest_status != Some(0) {
        bail!("benchmark boot failed:\n{}", out.report());
    }
    Ok(out.elapsed)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn boot(art: &Artifacts, rounds: usize) -> Result<()> {
    println!("== boot: wall time from process start to guest exit, {rounds} rounds per host, interleaved ==");
    let hosts = [Host::Lwpvm, Host::QemuTcg, Host::QemuKvm];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); hosts.len()];
    // Interleave the hosts so that background load affects them alike.
    for _ in 0..rounds {
        for (i, h) in hosts.iter().enumerate() {
            times[i].push(time_boot(art, *h, "")?);
        }
    }
    let base = median(times[0].clone());
    println!(
        "{:<10} {:>10} {:>10} {:>10} {:>8}",
        "host", "median ms", "min ms", "max ms", "ratio"
    );
    for (h, t) in hosts.iter().zip(&times) {
        let m = median(t.clone());
        println!(
            "{:<10} {:>10.1} {:>10.1} {:>10.1} {:>8.2}",
            h.name(),
            m.as_secs_f64() * 1e3,
            t.iter().min().unwrap().as_secs_f64() * 1e3,
            t.iter().max().unwrap().as_secs_f64() * 1e3,
            m.as_secs_f64() / base.as_secs_f64()
        );
    }

    println!();
    println!("== console throughput guest -> host (our VMM): virtio console vs serial ==");
    const BYTES: u32 = 64 * 1024;
    let mut rows = Vec::new();
    for sink in ["console", "serial"] {
        let mut empty = Vec::new();
        let mut full = Vec::new();
        for _ in 0..rounds.min(5) {
            empty.push(time_boot(
                art,
                Host::Lwpvm,
                &format!("lwpvm.bench={sink}:0"),
            )?);
            full.push(time_boot(
                art,
                Host::Lwpvm,
                &format!("lwpvm.bench={sink}:{BYTES}"),
            )?);
        }
        let extra = median(full).saturating_sub(median(empty));
        let rate = f64::from(BYTES) / extra.as_secs_f64().max(1e-9);
        rows.push((sink, extra, rate));
    }
    println!("{:<8} {:>12} {:>14}", "sink", "ms/64KiB", "bytes/s");
    for (sink, extra, rate) in &rows {
        println!(
            "{:<8} {:>12.1} {:>14.0}",
            sink,
            extra.as_secs_f64() * 1e3,
            rate
        );
    }
    if rows.len() == 2 {
        println!(
            "virtio/serial throughput ratio: {:.1}",
            rows[0].2 / rows[1].2
        );
    }
    Ok(())
}
