//! Inspection from the host: dumps of the real kernel's inspection table on exit, panic, crash
//! and guest request, and through the control socket of a running VMM (`vmm dump`, `vmm
//! signal`, `vmm core`), with 1 and 2 vCPUs.
//!
//! These boots run no program (no initrd), so their dumps have no processes: these tests check
//! the header, the CPU records, the vCPU states, the triggers and the pause/resume machinery.
//! The kernel's process and LWP records are tested in `inspect_procs.rs`; the decoding of
//! every record shape on synthetic guests in `vmm/src/inspect/`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lwpvm_tests::{read_json_dumps, Artifacts, Boot, ControlledVm, Host, Streams};
use serde_json::Value;
use shared_abi::current::ports::{status, vmm_status};

fn art() -> Artifacts {
    Artifacts::from_env()
}

fn scratch(name: &str) -> PathBuf {
    lwpvm_tests::scratch("inspect", name)
}

/// Checks the parts of a dump every boot of this kernel shares.
#[track_caller]
fn check_table(d: &Value, cpus: u64, context: &str) {
    assert_eq!(d["schema"], 1, "{context}");
    let t = &d["table"];
    assert_eq!(t["status"], "ok", "{context}");
    assert_eq!(t["abi_version"], 1, "{context}");
    assert_eq!(t["ncpus"], cpus, "{context}");
    assert!(
        t["header_gpa"].as_str().unwrap().starts_with("0x"),
        "{context}"
    );
    assert_eq!(
        d["vcpus"].as_array().unwrap().len() as u64,
        cpus,
        "{context}"
    );
    let recs = d["cpus"].as_array().unwrap();
    assert_eq!(recs.len() as u64, cpus, "{context}");
    for (i, c) in recs.iter().enumerate() {
        assert_eq!(c["cpu_id"], i as u64, "{context}");
        assert_eq!(c["status"], "ok", "{context}");
        assert_eq!(c["bsp"], i == 0, "{context}");
        // Every CPU is started by the kernel and marks itself online.
        assert_eq!(c["online"], true, "{context}");
    }
    assert_eq!(recs[0]["apic_id"], 0, "{context}");
    assert!(d["processes"].as_array().unwrap().is_empty(), "{context}");
    assert!(d["problems"].as_array().unwrap().is_empty(), "{context}");
}

#[test]
fn dump_on_exit_decodes_the_header_and_cpu_records() {
    let art = art();
    for cpus in [1u32, 2] {
        let file = scratch(&format!("exit-{cpus}.json"));
        let out = Boot::new(Host::Lwpvm)
            .cpus(cpus)
            .json_dumps("exit", &file)
            .run(&art);
        out.assert_status(status::SUCCESS);
        let d = read_json_dumps(&file);
        assert_eq!(d.len(), 1, "{}", out.report());
        let d = &d[0];
        let context = format!("{d:#}\n{}", out.report());
        check_table(d, u64::from(cpus), &context);
        assert_eq!(d["reason"]["kind"], "exit", "{context}");
        assert_eq!(d["reason"]["status"], 0, "{context}");
        assert_eq!(d["table"]["kernel_state"], "running", "{context}");
        assert_eq!(d["timing"]["paused"], false, "{context}");
        assert_eq!(d["vcpus"][0]["state"], "ended", "{context}");
        // The scheduler publishes its counters at each tick; boot takes many ticks here.
        assert!(d["cpus"][0]["ticks"].as_u64() > Some(0), "{context}");
        for v in 0..cpus as usize {
            // An AP idle in `hlt` when the VM ends is reported as halted.
            let state = d["vcpus"][v]["state"].as_str().unwrap_or("");
            assert!(state == "ended" || state == "halted", "{context}");
            // The kernel started every CPU and each marked itself online.
            assert_eq!(d["cpus"][v]["online"], true, "{context}");
        }
    }
}

