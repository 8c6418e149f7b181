//! The lwpvm test harness: how to boot the guest on each host and observe it from outside.
//!
//! Integration tests (in `tests/tests/`) and `cargo xtask` both launch guests through this
//! library, so there is one definition of "boot the image under our VMM / QEMU TCG / QEMU KVM",
//! one mapping of each host's exit status back to the guest's status, and one timeout policy.
//!
//! A guest is always run as a child process (as rust-vmm's vmm-reference does), so KVM
//! resources are freed whatever happens, and a hung guest is killed at its deadline.
//!
//! The built artifacts come from `cargo xtask build`, which `cargo xtask test` runs first and
//! passes on through the environment ([`Artifacts::from_env`]).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use shared_abi::current::ports;

/// Environment variable naming the guest kernel image.
pub const ENV_KERNEL: &str = "LWPVM_KERNEL";
/// Environment variable naming the initrd built from the guest's ring-3 programs.
pub const ENV_INITRD: &str = "LWPVM_INITRD";
/// Environment variable naming the VMM binary.
pub const ENV_VMM: &str = "LWPVM_VMM";
/// Environment variable naming the QEMU binary (default `qemu-system-x86_64` on `PATH`).
pub const ENV_QEMU: &str = "LWPVM_QEMU";

/// The files a guest boot needs.
#[derive(Debug, Clone)]
pub struct Artifacts {
    /// The guest kernel ELF (PVH).
    pub kernel: PathBuf,
    /// The initrd (cpio, newc format).
    pub initrd: PathBuf,
    /// The lwpvm VMM binary.
    pub vmm: PathBuf,
    /// The QEMU binary.
    pub qemu: PathBuf,
}

impl Artifacts {
    /// Reads the artifact paths that `cargo xtask test` exports.
    ///
    /// # Panics
    /// With a message saying how to run the tests, when a variable is missing or names no file:
    /// the integration tests need built images and must not pass vacuously without them.
    pub fn from_env() -> Self {
        fn file(var: &str) -> PathBuf {
            let Some(path) = std::env::var_os(var) else {
                panic!("{var} is not set: run the integration tests with `cargo xtask test`, which builds the guest and the VMM first")
            };
            let path = PathBuf::from(path);
            assert!(path.is_file(), "{var}={} is not a file", path.display());
            path
        }
        Artifacts {
            kernel: file(ENV_KERNEL),
            initrd: file(ENV_INITRD),
            vmm: file(ENV_VMM),
            qemu: std::env::var_os(ENV_QEMU)
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("qemu-system-x86_64")),
        }
    }
}

/// Where a guest runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// Our VMM on /dev/kvm.
    Lwpvm,
    /// QEMU `-M microvm` with the TCG emulator (a faithful x86_64).
    QemuTcg,
    /// QEMU `-M microvm` on /dev/kvm.
    QemuKvm,
}

impl Host {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Host::Lwpvm => "lwpvm",
            Host::QemuTcg => "qemu-tcg",
            Host::QemuKvm => "qemu-kvm",
        }
    }
}

/// One guest boot: host, machine shape, command line, input and deadline.
#[derive(Debug, Clone)]
pub struct Boot {
    /// Where to run.
    pub host: Host,
    /// Number of vCPUs.
    pub cpus: u32,
    /// Guest memory in MiB.
    pub mem_mib: u32,
    /// Extra kernel command line.
    pub cmdline: String,
    /// Pass the initrd (default yes).
    pub initrd: Option<PathBuf>,
    /// Bytes written to the guest console's input, then EOF.
    pub stdin: Vec<u8>,
    /// Kill the guest after this long.
    pub timeout: Duration,
    /// Extra arguments for the host program (the VMM or QEMU).
    pub extra_args: Vec<String>,
}

impl Boot {
    /// A boot with the defaults tests use: 1 vCPU, 128 MiB, no extra command line, 120 s.
    pub fn new(host: Host) -> Self {
        Boot {
            host,
            cpus: 1,
            mem_mib: 128,
            cmdline: String::new(),
            initrd: None,
            stdin: Vec::new(),
            timeout: Duration::from_secs(120),
            extra_args: Vec::new(),
        }
    }

    /// Sets the vCPU count.
    pub fn cpus(mut self, n: u32) -> Self {
        self.cpus = n;
        self
    }

