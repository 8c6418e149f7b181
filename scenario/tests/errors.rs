//! Parse and validation errors: the file, line, column and reason of each.

use lwpvm_scenario::load;

/// Loads `text` and returns its errors as `line:col: reason` strings.
fn errors(text: &str) -> Vec<String> {
    match load("t.scn", text) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .iter()
            .map(|e| format!("{}:{}: {}", e.span.line, e.span.col, e.reason))
            .collect(),
    }
}

fn one(text: &str) -> String {
    let e = errors(text);
    assert_eq!(e.len(), 1, "expected exactly one error, got {e:#?}");
    e.into_iter().next().unwrap()
}

#[test]
fn display_is_file_line_col_error_reason() {
    let e = load(
        "tests/scenarios/x.scn",
        "proc P1\nP1.main: kill P1 SIGFOO\n",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "tests/scenarios/x.scn:2:18: error: unknown signal SIGFOO\n"
    );
}

#[test]
fn unknown_names() {
    assert_eq!(
        one("proc P1\nP1.main: kill P1 SIGFOO"),
        "2:18: unknown signal SIGFOO"
    );
    assert_eq!(
        one("proc P1\nP1.main: block USR1"),
        "2:16: unknown signal USR1 (did you mean SIGUSR1?)"
    );
    assert_eq!(
        one("proc P1\nP1.main: block SIGRTMIN+40"),
        "2:16: SIGRTMIN+40 is outside SIGRTMIN..SIGRTMAX (32..64)"
    );
    assert_eq!(
        one("proc P1\nP1.main: pause -> EFOO"),
        "2:19: unknown errno EFOO"
    );
    assert_eq!(
        one("proc P1\nP1.main: blok SIGUSR1"),
        "2:10: unknown action 'blok' (did you mean block?)"
    );
    assert_eq!(one("proc P1\nP2.main: pause"), "2:1: unknown LWP P2.main");
    assert_eq!(
        one("proc P1\nP1.X: pause"),
        "2:1: unknown LWP P1.X (process P1 has no such LWP)"
    );
    assert_eq!(
        one("proc P1\nP1.main: handle SIGUSR1 flags=SA_SIGINFO|SA_BOGUS"),
        "2:31: unknown sigaction flag SA_BOGUS"
    );
    assert_eq!(
        one("proc P1\nP1.main: query colour"),
        "2:16: unknown query 'colour' (mask, pending, altstack, lwpctl, blockallsigs, lpmap-tid, fastblock, cpu, self, tid, pid)"
    );
    assert_eq!(
        one("proc P1\nfrobnicate"),
        "2:1: unknown statement 'frobnicate' (steps are written 'LWP: action', e.g. 'P1.main: block SIGUSR1')"
    );
}

#[test]
fn use_before_declaration() {
    assert_eq!(
        one("proc P1\nP1.B: pause\nlwp P1.B\n"),
        "2:1: LWP P1.B used before its declaration at line 3"
    );
    assert_eq!(
        one("proc P1\nP1.main: kill P2 SIGUSR1\nproc P2\n"),
        "2:15: process P2 used before its declaration at line 3"
    );
}

#[test]
fn events() {
    assert_eq!(
        one("proc P1\nP1.main: await x\n"),
        "2:1: event 'x' is awaited but never posted"
    );
    assert_eq!(
        one("proc P1\nlwp P1.A\nP1.A: await go\nP1.A: post go\n"),
        "3:1: deadlock: P1.A waits for 'go' here, but only P1.A posts it, later (line 4)"
    );
    assert_eq!(
        one("proc P1\nlwp P1.W[3]\nevent all count=4\nP1.W[*]: post all\nP1.main: await all\n"),
        "3:7: event 'all' needs 4 posts but at most 3 are made"
    );
    // A post from a handler counts (any number of times).
    assert!(errors(
        "proc P1\nevent e count=5\nP1.main: handle SIGUSR1\ndo post e\nP1.main: await e\n"
    )
    .is_empty());
}