#[test]
fn the_guest_requests_a_dump_through_the_dump_port() {
    let art = art();
    for cpus in [1u32, 2] {
        let file = scratch(&format!("request-{cpus}.json"));
        let out = Boot::new(Host::Lwpvm)
            .cpus(cpus)
            .cmdline("lwpvm.dump=9")
            .json_dumps("request", &file)
            .run(&art);
        out.assert_status(status::SUCCESS)
            .assert_stderr("lwpvm.dump=9: dump request served: true");
        let d = read_json_dumps(&file);
        assert_eq!(d.len(), 1, "{}", out.report());
        let d = &d[0];
        let context = format!("{d:#}\n{}", out.report());
        check_table(d, u64::from(cpus), &context);
        assert_eq!(d["reason"]["kind"], "request", "{context}");
        assert_eq!(d["reason"]["id"], 9, "{context}");
        assert_eq!(d["table"]["last_dump_id"], 9, "{context}");
        assert_eq!(d["timing"]["paused"], true, "{context}");
        let t = &d["timing"];
        assert!(t["paused_total_ns"].as_u64().unwrap() >= t["pause_ns"].as_u64().unwrap());
        // The requesting vCPU was parked in ring 0, in the kernel's address space.
        assert_eq!(d["vcpus"][0]["state"], "running", "{context}");
        assert_eq!(d["vcpus"][0]["regs"]["cpl"], 0, "{context}");
    }
}

#[test]
fn without_a_serving_vmm_dump_requests_are_not_served() {
    let art = art();
    for host in [Host::Lwpvm, Host::QemuTcg] {
        Boot::new(host)
            .cmdline("lwpvm.dump=3")
            .run(&art)
            .assert_status(status::SUCCESS)
            .assert_stderr("lwpvm.dump=3: dump request served: false");
    }
}

#[test]
fn dump_on_panic_carries_the_panic_message() {
    let art = art();
    let file = scratch("panic.txt");
    let out = Boot::new(Host::Lwpvm)
        .cmdline("lwpvm.panic=1")
        .arg("--dump-on")
        .arg("panic")
        .arg("--dump-file")
        .arg(file.to_str().unwrap())
        .run(&art);
    out.assert_status(status::KERNEL_PANIC);
    let text = std::fs::read_to_string(&file).unwrap();
    for needle in [
        "=== lwpvm dump: guest kernel panic/fault, status 112 ===",
        "kernel panicked",
        "PANIC on CPU 0: deliberate panic (lwpvm.panic=1) at src/main.rs:",
        "CPU 0 (APIC 0, BSP, online)",
        "no problems found",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} not in\n{text}\n{}",
            out.report()
        );
    }
    // `--dump-on panic` does not dump on an ordinary exit.
    let file = scratch("panic-only.txt");
    Boot::new(Host::Lwpvm)
        .arg("--dump-on")
        .arg("panic")
        .arg("--dump-file")
        .arg(file.to_str().unwrap())
        .run(&art)
        .assert_status(status::SUCCESS);
    assert!(!file.exists() || std::fs::read_to_string(&file).unwrap().is_empty());
}

/// The file offset of guest-physical `paddr` in the ELF `k` (through its PT_LOAD segments).
fn file_offset(k: &[u8], paddr: u64) -> usize {
    let u16_at = |o: usize| u16::from_le_bytes([k[o], k[o + 1]]) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(k[o..o + 8].try_into().unwrap());
    let (phoff, phnum) = (u64_at(32) as usize, u16_at(56));
    for i in 0..phnum {
        let ph = phoff + i * 56;
        let (p_type, offset, p_paddr, filesz) = (
            u32::from_le_bytes(k[ph..ph + 4].try_into().unwrap()),
            u64_at(ph + 8),
            u64_at(ph + 24),
            u64_at(ph + 32),
        );
        if p_type == 1 && paddr >= p_paddr && paddr < p_paddr + filesz {
            return (offset + paddr - p_paddr) as usize;
        }
    }
    panic!("{paddr:#x} is in no PT_LOAD segment");
}

