//! Scenario dump assertions evaluated by the VMM (`vmm run --scenario`), end to end with a
//! synthetic runner: the kernel's inspection self-test (`lwpvm.inspect_selftest=20
//! lwpvm.inspect_scenario=pass|fail`) publishes a made-up process and sends scenario dump
//! requests as the runner will, through the kernel's forwarding primitive; the VMM evaluates
//! the dump assertions of `guest/src/inspect/selftest-{pass,fail}.scn`, answers in the request
//! block, reports, and decides the run's status. The kernel logs the answers it got.

use std::path::PathBuf;

use lwpvm_tests::{Artifacts, Boot, Host, Outcome};
use shared_abi::current::ports::{status, vmm_status};

fn art() -> Artifacts {
    Artifacts::from_env()
}

/// A selftest scenario file of the guest.
fn scn(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../guest/src/inspect")
        .join(name);
    assert!(p.is_file(), "{} is missing", p.display());
    p.to_str().unwrap().to_string()
}

fn scratch(name: &str) -> PathBuf {
    lwpvm_tests::scratch("scenario", name)
}

/// Boots the self-test in `mode` on `host` with extra host arguments.
fn selftest(host: Host, cpus: u32, mode: &str, args: &[&str]) -> Outcome {
    let mut b = Boot::new(host).cpus(cpus).cmdline(&format!(
        "lwpvm.inspect_selftest=20 lwpvm.inspect_scenario={mode}"
    ));
    for a in args {
        b = b.arg(a);
    }
    b.run(&art())
}

/// The kernel's log line for the answer to request `what`.
const LINE: &str = "inspect selftest: scenario dump";

#[test]
fn dump_assertions_that_hold_leave_the_guest_status_alone() {
    let report = scratch("pass.txt");
    let out = selftest(
        Host::Lwpvm,
        2,
        "pass",
        &[
            "--scenario",
            &scn("selftest-pass.scn"),
            "--scenario-report",
            report.to_str().unwrap(),
        ],
    );
    // The kernel received 30 pass verdicts.
    out.assert_status(status::SUCCESS).assert_stderr(&format!(
        "{LINE} 0 (holds): 30 assertions, verdicts {}",
        "1".repeat(30)
    ));
    let r = std::fs::read_to_string(&report).unwrap();
    let ctx = format!("{r}\n{}", out.report());
    assert!(
        r.contains("vmm: scenario selftest-pass.scn: dump 0 'made_up' (line 11), request 1 from vCPU 0: 30 assertion(s), 30 passed, 0 failed"),
        "{ctx}"
    );
    assert_eq!(
        r.lines().filter(|l| l.starts_with("ok   ")).count(),
        30,
        "{ctx}"
    );
    assert!(
        r.contains("ok   selftest-pass.scn:35  expect lwp(P1.W[*]).state in {LSSLEEP, LSSTOP}"),
        "{ctx}"
    );
    assert!(!r.contains("FAIL"), "{ctx}");
    assert!(
        r.contains("1 of 1 dump(s) with assertions evaluated: 30 passed, 0 failed"),
        "{ctx}"
    );
}

