//! Symbolic names a scenario may use: signals, errno values, `SA_*`/`SS_*` flags, `si_code`
//! values, LWP states. Every table comes from `shared-abi`, so a scenario and the kernel
//! can never disagree on a number.

use alloc::format;
use alloc::string::String;

use shared_abi::current::{errno, lwp, signal};

/// The number of signal `name`: `SIGUSR1`, the aliases `SIGIOT`/`SIGPOLL`/`SIGUNUSED`,
/// `SIGRTMIN`, `SIGRTMIN+n`, `SIGRTMAX`, `SIGRTMAX-n` (kernel numbering: SIGRTMIN = 32).
pub fn signal(name: &str) -> Result<u32, String> {
    if let Some(n) = signal::number(name) {
        return Ok(n);
    }
    let rt = |base: u32, rest: &str, plus: bool| -> Result<u32, String> {
        let off: u32 = rest.parse().map_err(|_| format!("unknown signal {name}"))?;
        let sig = if plus {
            base.checked_add(off)
        } else {
            base.checked_sub(off)
        };
        match sig {
            Some(s) if (signal::SIGRTMIN..=signal::SIGRTMAX).contains(&s) => Ok(s),
            _ => Err(format!(
                "{name} is outside SIGRTMIN..SIGRTMAX ({}..{})",
                signal::SIGRTMIN,
                signal::SIGRTMAX
            )),
        }
    };
    if let Some(rest) = name.strip_prefix("SIGRTMIN+") {
        return rt(signal::SIGRTMIN, rest, true);
    }
    if let Some(rest) = name.strip_prefix("SIGRTMAX-") {
        return rt(signal::SIGRTMAX, rest, false);
    }
    if !name.starts_with("SIG") && signal::number(&format!("SIG{name}")).is_some() {
        return Err(format!("unknown signal {name} (did you mean SIG{name}?)"));
    }
    Err(format!("unknown signal {name}"))
}

/// The scenario spelling of signal `sig` (`SIGUSR1`, `SIGRTMIN+3`), or `signal N` if invalid.
pub fn signal_name(sig: u32) -> String {
    match signal::name(sig) {
        Some(n) => String::from(n),
        None => format!("signal {sig}"),
    }
}

/// The number of errno `name` (`EINTR` ...).
pub fn errno(name: &str) -> Result<i32, String> {
    errno::number(name).ok_or_else(|| format!("unknown errno {name}"))
}

/// The name of errno `e`, or `errno N`.
pub fn errno_name(e: i32) -> String {
    match errno::name(e) {
        Some(n) => String::from(n),
        None => format!("errno {e}"),
    }
}

/// `sigaction` flags by name (`SA_NOMASK` and `SA_ONESHOT` are accepted as aliases).
pub const SA_FLAGS: [(&str, u64); 12] = [
    ("SA_NOCLDSTOP", signal::SA_NOCLDSTOP),
    ("SA_NOCLDWAIT", signal::SA_NOCLDWAIT),
    ("SA_SIGINFO", signal::SA_SIGINFO),
    ("SA_UNSUPPORTED", signal::SA_UNSUPPORTED),
    ("SA_EXPOSE_TAGBITS", signal::SA_EXPOSE_TAGBITS),
    ("SA_RESTORER", signal::SA_RESTORER),
    ("SA_ONSTACK", signal::SA_ONSTACK),
    ("SA_RESTART", signal::SA_RESTART),
    ("SA_NODEFER", signal::SA_NODEFER),
    ("SA_RESETHAND", signal::SA_RESETHAND),
    ("SA_NOMASK", signal::SA_NOMASK),
    ("SA_ONESHOT", signal::SA_ONESHOT),
];

/// `ss_flags` values by name.
pub const SS_FLAGS: [(&str, u64); 3] = [
    ("SS_ONSTACK", signal::SS_ONSTACK as u64),
    ("SS_DISABLE", signal::SS_DISABLE as u64),
    ("SS_AUTODISARM", signal::SS_AUTODISARM as u64),
];

/// `wait4` options by name.
pub const WAIT_FLAGS: [(&str, u64); 4] = [
    ("WNOHANG", signal::WNOHANG as u64),
    ("WUNTRACED", signal::WUNTRACED as u64),
    ("WSTOPPED", signal::WSTOPPED as u64),
    ("WCONTINUED", signal::WCONTINUED as u64),
];

