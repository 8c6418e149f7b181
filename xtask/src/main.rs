//! `cargo xtask`: build, run, test and benchmark lwpvm.
//!
//! Plumbing only: this crate knows where things are built and how to launch them (through the
//! test harness in `tests/src/lib.rs`), but holds no assertions and no ABI knowledge beyond paths.
//!
//! - `cargo xtask build`: the guest kernel and ring-3 programs (for `x86_64-unknown-none`), the
//!   initrd, the VMM; checks the ring-0 image for instructions that kill this machine's KVM.
//! - `cargo xtask run [SCENARIO]`: builds everything and boots the default guest in our VMM;
//!   with a scenario file, validates it first and runs it (docs/SCENARIOS.md).
//! - `cargo xtask check-scenarios [FILES]`: validates scenario files (default: the corpus).
//! - `cargo xtask qemu`: the same image under `qemu-system-x86_64 -M microvm`.
//! - `cargo xtask test`: every check and test: format, clippy, host unit tests, the
//!   integration tests that boot the guest in our VMM and under QEMU, and the unit tests of
//!   the kernel's pure logic (`guest/kcore`) on the host.
//! - `cargo xtask bench`: benchmarks (never run by `test`).

mod bench;
mod build;
mod cpio;
mod ring0;
mod scenarios;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use lwpvm_tests::{Boot, Host};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, run, test and benchmark lwpvm")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the guest kernel, its ring-3 programs, the initrd and the VMM.
    Build {
        /// Build the VMM with the release profile.
        #[arg(long)]
        release: bool,
    },
    /// Build everything and boot the default guest in the lwpvm VMM, or run a scenario.
    Run {
        /// A scenario file (docs/SCENARIOS.md): validated before anything is built, then run
        /// by the guest's scenario runner, with the VMM evaluating its dump assertions
        /// (`vmm run --scenario FILE`). Its `vm` line gives the default vCPUs and memory.
        scenario: Option<PathBuf>,
        #[command(flatten)]
        machine: Machine,
        /// Extra arguments passed to `vmm run` (after `--`).
        #[arg(last = true)]
        vmm_args: Vec<String>,
    },
    /// Boot the same guest image under QEMU (`-M microvm`); exits with the guest's status.
    Qemu {
        #[command(flatten)]
        machine: Machine,
        /// QEMU accelerator.
        #[arg(long, value_enum, default_value_t = Accel::Tcg)]
        accel: Accel,
    },
    /// Run every check and test: format, clippy, unit tests, guest boots in the VMM and QEMU.
    Test {
        /// Skip `cargo fmt --check` and clippy.
        #[arg(long)]
        no_lint: bool,
        /// Only run integration tests whose name contains this.
        filter: Option<String>,
    },
    /// Check formatting and clippy on the host and guest workspaces.
    Lint,
    /// Validate scenario files (default: every tests/scenarios/*.scn); errors as file:line:col.
    CheckScenarios {
        /// Files to check.
        files: Vec<PathBuf>,
    },
    /// Run benchmarks: `boot` (boot time, console throughput), `dump` (pause-and-dump time),
    /// `syscall` (null system call: kernel instructions and cycles).
    /// Default: all.
    Bench {
        /// Which benchmarks.
        which: Vec<String>,
        /// Boots per host for the boot benchmark; rounds for the others.
        #[arg(long, default_value_t = 10)]
        rounds: usize,
    },
}