    /// Sets guest memory.
    pub fn mem(mut self, mib: u32) -> Self {
        self.mem_mib = mib;
        self
    }

    /// Appends to the kernel command line.
    pub fn cmdline(mut self, s: &str) -> Self {
        if !self.cmdline.is_empty() {
            self.cmdline.push(' ');
        }
        self.cmdline.push_str(s);
        self
    }

    /// Passes an initrd.
    pub fn initrd(mut self, path: &Path) -> Self {
        self.initrd = Some(path.to_owned());
        self
    }

    /// Feeds bytes to the guest console.
    pub fn stdin(mut self, bytes: &[u8]) -> Self {
        self.stdin = bytes.to_vec();
        self
    }

    /// Sets the deadline.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Adds an argument for the host program.
    pub fn arg(mut self, a: &str) -> Self {
        self.extra_args.push(a.to_owned());
        self
    }

    /// Asks our VMM for JSON dumps `on` these triggers (`exit`, `request`, ...), appended to
    /// `file` (read them back with [`read_json_dumps`]).
    pub fn json_dumps(self, on: &str, file: &Path) -> Self {
        self.arg("--dump-on")
            .arg(on)
            .arg("--dump-format")
            .arg("json")
            .arg("--dump-file")
            .arg(&file.to_string_lossy())
    }

    /// The host command line for this boot.
    pub fn command(&self, art: &Artifacts) -> Command {
        match self.host {
            Host::Lwpvm => {
                let mut c = Command::new(&art.vmm);
                c.arg("run")
                    .arg("--kernel")
                    .arg(&art.kernel)
                    .arg("--cpus")
                    .arg(self.cpus.to_string())
                    .arg("--mem")
                    .arg(self.mem_mib.to_string());
                if let Some(initrd) = &self.initrd {
                    c.arg("--initrd").arg(initrd);
                }
                if !self.cmdline.is_empty() {
                    c.arg("--cmdline").arg(&self.cmdline);
                }
                c.args(&self.extra_args);
                c
            }
            Host::QemuTcg | Host::QemuKvm => {
                let mut c = Command::new(&art.qemu);
                let accel = if self.host == Host::QemuKvm {
                    "kvm"
                } else {
                    "tcg"
                };
                c.arg("-M")
                    .arg(format!("microvm,accel={accel},acpi=off"))
                    .args(["-m", &format!("{}M", self.mem_mib)])
                    .args(["-smp", &self.cpus.to_string()])
                    .args(["-nodefaults", "-no-user-config", "-display", "none"])
                    .arg("-no-reboot")
                    // The guest's console: a virtio console on stdio, like our VMM's.
                    .args(["-chardev", "stdio,id=con0,signal=off"])
                    .args(["-device", "virtio-serial-device"])
                    .args(["-device", "virtconsole,chardev=con0"])
                    // Early boot and kernel log: COM1 to stderr, like our VMM's default.
                    .args(["-chardev", "file,id=ser0,path=/dev/stderr"])
                    .args(["-serial", "chardev:ser0"])
                    .args([
                        "-device",
                        &format!(
                            "isa-debug-exit,iobase={:#x},iosize={:#x}",
                            ports::EXIT_PORT,
                            ports::EXIT_PORT_SIZE
                        ),
                    ])
                    .arg("-kernel")
                    .arg(&art.kernel);
                if self.host == Host::QemuKvm {
                    // -cpu host/max abort under accel=kvm here; qemu64 works.
                    c.args(["-cpu", "qemu64,-pni"]);
                }
                if let Some(initrd) = &self.initrd {
                    c.arg("-initrd").arg(initrd);
                }
                if !self.cmdline.is_empty() {
                    c.arg("-append").arg(&self.cmdline);
                }
                c.args(&self.extra_args);
                c
            }
        }
    }

    /// Runs the boot to its end or its deadline and collects what the guest showed.
    ///
    /// # Panics
    /// If the host program cannot be started (a missing VMM or QEMU binary is a test failure).
    pub fn run(&self, art: &Artifacts) -> Outcome {
        let mut cmd = self.command(art);
        let shown = format!("{cmd:?}");
        run_with_deadline(&mut cmd, &self.stdin, self.timeout)
            .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"))
            .into_outcome(self.host, shown)
    }
}