/// A `|`-separated list of flag names from `table` (`0` = no flag).
pub fn flags(text: &str, table: &[(&str, u64)], what: &str) -> Result<u64, String> {
    if text == "0" {
        return Ok(0);
    }
    let mut v = 0;
    for part in text.split('|') {
        match table.iter().find(|(n, _)| *n == part) {
            Some((_, bit)) => v |= bit,
            None => return Err(format!("unknown {what} {part}")),
        }
    }
    Ok(v)
}

/// `si_code` values by name (the SIGILL/SIGFPE/... codes overlap numerically, as in Linux).
pub const SI_CODES: [(&str, i32); 49] = [
    ("SI_USER", signal::SI_USER),
    ("SI_KERNEL", signal::SI_KERNEL),
    ("SI_QUEUE", signal::SI_QUEUE),
    ("SI_TIMER", signal::SI_TIMER),
    ("SI_MESGQ", signal::SI_MESGQ),
    ("SI_ASYNCIO", signal::SI_ASYNCIO),
    ("SI_SIGIO", signal::SI_SIGIO),
    ("SI_TKILL", signal::SI_TKILL),
    ("SI_DETHREAD", signal::SI_DETHREAD),
    ("SI_ASYNCNL", signal::SI_ASYNCNL),
    ("ILL_ILLOPC", signal::ILL_ILLOPC),
    ("ILL_ILLOPN", signal::ILL_ILLOPN),
    ("ILL_ILLADR", signal::ILL_ILLADR),
    ("ILL_ILLTRP", signal::ILL_ILLTRP),
    ("ILL_PRVOPC", signal::ILL_PRVOPC),
    ("ILL_PRVREG", signal::ILL_PRVREG),
    ("ILL_COPROC", signal::ILL_COPROC),
    ("ILL_BADSTK", signal::ILL_BADSTK),
    ("FPE_INTDIV", signal::FPE_INTDIV),
    ("FPE_INTOVF", signal::FPE_INTOVF),
    ("FPE_FLTDIV", signal::FPE_FLTDIV),
    ("FPE_FLTOVF", signal::FPE_FLTOVF),
    ("FPE_FLTUND", signal::FPE_FLTUND),
    ("FPE_FLTRES", signal::FPE_FLTRES),
    ("FPE_FLTINV", signal::FPE_FLTINV),
    ("FPE_FLTSUB", signal::FPE_FLTSUB),
    ("SEGV_MAPERR", signal::SEGV_MAPERR),
    ("SEGV_ACCERR", signal::SEGV_ACCERR),
    ("SEGV_BNDERR", signal::SEGV_BNDERR),
    ("SEGV_PKUERR", signal::SEGV_PKUERR),
    ("BUS_ADRALN", signal::BUS_ADRALN),
    ("BUS_ADRERR", signal::BUS_ADRERR),
    ("BUS_OBJERR", signal::BUS_OBJERR),
    ("BUS_MCEERR_AR", signal::BUS_MCEERR_AR),
    ("BUS_MCEERR_AO", signal::BUS_MCEERR_AO),
    ("TRAP_BRKPT", signal::TRAP_BRKPT),
    ("TRAP_TRACE", signal::TRAP_TRACE),
    ("TRAP_BRANCH", signal::TRAP_BRANCH),
    ("TRAP_HWBKPT", signal::TRAP_HWBKPT),
    ("TRAP_UNK", signal::TRAP_UNK),
    ("CLD_EXITED", signal::CLD_EXITED),
    ("CLD_KILLED", signal::CLD_KILLED),
    ("CLD_DUMPED", signal::CLD_DUMPED),
    ("CLD_TRAPPED", signal::CLD_TRAPPED),
    ("CLD_STOPPED", signal::CLD_STOPPED),
    ("CLD_CONTINUED", signal::CLD_CONTINUED),
    ("POLL_IN", signal::POLL_IN),
    ("POLL_OUT", signal::POLL_OUT),
    ("POLL_HUP", signal::POLL_HUP),
];

/// The value of `si_code` name `name`.
pub fn si_code(name: &str) -> Result<i32, String> {
    SI_CODES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("unknown si_code {name}"))
}

/// A readable spelling of `si_code` `code` for signal `sig` in reports: the name when the
/// number means something for that signal, else the number.
pub fn si_code_name(sig: u32, code: i32) -> String {
    let prefix = match sig {
        signal::SIGILL => "ILL_",
        signal::SIGFPE => "FPE_",
        signal::SIGSEGV => "SEGV_",
        signal::SIGBUS => "BUS_",
        signal::SIGTRAP => "TRAP_",
        signal::SIGCHLD => "CLD_",
        signal::SIGIO => "POLL_",
        _ => "SI_",
    };
    let found = SI_CODES.iter().find(|(n, v)| {
        *v == code
            && (n.starts_with(prefix)
                || (code <= 0 || code == signal::SI_KERNEL) && n.starts_with("SI_"))
    });
    match found {
        Some((n, _)) => String::from(*n),
        None => format!("{code}"),
    }
}

