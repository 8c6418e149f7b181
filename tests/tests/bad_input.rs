//! Bad input to the VMM: each case gives a clear message on stderr and status 200 (usage or
//! input error) before anything runs, and never a Rust panic.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use lwpvm_tests::{run_with_deadline, Artifacts};
use shared_abi::current::ports::vmm_status;

fn vmm(args: &[&str]) -> (Option<i32>, String) {
    let art = Artifacts::from_env();
    let f = run_with_deadline(
        Command::new(&art.vmm).args(args),
        b"",
        Duration::from_secs(30),
    )
    .expect("start the VMM");
    let stderr = String::from_utf8_lossy(&f.stderr).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "the VMM panicked on {args:?}:\n{stderr}"
    );
    (f.status.and_then(|s| s.code()), stderr)
}

fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lwpvm-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[track_caller]
fn rejected(args: &[&str], needle: &str) {
    let (code, stderr) = vmm(args);
    assert_eq!(
        code,
        Some(vmm_status::USAGE_OR_INPUT),
        "expected status {} for {args:?}, stderr:\n{stderr}",
        vmm_status::USAGE_OR_INPUT
    );
    assert!(
        stderr.to_lowercase().contains(&needle.to_lowercase()),
        "expected {needle:?} in the message for {args:?}:\n{stderr}"
    );
}

#[test]
fn missing_kernel_file() {
    rejected(
        &["run", "--kernel", "/nonexistent/lwpvm-kernel"],
        "/nonexistent/lwpvm-kernel",
    );
}

#[test]
fn kernel_that_is_not_an_elf() {
    let p = scratch("text-kernel", b"this is not an ELF file\n");
    rejected(&["run", "--kernel", p.to_str().unwrap()], "not an ELF");
}

#[test]
fn kernel_that_is_a_32_bit_elf() {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 1; // ELFCLASS32
    h[5] = 1;
    h[6] = 1;
    let p = scratch("elf32", &h);
    rejected(&["run", "--kernel", p.to_str().unwrap()], "64");
}

#[test]
fn kernel_without_a_pvh_note() {
    // The VMM binary itself: an x86_64 ELF, but no PVH entry note (and not ET_EXEC either).
    let art = Artifacts::from_env();
    let (code, stderr) = vmm(&["run", "--kernel", art.vmm.to_str().unwrap()]);
    assert_eq!(code, Some(vmm_status::USAGE_OR_INPUT), "{stderr}");
    // Build a copy of the real kernel with its PVH note type changed: a valid ELF64 x86_64
    // executable that has no PVH entry.
    let mut k = std::fs::read(&art.kernel).unwrap();
    let pos = k
        .windows(16)
        .position(|w| {
            w[..4] == 4u32.to_le_bytes() && w[8..12] == 18u32.to_le_bytes() && &w[12..] == b"Xen\0"
        })
        .expect("the kernel has a Xen note of type 18");
    k[pos + 8] = 17;
    let p = scratch("no-pvh-note", &k);
    rejected(&["run", "--kernel", p.to_str().unwrap()], "PVH");
}

#[test]
fn initrd_too_large_for_guest_memory() {
    let art = Artifacts::from_env();
    let big = scratch("big-initrd", &vec![0u8; 40 << 20]);
    rejected(
        &[
            "run",
            "--kernel",
            art.kernel.to_str().unwrap(),
            "--mem",
            "32",
            "--initrd",
            big.to_str().unwrap(),
        ],
        "initrd",
    );
}

#[test]
fn missing_initrd_file() {
    let art = Artifacts::from_env();
    rejected(
        &[
            "run",
            "--kernel",
            art.kernel.to_str().unwrap(),
            "--initrd",
            "/nonexistent/initrd",
        ],
        "/nonexistent/initrd",
    );
}

#[test]
fn nonsense_arguments() {
    let art = Artifacts::from_env();
    let k = art.kernel.to_str().unwrap();
    for args in [
        vec!["run", "--kernel", k, "--cpus", "0"],
        vec!["run", "--kernel", k, "--cpus", "1000"],
        vec!["run", "--kernel", k, "--mem", "0"],
    ] {
        let (code, stderr) = vmm(&args);
        assert_eq!(code, Some(vmm_status::USAGE_OR_INPUT), "{args:?}: {stderr}");
    }
    // clap's own usage errors keep clap's status (2).
    let (code, _) = vmm(&["run", "--no-such-flag"]);
    assert_ne!(code, Some(0));
    let (code, stderr) = vmm(&["--help"]);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn missing_kvm_device() {
    let art = Artifacts::from_env();
    rejected(
        &[
            "run",
            "--kernel",
            art.kernel.to_str().unwrap(),
            "--kvm-device",
            "/nonexistent/kvm",
        ],
        "/nonexistent/kvm",
    );
}