#[test]
fn existence_along_the_timeline() {
    assert_eq!(
        one("proc P1\nlwp P1.A\nP1.A: lwp-exit\nP1.A: pause\n"),
        "4:1: P1.A cannot run a step here: it is gone since line 3"
    );
    assert_eq!(
        one("proc P1\nlwp P1.A\nP1.main: exec\nP1.A: pause\n"),
        "4:1: P1.A cannot run a step here: it is gone since line 3"
    );
    assert_eq!(
        one("proc P1\nlwp P1.A manual\nP1.A: pause\nP1.main: create P1.A\n"),
        "3:1: P1.A cannot run a step here: it does not exist yet"
    );
    assert_eq!(
        one("proc P1\nlwp P1.A manual\n"),
        "2:1: P1.A is manual but no step creates it (add 'P1.main: create P1.A')"
    );
    assert_eq!(
        one("proc P1\nlwp P1.A\nP1.main: create P1.A\n"),
        "3:1: P1.A is created at setup; declare it 'lwp P1.A manual' to create it with a step"
    );
    assert_eq!(
        one("proc P1\nproc P2 forked\n"),
        "2:1: process P2 is declared forked but no step forks it"
    );
    assert_eq!(
        one("proc P1\nlwp P1.A\nP1.A: spin\nP1.A: pause\n"),
        "4:1: P1.A cannot run a step here: it spins forever since line 3"
    );
    assert_eq!(
        one("proc P1\nproc P2 forked\nlwp P2.A\nP1.main: fork P2\n"),
        "3:1: P2.A belongs to forked process P2: it cannot exist at setup; mark it manual and create it"
    );
}

#[test]
fn process_local_calls_and_host_steps() {
    assert_eq!(
        one("proc P1\nproc P2\nlwp P2.A\nP1.main: suspend P2.A\n"),
        "4:1: this NetBSD call works within a process: an LWP of P1 cannot name P2.A"
    );
    assert_eq!(
        one("proc P1\nhost: kill 0 SIGUSR1\n"),
        "2:1: the host can only 'kill P SIG' or 'sigqueue P SIG value=V' (a process-directed signal)"
    );
    assert_eq!(
        one("proc P1\nproc P2\nP1.main: wait P2\n"),
        "3:1: P2 is not a child of P1 (setup processes are children of the runner); a wait for it fails with ECHILD"
    );
    assert!(errors("proc P1\nproc P2\nP1.main: wait P2 -> ECHILD\n").is_empty());
}

#[test]
fn signal_rules() {
    assert_eq!(
        one("proc P1\nP1.main: handle SIGKILL\n"),
        "2:1: SIGKILL cannot be caught: rt_sigaction fails with EINVAL; write '-> EINVAL'"
    );
    assert!(errors("proc P1\nP1.main: handle SIGSTOP -> EINVAL\n").is_empty());
    assert_eq!(
        one("proc P1\nP1.main: handle SIGUSR1\ndo skip-fault\n"),
        "3:1: skip-fault needs a fault signal's handler (SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGSYS), not SIGUSR1"
    );
    assert_eq!(
        one("proc P1\nP1.main: handle SIGSEGV\nP1.main: fault badptr\n"),
        "3:1: the SIGSEGV handler installed at line 2 returns to the faulting instruction, which faults again forever: add 'do skip-fault' after that handle line (or SA_RESETHAND, or exit in the handler)"
    );
    assert!(errors(
        "proc P1\nP1.main: handle SIGSEGV flags=SA_SIGINFO|SA_RESETHAND\nP1.main: fault badptr\n"
    )
    .is_empty());
    assert!(errors("proc P1\nP1.main: handle SIGTRAP\nP1.main: fault int3\n").is_empty());
    assert_eq!(
        one("proc P1\nP1.main: do skip-fault\n"),
        "2:10: unknown action 'do'"
    );
    assert_eq!(
        one("proc P1\nP1.main: pause\ndo raise SIGUSR1\n"),
        "3:1: 'do' must follow a 'handle' step (or another 'do')"
    );
    assert_eq!(
        one("proc P1\nP1.main: handle SIGUSR1\ndo fork P1\n"),
        "3:4: 'fork' is not allowed in a handler"
    );
    assert_eq!(
        one("proc P1\nP1.main: exit 0 -> ok\n"),
        "2:17: this action does not return: nothing to expect"
    );
}

