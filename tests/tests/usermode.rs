//! User mode: ring-3 programs from the initrd, both system-call gates, user faults,
//! preemption of ring-3 code, the ring-3 mark port. Run under our VMM (this machine's KVM:
//! the fault gate) with 1 and 2 vCPUs and under QEMU TCG (the `syscall`/`sysretq` gate).
//!
//! The programs are `guest/user/src/bin/*` (their headers say what they expect); a test
//! observes them through the console, the serial log and the VM's exit status, whose
//! mapping from init's end is `shared_abi::ports::status`.

use std::time::Duration;

use lwpvm_tests::{Artifacts, Boot, Host, Outcome};
use shared_abi::current::ports::status;

fn art() -> Artifacts {
    Artifacts::from_env()
}

/// Where the gates are tested: (host, vCPUs, the gate the host uses).
const MACHINES: [(Host, u32, &str); 3] = [
    (Host::Lwpvm, 1, "the fault gate"),
    (Host::Lwpvm, 2, "the fault gate"),
    (Host::QemuTcg, 1, "the hardware gate"),
];

/// Both hosts, one vCPU.
const HOSTS: [Host; 2] = [Host::Lwpvm, Host::QemuTcg];

/// Boots `init` (with `args` after `--`) from the built initrd.
fn run_init(art: &Artifacts, host: Host, cpus: u32, init: &str, extra: &str) -> Outcome {
    Boot::new(host)
        .cpus(cpus)
        .initrd(&art.initrd)
        .cmdline(&format!("init={init} {extra}"))
        .timeout(Duration::from_secs(240))
        .run(art)
}

/// Status of a VM whose init was killed by `sig`.
fn killed(sig: u32) -> u32 {
    status::INIT_SIGNALED_BASE + sig
}

#[test]
fn syscalls_pass_through_both_gates() {
    let art = art();
    for (host, cpus, gate) in MACHINES {
        let out = run_init(&art, host, cpus, "/bin/syscalls", "");
        out.assert_status(status::SUCCESS);
        out.assert_console("syscalls: all ");
        assert!(
            !out.stdout.contains("FAIL"),
            "a check failed\n{}",
            out.report()
        );
        out.assert_stderr(&format!("the first system call came through {gate}"));
    }
}

#[test]
fn init_runs_by_default_and_its_status_is_the_vms() {
    let art = art();
    for host in HOSTS {
        let out = Boot::new(host).initrd(&art.initrd).run(&art);
        out.assert_status(status::SUCCESS);
        out.assert_console("init: /bin/init running in ring 3 as pid 1");
        out.assert_stderr("init: init[1] exited with status 0");
        // `fault` without a kind prints its usage and exits 2.
        run_init(&art, host, 1, "/bin/fault", "").assert_status(2);
    }
}

