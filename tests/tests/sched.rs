//! Scheduler, SMP, IPI and clock tests: the kernel's own self-tests (`lwpvm.selftest=sched`
//! and `lwpvm.selftest=smp`) booted on our VMM with 1, 2 and 4 vCPUs and under QEMU TCG with 1
//! and 2, observed through the console and the exit status. The self-tests print one line per
//! check and cost figures (rdtsc cycles: figures, not assertions).

use std::time::Duration;

use lwpvm_tests::{Artifacts, Boot, Host, Outcome};
use shared_abi::current::ports::status;

/// (host, vCPUs) pairs every test here runs on.
const MACHINES: [(Host, u32); 5] = [
    (Host::Lwpvm, 1),
    (Host::Lwpvm, 2),
    (Host::Lwpvm, 4),
    (Host::QemuTcg, 1),
    (Host::QemuTcg, 2),
];

fn art() -> Artifacts {
    Artifacts::from_env()
}

fn selftest(host: Host, cpus: u32, kind: &str, art: &Artifacts) -> Outcome {
    let out = Boot::new(host)
        .cpus(cpus)
        .cmdline(&format!("lwpvm.selftest={kind}"))
        .timeout(Duration::from_secs(120))
        .run(art);
    // Show the figures in `cargo test -- --nocapture` output.
    for line in out.stdout.lines().filter(|l| l.contains("figures")) {
        eprintln!("{} cpus={cpus}: {line}", host.name());
    }
    out
}

#[test]
fn sched_selftest_passes_on_every_machine() {
    let art = art();
    for (host, cpus) in MACHINES {
        let out = selftest(host, cpus, "sched", &art);
        out.assert_status(status::SUCCESS);
        out.assert_console("selftest sched: ok");
        assert!(
            !out.stdout.contains("FAILED"),
            "a check failed\n{}",
            out.report()
        );
        out.assert_console(&format!("selftest sched: {cpus} cpus"));
        out.assert_console("selftest: preemption of spinning threads: ok");
        out.assert_console("selftest: timed sleep: ok");
        if cpus > 1 {
            out.assert_console("selftest: cross-CPU wake-up: ok");
            out.assert_console("selftest: TLB shoot-down: ok");
        }
    }
}

#[test]
fn smp_selftest_sees_every_cpu() {
    let art = art();
    for (host, cpus) in MACHINES {
        let out = selftest(host, cpus, "smp", &art);
        out.assert_status(status::SUCCESS);
        out.assert_console("selftest smp: ok");
        for cpu in 0..cpus {
            out.assert_console(&format!("selftest smp: cpu {cpu} (APIC id {cpu})"));
        }
        if cpus > 1 {
            out.assert_stderr(&format!("cpu{}: online", cpus - 1));
        }
    }
}

#[test]
fn eight_cpus_come_up_under_our_vmm() {
    let art = art();
    let out = Boot::new(Host::Lwpvm).cpus(8).run(&art);
    out.assert_status(status::SUCCESS);
    out.assert_stderr("smp: 8 of 8 CPUs online");
    let banner = out
        .console_line("lwpvm ")
        .unwrap_or_else(|| panic!("no banner\n{}", out.report()));
    assert!(banner.contains(" cpus=8 "), "{}", out.report());
}

#[test]
fn a_failing_selftest_exits_with_status_1() {
    let art = art();
    let out = Boot::new(Host::Lwpvm)
        .cmdline("lwpvm.selftest=nonsense")
        .run(&art);
    out.assert_status(1);
    out.assert_console("selftest nonsense: FAILED");
}
