//! The control socket: `vmm run --control PATH` listens on a Unix socket; `vmm dump` and
//! `vmm signal` talk to it.
//!
//! # Protocol
//!
//! One request per connection, one line of text, then one answer, then the server closes:
//!
//! | request | answer |
//! |---|---|
//! | `dump text` / `dump json` | `ok` line, then the dump (text, or one line of JSON) |
//! | `signal PID SIGNO CODE VALUE` | `ok` line, then one line saying what the guest answered |
//! | `core PID ABSOLUTE-PATH` | `ok` line, then one line describing the core file written |
//! | anything else | `error: ...` line |
//!
//! The listening thread only parses and forwards ([`ControlRequest`]) to the main thread,
//! which owns the vCPUs: it pauses the guest, dumps or posts the signal, and resumes. For a
//! signal the listening thread then waits (bounded) for the guest's acknowledgement in the
//! inspection header's mailbox (`shared_abi::inspect::HostSignalMailbox`).
//!
//! # Host-posted signals
//!
//! [`post_signal`] runs with every vCPU parked: it refuses unless the guest advertises
//! `FEATURE_HOST_SIGNAL` (the current kernel does not: its signal subsystem does not exist
//! yet) and the mailbox is free (`ack == req`); it writes pid, signo, code and value, then the
//! incremented `req` last. The VMM then raises GSI `HOST_SIGNAL_GSI` through an irqfd.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use shared_abi::current::inspect::{
    HostSignalMailbox, InspectHeader, Record, FEATURE_HOST_SIGNAL, HEADER_SIZE, INSPECT_MAGIC,
    MAILBOX_OFFSET,
};
use shared_abi::current::{signal, ABI_VERSION};

use crate::inspect::decode::{stable_read, HEADER_SEQ_OFFSET};
use crate::inspect::mem::GuestPhys;
use crate::inspect::DumpFormat;
use crate::outcome::VmEvent;

/// Longest request line accepted.
const MAX_LINE: u64 = 256;
/// How long a connection waits for the main thread's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `signal` waits for the guest to acknowledge.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(2);

/// A signal to post into the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostSignal {
    /// Target process.
    pub pid: i32,
    /// Signal number (1..=64).
    pub signo: i32,
    /// `SI_KERNEL` or `SI_QUEUE`.
    pub code: i32,
    /// `si_value` (with `SI_QUEUE`).
    pub value: u64,
}

/// What a control client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlCommand {
    /// A dump in this format.
    Dump(DumpFormat),
    /// Post a signal.
    Signal(HostSignal),
    /// Write a core file of process `pid` to `path`.
    Core {
        /// The process.
        pid: i32,
        /// An absolute path (written by the VMM).
        path: PathBuf,
    },
}

/// The main thread's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlReply {
    /// The rendered dump.
    Dump(String),
    /// Done; one line saying what.
    Done(String),
    /// The signal was posted as mailbox request `req`.
    Posted {
        /// The request number to wait for.
        req: u32,
    },
    /// It could not be done.
    Error(String),
}

/// A request forwarded to the main thread.
#[derive(Debug)]
pub struct ControlRequest {
    /// What to do.
    pub command: ControlCommand,
    /// Where to answer.
    pub reply: Sender<ControlReply>,
}

/// Parses one request line.
pub fn parse_request(line: &str) -> Result<ControlCommand, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["dump", fmt] => Ok(ControlCommand::Dump(fmt.parse()?)),
        ["dump"] => Ok(ControlCommand::Dump(DumpFormat::Text)),
        ["core", pid, path] => {
            let pid = pid
                .parse::<i32>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("bad pid {pid:?}"))?;
            let path = PathBuf::from(path);
            if !path.is_absolute() {
                return Err(format!("core path {} is not absolute", path.display()));
            }
            Ok(ControlCommand::Core { pid, path })
        }
        ["signal", pid, signo, code, value] => {
            let num = |what: &str, s: &str| -> Result<i64, String> {
                s.parse::<i64>()
                    .map_err(|_| format!("bad {what} {s:?}"))
            };
            let pid = i32::try_from(num("pid", pid)?).map_err(|_| "pid out of range".to_string())?;
            let signo =
                i32::try_from(num("signal", signo)?).map_err(|_| "bad signal".to_string())?;
            let code = i32::try_from(num("code", code)?).map_err(|_| "bad code".to_string())?;
            let value = value
                .parse::<u64>()
                .or_else(|_| value.parse::<i64>().map(|v| v as u64))
                .map_err(|_| format!("bad value {value:?}"))?;
            check_signal(&HostSignal {
                pid,
                signo,
                code,
                value,
            })
            .map(ControlCommand::Signal)
        }
        _ => Err(format!(
            "unknown request {line:?} (expected `dump text|json`, `signal PID SIGNO CODE VALUE` or `core PID PATH`)"
        )),
    }
}