/// A finished (or killed) child process.
#[derive(Debug)]
pub struct Finished {
    /// The exit status, `None` when killed at the deadline.
    pub status: Option<ExitStatus>,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
}

impl Finished {
    fn into_outcome(self, host: Host, command: String) -> Outcome {
        let code = self.status.and_then(|s| s.code());
        Outcome {
            host,
            command,
            guest_status: code.and_then(|c| guest_status(host, c)),
            host_status: code,
            timed_out: self.status.is_none(),
            stdout: String::from_utf8_lossy(&self.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&self.stderr).into_owned(),
            elapsed: self.elapsed,
        }
    }
}

/// Maps a host's exit code back to the status the guest wrote to the exit port.
///
/// Our VMM exits with the guest's status itself (0..=127); its own failures use 200 and up.
/// QEMU's `isa-debug-exit` exits with `(v << 1) | 1`; any even code means QEMU ended without the
/// guest writing the exit port (for example a triple fault with `-no-reboot`).
pub fn guest_status(host: Host, code: i32) -> Option<u32> {
    match host {
        Host::Lwpvm => u32::try_from(code)
            .ok()
            .filter(|&c| c <= ports::MAX_GUEST_STATUS),
        Host::QemuTcg | Host::QemuKvm => u32::try_from(code)
            .ok()
            .filter(|c| c & 1 == 1)
            .map(|c| c >> 1),
    }
}

/// Spawns `cmd` with piped stdio, feeds `input` to its stdin, collects its output, and kills it
/// if it runs past `timeout`.
pub fn run_with_deadline(
    cmd: &mut Command,
    input: &[u8],
    timeout: Duration,
) -> std::io::Result<Finished> {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            // The guest may exit before reading everything: a broken pipe is fine.
            let _ = s.write_all(&input);
        }
        // Dropping stdin closes it: the guest sees EOF.
    });
    let mut out_pipe = child.stdout.take().expect("stdout is piped");
    let mut err_pipe = child.stderr.take().expect("stderr is piped");
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break Some(s);
        }
        if start.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let _ = feeder.join();
    Ok(Finished {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed,
    })
}

/// What a guest boot showed.
#[derive(Debug)]
pub struct Outcome {
    /// Where it ran.
    pub host: Host,
    /// The host command line, for failure messages.
    pub command: String,
    /// The status the guest wrote to the exit port, if it did.
    pub guest_status: Option<u32>,
    /// The host program's own exit code (`None` if killed by a signal or at the deadline).
    pub host_status: Option<i32>,
    /// Killed at the deadline.
    pub timed_out: bool,
    /// The guest console (virtio console).
    pub stdout: String,
    /// The serial log and the host program's own messages.
    pub stderr: String,
    /// Wall time.
    pub elapsed: Duration,
}

impl Outcome {
    /// A readable account of the run, for assertion messages.
    pub fn report(&self) -> String {
        format!(
            "host {} ran `{}`\n  guest status {:?}, host status {:?}, timed out {}, {:?}\n--- console (stdout) ---\n{}\n--- serial + host (stderr) ---\n{}",
            self.host.name(),
            self.command,
            self.guest_status,
            self.host_status,
            self.timed_out,
            self.elapsed,
            self.stdout,
            self.stderr
        )
    }

    /// Asserts the guest exited with `status`.
    #[track_caller]
    pub fn assert_status(&self, status: u32) -> &Self {
        assert_eq!(
            self.guest_status,
            Some(status),
            "expected guest status {status}\n{}",
            self.report()
        );
        self
    }

    /// Asserts the console shows `needle`.
    #[track_caller]
    pub fn assert_console(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "expected the console to show {needle:?}\n{}",
            self.report()
        );
        self
    }

    /// Asserts the serial log or the host's messages show `needle`.
    #[track_caller]
    pub fn assert_stderr(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "expected stderr to show {needle:?}\n{}",
            self.report()
        );
        self
    }

    /// The console line that starts with `prefix`, if any.
    pub fn console_line(&self, prefix: &str) -> Option<&str> {
        self.stdout
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .find(|l| l.starts_with(prefix))
    }
}

