//! `cargo xtask bench linux`, and the side-by-side table of lwpvm and Linux.
//!
//! [`measure`] builds `lwpvm-linux-bench` (bench/linux) in release mode and runs it (its report
//! goes to `target/lwpvm/bench/linux.json`); after every benchmark of the run, `cargo xtask
//! bench` prints [`side_by_side`]: one row per operation ([`Op::ALL`]), with
//!
//! | column | what | source |
//! |---|---|---|
//! | lwpvm cycles | median `rdtsc` cycles per operation in the guest | the guest's `bench` lines, [`GUEST_LINES`] |
//! | lwpvm k-insns | guest ring-0 instructions per operation (exact on an interpreting KVM) | the VMM's `--marks` file, [`GUEST_MARKS`] |
//! | lwpvm icount | user + kernel instructions per operation under QEMU TCG `-icount shift=0` | `bench` lines of such a run, [`GUEST_ICOUNT_LINES`] |
//! | Linux ns | median ns per operation on this host's Linux, this run | `linux.json` |
//! | Linux 6.1 icount | Linux 6.1's user + kernel instructions under TCG icount | [`LINUX61_ICOUNT`] (host-kvm.md §4) |
//! | ratio | lwpvm instructions / Linux 6.1 instructions | see [`Row::ratio`] |
//!
//! The guest files are whatever the guest benchmarks (`cargo xtask bench syscall` ...) last
//! wrote into `target/lwpvm/bench/`; a missing file leaves its columns at "—", and the table
//! says how old each file it used is.
//! The line format and the mark ids are `shared_abi::current::bench`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use lwpvm_linux_bench::report::{fmt_count, fmt_ns, render_rows, Report};
use shared_abi::current::bench::{decode_mark, BenchLine, MarkEdge, Op};

use crate::{cargo, root, status};

/// Where every benchmark result goes: `target/lwpvm/bench/`.
pub fn out_dir() -> PathBuf {
    root().join("target").join("lwpvm").join("bench")
}

/// The Linux report, written by `lwpvm-linux-bench --json`.
pub const LINUX_JSON: &str = "linux.json";
/// The guest's console output (or just its `bench` lines) from a run in the lwpvm VMM.
pub const GUEST_LINES: &str = "lwpvm.txt";
/// The VMM's `--marks` file (JSON lines) of that same run.
pub const GUEST_MARKS: &str = "lwpvm-marks.jsonl";
/// `bench` lines of the same guest benchmark under QEMU TCG with `-icount shift=0`.
pub const GUEST_ICOUNT_LINES: &str = "lwpvm-icount.txt";
/// The side-by-side table as JSON.
pub const TABLE_JSON: &str = "table.json";

/// Linux 6.1 (Debian's cloud kernel, `mitigations=off`) as /init of a one-vCPU guest under QEMU
/// TCG with `-icount shift=0,sleep=off`: user + kernel instructions per operation, median of 7
/// rounds. Source: the project's reference notes, host-kvm.md §4 ("the numbers to beat").
pub const LINUX61_ICOUNT: [(Op, u64); 10] = [
    (Op::NullSyscall, 344),
    (Op::SigprocmaskPair, 925),
    (Op::SelfSignal, 4_203),
    (Op::SelfSignalAltstack, 4_397),
    (Op::RtSigqueue, 10_878),
    (Op::CrossSignal1Cpu, 9_956),
    (Op::FutexPingpong1Cpu, 6_775),
    (Op::ThreadCreateJoin, 114_387),
    (Op::ForkExitWait, 230_181),
    (Op::GroupKillPerThread, 20_912),
];

/// What the Linux columns of `op`'s row show: the same operation, or what a Linux program does
/// instead (`sigblockall`/`sigfastblock` → the `sigprocmask` pair); `None` if nothing.
pub fn linux_counterpart(op: Op) -> Option<Op> {
    match op {
        Op::SigblockallPair | Op::SigfastblockPair => Some(Op::SigprocmaskPair),
        Op::Dump1000Lwps | Op::Dump10000Lwps => None,
        other => Some(other),
    }
}