/// Checks a host signal's fields.
pub fn check_signal(s: &HostSignal) -> Result<HostSignal, String> {
    if s.pid <= 0 {
        return Err(format!("pid {} is not a process id", s.pid));
    }
    if !(1..=signal::NSIG as i32).contains(&s.signo) {
        return Err(format!("{} is not a signal number (1..=64)", s.signo));
    }
    if s.code != signal::SI_KERNEL && s.code != signal::SI_QUEUE {
        return Err(format!(
            "si_code {} is neither SI_KERNEL ({}) nor SI_QUEUE ({})",
            s.code,
            signal::SI_KERNEL,
            signal::SI_QUEUE
        ));
    }
    Ok(*s)
}

/// The request line for `cmd`.
pub fn request_line(cmd: &ControlCommand) -> String {
    match cmd {
        ControlCommand::Dump(DumpFormat::Text) => "dump text\n".into(),
        ControlCommand::Dump(DumpFormat::Json) => "dump json\n".into(),
        ControlCommand::Signal(s) => {
            format!("signal {} {} {} {}\n", s.pid, s.signo, s.code, s.value)
        }
        ControlCommand::Core { pid, path } => format!("core {pid} {}\n", path.display()),
    }
}

/// Reads the header and checks it is a table this VMM understands.
fn read_header(mem: &dyn GuestPhys, header_gpa: Option<u64>) -> Result<InspectHeader, String> {
    let gpa = header_gpa.ok_or("the kernel has no lwpvm inspection note")?;
    let mut b = vec![0u8; HEADER_SIZE];
    stable_read(mem, gpa, HEADER_SEQ_OFFSET, &mut b, 3)
        .ok_or("the inspection header is not in guest RAM")?;
    let h = InspectHeader::decode(&b).ok_or("short header")?;
    if h.magic != INSPECT_MAGIC || h.abi_version != ABI_VERSION {
        return Err(format!(
            "no valid inspection header at {gpa:#x} (magic {:#x}, version {})",
            h.magic, h.abi_version
        ));
    }
    Ok(h)
}

/// Posts `s` in the mailbox of the paused guest; returns the request number.
pub fn post_signal(
    mem: &dyn GuestPhys,
    header_gpa: Option<u64>,
    s: &HostSignal,
) -> Result<u32, String> {
    let h = read_header(mem, header_gpa)?;
    if h.features & FEATURE_HOST_SIGNAL == 0 {
        return Err("the guest kernel does not handle host-posted signals yet (its inspection header lacks FEATURE_HOST_SIGNAL); nothing was posted".into());
    }
    let m = h.mailbox;
    if m.ack != m.req {
        return Err(format!(
            "the guest has not yet acknowledged host signal request {} (ack {}); try again",
            m.req, m.ack
        ));
    }
    let req = m.req.wrapping_add(1);
    let new = HostSignalMailbox {
        req: m.req,
        ack: m.ack,
        pid: s.pid,
        signo: s.signo,
        code: s.code,
        result: 0,
        value: s.value,
    };
    let mut b = [0u8; HostSignalMailbox::SIZE];
    new.encode_into(&mut b);
    // header_gpa is Some: read_header succeeded.
    let base = header_gpa.unwrap_or_default() + MAILBOX_OFFSET as u64;
    // Fields first (req unchanged), then req: the guest reads req, then the fields.
    if !mem.write_phys(base + 8, &b[8..]) || !mem.write_phys(base, &req.to_le_bytes()) {
        return Err("cannot write the mailbox".into());
    }
    Ok(req)
}