#[derive(clap::Args)]
struct Machine {
    /// Number of vCPUs [default: 2, or the scenario's `vm cpus=`].
    #[arg(long)]
    cpus: Option<u32>,
    /// Guest memory in MiB [default: 256, or the scenario's `vm mem=`].
    #[arg(long)]
    mem: Option<u32>,
    /// Extra kernel command line.
    #[arg(long, default_value = "")]
    cmdline: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum Accel {
    Tcg,
    Kvm,
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Build { release } => {
            let art = build::all(release)?;
            println!("kernel: {}", art.kernel.display());
            println!("initrd: {}", art.initrd.display());
            println!("vmm:    {}", art.vmm.display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Run {
            scenario: Some(path),
            mut machine,
            vmm_args,
        } => {
            // Errors in the file are reported before anything is built or booted.
            let Some(sc) = scenarios::load(&path)? else {
                return Ok(ExitCode::from(2));
            };
            let name = path
                .file_name()
                .context("the scenario path has no file name")?
                .to_string_lossy()
                .into_owned();
            let file = std::path::absolute(&path)
                .with_context(|| format!("resolving {}", path.display()))?;
            // The file goes into the initrd as scenarios/NAME (the corpus is always there).
            let (art, programs) = build::all_with(false, Some(&path))?;
            if !scenarios::runner_built(&programs) {
                eprintln!("xtask: {}", scenarios::NO_RUNNER);
                return Ok(ExitCode::from(2));
            }
            machine.cpus.get_or_insert(sc.vm.cpus);
            machine.mem.get_or_insert(sc.vm.mem_mib);
            let key = shared_abi::current::scenario::CMDLINE_SCENARIO;
            machine.cmdline = format!("{} {key}{name}", machine.cmdline)
                .trim()
                .to_string();
            // The runner executes the file from the initrd; the VMM gets the same file to
            // evaluate its dump assertions (and fails the run if one fails).
            let mut cmd = boot(Host::Lwpvm, &machine, &art).command(&art);
            cmd.arg("--scenario").arg(&file);
            cmd.args(vmm_args);
            exec(cmd)
        }
        Cmd::Run {
            scenario: None,
            machine,
            vmm_args,
        } => {
            let art = build::all(false)?;
            let mut cmd = boot(Host::Lwpvm, &machine, &art).command(&art);
            cmd.args(vmm_args);
            exec(cmd)
        }
        Cmd::Qemu { machine, accel } => {
            let art = build::all(false)?;
            let host = match accel {
                Accel::Tcg => Host::QemuTcg,
                Accel::Kvm => Host::QemuKvm,
            };
            let cmd = boot(host, &machine, &art).command(&art);
            let code = run_inherited(cmd)?;
            // isa-debug-exit: QEMU's status is (v << 1) | 1.
            match code.and_then(|c| lwpvm_tests::guest_status(host, c)) {
                Some(v) => Ok(ExitCode::from(v as u8)),
                None => {
                    bail!("QEMU ended without the guest writing the exit port (status {code:?})")
                }
            }
        }
        Cmd::Test { no_lint, filter } => {
            if !no_lint {
                lint()?;
            }
            scenarios::check(&[])?;
            let art = build::all(false)?;
            let mut cmd = cargo();
            cmd.current_dir(root())
                .args(["test", "--workspace", "--no-fail-fast"])
                .env(lwpvm_tests::ENV_KERNEL, &art.kernel)
                .env(lwpvm_tests::ENV_INITRD, &art.initrd)
                .env(lwpvm_tests::ENV_VMM, &art.vmm);
            if let Some(f) = filter {
                cmd.args(["--", &f]);
            }
            let mut totals = test_totals(cmd)?;
            // The guest's pure crates: no_std, but unit-tested on the host. kcore's ELF tests
            // also load the ring-3 programs just built.
            for krate in GUEST_HOST_TESTED {
                let mut cmd = cargo();
                cmd.current_dir(root().join("guest")).args([
                    "test",
                    "-p",
                    krate,
                    "--target",
                    HOST_TARGET,
                ]);
                if let Some(dir) = art.kernel.parent() {
                    cmd.env("LWPVM_USER_PROGRAMS", dir);
                }
                totals.add(test_totals(cmd)?);
            }
            // One plain closing line for the whole run (cargo's own last line is often a
            // doc-test binary's "0 passed").
            println!("tests: {} passed, {} failed", totals.passed, totals.failed);
            if !totals.success || totals.failed > 0 {
                bail!("cargo test failed");
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Lint => {
            lint()?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::CheckScenarios { files } => {
            scenarios::check(&files)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Bench { which, rounds } => {
            bench::run(&which, rounds)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The boot description for `run` and `qemu`.
fn boot(host: Host, m: &Machine, art: &lwpvm_tests::Artifacts) -> Boot {
    let mut b = Boot::new(host)
        .cpus(m.cpus.unwrap_or(2))
        .mem(m.mem.unwrap_or(256))
        .initrd(&art.initrd)
        .cmdline(&m.cmdline);
    b.timeout = std::time::Duration::MAX;
    b
}

/// Formatting and clippy over both workspaces, warnings denied.
fn lint() -> Result<()> {
    let mut c = cargo();
    c.current_dir(root()).args(["fmt", "--all", "--check"]);
    status(c, "cargo fmt --check (host workspace)")?;
    let mut c = cargo();
    c.current_dir(root().join("guest"))
        .args(["fmt", "--all", "--check"]);
    status(c, "cargo fmt --check (guest workspace)")?;
    let mut c = cargo();
    c.current_dir(root()).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    status(c, "cargo clippy (host workspace)")?;
    for krate in GUEST_HOST_TESTED {
        let mut c = cargo();
        c.current_dir(root().join("guest")).args([
            "clippy",
            "-p",
            krate,
            "--target",
            HOST_TARGET,
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]);
        status(
            c,
            &format!("cargo clippy ({krate} with its tests, on the host)"),
        )?;
    }
    let mut c = cargo();
    c.current_dir(root().join("guest")).args([
        "clippy",
        "--release",
        "--workspace",
        "--",
        "-D",
        "warnings",
    ]);
    status(c, "cargo clippy (guest workspace)")
}

/// The host target the guest's pure crates are unit-tested on.
const HOST_TARGET: &str = "x86_64-unknown-linux-gnu";

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the root")
        .to_path_buf()
}

/// The cargo that runs us.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs a command to completion, failing with `what` if it fails.
pub fn status(mut cmd: Command, what: &str) -> Result<()> {
    let st = cmd
        .status()
        .with_context(|| format!("cannot start {what}"))?;
    if !st.success() {
        bail!("{what} failed ({st})");
    }
    Ok(())
}

/// Runs a command with our stdio and returns its exit code.
fn run_inherited(mut cmd: Command) -> Result<Option<i32>> {
    let st = cmd
        .status()
        .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
    Ok(st.code())
}

/// Runs a command with our stdio and exits with its status.
fn exec(cmd: Command) -> Result<ExitCode> {
    let code = run_inherited(cmd)?;
    Ok(ExitCode::from(code.unwrap_or(1).clamp(0, 255) as u8))
}

/// Crates of the guest workspace holding pure logic, unit-tested on the host target.
const GUEST_HOST_TESTED: &[&str] = &["lwpvm-kcore", "lwpvm-mmcore"];

/// Totals over every `test result:` line of a cargo test run.
#[derive(Debug, Default, PartialEq, Eq)]
struct Totals {
    passed: u64,
    failed: u64,
    success: bool,
}

impl Totals {
    fn add(&mut self, other: Totals) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.success &= other.success;
    }
}

/// Runs `cmd` (a cargo test), passing its output through, and adds up its results.
fn test_totals(mut cmd: Command) -> Result<Totals> {
    use std::io::{BufRead, BufReader};
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("cannot start cargo test")?;
    let mut totals = Totals::default();
    let stdout = child.stdout.take().context("cargo test has no stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        add_result_line(&mut totals, &line);
    }
    totals.success = child.wait()?.success();
    Ok(totals)
}

/// Adds one `test result: ok. 4 passed; 0 failed; ...` line to the totals.
fn add_result_line(totals: &mut Totals, line: &str) {
    let Some(rest) = line.strip_prefix("test result: ") else {
        return;
    };
    for part in rest.split([';', '.']) {
        let mut words = part.split_whitespace();
        if let (Some(n), Some(what)) = (words.next(), words.next()) {
            match (n.parse::<u64>(), what) {
                (Ok(n), "passed") => totals.passed += n,
                (Ok(n), "failed") => totals.failed += n,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_add_up() {
        let mut t = Totals::default();
        add_result_line(
            &mut t,
            "test result: ok. 4 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.21s",
        );
        add_result_line(&mut t, "test result: FAILED. 6 passed; 1 failed; 0 ignored");
        add_result_line(&mut t, "running 3 tests");
        assert_eq!(t.passed, 10);
        assert_eq!(t.failed, 1);
    }
}
