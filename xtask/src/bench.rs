//! Benchmarks. Never part of `cargo xtask test`: figures are reported, not asserted.
//!
//! - `boot`: median wall time of booting the same image to its exit under our VMM, QEMU TCG and
//!   QEMU with accel=kvm, measured side by side in one run, with ratios to our VMM; and console
//!   throughput guest → host through the virtio console versus the serial port.
//! - `dump`: how long a dump requested by the guest keeps it paused (pause → every vCPU parked
//!   → decode → resume), as the dumps report it (`timing` in `docs/DUMP-SCHEMA.md`), with the
//!   inspection self-test's 64 LWPs published.
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
    let known = ["boot", "dump", "linux"];
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
    if all {
        linux::side_by_side()?;
    }
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