/// A fresh path for a scratch file of test suite `suite` (a per-process directory under the
/// system temp dir; any old file of that name is removed).
pub fn scratch(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lwpvm-{suite}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

/// The JSON dumps a VMM appended to `path` (one per line; none if the file does not exist).
///
/// # Panics
/// On a line that is not JSON (the VMM's dump output is broken).
pub fn read_json_dumps(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// Where a [`ControlledVm`]'s standard streams go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streams {
    /// Piped: the test writes the console's input and reads its output.
    Piped,
    /// `/dev/null`: the test only talks to the control socket.
    Null,
}

/// Our VMM running a guest in the background with a control socket (`vmm run --control`),
/// for tests that inspect a live guest. Killed when dropped.
#[derive(Debug)]
pub struct ControlledVm {
    /// The VMM process.
    pub child: std::process::Child,
    /// The control socket.
    pub socket: PathBuf,
    vmm: PathBuf,
}

impl ControlledVm {
    /// Starts `boot` (which must be a [`Host::Lwpvm`] boot) with `--control socket` and waits
    /// up to a minute for the socket to appear.
    ///
    /// # Panics
    /// If the VMM cannot start or the socket never appears.
    pub fn start(art: &Artifacts, boot: Boot, socket: PathBuf, streams: Streams) -> Self {
        assert_eq!(boot.host, Host::Lwpvm, "only our VMM has a control socket");
        let mut cmd = boot
            .arg("--control")
            .arg(&socket.to_string_lossy())
            .command(art);
        let io = || match streams {
            Streams::Piped => Stdio::piped(),
            Streams::Null => Stdio::null(),
        };
        let child = cmd
            .stdin(io())
            .stdout(io())
            .stderr(io())
            .spawn()
            .expect("start the VMM");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "the control socket never appeared"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        ControlledVm {
            child,
            socket,
            vmm: art.vmm.clone(),
        }
    }

    /// Runs `vmm SUBCOMMAND --socket S ARGS`; returns (status, stdout, stderr).
    pub fn client(&self, sub: &str, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(&self.vmm)
            .arg(sub)
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run the VMM client");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `vmm dump --socket S --json`, parsed.
    ///
    /// # Panics
    /// If the client fails or prints something that is not JSON.
    #[track_caller]
    pub fn dump_json(&self) -> serde_json::Value {
        let (code, json, err) = self.client("dump", &["--json"]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
    }

    /// Dumps until `pick` accepts one (polling every 50 ms, for up to `within`).
    ///
    /// # Panics
    /// When `within` runs out, with the last dump.
    #[track_caller]
    pub fn dump_until(
        &self,
        within: Duration,
        mut pick: impl FnMut(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + within;
        loop {
            let d = self.dump_json();
            if pick(&d) {
                return d;
            }
            assert!(Instant::now() < deadline, "no suitable dump; last: {d:#}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits up to `within` for the VMM to exit; returns its exit code.
    ///
    /// # Panics
    /// If it does not exit in time.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self.child.try_wait().expect("wait for the VMM") {
                return s.code();
            }
            assert!(Instant::now() < deadline, "the VMM did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ControlledVm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_status_maps_back_to_the_guest_status() {
        assert_eq!(guest_status(Host::QemuTcg, 1), Some(0));
        assert_eq!(guest_status(Host::QemuTcg, 85), Some(42));
        assert_eq!(guest_status(Host::QemuKvm, 225), Some(112));
        // Even: QEMU ended without the exit device.
        assert_eq!(guest_status(Host::QemuTcg, 0), None);
    }

    #[test]
    fn vmm_status_is_the_guest_status_below_128() {
        assert_eq!(guest_status(Host::Lwpvm, 0), Some(0));
        assert_eq!(guest_status(Host::Lwpvm, 113), Some(113));
        assert_eq!(guest_status(Host::Lwpvm, 201), None);
        assert_eq!(guest_status(Host::Lwpvm, -1), None);
    }

    #[test]
    fn deadline_kills_a_hung_child() {
        let f = run_with_deadline(
            Command::new("sleep").arg("10"),
            b"",
            Duration::from_millis(200),
        )
        .unwrap();
        assert!(f.status.is_none());
        assert!(f.elapsed < Duration::from_secs(5));
    }

    #[test]
    fn output_and_input_are_passed_through() {
        let f =
            run_with_deadline(&mut Command::new("cat"), b"hello", Duration::from_secs(10)).unwrap();
        assert_eq!(f.stdout, b"hello");
        assert!(f.status.unwrap().success());
    }
}