#[test]
fn a_triple_fault_is_dumped_before_the_vmm_exits() {
    // The real kernel with `ud2` at its 32-bit PVH entry: #UD with no IDT is a triple fault
    // at the first instruction, before any inspection code has run.
    let art = art();
    let mut k = std::fs::read(&art.kernel).unwrap();
    let note = k
        .windows(16)
        .position(|w| {
            w[..4] == 4u32.to_le_bytes() && w[8..12] == 18u32.to_le_bytes() && &w[12..] == b"Xen\0"
        })
        .expect("the kernel has a PVH note");
    let entry = u32::from_le_bytes(k[note + 16..note + 20].try_into().unwrap());
    let at = file_offset(&k, u64::from(entry));
    k[at..at + 2].copy_from_slice(&[0x0f, 0x0b]);
    let kernel = scratch("crashing-kernel");
    std::fs::write(&kernel, &k).unwrap();
    let file = scratch("crash.json");
    let crashing = Artifacts {
        kernel: kernel.clone(),
        ..art.clone()
    };
    let out = Boot::new(Host::Lwpvm)
        .json_dumps("crash", &file)
        .timeout(Duration::from_secs(60))
        .run(&crashing);
    assert_eq!(
        out.host_status,
        Some(vmm_status::GUEST_CRASH),
        "{}",
        out.report()
    );
    let d = read_json_dumps(&file);
    assert_eq!(d.len(), 1, "{}", out.report());
    let d = &d[0];
    assert_eq!(d["reason"]["kind"], "crash", "{d:#}");
    assert!(
        d["reason"]["what"]
            .as_str()
            .unwrap()
            .contains("triple fault"),
        "{d:#}"
    );
    // The header is the image's own initialiser: valid, and still "booting".
    assert_eq!(d["table"]["status"], "ok", "{d:#}");
    assert_eq!(d["table"]["kernel_state"], "booting", "{d:#}");
    assert_eq!(d["vcpus"][0]["regs"]["rip"], format!("{entry:#x}"), "{d:#}");
}

/// A VMM run with a control socket, its guest waiting for a console line (`lwpvm.echo=1`).
struct Running(ControlledVm);

impl std::ops::Deref for Running {
    type Target = ControlledVm;

    fn deref(&self) -> &ControlledVm {
        &self.0
    }
}

impl Running {
    fn start(art: &Artifacts, cpus: u32, name: &str, cmdline: &str, timeout: u32) -> Running {
        let boot = Boot::new(Host::Lwpvm)
            .cpus(cpus)
            .cmdline(cmdline)
            .arg("--timeout")
            .arg(&timeout.to_string())
            .arg("--serial")
            .arg("off");
        Running(ControlledVm::start(
            art,
            boot,
            scratch(name),
            Streams::Piped,
        ))
    }

    /// Dumps until the kernel says it is running (a dump taken earlier, while it boots, shows
    /// the image's own header: `booting`, no CPU records).
    fn wait_running(&self) {
        self.dump_until(Duration::from_secs(30), |d| {
            match d["table"]["kernel_state"].as_str() {
                Some("running") => true,
                // While the CPUs come up, a pause can catch a record mid-update: the decoder
                // must then say "torn", never decode it as valid.
                Some("booting") => {
                    let st = d["table"]["status"].as_str().unwrap_or("");
                    assert!(st == "ok" || st == "torn", "{d:#}");
                    false
                }
                _ => panic!("unexpected dump while booting: {d:#}"),
            }
        });
    }

    /// Sends the echo line and waits for the VMM's exit.
    fn finish(mut self) -> (Option<i32>, String) {
        let child = &mut self.0.child;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"bye\n").unwrap();
        drop(stdin);
        let mut stdout = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        let status = child.wait().unwrap().code();
        (status, stdout)
    }
}