/// Builds and runs the Linux benchmark; its report goes to [`LINUX_JSON`] in [`out_dir`].
pub fn measure() -> Result<()> {
    println!("== linux: the same operations on this host's Linux (bench/linux) ==");
    let mut c = cargo();
    c.current_dir(root())
        .args(["build", "--release", "-p", "lwpvm-linux-bench"]);
    status(c, "building lwpvm-linux-bench")?;
    let json = out_dir().join(LINUX_JSON);
    let mut c = std::process::Command::new(
        root()
            .join("target")
            .join("release")
            .join("lwpvm-linux-bench"),
    );
    c.arg("--json").arg(&json).arg("--no-table");
    status(c, "lwpvm-linux-bench")
}

/// Reads whatever results exist in [`out_dir`], prints the side-by-side table and writes it
/// as [`TABLE_JSON`].
pub fn side_by_side() -> Result<()> {
    let dir = out_dir();
    let read = |name: &str| -> Result<Option<String>> {
        let p = dir.join(name);
        match std::fs::read_to_string(&p) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
        }
    };
    let linux = match read(LINUX_JSON)? {
        Some(text) => Some(
            Report::from_json(&text)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("{}", dir.join(LINUX_JSON).display()))?,
        ),
        None => None,
    };
    let guest = Guest::load(
        read(GUEST_LINES)?.as_deref(),
        read(GUEST_MARKS)?.as_deref(),
        read(GUEST_ICOUNT_LINES)?.as_deref(),
    )?;
    let rows = rows(linux.as_ref(), &guest);
    println!();
    print!("{}", render(linux.as_ref(), &guest, &rows));
    for name in [LINUX_JSON, GUEST_LINES, GUEST_MARKS, GUEST_ICOUNT_LINES] {
        let age = std::fs::metadata(dir.join(name))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok());
        if let Some(age) = age {
            println!("from {name}, written {} ago", fmt_age(age.as_secs()));
        }
    }
    let path = dir.join(TABLE_JSON);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(&path, table_json(linux.as_ref(), &rows) + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    println!("(written to {})", path.display());
    Ok(())
}

/// `75` → `"1 min 15 s"`: how old a result file is.
pub fn fmt_age(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        3600..86400 => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
        _ => format!("{} days", secs / 86400),
    }
}

/// One guest `bench` line, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestLine {
    /// The operation id.
    pub id: String,
    /// Median cycles per operation.
    pub cycles: u64,
    /// Operations timed.
    pub iterations: u64,
}

/// Every `bench` line of a console output, in order. A malformed `bench` line is an error
/// (with its line number); every other line is ignored.
pub fn parse_guest_lines(text: &str) -> Result<Vec<GuestLine>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match BenchLine::parse(line) {
            Ok(Some(l)) => out.push(GuestLine {
                id: l.id.to_string(),
                cycles: l.cycles,
                iterations: l.iterations,
            }),
            Ok(None) => {}
            Err(e) => bail!("line {}: {e}: {line:?}", i + 1),
        }
    }
    Ok(out)
}

