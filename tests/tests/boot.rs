//! Boot tests: the same guest image in our VMM (1 and 2 vCPUs) and under QEMU TCG, observed
//! only through the console, the serial log and the exit status. Without an initrd (and
//! without `init=`) the kernel runs no program: it boots, runs the test hooks and exits with
//! `lwpvm.exit=N` or 0, which is what most of these tests rely on.

use lwpvm_tests::{Artifacts, Boot, Host, Outcome};
use shared_abi::current::ports::status;

/// The hosts every boot test runs on: our VMM on this machine's KVM, and QEMU's TCG.
const HOSTS: [Host; 2] = [Host::Lwpvm, Host::QemuTcg];

fn art() -> Artifacts {
    Artifacts::from_env()
}

/// The banner line, checked for its fields.
fn banner(out: &Outcome) -> &str {
    out.console_line("lwpvm ")
        .unwrap_or_else(|| panic!("no banner on the console\n{}", out.report()))
}

fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("banner {line:?} has no {key}="))
}

#[test]
fn banner_on_the_virtio_console_with_1_and_2_vcpus() {
    let art = art();
    for host in HOSTS {
        for cpus in [1, 2] {
            let out = Boot::new(host).cpus(cpus).run(&art);
            out.assert_status(status::SUCCESS);
            let line = banner(&out);
            assert_eq!(field(line, "cpus"), cpus.to_string(), "{}", out.report());
            assert_eq!(
                field(line, "mem")
                    .trim_end_matches("MiB")
                    .parse::<u32>()
                    .map(|m| m > 100 && m <= 128),
                Ok(true),
                "{}",
                out.report()
            );
            let expect_vmm = if host == Host::Lwpvm { "lwpvm" } else { "qemu" };
            assert_eq!(field(line, "vmm"), expect_vmm, "{}", out.report());
            let expect_host = if host == Host::QemuTcg {
                "qemu-tcg"
            } else {
                "kvm-interpreted"
            };
            assert_eq!(field(line, "host"), expect_host, "{}", out.report());
        }
    }
}

#[test]
fn the_banner_goes_to_the_console_and_the_log_to_serial() {
    let art = art();
    let out = Boot::new(Host::Lwpvm).run(&art);
    out.assert_status(status::SUCCESS);
    // The serial port carries the kernel log; the console carries no log lines.
    out.assert_stderr("[INFO ] main: exiting with status 0");
    assert!(
        !out.stdout.contains("[INFO"),
        "log lines on the console\n{}",
        out.report()
    );
}

#[test]
fn guest_exit_status_reaches_the_host() {
    let art = art();
    for host in HOSTS {
        for code in [1, 42, 127] {
            Boot::new(host)
                .cmdline(&format!("lwpvm.exit={code}"))
                .run(&art)
                .assert_status(code);
        }
    }
}

#[test]
fn the_initrd_arrives_as_a_pvh_module() {
    let art = art();
    let size = std::fs::metadata(&art.initrd).unwrap().len();
    for host in HOSTS {
        let out = Boot::new(host).initrd(&art.initrd).run(&art);
        out.assert_status(status::SUCCESS);
        assert_eq!(
            field(banner(&out), "initrd"),
            format!("{size}B"),
            "{}",
            out.report()
        );
        // With an initrd the kernel runs /bin/init from it (tests/tests/usermode.rs has more).
        out.assert_console("init: /bin/init running in ring 3 as pid 1");
    }
}

#[test]
fn kernel_panic_is_reported_with_its_own_status() {
    let art = art();
    for host in HOSTS {
        let out = Boot::new(host).cmdline("lwpvm.panic=1").run(&art);
        out.assert_status(status::KERNEL_PANIC);
        out.assert_stderr("kernel panic");
    }
}

#[test]
fn kernel_faults_are_reported_with_registers() {
    let art = art();
    for host in HOSTS {
        for (kind, name) in [("ud2", "#UD"), ("pf", "#PF"), ("de", "#DE")] {
            let out = Boot::new(host)
                .cmdline(&format!("lwpvm.fault={kind}"))
                .run(&art);
            out.assert_status(status::KERNEL_FAULT);
            out.assert_stderr(name);
            out.assert_stderr("rip");
        }
    }
}

#[test]
fn console_input_reaches_the_guest() {
    let art = art();
    for host in HOSTS {
        let out = Boot::new(host)
            .cmdline("lwpvm.echo=1")
            .stdin(b"hello from the host\n")
            .run(&art);
        out.assert_status(status::SUCCESS);
        out.assert_console("echo: hello from the host");
    }
}
