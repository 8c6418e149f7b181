//! Processes and LWPs in dumps of the real kernel: init's process and LWP records as the
//! kernel publishes them (`proc` at exec and exit, the scheduler at its transitions), read
//! through the control socket while init runs and by `--dump-on exit` after it ended, with 1
//! and 2 vCPUs.
//!
//! - `sleeper 6 7` sleeps in one `nanosleep`: process 1 `sleeper` (`SACTIVE`, init, a CR3),
//!   LWP 1.1 in `LSSLEEP` on wait channel `nanosleep` (interruptible), its user registers
//!   saved with RIP in the program's text and RAX the system call number; no CPU runs it.
//!   After it exits: `SZOMB` with wait status 7 << 8 ("exited 7"), CR3 0 (its address space
//!   is gone), LWP 1.1 `LSZOMB` without registers, counted in `nlwps` and `nzlwps`. Nobody
//!   collects init (its end is the VM's), so its records stay for the exit dump.
//! - `spin 4` computes in ring 3: LWP 1.1 is `LSONPROC` on the CPU whose record names it as
//!   current (or, if a dump catches it preempted, `LSRUN` with its registers in the text).

use std::path::PathBuf;
use std::time::Duration;

use lwpvm_tests::{guest_status, read_json_dumps, Artifacts, Boot, ControlledVm, Host, Streams};
use serde_json::Value;
use shared_abi::current::syscall::SYS_NANOSLEEP;

fn scratch(name: &str) -> PathBuf {
    lwpvm_tests::scratch("inspect-procs", name)
}

/// File `name` of the newc cpio archive `a`.
fn cpio_file<'a>(a: &'a [u8], name: &str) -> &'a [u8] {
    let hex = |o: usize| usize::from_str_radix(std::str::from_utf8(&a[o..o + 8]).unwrap(), 16);
    let mut at = 0;
    while at + 110 <= a.len() {
        assert_eq!(&a[at..at + 6], b"070701", "not a newc archive at {at}");
        let size = hex(at + 54).unwrap();
        let namesize = hex(at + 94).unwrap();
        let entry = &a[at + 110..at + 110 + namesize - 1];
        let data = (at + 110 + namesize).next_multiple_of(4);
        if entry == name.as_bytes() {
            return &a[data..data + size];
        }
        at = (data + size).next_multiple_of(4);
    }
    panic!("{name} is not in the initrd");
}