/// Ring-0 instructions inside the benchmark marks of a `vmm run --marks` file, per operation
/// code: each begin mark is paired with the next end mark of the same operation on the same
/// vCPU, and `end - begin` of `insn_emulation` is added up over all pairs and vCPUs. Also
/// returns warnings (unpaired marks, counters the host did not provide).
pub fn mark_totals(marks_jsonl: &str) -> Result<(BTreeMap<u16, u64>, Vec<String>)> {
    let mut marks = Vec::new();
    for (i, line) in marks_jsonl.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("marks line {}", i + 1))?;
        let field = |k: &str| v[k].as_u64();
        let (Some(seq), Some(vcpu), Some(id)) = (field("seq"), field("vcpu"), field("id")) else {
            bail!("marks line {}: needs seq, vcpu and id", i + 1);
        };
        let Some((code, edge)) = u32::try_from(id).ok().and_then(decode_mark) else {
            continue;
        };
        marks.push((seq, vcpu, code, edge, field("insn_emulation")));
    }
    marks.sort_by_key(|m| m.0);
    let mut open: BTreeMap<(u64, u16), u64> = BTreeMap::new();
    let mut totals: BTreeMap<u16, u64> = BTreeMap::new();
    let mut warnings = Vec::new();
    let name = |code: u16| Op::from_code(code).map_or(format!("#{code}"), |o| o.id().into());
    for (seq, vcpu, code, edge, insns) in marks {
        let Some(insns) = insns else {
            warnings.push(format!(
                "mark {seq} ({}): the host gave no insn_emulation counter",
                name(code)
            ));
            continue;
        };
        match edge {
            MarkEdge::Begin => {
                if open.insert((vcpu, code), insns).is_some() {
                    warnings.push(format!(
                        "mark {seq}: {} begins twice on vCPU {vcpu}",
                        name(code)
                    ));
                }
            }
            MarkEdge::End => match open.remove(&(vcpu, code)) {
                Some(begin) => {
                    *totals.entry(code).or_default() += insns.saturating_sub(begin);
                }
                None => warnings.push(format!(
                    "mark {seq}: {} ends on vCPU {vcpu} without a begin",
                    name(code)
                )),
            },
        }
    }
    for (vcpu, code) in open.keys() {
        warnings.push(format!(
            "{} begins on vCPU {vcpu} and never ends",
            name(*code)
        ));
    }
    Ok((totals, warnings))
}

/// lwpvm's figures for one operation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GuestFigures {
    /// Median `rdtsc` cycles per operation (lwpvm VMM run).
    pub cycles: Option<u64>,
    /// Ring-0 instructions per operation (marks of the same run).
    pub kernel_insns: Option<f64>,
    /// User + kernel instructions per operation (TCG icount run).
    pub icount_insns: Option<u64>,
}

/// Everything known about the guest side.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Guest {
    /// Figures by operation id.
    pub by_id: BTreeMap<String, GuestFigures>,
    /// Problems worth printing under the table.
    pub warnings: Vec<String>,
}

impl Guest {
    /// Combines the guest files (any of them may be missing).
    pub fn load(lines: Option<&str>, marks: Option<&str>, icount: Option<&str>) -> Result<Guest> {
        let mut g = Guest::default();
        let lines = match lines {
            Some(t) => parse_guest_lines(t).context(GUEST_LINES)?,
            None => Vec::new(),
        };
        for l in &lines {
            g.by_id.entry(l.id.clone()).or_default().cycles = Some(l.cycles);
        }
        if let Some(marks) = marks {
            let (totals, warnings) = mark_totals(marks).context(GUEST_MARKS)?;
            g.warnings.extend(warnings);
            for (code, total) in totals {
                let Some(op) = Op::from_code(code) else {
                    continue;
                };
                match lines.iter().find(|l| l.id == op.id()) {
                    Some(l) => {
                        g.by_id.entry(l.id.clone()).or_default().kernel_insns =
                            Some(total as f64 / l.iterations as f64);
                    }
                    None => g.warnings.push(format!(
                        "marks for {} but no bench line giving its iterations",
                        op.id()
                    )),
                }
            }
        }
        if let Some(t) = icount {
            for l in parse_guest_lines(t).context(GUEST_ICOUNT_LINES)? {
                g.by_id.entry(l.id).or_default().icount_insns = Some(l.cycles);
            }
        }
        for id in g.by_id.keys() {
            if Op::from_id(id).is_none() {
                g.warnings.push(format!(
                    "the guest reported {id:?}, an id this xtask does not know"
                ));
            }
        }
        Ok(g)
    }
}

/// One row of the side-by-side table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Operation id.
    pub id: String,
    /// Title.
    pub title: String,
    /// lwpvm's figures.
    pub guest: GuestFigures,
    /// The operation the Linux columns show, when it is not this one.
    pub linux_counterpart: Option<Op>,
    /// Linux ns per operation (this host, this run).
    pub linux_ns: Option<f64>,
    /// Linux 6.1 instructions per operation under TCG icount (reference).
    pub linux61_insns: Option<u64>,
    /// lwpvm instructions / Linux 6.1 instructions. Like with like when lwpvm's TCG icount
    /// figure exists (both user + kernel, both under TCG icount); otherwise lwpvm's ring-0
    /// instructions alone, a lower bound of its total, so the ratio is a lower bound
    /// ([`Row::ratio_is_lower_bound`]).
    pub ratio: Option<f64>,
    /// The ratio uses ring-0 instructions only.
    pub ratio_is_lower_bound: bool,
}