/// Waits up to `timeout` for the guest to acknowledge mailbox request `req`; returns its
/// result (0 or -errno).
pub fn wait_ack(
    mem: &dyn GuestPhys,
    header_gpa: Option<u64>,
    req: u32,
    timeout: Duration,
) -> Option<i32> {
    let base = header_gpa? + MAILBOX_OFFSET as u64;
    let deadline = Instant::now() + timeout;
    loop {
        if mem.read_u32(base + 4) == Some(req) {
            return mem.read_u32(base + 20).map(|r| r as i32);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// The listening thread.
pub struct ControlServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ControlServer {
    /// Binds `path` and starts serving; requests go to `events`. `mem` and `header_gpa` let
    /// the thread wait for signal acknowledgements without the main thread.
    pub fn start(
        path: &Path,
        events: Sender<VmEvent>,
        mem: Arc<dyn GuestPhys + Send + Sync>,
        header_gpa: Option<u64>,
    ) -> io::Result<Self> {
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if meta.file_type().is_socket() {
                // A stale socket of an earlier run: connecting tells a live one apart.
                if UnixStream::connect(path).is_ok() {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!("{} is the control socket of a running VMM", path.display()),
                    ));
                }
                std::fs::remove_file(path)?;
            } else {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a socket", path.display()),
                ));
            }
        }
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let thread = thread::Builder::new()
            .name("control".into())
            .spawn(move || {
                while !thread_stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((conn, _)) => {
                            if let Err(e) = serve(conn, &events, &*mem, header_gpa) {
                                log::debug!("control connection: {e}");
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(10));
                        }
                        Err(e) => {
                            log::warn!("control socket: {e}");
                            thread::sleep(Duration::from_millis(10));
                        }
                    }
                }
            })?;
        Ok(ControlServer {
            path: path.to_path_buf(),
            stop,
            thread: Some(thread),
        })
    }

    /// Stops listening and removes the socket file.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let deadline = Instant::now() + Duration::from_secs(1);
            while !t.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(2));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Serves one connection.
fn serve(
    conn: UnixStream,
    events: &Sender<VmEvent>,
    mem: &dyn GuestPhys,
    header_gpa: Option<u64>,
) -> io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    conn.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut line = String::new();
    BufReader::new((&conn).take(MAX_LINE)).read_line(&mut line)?;
    let mut out = &conn;
    let answer = match parse_request(line.trim()) {
        Err(e) => format!("error: {e}\n"),
        Ok(command) => {
            let (tx, rx) = mpsc::channel();
            if events
                .send(VmEvent::Control(ControlRequest { command, reply: tx }))
                .is_err()
            {
                "error: the VM is shutting down\n".to_string()
            } else {
                match rx.recv_timeout(ANSWER_TIMEOUT) {
                    Ok(ControlReply::Dump(text)) => format!("ok\n{text}"),
                    Ok(ControlReply::Done(text)) => format!("ok\n{text}\n"),
                    Ok(ControlReply::Error(e)) => format!("error: {e}\n"),
                    Ok(ControlReply::Posted { req }) => {
                        match wait_ack(mem, header_gpa, req, ACK_TIMEOUT) {
                            Some(0) => format!("ok\nposted as request {req}; the guest delivered it\n"),
                            Some(r) => format!(
                                "error: posted as request {req}; the guest refused it: {}\n",
                                shared_abi::current::errno::name(-r).unwrap_or("unknown error")
                            ),
                            None => format!(
                                "error: posted as request {req}; the guest did not acknowledge it within {ACK_TIMEOUT:?}\n"
                            ),
                        }
                    }
                    Err(_) => "error: the VMM did not answer (the VM may have ended)\n".into(),
                }
            }
        }
    };
    out.write_all(answer.as_bytes())?;
    out.flush()
}