/// The LWP state called `name` (`LSSLEEP` ...).
pub fn lwp_state(name: &str) -> Result<lwp::LwpState, String> {
    use lwp::LwpState::*;
    [Idle, Run, Sleep, Stop, Zombie, OnProc, Suspended]
        .into_iter()
        .find(|s| s.name() == name)
        .ok_or_else(|| {
            format!("unknown LWP state {name} (LSIDL, LSRUN, LSONPROC, LSSLEEP, LSSTOP, LSSUSPENDED, LSZOMB)")
        })
}

/// A duration in nanoseconds from a number and its unit (`ns`, `us`, `ms`, `s`; a bare `0`
/// is allowed).
pub fn duration_ns(v: i64, unit: &str) -> Result<u64, String> {
    if v < 0 {
        return Err(String::from("a duration cannot be negative"));
    }
    let mul: u64 = match unit {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "" if v == 0 => 1,
        "" => return Err(format!("duration {v} needs a unit (ns, us, ms, s)")),
        _ => return Err(format!("unknown duration unit {unit} (ns, us, ms, s)")),
    };
    (v as u64)
        .checked_mul(mul)
        .ok_or_else(|| String::from("duration too large"))
}

/// A size in bytes from a number and its unit (`K`/`KiB`, `M`/`MiB`, `G`/`GiB`, or none).
pub fn size_bytes(v: i64, unit: &str) -> Result<u64, String> {
    if v < 0 {
        return Err(String::from("a size cannot be negative"));
    }
    let mul: u64 = match unit {
        "" => 1,
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        _ => return Err(format!("unknown size unit {unit} (K, M, G)")),
    };
    (v as u64)
        .checked_mul(mul)
        .ok_or_else(|| String::from("size too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(signal("SIGUSR1"), Ok(10));
        assert_eq!(signal("SIGIOT"), Ok(6));
        assert_eq!(signal("SIGRTMIN"), Ok(32));
        assert_eq!(signal("SIGRTMIN+3"), Ok(35));
        assert_eq!(signal("SIGRTMIN+32"), Ok(64));
        assert_eq!(signal("SIGRTMAX-1"), Ok(63));
        assert_eq!(signal("SIGRTMAX-32"), Ok(32));
        assert!(signal("SIGRTMIN+33").unwrap_err().contains("outside"));
        assert!(signal("SIGRTMAX-33").unwrap_err().contains("outside"));
        assert_eq!(signal("SIGFOO").unwrap_err(), "unknown signal SIGFOO");
        assert_eq!(
            signal("USR1").unwrap_err(),
            "unknown signal USR1 (did you mean SIGUSR1?)"
        );
        assert_eq!(signal_name(35), "SIGRTMIN+3");
    }

    #[test]
    fn flag_lists() {
        let f = flags("SA_SIGINFO|SA_RESTART", &SA_FLAGS, "sigaction flag").unwrap();
        assert_eq!(f, signal::SA_SIGINFO | signal::SA_RESTART);
        assert_eq!(flags("0", &SA_FLAGS, "x"), Ok(0));
        assert_eq!(
            flags("SA_SIGINFO|SA_BOGUS", &SA_FLAGS, "sigaction flag").unwrap_err(),
            "unknown sigaction flag SA_BOGUS"
        );
    }

    #[test]
    fn codes_and_states() {
        assert_eq!(si_code("SI_QUEUE"), Ok(-1));
        assert_eq!(si_code("CLD_STOPPED"), Ok(5));
        assert_eq!(si_code_name(signal::SIGSEGV, 1), "SEGV_MAPERR");
        assert_eq!(si_code_name(signal::SIGUSR1, -6), "SI_TKILL");
        assert_eq!(si_code_name(signal::SIGTRAP, 0x80), "SI_KERNEL");
        assert_eq!(si_code_name(signal::SIGUSR1, 77), "77");
        assert_eq!(lwp_state("LSSTOP"), Ok(lwp::LwpState::Stop));
        assert!(lwp_state("STOP").is_err());
        assert_eq!(duration_ns(10, "ms"), Ok(10_000_000));
        assert_eq!(duration_ns(0, ""), Ok(0));
        assert!(duration_ns(5, "").is_err());
        assert_eq!(size_bytes(128, "M"), Ok(128 << 20));
        assert_eq!(errno("EDEADLK"), Ok(35));
        assert_eq!(errno_name(4), "EINTR");
    }
}