/// The virtual address ranges of the executable `PT_LOAD` segments of ELF `k`.
fn text_ranges(k: &[u8]) -> Vec<(u64, u64)> {
    let u16_at = |o: usize| u16::from_le_bytes([k[o], k[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(k[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(k[o..o + 8].try_into().unwrap());
    let (phoff, phnum) = (u64_at(32) as usize, u16_at(56));
    (0..phnum)
        .map(|i| phoff + i * 56)
        .filter(|&ph| u32_at(ph) == 1 && u32_at(ph + 4) & 1 != 0)
        .map(|ph| (u64_at(ph + 16), u64_at(ph + 16) + u64_at(ph + 40)))
        .collect()
}

/// Whether `rip` (a `0x` string) is in program `prog`'s text.
fn in_text(art: &Artifacts, prog: &str, rip: &Value) -> bool {
    let initrd = std::fs::read(&art.initrd).unwrap();
    let rip = u64::from_str_radix(rip.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    let ranges = text_ranges(cpio_file(&initrd, &format!("bin/{prog}")));
    assert!(!ranges.is_empty());
    ranges.iter().any(|&(s, e)| (s..e).contains(&rip))
}

fn hex(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// A VMM running `init=PROG -- ARGS` with a control socket and an exit dump.
struct Running {
    vm: ControlledVm,
    exit_dump: PathBuf,
}

impl Running {
    fn start(art: &Artifacts, cpus: u32, tag: &str, init: &str) -> Running {
        let exit_dump = scratch(&format!("{tag}-{cpus}-exit.json"));
        let boot = Boot::new(Host::Lwpvm)
            .cpus(cpus)
            .initrd(&art.initrd)
            .cmdline(&format!("init={init}"))
            .arg("--timeout")
            .arg("120")
            .json_dumps("exit", &exit_dump);
        let socket = scratch(&format!("{tag}-{cpus}.sock"));
        Running {
            vm: ControlledVm::start(art, boot, socket, Streams::Null),
            exit_dump,
        }
    }

    /// Dumps until `pick` accepts one (or panics after 60 s with the last dump).
    fn dump_until(&self, pick: impl FnMut(&Value) -> bool) -> Value {
        self.vm.dump_until(Duration::from_secs(60), pick)
    }

    /// Waits for the VMM's exit; returns its exit code and the exit dump.
    fn finish(mut self) -> (Option<i32>, Value) {
        let code = self.vm.wait_exit(Duration::from_secs(120));
        let mut dumps = read_json_dumps(&self.exit_dump);
        assert!(!dumps.is_empty(), "no exit dump");
        (code, dumps.swap_remove(0))
    }
}

/// The process list of a dump (checked to be problem-free).
#[track_caller]
fn procs(d: &Value) -> &Vec<Value> {
    assert_eq!(d["table"]["status"], "ok", "{d:#}");
    assert!(d["problems"].as_array().unwrap().is_empty(), "{d:#}");
    assert!(
        d["table"]["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "procs"),
        "{d:#}"
    );
    d["processes"].as_array().unwrap()
}

/// Checks the parts of init's process record that do not change while it lives.
#[track_caller]
fn check_init(p: &Value, name: &str, context: &str) {
    assert_eq!(p["status"], "ok", "{context}");
    assert_eq!(p["pid"], 1, "{context}");
    assert_eq!(p["ppid"], 0, "{context}");
    assert_eq!(p["pgid"], 1, "{context}");
    assert_eq!(p["name"], name, "{context}");
    assert!(
        p["flags"].as_array().unwrap().iter().any(|f| f == "init"),
        "{context}"
    );
    // Signals do not exist yet: every disposition SIG_DFL, nothing pending.
    assert!(p["actions"].as_array().unwrap().is_empty(), "{context}");
    assert_eq!(p["pending"]["bits"], "0x0", "{context}");
    assert_eq!(p["lwps"].as_array().unwrap().len(), 1, "{context}");
    let l = &p["lwps"][0];
    assert_eq!(l["status"], "ok", "{context}");
    assert_eq!(
        (&l["pid"], &l["lid"]),
        (&Value::from(1), &Value::from(1)),
        "{context}"
    );
    assert_eq!(l["sigmask"]["bits"], "0x0", "{context}");
}

#[test]
fn a_sleeping_init_shows_its_wait_channel_and_registers_then_its_zombie() {
    let art = Artifacts::from_env();
    for cpus in [1u32, 2] {
        let vm = Running::start(&art, cpus, "sleeper", "/bin/sleeper -- 6 7");
        let d = vm.dump_until(|d| {
            d["table"]["kernel_state"] == "running"
                && d["processes"][0]["lwps"][0]["state"] == "LSSLEEP"
        });
        let context = format!("{cpus} vCPUs: {d:#}");
        let ps = procs(&d);
        assert_eq!(ps.len(), 1, "{context}");
        let p = &ps[0];
        check_init(p, "sleeper", &context);
        assert_eq!(p["state"], "SACTIVE", "{context}");
        assert_ne!(hex(&p["cr3"]), 0, "{context}");
        assert_eq!(
            (&p["nlwps"], &p["nrlwps"], &p["nzlwps"]),
            (&1.into(), &1.into(), &0.into())
        );
        let l = &p["lwps"][0];
        assert_eq!(l["wmesg"], "nanosleep", "{context}");
        assert_ne!(hex(&l["wchan"]), 0, "{context}");
        assert!(
            l["flags"].as_array().unwrap().iter().any(|f| f == "sintr"),
            "{context}"
        );
        assert!(l["cpu"].as_u64().unwrap() < u64::from(cpus), "{context}");
        assert!(l["switches"].as_u64().unwrap() >= 1, "{context}");
        // Its user registers, from the system call's entry frame.
        let regs = &l["regs"];
        assert!(in_text(&art, "sleeper", &regs["rip"]), "{context}");
        assert_eq!(hex(&regs["rax"]), SYS_NANOSLEEP as u64, "{context}");
        assert!(hex(&regs["rsp"]) > 0x7f00_0000_0000, "{context}");
        // No CPU runs it.
        for c in d["cpus"].as_array().unwrap() {
            assert!(c["current"].is_null(), "{context}");
        }

        let (code, d) = vm.finish();
        assert_eq!(
            code.and_then(|c| guest_status(Host::Lwpvm, c)),
            Some(7),
            "{d:#}"
        );
        let context = format!("{cpus} vCPUs, exit dump: {d:#}");
        let ps = procs(&d);
        assert_eq!(ps.len(), 1, "{context}");
        let p = &ps[0];
        check_init(p, "sleeper", &context);
        assert_eq!(p["state"], "SZOMB", "{context}");
        assert_eq!(p["exit_status"], 7 << 8, "{context}");
        assert_eq!(p["exit_meaning"], "exited 7", "{context}");
        assert_eq!(hex(&p["cr3"]), 0, "{context}");
        assert_eq!(
            (&p["nlwps"], &p["nrlwps"], &p["nzlwps"]),
            (&1.into(), &0.into(), &1.into())
        );
        let l = &p["lwps"][0];
        assert_eq!(l["state"], "LSZOMB", "{context}");
        assert!(l["regs"].is_null(), "{context}");
        assert!(l["wchan"].is_null() && l["wmesg"].is_null(), "{context}");
    }
}

#[test]
fn a_spinning_init_is_on_its_cpu() {
    let art = Artifacts::from_env();
    for cpus in [1u32, 2] {
        let vm = Running::start(&art, cpus, "spin", "/bin/spin -- 4");
        let mut onproc = 0;
        for _ in 0..5 {
            let d = vm.dump_until(|d| {
                d["table"]["kernel_state"] == "running" && d["processes"][0]["name"] == "spin"
            });
            let context = format!("{cpus} vCPUs: {d:#}");
            let ps = procs(&d);
            assert_eq!(ps.len(), 1, "{context}");
            let p = &ps[0];
            check_init(p, "spin", &context);
            if p["state"] == "SZOMB" {
                break;
            }
            assert_eq!(p["state"], "SACTIVE", "{context}");
            assert_ne!(hex(&p["cr3"]), 0, "{context}");
            let l = &p["lwps"][0];
            let cpu = l["cpu"].as_u64().unwrap();
            assert!(cpu < u64::from(cpus), "{context}");
            let current = &d["cpus"][cpu as usize]["current"];
            match l["state"].as_str().unwrap() {
                "LSONPROC" => {
                    onproc += 1;
                    assert!(l["regs"].is_null(), "{context}");
                    assert_eq!(current["pid"], 1, "{context}");
                    assert_eq!(current["lid"], 1, "{context}");
                    // The vCPU runs its address space (in ring 3, or in the kernel for it).
                    let vcpu_cr3 = hex(&d["vcpus"][cpu as usize]["regs"]["cr3"]);
                    assert_eq!(vcpu_cr3, hex(&p["cr3"]), "{context}");
                }
                // Caught preempted (only when something else wanted its CPU).
                "LSRUN" => assert!(in_text(&art, "spin", &l["regs"]["rip"]), "{context}"),
                s => panic!("unexpected state {s}: {context}"),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(onproc > 0, "{cpus} vCPUs: never seen on its CPU");
        let (code, d) = vm.finish();
        assert_eq!(
            code.and_then(|c| guest_status(Host::Lwpvm, c)),
            Some(0),
            "{d:#}"
        );
        assert_eq!(procs(&d)[0]["state"], "SZOMB", "{d:#}");
        assert_eq!(procs(&d)[0]["exit_meaning"], "exited 0", "{d:#}");
    }
}