/// Sends `cmd` to the control socket at `path`; returns the payload after `ok`, or the error.
pub fn client(path: &Path, cmd: &ControlCommand) -> Result<String, String> {
    let mut conn = UnixStream::connect(path)
        .map_err(|e| format!("cannot connect to {}: {e}", path.display()))?;
    conn.set_read_timeout(Some(ANSWER_TIMEOUT + ACK_TIMEOUT + Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    conn.write_all(request_line(cmd).as_bytes())
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let _ = conn.shutdown(std::net::Shutdown::Write);
    let mut answer = String::new();
    conn.read_to_string(&mut answer)
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    if let Some(rest) = answer.strip_prefix("ok\n") {
        Ok(rest.to_string())
    } else if let Some(e) = answer.strip_prefix("error: ") {
        Err(e.trim_end().to_string())
    } else if answer.is_empty() {
        Err("the VMM closed the connection without an answer".into())
    } else {
        Err(format!(
            "unexpected answer {:?}",
            answer.lines().next().unwrap_or("")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::testkit::SynthGuest;

    #[test]
    fn requests_parse_and_print() {
        assert_eq!(
            parse_request("dump json"),
            Ok(ControlCommand::Dump(DumpFormat::Json))
        );
        let s = HostSignal {
            pid: 3,
            signo: 10,
            code: signal::SI_QUEUE,
            value: 42,
        };
        let line = request_line(&ControlCommand::Signal(s));
        assert_eq!(parse_request(line.trim()), Ok(ControlCommand::Signal(s)));
        assert!(parse_request("signal 0 10 -1 0").is_err());
        assert!(parse_request("signal 1 65 -1 0").is_err());
        assert!(
            parse_request("signal 1 9 0 0").is_err(),
            "SI_USER is not allowed"
        );
        assert!(parse_request("reboot").is_err());
        assert_eq!(
            parse_request(
                request_line(&ControlCommand::Core {
                    pid: 4,
                    path: "/tmp/c".into()
                })
                .trim()
            ),
            Ok(ControlCommand::Core {
                pid: 4,
                path: "/tmp/c".into()
            })
        );
        assert!(parse_request("core 4 relative/path").is_err());
        assert!(parse_request("dump yaml").is_err());
    }

    #[test]
    fn mailbox_protocol() {
        let mut g = SynthGuest::new();
        let s = HostSignal {
            pid: 1,
            signo: 10,
            code: signal::SI_QUEUE,
            value: 7,
        };
        // The guest does not advertise the feature: nothing is written.
        let e = post_signal(&g.mem, Some(g.header_gpa), &s).unwrap_err();
        assert!(e.contains("FEATURE_HOST_SIGNAL"), "{e}");
        assert_eq!(
            g.mem.read_u32(g.header_gpa + MAILBOX_OFFSET as u64),
            Some(0)
        );
        assert!(post_signal(&g.mem, None, &s).is_err());

        g.header.features |= FEATURE_HOST_SIGNAL;
        g.publish();
        let req = post_signal(&g.mem, Some(g.header_gpa), &s).unwrap();
        assert_eq!(req, 1);
        let h = read_header(&g.mem, Some(g.header_gpa)).unwrap();
        assert_eq!(
            (
                h.mailbox.req,
                h.mailbox.ack,
                h.mailbox.pid,
                h.mailbox.signo,
                h.mailbox.code,
                h.mailbox.value
            ),
            (1, 0, 1, 10, -1, 7)
        );
        // Busy until acknowledged.
        assert!(post_signal(&g.mem, Some(g.header_gpa), &s)
            .unwrap_err()
            .contains("acknowledged"));
        assert_eq!(
            wait_ack(&g.mem, Some(g.header_gpa), 1, Duration::from_millis(10)),
            None
        );
        // The guest acknowledges with -ESRCH.
        let base = g.header_gpa + MAILBOX_OFFSET as u64;
        assert!(g.mem.write_phys(base + 20, &(-3i32).to_le_bytes()));
        assert!(g.mem.write_phys(base + 4, &1u32.to_le_bytes()));
        assert_eq!(
            wait_ack(&g.mem, Some(g.header_gpa), 1, Duration::from_millis(10)),
            Some(-3)
        );
        assert_eq!(post_signal(&g.mem, Some(g.header_gpa), &s), Ok(2));
    }
}
