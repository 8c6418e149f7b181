//! The corpus (tests/scenarios/*.scn): every file loads, and together they cover what
//! issue 7 §5 asks for, as declared by their `covers` tags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lwpvm_scenario::Scenario;
use shared_abi::current::signal::{self, ActionClass};

fn corpus() -> Vec<(PathBuf, Scenario)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/scenarios")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "scn"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    let mut errors = String::new();
    for f in files {
        let name = format!(
            "tests/scenarios/{}",
            f.file_name().unwrap().to_string_lossy()
        );
        let text = std::fs::read_to_string(&f).unwrap();
        match lwpvm_scenario::load(&name, &text) {
            Ok(sc) => out.push((f, sc)),
            Err(e) => errors.push_str(&e.to_string()),
        }
    }
    assert!(errors.is_empty(), "corpus files with errors:\n{errors}");
    out
}

/// Tag → files that cover it.
fn tags(corpus: &[(PathBuf, Scenario)]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (path, sc) in corpus {
        for (_, tag) in &sc.covers {
            m.entry(tag.clone())
                .or_default()
                .push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    m
}

/// The rows of seed 001: SIGHUP..SIGSYS (aliases share a row) and the RT range.
fn seed001_rows() -> Vec<String> {
    let mut v: Vec<String> = (1..=31)
        .map(|s| signal::name(s).unwrap().to_string())
        .collect();
    v.push("SIGRT".to_string());
    v
}

fn class_name(c: Option<ActionClass>) -> &'static str {
    match c {
        None => "n/a",
        Some(ActionClass::Specific) => "specific",
        Some(ActionClass::LoadBalance) => "load-balance",
        Some(ActionClass::KillAll) => "kill-all",
        Some(ActionClass::KillAllCore) => "kill-all+core",
        Some(ActionClass::StopAll) => "stop-all",
        Some(ActionClass::ContinueAll) => "continue-all",
        Some(ActionClass::Ignore) => "ignore",
    }
}

/// The NetBSD state transitions of the seed's overview (kern_lwp.c, "State transitions").
const NETBSD_EDGES: [&str; 19] = [
    "LSRUN->LSONPROC",
    "LSRUN->LSSTOP",
    "LSRUN->LSSUSPENDED",
    "LSONPROC->LSRUN",
    "LSONPROC->LSSLEEP",
    "LSONPROC->LSSTOP",
    "LSONPROC->LSSUSPENDED",
    "LSONPROC->LSZOMB",
    "LSSTOP->LSRUN",
    "LSSTOP->LSSLEEP",
    "LSSUSPENDED->LSRUN",
    "LSSUSPENDED->LSSLEEP",
    "LSSLEEP->LSONPROC",
    "LSSLEEP->LSRUN",
    "LSSLEEP->LSSTOP",
    "LSSLEEP->LSSUSPENDED",
    "LSIDL->LSRUN",
    "LSIDL->LSSUSPENDED",
    "LSIDL->LSSTOP",
];

/// Edges no scenario can reach on purpose, with the reason (stated in the scenario too).
const NETBSD_EXCEPTIONS: [(&str, &str); 1] = [(
    "LSIDL->LSSTOP",
    "needs a stop to arrive while _lwp_create runs: a race ring-3 ordering cannot produce",
)];

/// Issue 7 §5, besides the seed table and the state diagram.
const RULES: [&str; 28] = [
    "errno:_lwp_wait:ESRCH",
    "errno:_lwp_wait:EINVAL",
    "errno:_lwp_wait:EDEADLK",
    "errno:_lwp_wait:EINTR",
    "errno:_lwp_suspend:ESRCH",
    "errno:_lwp_suspend:EDEADLK",
    "rt:queue",
    "rt:coalesce",
    "rt:overflow",
    "pending:private-shared",
    "pending:dequeue-order",
    "sigign:discard",
    "altstack:autodisarm",
    "sa:resethand",
    "sa:nodefer",
    "sa:restart",
    "sigsuspend",
    "sigtimedwait",
    "stop:group",
    "stop:parent",
    "sigkill:1000",
    "fault:blocked",
    "lpmap:bit31",
    "lpmap:fork",
    "sigfastblock:pend",
    "lwpctl:migration",
    "lwpctl:exit",
    "ucontext:skip-fault",
];

#[test]
fn every_corpus_file_loads_and_has_a_title() {
    let c = corpus();
    assert!(c.len() >= 40, "the corpus has only {} files", c.len());
    for (path, sc) in &c {
        let base = path.file_name().unwrap().to_string_lossy();
        assert!(
            !sc.title.ends_with(".scn"),
            "{base}: give it a title (scenario \"...\")"
        );
        assert!(
            !sc.covers.is_empty(),
            "{base}: say what it covers (covers ...)"
        );
    }
}

#[test]
fn the_corpus_covers_issue_7() {
    let c = corpus();
    let t = tags(&c);
    let mut missing = Vec::new();
    for row in seed001_rows() {
        for col in ["handler", "default"] {
            let tag = format!("seed001:{row}:{col}");
            if !t.contains_key(&tag) {
                missing.push(tag);
            }
        }
    }
    for e in NETBSD_EDGES {
        let tag = format!("netbsd:{e}");
        let excepted = NETBSD_EXCEPTIONS.iter().any(|(x, _)| *x == e);
        if !t.contains_key(&tag) && !excepted {
            missing.push(tag);
        }
    }
    for r in RULES {
        if !t.contains_key(r) {
            missing.push(r.to_string());
        }
    }
    if !t.contains_key("demo") {
        missing.push("demo".to_string());
    }
    assert!(
        missing.is_empty(),
        "not covered by any scenario: {missing:#?}"
    );
    assert!(
        c.iter().any(|(p, _)| p.file_name().unwrap() == "demo.scn"),
        "demo.scn is the default scenario of `cargo xtask run`"
    );
}

#[test]
fn tags_name_real_rows_and_edges() {
    let c = corpus();
    let rows = seed001_rows();
    for (tag, files) in tags(&c) {
        if let Some(rest) = tag.strip_prefix("seed001:") {
            let (row, col) = rest.rsplit_once(':').unwrap_or((rest, ""));
            assert!(
                rows.iter().any(|r| r == row) && matches!(col, "handler" | "default"),
                "{files:?}: bad tag {tag}"
            );
        }
        if let Some(e) = tag.strip_prefix("netbsd:") {
            assert!(
                NETBSD_EDGES.contains(&e),
                "{files:?}: {e} is not in the seed's diagram"
            );
        }
    }
}

/// Each seed-001 file states the row's classes in its title; they must be shared-abi's
/// (which transcribes the seed), so the corpus and the kernel's table cannot disagree.
#[test]
fn seed001_files_agree_with_shared_abi() {
    let c = corpus();
    let mut seen = 0;
    for (path, sc) in &c {
        let Some((_, tag)) = sc.covers.iter().find(|(_, t)| t.starts_with("seed001:")) else {
            continue;
        };
        let row = tag.split(':').nth(1).unwrap();
        let sig = if row == "SIGRT" {
            signal::SIGRTMIN
        } else {
            signal::number(row).unwrap()
        };
        let want = format!(
            "handled = {}, default = {}",
            class_name(signal::handler_class(sig)),
            class_name(signal::default_class(sig))
        );
        assert!(
            sc.title.contains(&want),
            "{}: title {:?} does not say {want:?}",
            path.display(),
            sc.title
        );
        seen += 1;
    }
    assert_eq!(seen, 32, "one file per row of the seed table");
}

#[test]
fn the_netbsd_exception_is_stated_where_the_edges_are_tested() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let text = std::fs::read_to_string(dir.join("netbsd-states-halted.scn")).unwrap();
    for (edge, _) in NETBSD_EXCEPTIONS {
        let words = edge.replace("->", " -> ").replace("LSSTOP", "LSSTOPPED");
        assert!(
            text.contains(&words),
            "netbsd-states-halted.scn must explain why {edge} is not covered"
        );
    }
}