/// The user-fault kinds of `fault` (its header is the specification): kind, the signal and
/// the detail of the report line on each host (`None`: the program does not fault), and the
/// VM status.
struct Kind {
    kind: &'static str,
    /// (signal name, exception mnemonic, si_code) on our VMM.
    lwpvm: Option<(&'static str, &'static str, &'static str)>,
    /// The same under QEMU TCG, when it differs.
    qemu: Option<Option<(&'static str, &'static str, &'static str)>>,
    /// Expected status when the program does not fault.
    no_fault_status: u32,
}

const fn k(kind: &'static str, sig: &'static str, vec: &'static str, code: &'static str) -> Kind {
    Kind {
        kind,
        lwpvm: Some((sig, vec, code)),
        qemu: None,
        no_fault_status: 0,
    }
}

const KINDS: &[Kind] = &[
    k("ud2", "SIGILL", "#UD", "ILL_ILLOPN"),
    k("gp", "SIGSEGV", "#GP", "SI_KERNEL"),
    k("gp-cli", "SIGSEGV", "#GP", "SI_KERNEL"),
    k("gp-cr3", "SIGSEGV", "#GP", "SI_KERNEL"),
    // Port 0x80 stays closed: only the mark port is open to ring 3.
    k("bad-iopl", "SIGSEGV", "#GP", "SI_KERNEL"),
    // `int 0x80` is #GP (a DPL 0 gate) on faithful x86; this machine's KVM raises #UD.
    Kind {
        qemu: Some(Some(("SIGSEGV", "#GP", "SI_KERNEL"))),
        ..k("int80", "SIGILL", "#UD", "ILL_ILLOPN")
    },
    k("pf-read", "SIGSEGV", "#PF", "SEGV_MAPERR"),
    k("pf-write", "SIGSEGV", "#PF", "SEGV_ACCERR"),
    k("pf-exec", "SIGSEGV", "#PF", "SEGV_ACCERR"),
    k("null-call", "SIGSEGV", "#PF", "SEGV_MAPERR"),
    k("kernel-read", "SIGSEGV", "#PF", "SEGV_MAPERR"),
    k("kernel-write", "SIGSEGV", "#PF", "SEGV_MAPERR"),
    k("de", "SIGFPE", "#DE", "FPE_INTDIV"),
    k("wild-jump", "SIGSEGV", "#GP", "SI_KERNEL"),
    k("int3", "SIGTRAP", "#BP", "SI_KERNEL"),
    k("single-step", "SIGTRAP", "#DB", "TRAP_TRACE"),
    // A push with RSP = 2^47 writes the last canonical page (unmapped): #PF on the
    // development hosts, where Linux too reports SIGSEGV (the header allows SIGBUS).
    k("ss", "SIGSEGV", "#PF", "SEGV_MAPERR"),
    k("stack-overflow", "SIGSEGV", "#PF", "SEGV_MAPERR"),
    // No signals yet: rt_sigreturn is ENOSYS and the program reports "no fault" (99).
    Kind {
        kind: "sigreturn",
        lwpvm: None,
        qemu: None,
        no_fault_status: 99,
    },
    // The last user page cannot be mapped, so the sysret trick cannot be set up: exit 0.
    Kind {
        kind: "sysret",
        lwpvm: None,
        qemu: None,
        no_fault_status: 0,
    },
];

fn signal_number(name: &str) -> u32 {
    shared_abi::current::signal::number(name).expect("a signal name")
}

#[test]
fn every_user_fault_kind_ends_the_program_with_linux_s_signal() {
    let art = art();
    for host in HOSTS {
        for kind in KINDS {
            let expect = match (host, kind.qemu) {
                (Host::QemuTcg, Some(q)) => q,
                _ => kind.lwpvm,
            };
            let out = run_init(&art, host, 1, "/bin/fault", &format!("-- {}", kind.kind));
            match expect {
                Some((sig, vec, code)) => {
                    let line = out
                        .console_line("fault[1]: killed by ")
                        .unwrap_or_else(|| panic!("no report line\n{}", out.report()));
                    assert!(
                        line.starts_with(&format!("fault[1]: killed by {sig} ({vec} at rip 0x"))
                            && line.ends_with(&format!(", {code})")),
                        "kind {}: expected {sig} {vec} {code}, got {line:?}\n{}",
                        kind.kind,
                        out.report()
                    );
                    out.assert_status(killed(signal_number(sig)));
                    out.assert_stderr("exiting with status");
                }
                None => {
                    assert!(
                        !out.stdout.contains("killed by"),
                        "kind {}: unexpected fault\n{}",
                        kind.kind,
                        out.report()
                    );
                    out.assert_status(kind.no_fault_status);
                }
            }
        }
    }
}

#[test]
fn a_jump_to_the_syscall_entry_cannot_forge_flags_or_return_addresses() {
    let art = art();
    for host in HOSTS {
        // The entry's address, from the first system call's log line.
        let out = Boot::new(host).initrd(&art.initrd).run(&art);
        let lstar = out
            .stderr
            .split("(LSTAR ")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .unwrap_or_else(|| panic!("no LSTAR in the log\n{}", out.report()))
            .to_owned();
        // R11 with IOPL 3: the call runs, but ring 3 gets IOPL 0 back (`cli` faults).
        let out = run_init(
            &art,
            host,
            1,
            "/bin/fault",
            &format!("-- gate-iopl {lstar}"),
        );
        out.assert_console("fault[1]: killed by SIGSEGV (#GP at rip 0x");
        out.assert_status(killed(11));
        // RCX non-canonical: the return is refused as the program's #GP, never an iretq or
        // sysretq fault in ring 0.
        let out = run_init(&art, host, 1, "/bin/fault", &format!("-- gate-rcx {lstar}"));
        out.assert_console("fault[1]: killed by SIGSEGV (#GP at rip 0x800000000000, SI_KERNEL)");
        out.assert_status(killed(11));
    }
}

#[test]
fn page_faults_report_the_faulting_address() {
    let art = art();
    let out = run_init(&art, Host::Lwpvm, 1, "/bin/fault", "-- kernel-write");
    out.assert_console("fault[1]: killed by SIGSEGV (#PF at rip 0x");
    out.assert_console(", addr 0xffff800000000000, SEGV_MAPERR)");
    let out = run_init(&art, Host::QemuTcg, 1, "/bin/fault", "-- null-call");
    out.assert_console("fault[1]: killed by SIGSEGV (#PF at rip 0x0, addr 0x0, SEGV_MAPERR)");
}

#[test]
fn hostile_system_calls_leave_the_kernel_healthy() {
    let art = art();
    for (host, cpus) in [(Host::Lwpvm, 1), (Host::Lwpvm, 2), (Host::QemuTcg, 1)] {
        for seed in [1, 7, 1234] {
            let out = run_init(
                &art,
                host,
                cpus,
                "/bin/hostile",
                &format!("-- {seed} 20000"),
            );
            out.assert_status(status::SUCCESS);
            out.assert_console("hostile: survived 20000 calls");
            // The kernel itself went on to a clean exit (no panic, no kernel fault).
            out.assert_stderr("init: hostile[1] exited with status 0");
            out.assert_stderr("exiting with status 0");
        }
    }
}

#[test]
fn a_spinning_program_is_preempted_for_kernel_threads() {
    let art = art();
    for host in HOSTS {
        // One vCPU: the kernel's main thread logs a heartbeat every 100 ms while init spins
        // in ring 3 for 2 s; it only runs if the timer preempts the program.
        let out = run_init(&art, host, 1, "/bin/spin", "lwpvm.heartbeat=100 -- 2");
        out.assert_status(status::SUCCESS);
        out.assert_console("spin: pid 1 done");
        let beats = out.stderr.matches("main: heartbeat ").count();
        assert!(
            beats >= 10,
            "only {beats} heartbeats during a 2 s spin\n{}",
            out.report()
        );
    }
}

#[test]
fn read_waits_for_console_input_and_returns_a_line_at_a_time() {
    let art = art();
    for host in HOSTS {
        let out = Boot::new(host)
            .initrd(&art.initrd)
            .cmdline("init=/bin/readline -- 2")
            .stdin(b"hello from the host\nand a second line, longer than one read\n")
            .run(&art);
        out.assert_status(status::SUCCESS);
        out.assert_console("readline: got \"hello from the host\"");
        out.assert_console("readline: got \"and a second line, longer than one read\"");
    }
}

#[test]
fn ring_3_writes_marks_and_nothing_else() {
    let art = art();
    let file = std::env::temp_dir().join(format!("lwpvm-usermode-marks-{}", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let out = Boot::new(Host::Lwpvm)
        .initrd(&art.initrd)
        .cmdline("init=/bin/bench-syscall -- 100 1")
        .arg("--marks")
        .arg(&file.to_string_lossy())
        .run(&art);
    out.assert_status(status::SUCCESS);
    let marks = std::fs::read_to_string(&file).unwrap_or_default();
    let _ = std::fs::remove_file(&file);
    let ids: Vec<u64> = marks
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON mark");
            assert!(v["insn_emulation"].is_u64(), "no counter in {l}");
            v["id"].as_u64().expect("an id")
        })
        .collect();
    assert_eq!(
        ids,
        [0x101, 0x102, 0x103, 0x104],
        "{marks}\n{}",
        out.report()
    );
    // Under QEMU nobody listens on the port: the writes are ignored, not faults.
    let out = run_init(&art, Host::QemuTcg, 1, "/bin/bench-syscall", "-- 100 1");
    out.assert_status(status::SUCCESS);
    out.assert_console("bench-syscall: round 1: 100 calls");
}

// ---------------------------------------------------------------------------------------------
// Programs that cannot be started.

/// A newc cpio archive of regular files.
fn cpio(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut member = |ino: u32, mode: u32, name: &str, data: &[u8]| {
        let fields = [
            ino,
            mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0,
        ];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out.extend_from_slice(data);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    };
    for (i, (name, data)) in files.iter().enumerate() {
        member(i as u32 + 1, 0o100755, name, data);
    }
    member(0, 0, "TRAILER!!!", &[]);
    out
}

/// An ELF64 x86-64 executable header with one program header: `PT_INTERP`.
fn dynamic_elf() -> Vec<u8> {
    let mut e = vec![0u8; 64 + 56];
    e[..4].copy_from_slice(b"\x7fELF");
    e[4] = 2; // ELFCLASS64
    e[5] = 1; // little-endian
    e[6] = 1; // EV_CURRENT
    e[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    e[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    e[20..24].copy_from_slice(&1u32.to_le_bytes());
    e[24..32].copy_from_slice(&0x40_1000u64.to_le_bytes()); // e_entry
    e[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    e[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    e[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    e[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
    e[64..68].copy_from_slice(&3u32.to_le_bytes()); // PT_INTERP
    e
}

#[test]
fn an_init_that_cannot_run_is_reported_and_exits_127() {
    let art = art();
    let dir = std::env::temp_dir();
    let initrd = dir.join(format!("lwpvm-usermode-initrd-{}", std::process::id()));
    std::fs::write(
        &initrd,
        cpio(&[
            (
                "bin/notelf",
                "#!/bin/sh\n# a script, not a program\n"
                    .repeat(4)
                    .as_bytes(),
            ),
            ("bin/dynamic", &dynamic_elf()),
        ]),
    )
    .expect("a scratch initrd");
    let cases = [
        ("/bin/missing", "not found in the initrd"),
        (
            "/bin/notelf",
            "not a program lwpvm can run: not an ELF file",
        ),
        (
            "/bin/dynamic",
            "not a program lwpvm can run: dynamically linked (PT_INTERP)",
        ),
    ];
    for host in HOSTS {
        for (path, why) in cases {
            let out = Boot::new(host)
                .initrd(&initrd)
                .cmdline(&format!("init={path}"))
                .run(&art);
            out.assert_status(status::INIT_FAILED);
            out.assert_console(&format!("init: cannot run {path}: {why}"));
        }
        // init= without an initrd.
        let out = Boot::new(host).cmdline("init=/bin/init").run(&art);
        out.assert_status(status::INIT_FAILED);
        out.assert_console("init: cannot run /bin/init: no initrd");
    }
    let _ = std::fs::remove_file(&initrd);
}