#[test]
fn failed_refused_and_unrequested_dump_assertions_fail_the_run() {
    let report = scratch("fail.txt");
    let out = selftest(
        Host::Lwpvm,
        1,
        "fail",
        &[
            "--scenario",
            &scn("selftest-fail.scn"),
            "--scenario-report",
            report.to_str().unwrap(),
        ],
    );
    // What the kernel got back: verdicts, then the refusals (the last one is its own).
    for line in [
        "0 (holds): 2 assertions, verdicts 11",
        "1 (wrong): 7 assertions, verdicts 2222121",
        "0 (wrong fingerprint): ESTALE",
        "7 (no such dump): ERANGE",
        "0 (bad bindings): EBADMSG",
        "0 (bindings over the limit): E2BIG",
    ] {
        out.assert_stderr(&format!("{LINE} {line}"));
    }
    // The guest said 0; the VMM says 1, and why.
    out.assert_status(1).assert_stderr(
        "but scenario selftest-fail.scn failed in the VMM: 5 dump assertion(s) failed; 3 scenario dump request(s) refused; exiting with status 1",
    );
    let r = std::fs::read_to_string(&report).unwrap();
    let ctx = format!("{r}\n{}", out.report());
    for expected in [
        "FAIL selftest-fail.scn:15  expect lwp(P1.A).state == LSSTOP\n       expected: == LSSTOP\n       actual:   P1.A: LSSLEEP\n",
        "FAIL selftest-fail.scn:16  expect proc(P1).nlwps == 3\n       expected: == 3\n       actual:   20\n",
        "actual:   P1.A: {SIGINT}",
        "actual:   P1.A: this dump does not provide the field",
        // The kernel publishes every process and LWP (feature "procs"): an absence holds.
        "ok   selftest-fail.scn:19  expect lwp(P1.Gone).exists == false\n",
        "actual:   unreadable: the queue has only 1 entries",
        "ok   selftest-fail.scn:21  expect lwp(P1.main).state == LSONPROC\n",
        // The dump the failures were seen on follows them.
        "the dump these assertions were evaluated on:\n=== lwpvm dump: guest request id 2",
        "refused with ESTALE: the guest's scenario file (fingerprint",
        "refused with ERANGE: ",
        "refused with EBADMSG: bad bindings: bindings name P9, which the scenario does not declare",
        "2 of 2 dump(s) with assertions evaluated: 4 passed, 5 failed; 3 request(s) refused",
    ] {
        assert!(r.contains(expected), "expected {expected:?} in the report\n{ctx}");
    }
    assert!(
        r.contains("process 1000 \"selftest\" SACTIVE"),
        "the dump shows the records\n{ctx}"
    );

    // The same kernel asking only for dump 0: dump 1 was never evaluated, which fails too.
    let out = Boot::new(Host::Lwpvm)
        .cmdline("lwpvm.inspect_selftest=20 lwpvm.inspect_scenario=pass")
        .arg("--scenario")
        .arg(&scn("selftest-fail.scn"))
        .run(&art());
    // (The pass file's fingerprint is not the fail file's: refused, and dump 0 and 1 unseen.)
    out.assert_stderr(&format!("{LINE} 0 (holds): ESTALE"))
        .assert_status(1)
        .assert_stderr("dump 0 'made_up' (line 11) with 2 assertion(s) was never requested")
        .assert_stderr("dump 1 'wrong' (line 14) with 7 assertion(s) was never requested");
}

#[test]
fn without_a_vmm_evaluating_them_dump_assertions_are_not_applicable_or_failed() {
    // QEMU has no dump port: ENODEV, which the runner reports as "not applicable".
    selftest(Host::QemuTcg, 1, "pass", &[])
        .assert_status(status::SUCCESS)
        .assert_stderr(&format!("{LINE} 0 (holds): ENODEV"));
    // Our VMM without a dump port (no --scenario, no --dump-on request): the same.
    selftest(Host::Lwpvm, 1, "pass", &[])
        .assert_status(status::SUCCESS)
        .assert_stderr(&format!("{LINE} 0 (holds): ENODEV"));
    // Our VMM serving dumps but not given the scenario: ENOENT (a failure for the runner).
    selftest(Host::Lwpvm, 1, "pass", &["--dump-on", "request"])
        .assert_status(status::SUCCESS)
        .assert_stderr(&format!("{LINE} 0 (holds): ENOENT"))
        .assert_stderr("vmm: warning: a scenario dump request (-2) was refused: this VMM was not given the scenario file");
}

#[test]
fn a_scenario_file_with_errors_is_refused_before_anything_boots() {
    let bad = scratch("bad.scn");
    std::fs::write(&bad, "proc P1\nP1.main: block SIGFOO\ndump\n").unwrap();
    let out = Boot::new(Host::Lwpvm)
        .arg("--scenario")
        .arg(bad.to_str().unwrap())
        .run(&art());
    assert_eq!(
        out.host_status,
        Some(vmm_status::USAGE_OR_INPUT),
        "{}",
        out.report()
    );
    out.assert_stderr(&format!("{}:2:", bad.display()))
        .assert_stderr("SIGFOO");
    assert!(!out.stderr.contains("booting"), "{}", out.report());
    // --scenario-report alone is a usage error.
    let out = Boot::new(Host::Lwpvm)
        .arg("--scenario-report")
        .arg("/tmp/r.txt")
        .run(&art());
    assert_eq!(out.host_status, Some(vmm_status::USAGE_OR_INPUT));
    out.assert_stderr("--scenario-report needs --scenario");
}
