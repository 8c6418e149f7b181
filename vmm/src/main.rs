//! `vmm`: the lwpvm virtual machine monitor.
//!
//! Boots a PVH ELF kernel on KVM with `N` vCPUs, a 16550 serial port, a virtio-mmio console and
//! an exit port, and exits with the guest's status (see `outcome.rs` and `error.rs` for the
//! VMM's own statuses). Module map:
//!
//! - `cli`, `config`: arguments → validated [`config::VmConfig`] (no KVM or device knowledge);
//! - `vmm`: the boot recipe and the run, from config to [`outcome::VmEnd`];
//! - `layout`, `memory`: guest-physical addresses and guest RAM;
//! - `boot/`: kernel loading, initrd, PVH boot information, MP table, entry state;
//! - `kvm/`: the only code that talks to KVM (VM, vCPU threads, exit handling, kick, pause);
//! - `inspect/`: decoding the paused guest's inspection table into dumps (text, JSON), page
//!   walks, core files; `control`: the control socket (`vmm dump`, `vmm signal`);
//!   `scenario`: `--scenario`, the dump assertions of a scenario evaluated on guest requests;
//! - `bus`, `devices/`: address dispatch and device models;
//! - `event_loop`: the epoll thread for device eventfds, stdin and host signals;
//! - `terminal`, `logger`, `sync`: process plumbing;
//! - `error`, `outcome`: how a run fails or ends, and the exit statuses.

mod boot;
mod bus;
mod cli;
mod config;
mod control;
mod devices;
mod error;
mod event_loop;
mod inspect;
mod kvm;
mod layout;
mod logger;
mod marks;
mod memory;
mod outcome;
mod scenario;
mod sync;
mod terminal;
mod vmm;

use std::io::Write;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::config::VmConfig;
use crate::error::Error;

fn main() {
    terminal::ensure_standard_fds();
    let cli = Cli::parse();
    logger::init(cli.verbose);
    terminal::install_panic_hook();

    let (status, message) = match cli.command {
        Command::Run(args) => match VmConfig::try_from(*args)
            .map_err(Error::from)
            .and_then(|config| vmm::run(&config))
        {
            Ok(end) => (end.exit_status(), end.message()),
            Err(e) => (e.exit_status(), Some(error_chain(&e))),
        },
        Command::Dump(args) => client(&args.socket, Ok(args.command())),
        Command::Signal(args) => client(&args.socket, args.command()),
        Command::Core(args) => client(&args.socket, args.command()),
    };

    terminal::restore();
    let _ = std::io::stdout().flush();
    if let Some(message) = message {
        eprintln!("vmm: {message}");
    }
    let _ = std::io::stderr().flush();
    // Exit at once: vCPU threads that did not stop must not keep the process alive.
    std::process::exit(status)
}

/// Runs a control-socket client command: prints the answer on stdout (status 0), or the error
/// on stderr (status 1; a bad argument is 200).
fn client(
    socket: &std::path::Path,
    command: Result<control::ControlCommand, String>,
) -> (i32, Option<String>) {
    let command = match command {
        Ok(c) => c,
        Err(e) => {
            return (
                shared_abi::current::ports::vmm_status::USAGE_OR_INPUT,
                Some(e),
            )
        }
    };
    match control::client(socket, &command) {
        Ok(text) => {
            print!("{text}");
            (0, None)
        }
        Err(e) => (1, Some(e)),
    }
}

/// An error and its sources, as one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}