/// The rows: every operation in [`Op::ALL`] order, then ids only the guest knows.
pub fn rows(linux: Option<&Report>, guest: &Guest) -> Vec<Row> {
    let reference = |op: Op| {
        LINUX61_ICOUNT
            .iter()
            .find(|(o, _)| *o == op)
            .map(|(_, n)| *n)
    };
    let mut rows: Vec<Row> = Op::ALL
        .iter()
        .map(|&op| {
            let g = guest.by_id.get(op.id()).cloned().unwrap_or_default();
            let counterpart = linux_counterpart(op);
            let linux_ns = counterpart
                .and_then(|c| linux.and_then(|r| r.get(c.id())))
                .map(|r| r.ns_median);
            let linux61 = counterpart.and_then(reference);
            let (ratio, lower) = match (g.icount_insns, g.kernel_insns, linux61) {
                (Some(i), _, Some(l)) => (Some(i as f64 / l as f64), false),
                (None, Some(k), Some(l)) => (Some(k / l as f64), true),
                _ => (None, false),
            };
            Row {
                id: op.id().into(),
                title: op.title().into(),
                guest: g,
                linux_counterpart: counterpart.filter(|c| *c != op),
                linux_ns,
                linux61_insns: linux61,
                ratio,
                ratio_is_lower_bound: lower,
            }
        })
        .collect();
    for (id, g) in &guest.by_id {
        if Op::from_id(id).is_none() {
            rows.push(Row {
                id: id.clone(),
                title: id.clone(),
                guest: g.clone(),
                linux_counterpart: None,
                linux_ns: None,
                linux61_insns: None,
                ratio: None,
                ratio_is_lower_bound: false,
            });
        }
    }
    rows
}

/// "—" for a missing figure.
const NONE: &str = "—";

fn cell<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map_or_else(|| NONE.to_string(), f)
}