#[test]
fn vmm_dump_through_the_control_socket_with_1_and_2_vcpus() {
    let art = art();
    for cpus in [1u32, 2] {
        let vm = Running::start(&art, cpus, &format!("ctl-{cpus}.sock"), "lwpvm.echo=1", 120);
        vm.wait_running();
        let mut seen = Vec::new();
        for _ in 0..3 {
            let (code, json, err) = vm.client("dump", &["--json"]);
            assert_eq!(code, 0, "{err}");
            let d: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
            check_table(&d, u64::from(cpus), &format!("{d:#}"));
            assert_eq!(d["reason"]["kind"], "control");
            assert_eq!(d["timing"]["paused"], true);
            assert_eq!(d["table"]["kernel_state"], "running");
            seen.push(d);
        }
        // Consistent across dumps of the same boot: the same CPUs, and counters that only
        // move forward.
        for (prev, d) in seen.iter().zip(&seen[1..]) {
            assert_eq!(
                d["table"]["boot_generation"],
                prev["table"]["boot_generation"]
            );
            for (a, b) in prev["cpus"]
                .as_array()
                .unwrap()
                .iter()
                .zip(d["cpus"].as_array().unwrap())
            {
                for k in ["cpu_id", "apic_id", "bsp", "online"] {
                    assert_eq!(a[k], b[k], "{k}: {a:#} then {b:#}");
                }
                for k in ["ticks", "idle_ticks", "context_switches"] {
                    assert!(b[k].as_u64() >= a[k].as_u64(), "{k}: {a:#} then {b:#}");
                }
            }
        }
        let (code, text, err) = vm.client("dump", &[]);
        assert_eq!(code, 0, "{err}");
        assert!(
            text.starts_with("=== lwpvm dump: control socket ==="),
            "{text}"
        );
        assert!(text.contains("guest paused"), "{text}");

        // Host signals need the kernel's signal subsystem: refused, honestly.
        let (code, _, err) = vm.client("signal", &["--pid", "1", "SIGUSR1"]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("FEATURE_HOST_SIGNAL"), "{err}");
        // No processes yet: no core.
        let core = scratch(&format!("core-{cpus}"));
        let (code, _, err) = vm.client("core", &["--pid", "1", "--out", core.to_str().unwrap()]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("no process 1"), "{err}");

        // The guest still runs: it echoes the line and exits.
        let (status, stdout) = vm.finish();
        assert_eq!(status, Some(0), "{stdout}");
        assert!(stdout.contains("echo: bye"), "{stdout}");
    }
}

