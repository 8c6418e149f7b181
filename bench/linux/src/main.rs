//! `lwpvm-linux-bench`: times lwpvm's benchmark operations on the host's Linux and prints a
//! table; `--json PATH` also writes the report (see the library's `report` module).
//! `cargo xtask bench linux` runs it in release mode.

use std::process::ExitCode;
use std::time::Duration;

use lwpvm_linux_bench::harness::Budget;
use lwpvm_linux_bench::ops::LINUX_OPS;
use shared_abi::current::bench::Op;

const USAGE: &str = "\
usage: lwpvm-linux-bench [--json PATH] [--only ID,ID...] [--rounds N] [--round-ms MS]
                         [--quick] [--no-table] [--list]

Times lwpvm's benchmark operations on this Linux: median ns per operation over rounds.
  --json PATH    also write the report as JSON to PATH
  --only IDS     measure only these operation ids (comma-separated; see --list)
  --rounds N     timed rounds per operation (default 7)
  --round-ms MS  target length of a round in milliseconds (default 40)
  --quick        3 rounds of 5 ms: a fast smoke run, figures less stable
  --no-table     do not print the table (progress still goes to stderr)
  --list         list the operation ids and exit
A watchdog ends the program (SIGALRM) if a run takes more than 10 minutes.";

/// The watchdog: a run takes seconds; this only keeps a hang from blocking `cargo xtask bench`.
const WATCHDOG_SECS: u32 = 600;

#[derive(Debug)]
struct Args {
    json: Option<String>,
    ops: Vec<Op>,
    budget: Budget,
    table: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut a = Args {
        json: None,
        ops: LINUX_OPS.to_vec(),
        budget: Budget::DEFAULT,
        table: true,
    };
    let number = |v: Option<String>, what: &str| -> Result<u64, String> {
        v.ok_or(format!("{what} needs a value"))?
            .parse::<u64>()
            .map_err(|e| format!("{what}: {e}"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => a.json = Some(args.next().ok_or("--json needs a path")?),
            "--only" => {
                let list = args.next().ok_or("--only needs a list of ids")?;
                a.ops = list
                    .split(',')
                    .map(|id| {
                        Op::from_id(id.trim()).ok_or_else(|| format!("unknown operation {id:?}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--rounds" => a.budget.rounds = number(args.next(), "--rounds")?.max(1) as usize,
            "--round-ms" => {
                a.budget.round = Duration::from_millis(number(args.next(), "--round-ms")?.max(1))
            }
            "--quick" => {
                a.budget.rounds = 3;
                a.budget.round = Duration::from_millis(5);
            }
            "--no-table" => a.table = false,
            "--list" => {
                for op in LINUX_OPS {
                    println!("{:<24} {}", op.id(), op.title());
                }
                return Ok(None);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(Some(a))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lwpvm-linux-bench: {e}");
            return ExitCode::from(2);
        }
    };
    // SAFETY: alarm takes an integer; SIGALRM's default action ends the process.
    unsafe { libc::alarm(WATCHDOG_SECS) };
    let report = match lwpvm_linux_bench::run(&args.ops, &args.budget, |line| eprintln!("  {line}"))
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lwpvm-linux-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &args.json {
        let path = std::path::Path::new(path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(path, report.to_json() + "\n") {
            eprintln!("lwpvm-linux-bench: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if args.table {
        print!("{}", report.table());
    }
    if report.not_measured.iter().any(|n| n.failed) {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Option<Args>, String> {
        parse_args(s.split_whitespace().map(str::to_string))
    }

    #[test]
    fn arguments() {
        let a = parse("").unwrap().unwrap();
        assert_eq!(a.ops, LINUX_OPS.to_vec());
        assert_eq!(a.budget, Budget::DEFAULT);
        assert!(a.table && a.json.is_none());
        let a = parse("--json x.json --only null_syscall,fork_exit_wait --rounds 3 --no-table")
            .unwrap()
            .unwrap();
        assert_eq!(a.json.as_deref(), Some("x.json"));
        assert_eq!(a.ops, vec![Op::NullSyscall, Op::ForkExitWait]);
        assert_eq!(a.budget.rounds, 3);
        assert!(!a.table);
        assert!(parse("--only nope").unwrap_err().contains("nope"));
        assert!(parse("--rounds x").is_err());
        assert!(parse("--json").is_err());
        assert!(parse("--bogus").is_err());
    }
}