/// The table as text: a headline, the rows, the notes.
pub fn render(linux: Option<&Report>, guest: &Guest, rows: &[Row]) -> String {
    let mut out = String::from("== lwpvm vs Linux, per operation ==\n");
    match linux {
        Some(r) => out.push_str(&format!("Linux ns: {}\n", r.headline())),
        None => out.push_str("Linux ns: not measured (cargo xtask bench linux)\n"),
    }
    let header = [
        "operation",
        "lwpvm cycles",
        "lwpvm k-insns",
        "lwpvm icount",
        "Linux ns",
        "Linux 6.1 icount",
        "ratio",
    ];
    let mut table: Vec<[String; 7]> = vec![header.map(str::to_string)];
    let mut any_counterpart = false;
    let mut any_lower = false;
    for r in rows {
        let mut title = r.title.clone();
        if r.linux_counterpart.is_some() {
            title.push_str(" †");
            any_counterpart = true;
        }
        any_lower |= r.ratio_is_lower_bound;
        table.push([
            title,
            cell(r.guest.cycles, fmt_count),
            cell(r.guest.kernel_insns, |k| fmt_count(k.round() as u64)),
            cell(r.guest.icount_insns, fmt_count),
            cell(r.linux_ns, fmt_ns),
            cell(r.linux61_insns, fmt_count),
            cell(r.ratio, |x| {
                format!("{}{x:.2}", if r.ratio_is_lower_bound { "≥" } else { "" })
            }),
        ]);
    }
    out.push_str(&render_rows(
        &table,
        &[false, true, true, true, true, true, true],
    ));
    if any_counterpart {
        out.push_str(
            "† Linux has no such call: its columns show sigprocmask_pair, what a Linux program \
             does instead.\n",
        );
    }
    out.push_str(
        "cycles: guest rdtsc; k-insns: guest ring-0 instructions (KVM insn_emulation); icount: \
         user + kernel instructions under QEMU TCG -icount shift=0 (Linux 6.1: 1 vCPU, \
         host-kvm.md §4).\n\
         ratio = lwpvm instructions / Linux 6.1 instructions per operation (goal: 0.33 or less).\n",
    );
    if any_lower {
        out.push_str(
            "≥: lwpvm's ring-0 instructions only (no icount run yet), so the ratio is a lower \
             bound.\n",
        );
    }
    if guest.by_id.is_empty() {
        out.push_str(
            "lwpvm: not measured yet (no guest benchmark results in target/lwpvm/bench).\n",
        );
    }
    for w in &guest.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

/// The table as JSON: `{"linux_machine": ..., "rows": [{id, title, lwpvm_cycles, ...}]}`,
/// with `null` for missing figures.
pub fn table_json(linux: Option<&Report>, rows: &[Row]) -> String {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id,
                "title": r.title,
                "lwpvm_cycles": r.guest.cycles,
                "lwpvm_kernel_insns": r.guest.kernel_insns,
                "lwpvm_icount_insns": r.guest.icount_insns,
                "linux_counterpart": r.linux_counterpart.map(|o| o.id()),
                "linux_ns": r.linux_ns,
                "linux61_icount_insns": r.linux61_insns,
                "ratio_insns": r.ratio,
                "ratio_is_lower_bound": r.ratio_is_lower_bound,
            })
        })
        .collect();
    let v = serde_json::json!({
        "schema": "lwpvm-bench-table/1",
        "linux_headline": linux.map(Report::headline),
        "linux61_source": "host-kvm.md §4: Linux 6.1 under QEMU TCG -icount shift=0, 1 vCPU, median of 7 rounds",
        "rows": rows,
    });
    serde_json::to_string_pretty(&v).expect("JSON values serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use lwpvm_linux_bench::report::{Machine, Method, OpResult, SCHEMA};
    use shared_abi::current::bench::mark_id;

    fn linux() -> Report {
        let result = |id: &str, ns: f64| OpResult {
            id: id.into(),
            title: id.into(),
            ns_median: ns,
            ns_min: ns,
            ns_max: ns,
            iterations: 100,
            rounds: 7,
            cpus: vec![0],
            method: String::new(),
        };
        Report {
            schema: SCHEMA.into(),
            measured_at_unix: 0,
            machine: Machine {
                nproc: 2,
                cpu_model: "AMD EPYC".into(),
                cpu_signature: "family 25 model 1".into(),
                hypervisor: false,
                kernel: "6.18".into(),
                kernel_version: String::new(),
                libc: "glibc 2.36".into(),
                cpus_allowed: vec![0, 1],
                mitigations: vec![],
            },
            method: Method {
                rounds: 7,
                round_ms: 40.0,
                statistic: String::new(),
                clock: String::new(),
            },
            results: vec![
                result("null_syscall", 162.1),
                result("sigprocmask_pair", 478.4),
            ],
            not_measured: vec![],
        }
    }

    fn mark(seq: u64, vcpu: u8, op: Op, edge: MarkEdge, insns: u64) -> String {
        format!(
            r#"{{"seq":{seq},"vcpu":{vcpu},"id":{},"host_ns":0,"insn_emulation":{insns},"exits":1}}"#,
            mark_id(op, edge)
        )
    }

    #[test]
    fn guest_lines_are_picked_out_of_the_console() {
        let text = "[ 0.1] kernel: hello\nbench null_syscall 5000 70000\nnoise\r\n\
                    bench self_signal 90000 7000 rounds=7\n";
        let l = parse_guest_lines(text).unwrap();
        assert_eq!(
            l,
            vec![
                GuestLine {
                    id: "null_syscall".into(),
                    cycles: 5000,
                    iterations: 70000
                },
                GuestLine {
                    id: "self_signal".into(),
                    cycles: 90000,
                    iterations: 7000
                },
            ]
        );
        let e = parse_guest_lines("ok\nbench null_syscall x 1\n").unwrap_err();
        assert!(e.to_string().starts_with("line 2:"), "{e}");
    }

    #[test]
    fn marks_pair_per_vcpu_and_operation() {
        let m = [
            mark(0, 0, Op::NullSyscall, MarkEdge::Begin, 1000),
            // The partner of a two-CPU operation brackets its own loop on vCPU 1.
            mark(1, 1, Op::FutexPingpong2Cpu, MarkEdge::Begin, 50),
            mark(2, 0, Op::NullSyscall, MarkEdge::End, 1300),
            mark(3, 0, Op::NullSyscall, MarkEdge::Begin, 2000),
            mark(4, 0, Op::NullSyscall, MarkEdge::End, 2100),
            mark(5, 0, Op::FutexPingpong2Cpu, MarkEdge::Begin, 3000),
            mark(6, 0, Op::FutexPingpong2Cpu, MarkEdge::End, 3500),
            mark(7, 1, Op::FutexPingpong2Cpu, MarkEdge::End, 450),
            // Not a benchmark mark.
            r#"{"seq":8,"vcpu":0,"id":7,"host_ns":0,"insn_emulation":1,"exits":1}"#.into(),
        ];
        // The order in the file does not matter: seq decides.
        let reversed: Vec<&str> = m.iter().rev().map(String::as_str).collect();
        assert_eq!(
            mark_totals(&reversed.join("\n")).unwrap(),
            mark_totals(&m.join("\n")).unwrap()
        );
        let (totals, warnings) = mark_totals(&m.join("\n")).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(totals[&Op::NullSyscall.code()], 300 + 100);
        assert_eq!(totals[&Op::FutexPingpong2Cpu.code()], 500 + 400);
    }

    #[test]
    fn unpaired_and_counterless_marks_are_warned_about() {
        let m = [
            mark(0, 0, Op::SelfSignal, MarkEdge::End, 5),
            mark(1, 0, Op::SelfSignal, MarkEdge::Begin, 10),
            mark(2, 1, Op::SelfSignal, MarkEdge::End, 20),
            r#"{"seq":3,"vcpu":0,"id":1650786307,"host_ns":0,"insn_emulation":null}"#.into(),
        ];
        let (totals, warnings) = mark_totals(&m.join("\n")).unwrap();
        assert!(totals.is_empty());
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        assert!(mark_totals("{\"seq\":1}").is_err());
        assert!(mark_totals("not json").is_err());
    }

    #[test]
    fn guest_figures_combine_lines_marks_and_icount() {
        let lines = "bench null_syscall 5000 100\nbench brand_new_op 7 1\n";
        let marks = [
            mark(0, 0, Op::NullSyscall, MarkEdge::Begin, 0),
            mark(1, 0, Op::NullSyscall, MarkEdge::End, 12_000),
            mark(2, 0, Op::SelfSignal, MarkEdge::Begin, 0),
            mark(3, 0, Op::SelfSignal, MarkEdge::End, 1),
        ]
        .join("\n");
        let icount = "bench null_syscall 150 100\n";
        let g = Guest::load(Some(lines), Some(&marks), Some(icount)).unwrap();
        let f = &g.by_id["null_syscall"];
        assert_eq!(f.cycles, Some(5000));
        assert_eq!(f.kernel_insns, Some(120.0));
        assert_eq!(f.icount_insns, Some(150));
        assert!(g.warnings.iter().any(|w| w.contains("self_signal")));
        assert!(g.warnings.iter().any(|w| w.contains("brand_new_op")));
        assert_eq!(Guest::load(None, None, None).unwrap(), Guest::default());
        assert!(Guest::load(Some("bench x"), None, None).is_err());
    }

    #[test]
    fn rows_join_by_id_with_counterparts_and_ratios() {
        let mut g = Guest::default();
        g.by_id.insert(
            "null_syscall".into(),
            GuestFigures {
                cycles: Some(5000),
                kernel_insns: Some(86.0),
                icount_insns: None,
            },
        );
        g.by_id.insert(
            "sigblockall_pair".into(),
            GuestFigures {
                cycles: Some(10),
                kernel_insns: Some(0.0),
                icount_insns: Some(37),
            },
        );
        let linux = linux();
        let rows = super::rows(Some(&linux), &g);
        assert_eq!(rows.len(), Op::ALL.len());
        assert_eq!(rows[0].id, "null_syscall");
        assert_eq!(rows[0].linux_ns, Some(162.1));
        assert_eq!(rows[0].linux61_insns, Some(344));
        assert_eq!(rows[0].ratio, Some(0.25));
        assert!(rows[0].ratio_is_lower_bound);
        let sb = rows.iter().find(|r| r.id == "sigblockall_pair").unwrap();
        assert_eq!(sb.linux_counterpart, Some(Op::SigprocmaskPair));
        assert_eq!(sb.linux_ns, Some(478.4));
        assert_eq!(sb.linux61_insns, Some(925));
        assert_eq!(sb.ratio, Some(37.0 / 925.0));
        assert!(!sb.ratio_is_lower_bound);
        let dump = rows.iter().find(|r| r.id == "dump_1000_lwps").unwrap();
        assert_eq!(
            (dump.linux_ns, dump.linux61_insns, dump.ratio),
            (None, None, None)
        );
        // Linux measured, the reference has no figure: no ratio.
        let lw = rows.iter().find(|r| r.id == "lwpctl_read").unwrap();
        assert_eq!((lw.linux61_insns, lw.ratio), (None, None));
    }

    #[test]
    fn the_table_renders_dashes_until_the_guest_reports() {
        let linux = linux();
        let g = Guest::default();
        let t = render(Some(&linux), &g, &rows(Some(&linux), &g));
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[1].starts_with("Linux ns: Linux 6.18"));
        assert!(lines[2].starts_with("operation") && lines[2].ends_with("ratio"));
        let null = lines[3];
        assert!(null.starts_with("null syscall (getpid)"), "{null}");
        // Three guest columns empty, Linux ns, Linux 6.1, no ratio.
        let cells: Vec<&str> = null
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(
            cells,
            ["null syscall (getpid)", "—", "—", "—", "162.1", "344", "—"]
        );
        assert!(t.contains("sigblockall + sigunblockall †"));
        assert!(t.contains("lwpvm: not measured yet"));
        assert!(!t.contains("≥"));
        // Without a Linux report everything but the reference is empty.
        let t = render(None, &g, &rows(None, &g));
        assert!(t.contains("Linux ns: not measured"));
    }

    #[test]
    fn lower_bound_ratios_are_marked() {
        let mut g = Guest::default();
        g.by_id.insert(
            "self_signal".into(),
            GuestFigures {
                cycles: Some(90_000),
                kernel_insns: Some(1050.7),
                icount_insns: None,
            },
        );
        let t = render(None, &g, &rows(None, &g));
        let row = t
            .lines()
            .find(|l| l.starts_with("self signal, handler"))
            .unwrap();
        assert!(
            row.contains("90,000") && row.contains("1,051") && row.contains("≥0.25"),
            "{row}"
        );
        assert!(t.contains("lower bound"));
        assert!(!t.contains("not measured yet"));
    }

    #[test]
    fn table_json_has_nulls_for_missing_figures() {
        let linux = linux();
        let g = Guest::default();
        let v: serde_json::Value =
            serde_json::from_str(&table_json(Some(&linux), &rows(Some(&linux), &g))).unwrap();
        assert_eq!(v["schema"], "lwpvm-bench-table/1");
        let r0 = &v["rows"][0];
        assert_eq!(r0["id"], "null_syscall");
        assert_eq!(r0["linux_ns"], 162.1);
        assert_eq!(r0["linux61_icount_insns"], 344);
        assert!(r0["lwpvm_cycles"].is_null() && r0["ratio_insns"].is_null());
        assert_eq!(v["rows"][2]["linux_counterpart"], "sigprocmask_pair");
    }

    #[test]
    fn ages() {
        assert_eq!(fmt_age(5), "5 s");
        assert_eq!(fmt_age(75), "1 min 15 s");
        assert_eq!(fmt_age(7260), "2 h 1 min");
        assert_eq!(fmt_age(3 * 86400 + 5), "3 days");
    }

    #[test]
    fn every_reference_figure_is_an_op_linux_measures() {
        for (op, _) in LINUX61_ICOUNT {
            assert_eq!(linux_counterpart(op), Some(op));
            assert!(lwpvm_linux_bench::ops::LINUX_OPS.contains(&op));
        }
    }
}