#[test]
fn records_the_kernel_writes_decode_as_written() {
    // lwpvm.inspect_selftest=20: a made-up process 1000 with 20 LWPs (3 chunks of 8), dumped;
    // LWP 2 freed and LWP 21 allocated into its slot, dumped; everything freed, dumped.
    let art = art();
    let file = scratch("selftest.json");
    let out = Boot::new(Host::Lwpvm)
        .cpus(2)
        .cmdline("lwpvm.inspect_selftest=20")
        .json_dumps("request", &file)
        .run(&art);
    out.assert_status(status::SUCCESS)
        .assert_stderr("lwpvm.inspect_selftest=20: dumps served: true");
    let d = read_json_dumps(&file);
    assert_eq!(d.len(), 3, "{}", out.report());
    for (i, dump) in d.iter().enumerate() {
        assert_eq!(dump["reason"]["id"], i as u64 + 1);
        assert!(dump["problems"].as_array().unwrap().is_empty(), "{dump:#}");
        assert_eq!(dump["table"]["tables"][2]["nchunks"], 3, "{dump:#}");
    }

    let p = &d[0]["processes"][0];
    assert_eq!(p["pid"], 1000, "{p:#}");
    assert_eq!(
        (p["name"].as_str(), p["state"].as_str()),
        (Some("selftest"), Some("SACTIVE"))
    );
    assert_eq!(p["nlwps"], 20);
    assert_eq!(p["pending"]["signals"][0], "SIGUSR1");
    assert_eq!(p["queue"]["entries"][0]["code_name"], "SI_QUEUE");
    assert_eq!(p["queue"]["entries"][0]["value"], "0x2a");
    assert_eq!(p["actions"][0]["signal"], "SIGUSR1");
    assert_eq!(p["actions"][0]["handler"], "0x401234");
    let lwps = p["lwps"].as_array().unwrap();
    assert_eq!(lwps.len(), 20);
    for (i, l) in lwps.iter().enumerate() {
        let lid = i as u64 + 1;
        assert_eq!(
            (l["lid"].as_u64(), l["slot"].as_u64()),
            (Some(lid), Some(lid - 1))
        );
        assert_eq!(l["switches"], lid);
        let state = if lid == 1 { "LSONPROC" } else { "LSSLEEP" };
        assert_eq!(l["state"], state, "{l:#}");
        // Each LWP blocks the signal numbered like its lid (SIGKILL and SIGSTOP cannot be).
        let expect: Vec<Value> = match lid {
            9 | 19 => vec![],
            n => vec![Value::from(
                shared_abi::current::signal::name(n as u32).unwrap(),
            )],
        };
        assert_eq!(
            l["sigmask"]["signals"].as_array().unwrap(),
            &expect,
            "{l:#}"
        );
    }
    assert_eq!(d[0]["cpus"][0]["current"]["pid"], 1000);

    // The free list: LWP 21 took LWP 2's slot.
    let lwps = d[1]["processes"][0]["lwps"].as_array().unwrap();
    assert_eq!(lwps.len(), 20);
    assert!(lwps.iter().all(|l| l["lid"] != 2));
    let l21 = lwps.iter().find(|l| l["lid"] == 21).unwrap();
    assert_eq!(l21["slot"], 1, "{l21:#}");
    assert_eq!(l21["wmesg"], "selftest");

    // All freed.
    let t = &d[2]["table"]["tables"];
    assert_eq!(
        (t[1]["live_found"].as_u64(), t[2]["live_found"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(t[2]["high_water"], 20);
    assert!(d[2]["processes"].as_array().unwrap().is_empty());
    assert!(d[2]["cpus"][0]["current"].is_null());
}

#[test]
fn a_halted_guest_is_dumped_and_stopped() {
    // `cli; hlt`: the vCPU blocks inside KVM_RUN; pause and stop must still reach it.
    let art = art();
    let mut vm = Running::start(&art, 2, "halt.sock", "lwpvm.halt=1", 5);
    let deadline = Instant::now() + Duration::from_secs(4);
    loop {
        let (code, json, err) = vm.client("dump", &["--json"]);
        assert_eq!(code, 0, "{err}");
        let d: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(d["timing"]["paused"], true);
        // The AP: not started yet (early in boot), idle in `hlt`, or running when paused.
        let ap = d["vcpus"][1]["state"].as_str().unwrap_or("");
        assert!(
            ["wait_for_sipi", "halted", "running"].contains(&ap),
            "{d:#}"
        );
        if d["vcpus"][0]["state"] == "halted" {
            break;
        }
        // Still booting: the kernel has not reached `hlt` yet.
        assert!(Instant::now() < deadline, "vCPU 0 never halted: {d:#}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        vm.0.child.wait().unwrap().code(),
        Some(vmm_status::TIMEOUT),
        "the halted guest runs until --timeout"
    );

    let file = scratch("halt.json");
    let out = Boot::new(Host::Lwpvm)
        .cmdline("lwpvm.halt=1")
        .arg("--timeout")
        .arg("2")
        .json_dumps("timeout", &file)
        .run(&art);
    assert_eq!(
        out.host_status,
        Some(vmm_status::TIMEOUT),
        "{}",
        out.report()
    );
    let d = read_json_dumps(&file);
    assert_eq!(d.len(), 1, "{}", out.report());
    assert_eq!(d[0]["reason"]["kind"], "timeout");
    assert_eq!(d[0]["vcpus"][0]["state"], "halted", "{:#}", d[0]);
    check_table(&d[0], 1, &format!("{:#}", d[0]));
}