#[test]
fn arrays_and_types() {
    assert_eq!(
        one("proc P1\nlwp P1.W[4]\nP1.main: tkill P1.W SIGUSR1\n"),
        "3:16: P1.W is an LWP array: write P1.W[N] or P1.W[*]"
    );
    assert_eq!(
        one("proc P1\nlwp P1.W[4]\nP1.main: tkill P1.W[4] SIGUSR1\n"),
        "3:21: index 4 out of range: P1.W has 4 members"
    );
    assert_eq!(
        one("proc P1\nlwp P1.W[4]\nP1.main: tkill P1.W[*] SIGUSR1\n"),
        "3:20: P1.W[*] is not allowed here: name one member"
    );
    assert_eq!(
        one("proc P1\nexpect handler SIGUSR1 depth has 1\n"),
        "2:34: operator has does not apply to depth"
    );
    assert_eq!(
        one("proc P1\nP1.main: query mask -> 3\n"),
        "2:24: expected a signal set, found '3'"
    );
    assert_eq!(
        one("proc P1\nexpect P1 stopped SIGSTOP\n"),
        "2:8: a process's final status is exited, killed or dumped; check stops with 'wait P WUNTRACED -> stopped SIG'"
    );
}

#[test]
fn dumps() {
    assert_eq!(
        one("proc P1\nexpect lwp(P1.main).state == LSSLEEP\n"),
        "2:8: a dump assertion needs a 'dump' statement before it"
    );
    assert_eq!(
        one("proc P1\ndump d\nP1.main: pause\nexpect lwp(P1.main).state == LSSLEEP\n"),
        "4:8: a dump assertion must directly follow its 'dump' statement (dump d is at line 2)"
    );
    assert_eq!(
        one("proc P1\ndump\nexpect lwp(P1.main).colour == 1\n"),
        "3:21: unknown LWP field 'colour' (exists, state, mask, pending, queue, cpu, lwpctl.curcpu, lwpctl.pctr, lpmap.blockallsigs, lpmap.tid, fastblock, altstack.flags, edge(A,B))"
    );
    assert_eq!(
        one("proc P1\ndump\nexpect lwp(P1.main).state == SLEEPING\n"),
        "3:30: unknown LWP state SLEEPING (LSIDL, LSRUN, LSONPROC, LSSLEEP, LSSTOP, LSSUSPENDED, LSZOMB)"
    );
    assert_eq!(
        one("proc P1\ndump\nexpect lwp(P1.main).mask > {}\n"),
        "3:26: operator > needs a number"
    );
}

#[test]
fn lexical_errors_have_columns() {
    assert_eq!(one("proc P1 $"), "1:9: unexpected character '$'");
    assert_eq!(one("scenario \"open"), "1:10: unterminated string");
    assert_eq!(one("vm cpus=0"), "1:9: cpus must be 1..=64");
    assert_eq!(
        one("vm cpus=1 min-cpus=2"),
        "1:21: min-cpus=2 is more than cpus=1"
    );
}

#[test]
fn all_errors_are_reported_in_line_order() {
    let e = errors("proc P1\nP1.main: kill P1 SIGFOO\nP1.main: blok\nP1.main: await never\n");
    assert_eq!(
        e,
        vec![
            "2:18: unknown signal SIGFOO".to_string(),
            "3:10: unknown action 'blok' (did you mean block?)".to_string(),
        ],
        "parse errors stop before validation"
    );
}
