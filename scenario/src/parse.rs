//! The parser: scenario text → [`Scenario`], resolving every name.
//!
//! The file is read line by line (see docs/SCENARIOS.md for the grammar). A first pass
//! collects the declarations (`proc`, `lwp`, `event`) so that a use before its declaration is
//! reported as such ("LWP P1.B used before its declaration at line 9") rather than as an
//! unknown name. Errors are collected, not fatal: one bad line does not hide the next.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use shared_abi::current::signal::{self, SigSet};

use crate::ast::*;
use crate::diag::{Errors, Span};
use crate::lex::{self, Tok, Token};
use crate::names;

type PResult<T> = Result<T, (Span, String)>;

/// Default per-statement settle timeout: 10 s (ring 0 is interpreted on the development
/// machines; a step that has not settled by then is stuck).
pub const DEFAULT_TIMEOUT_NS: u64 = 10_000_000_000;

/// Names that cannot be used for processes or LWPs.
const RESERVED: [&str; 8] = [
    "host", "any", "main", "runner", "self", "none", "all", "ALL",
];

/// The verbs of actions, for "did you mean" suggestions.
const VERBS: [&str; 47] = [
    "handle",
    "ignore",
    "default",
    "block",
    "unblock",
    "setmask",
    "query",
    "altstack",
    "sigblockall",
    "sigunblockall",
    "fastblock",
    "lwpctl",
    "rlimit",
    "pause",
    "sigsuspend",
    "sigtimedwait",
    "sleep",
    "park",
    "unpark",
    "unpark-all",
    "wakeup",
    "futex-wait",
    "await",
    "post",
    "spin",
    "watch-lwpctl",
    "yield",
    "create",
    "lwp-exit",
    "thread-exit",
    "lwp-wait",
    "suspend",
    "continue",
    "detach",
    "lwp-kill",
    "kill",
    "tkill",
    "tgkill",
    "sigqueue",
    "tgsigqueue",
    "raise",
    "fault",
    "skip-fault",
    "fork",
    "exec",
    "exit",
    "wait",
];

/// Parses `text` (the contents of `file`). Returns every syntax and name error found; the
/// static checks of [`crate::validate`] run separately ([`crate::load`] does both).
pub fn parse(file: &str, text: &str) -> Result<Scenario, Errors> {
    let mut p = Parser::new(file, text);
    p.prescan(text);
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u32 + 1;
        let toks = match lex::line(line, line_no) {
            Ok(t) => t,
            Err((span, msg)) => {
                p.errors.push(file, span, msg);
                continue;
            }
        };
        if toks.is_empty() {
            continue;
        }
        let end = Span::new(line_no, line.chars().count() as u32 + 1);
        let mut cur = Cur {
            toks: &toks,
            i: 0,
            end,
        };
        if let Err((span, msg)) = p.statement(&mut cur) {
            p.errors.push(file, span, msg);
        }
    }
    if p.errors.is_empty() {
        Ok(p.finish())
    } else {
        p.errors.sort();
        Err(p.errors)
    }
}

/// A cursor over one line's tokens.
struct Cur<'a> {
    toks: &'a [Token],
    i: usize,
    /// Position just past the end of the line (for "expected ... at end of line").
    end: Span,
}

impl<'a> Cur<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.i)
    }
    fn peek_tok(&self) -> Option<&'a Tok> {
        self.peek().map(|t| &t.tok)
    }
    fn peek_at(&self, k: usize) -> Option<&'a Tok> {
        self.toks.get(self.i + k).map(|t| &t.tok)
    }
    fn span(&self) -> Span {
        self.peek().map(|t| t.span).unwrap_or(self.end)
    }
    fn next(&mut self) -> Option<&'a Token> {
        let t = self.toks.get(self.i);
        if t.is_some() {
            self.i += 1;
        }
        t
    }
    fn at_end(&self) -> bool {
        self.i >= self.toks.len()
    }
    fn is_sym(&self, s: &str) -> bool {
        matches!(self.peek_tok(), Some(Tok::Sym(x)) if *x == s)
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek_tok(), Some(Tok::Word(x)) if x == w)
    }
    fn eat_sym(&mut self, s: &str) -> bool {
        if self.is_sym(s) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn sym(&mut self, s: &str) -> PResult<Span> {
        let span = self.span();
        if self.eat_sym(s) {
            Ok(span)
        } else {
            Err((span, format!("expected '{s}', found {}", self.describe())))
        }
    }
    fn word(&mut self, what: &str) -> PResult<(String, Span)> {
        let span = self.span();
        match self.peek_tok() {
            Some(Tok::Word(w)) => {
                self.i += 1;
                Ok((w.clone(), span))
            }
            _ => Err((span, format!("expected {what}, found {}", self.describe()))),
        }
    }
    fn num(&mut self, what: &str) -> PResult<(i64, String, Span)> {
        let span = self.span();
        match self.peek_tok() {
            Some(Tok::Num(v, u)) => {
                self.i += 1;
                Ok((*v, u.clone(), span))
            }
            _ => Err((span, format!("expected {what}, found {}", self.describe()))),
        }
    }
    fn plain_num(&mut self, what: &str) -> PResult<(i64, Span)> {
        let (v, u, span) = self.num(what)?;
        if !u.is_empty() {
            return Err((span, format!("unexpected unit '{u}' in {what}")));
        }
        Ok((v, span))
    }
    fn describe(&self) -> String {
        match self.peek_tok() {
            None => String::from("end of line"),
            Some(Tok::Word(w)) => format!("'{w}'"),
            Some(Tok::Num(v, u)) => format!("'{v}{u}'"),
            Some(Tok::Str(s)) => format!("\"{s}\""),
            Some(Tok::Sym(s)) => format!("'{s}'"),
        }
    }
    fn end(&self) -> PResult<()> {
        if self.at_end() {
            Ok(())
        } else {
            Err((self.span(), format!("unexpected {}", self.describe())))
        }
    }
    /// `key=` at the cursor: returns the key and consumes `key =`.
    fn key(&mut self) -> Option<(String, Span)> {
        if let (Some(Tok::Word(k)), Some(Tok::Sym("="))) = (self.peek_tok(), self.peek_at(1)) {
            let span = self.span();
            self.i += 2;
            Some((k.clone(), span))
        } else {
            None
        }
    }
}

struct Parser {
    errors: Errors,
    sc: Scenario,
    /// Declaration lines found by the prescan: name → line.
    decl_lines: BTreeMap<String, u32>,
    procs: BTreeMap<String, ProcId>,
    lwps: BTreeMap<String, LwpId>,
    events: BTreeMap<String, EventId>,
    dump_names: BTreeMap<String, DumpId>,
    labels: BTreeMap<String, Span>,
    next_slot: Slot,
    seen_scenario: bool,
    seen_vm: bool,
    seen_timeout: bool,
}

impl Parser {
    fn new(file: &str, text: &str) -> Self {
        Parser {
            errors: Errors::default(),
            sc: Scenario {
                file: file.to_string(),
                title: file.to_string(),
                vm: Vm::default(),
                timeout_ns: DEFAULT_TIMEOUT_NS,
                procs: Vec::new(),
                lwps: Vec::new(),
                events: Vec::new(),
                dumps: Vec::new(),
                stmts: Vec::new(),
                covers: Vec::new(),
                fingerprint: crate::fingerprint(text.as_bytes()),
            },
            decl_lines: BTreeMap::new(),
            procs: BTreeMap::new(),
            lwps: BTreeMap::new(),
            events: BTreeMap::new(),
            dump_names: BTreeMap::new(),
            labels: BTreeMap::new(),
            next_slot: 0,
            seen_scenario: false,
            seen_vm: false,
            seen_timeout: false,
        }
    }

    fn finish(self) -> Scenario {
        self.sc
    }

    /// Records where every process, LWP and event is declared, and creates the declared
    /// events (events may be used anywhere; processes and LWPs only after their line).
    fn prescan(&mut self, text: &str) {
        for (i, line) in text.lines().enumerate() {
            let line_no = i as u32 + 1;
            let Ok(toks) = lex::line(line, line_no) else {
                continue;
            };
            let (Some(Tok::Word(kw)), Some(Tok::Word(name))) =
                (toks.first().map(|t| &t.tok), toks.get(1).map(|t| &t.tok))
            else {
                continue;
            };
            match kw.as_str() {
                "proc" => {
                    self.decl_lines.entry(name.clone()).or_insert(line_no);
                    self.decl_lines
                        .entry(format!("{name}.main"))
                        .or_insert(line_no);
                }
                "lwp" => {
                    self.decl_lines.entry(name.clone()).or_insert(line_no);
                }
                "event" => {
                    if self.events.contains_key(name) {
                        continue; // the duplicate is reported by the main pass
                    }
                    let mut count = 1;
                    for w in toks[2..].windows(3) {
                        if let (Tok::Word(key), Tok::Sym("="), Tok::Num(v, u)) =
                            (&w[0].tok, &w[1].tok, &w[2].tok)
                        {
                            if key == "count" && u.is_empty() && *v >= 1 && *v <= u32::MAX as i64 {
                                count = *v as u32;
                            }
                        }
                    }
                    let id = self.sc.events.len();
                    self.sc.events.push(Event {
                        name: name.clone(),
                        span: toks[1].span,
                        count,
                        declared: true,
                    });
                    self.events.insert(name.clone(), id);
                }
                _ => {}
            }
        }
    }

    // ------------------------------------------------------------------------------------
    // Name resolution.
    // ------------------------------------------------------------------------------------

    fn proc_id(&self, name: &str, span: Span) -> PResult<ProcId> {
        if let Some(&p) = self.procs.get(name) {
            return Ok(p);
        }
        match self.decl_lines.get(name) {
            Some(&l) if l >= span.line => Err((
                span,
                format!("process {name} used before its declaration at line {l}"),
            )),
            _ => Err((span, format!("unknown process {name}"))),
        }
    }

    fn lwp_id(&self, name: &str, span: Span) -> PResult<LwpId> {
        if let Some(&l) = self.lwps.get(name) {
            return Ok(l);
        }
        if !name.contains('.') {
            return Err((
                span,
                format!("expected an LWP name like {name}.main or {name}.A, found '{name}'"),
            ));
        }
        match self.decl_lines.get(name) {
            Some(&l) if l >= span.line => Err((
                span,
                format!("LWP {name} used before its declaration at line {l}"),
            )),
            _ => {
                let proc = name.split('.').next().unwrap_or("");
                if self.procs.contains_key(proc) {
                    Err((
                        span,
                        format!("unknown LWP {name} (process {proc} has no such LWP)"),
                    ))
                } else {
                    Err((span, format!("unknown LWP {name}")))
                }
            }
        }
    }

    fn event_id(&mut self, name: &str, span: Span) -> PResult<EventId> {
        if name.contains('.') {
            return Err((span, format!("event names cannot contain '.': {name}")));
        }
        if let Some(&e) = self.events.get(name) {
            return Ok(e);
        }
        let id = self.sc.events.len();
        self.sc.events.push(Event {
            name: name.to_string(),
            span,
            count: 1,
            declared: false,
        });
        self.events.insert(name.to_string(), id);
        Ok(id)
    }

    /// `NAME` or `NAME[N]` or `NAME[*]` (if `allow_all`).
    fn lwp_ref(&mut self, cur: &mut Cur, allow_all: bool) -> PResult<LwpRef> {
        let (name, span) = cur.word("an LWP name")?;
        self.lwp_ref_after(cur, &name, span, allow_all)
    }

    fn lwp_ref_after(
        &mut self,
        cur: &mut Cur,
        name: &str,
        span: Span,
        allow_all: bool,
    ) -> PResult<LwpRef> {
        let lwp = self.lwp_id(name, span)?;
        let decl = &self.sc.lwps[lwp];
        if cur.is_sym("[") {
            let bspan = cur.span();
            cur.next();
            let member = if cur.eat_sym("*") {
                if !allow_all {
                    return Err((
                        bspan,
                        format!("{name}[*] is not allowed here: name one member"),
                    ));
                }
                Member::All
            } else {
                let (i, ispan) = cur.plain_num("an array index")?;
                let n = decl
                    .count
                    .ok_or((bspan, format!("{name} is not an LWP array")))?;
                if i < 0 || i >= n as i64 {
                    return Err((
                        ispan,
                        format!("index {i} out of range: {name} has {n} members"),
                    ));
                }
                Member::Index(i as u32)
            };
            cur.sym("]")?;
            if decl.count.is_none() {
                return Err((bspan, format!("{name} is not an LWP array")));
            }
            Ok(LwpRef { lwp, member })
        } else if decl.count.is_some() {
            Err((
                span,
                format!("{name} is an LWP array: write {name}[N] or {name}[*]"),
            ))
        } else {
            Ok(LwpRef {
                lwp,
                member: Member::One,
            })
        }
    }

    /// A set of LWP slots: `P1.A`, `P1.W[3]`, `P1.W[*]`, `P1.*`, alternatives with `|`.
    fn lwp_slots(&mut self, cur: &mut Cur) -> PResult<Vec<Slot>> {
        let mut slots = Vec::new();
        loop {
            let (word, span) = cur.word("an LWP name")?;
            let parts: Vec<&str> = word.split('|').collect();
            for (k, part) in parts.iter().enumerate() {
                if let Some(proc) = part.strip_suffix(".*") {
                    let p = self.proc_id(proc, span)?;
                    for l in self.sc.lwps.iter().filter(|l| l.proc == p) {
                        slots.extend(l.first_slot..l.first_slot + l.members());
                    }
                } else if k + 1 == parts.len() {
                    let r = self.lwp_ref_after(cur, part, span, true)?;
                    slots.extend(self.sc.slots(r));
                } else {
                    let r = self.lwp_ref_after(
                        &mut Cur {
                            toks: &[],
                            i: 0,
                            end: span,
                        },
                        part,
                        span,
                        true,
                    )?;
                    slots.extend(self.sc.slots(r));
                }
            }
            if !cur.eat_sym("|") {
                break;
            }
        }
        slots.sort_unstable();
        slots.dedup();
        Ok(slots)
    }

    fn signal_word(&self, word: &str, span: Span) -> PResult<u32> {
        names::signal(word).map_err(|m| (span, m))
    }

    /// A signal name, or `0` when `allow_zero` (the probe of kill and friends).
    fn signal(&self, cur: &mut Cur, allow_zero: bool) -> PResult<u32> {
        let span = cur.span();
        match cur.peek_tok() {
            Some(Tok::Num(0, u)) if allow_zero && u.is_empty() => {
                cur.next();
                Ok(0)
            }
            Some(Tok::Num(..)) => Err((
                span,
                String::from("signals are written by name (SIGUSR1, SIGRTMIN+3)"),
            )),
            _ => {
                let (w, span) = cur.word("a signal name")?;
                self.signal_word(&w, span)
            }
        }
    }

    /// One element of a set: `SIGX`, `SIGX..SIGY`.
    fn sig_item(&self, word: &str, span: Span, set: &mut SigSet) -> PResult<()> {
        if let Some((a, b)) = word.split_once("..") {
            let a = self.signal_word(a, span)?;
            let b = self.signal_word(b, span)?;
            if a > b {
                return Err((span, format!("empty range {word}")));
            }
            for s in a..=b {
                set.add(s);
            }
        } else {
            set.add(self.signal_word(word, span)?);
        }
        Ok(())
    }

    /// A signal set: `{}`, `{SIGA, SIGB, SIGRTMIN..SIGRTMAX}`, `ALL`, `BLOCKABLE`, `RT`, or
    /// one signal.
    fn sigset(&self, cur: &mut Cur) -> PResult<SigSet> {
        let span = cur.span();
        if cur.eat_sym("{") {
            let mut set = SigSet::EMPTY;
            if cur.eat_sym("}") {
                return Ok(set);
            }
            loop {
                let (w, span) = cur.word("a signal name")?;
                self.sig_item(&w, span, &mut set)?;
                if cur.eat_sym("}") {
                    return Ok(set);
                }
                cur.sym(",")?;
            }
        }
        let (w, span2) = cur.word("a signal set")?;
        match w.as_str() {
            "ALL" => Ok(SigSet::FULL),
            "BLOCKABLE" => Ok(SigSet::FULL.blockable()),
            "RT" => Ok(SigSet::REALTIME),
            _ => {
                let mut set = SigSet::EMPTY;
                self.sig_item(&w, span2, &mut set)
                    .map_err(|(_, m)| (span, m))?;
                Ok(set)
            }
        }
    }

    fn duration(&self, cur: &mut Cur) -> PResult<u64> {
        let (v, unit, span) = cur.num("a duration (10ms, 1s)")?;
        names::duration_ns(v, &unit).map_err(|m| (span, m))
    }

    fn flag_word(&self, cur: &mut Cur, table: &[(&str, u64)], what: &str) -> PResult<u64> {
        let span = cur.span();
        if let Some(Tok::Num(0, u)) = cur.peek_tok() {
            if u.is_empty() {
                cur.next();
                return Ok(0);
            }
        }
        let (w, _) = cur.word(what)?;
        names::flags(&w, table, what).map_err(|m| (span, m))
    }

    fn si_code(&self, cur: &mut Cur) -> PResult<i32> {
        let span = cur.span();
        if let Some(Tok::Num(v, _)) = cur.peek_tok() {
            cur.next();
            return i32::try_from(*v).map_err(|_| (span, String::from("si_code out of range")));
        }
        let (w, span) = cur.word("an si_code (SI_QUEUE, SEGV_MAPERR ...)")?;
        names::si_code(&w).map_err(|m| (span, m))
    }

    fn int_value(&self, cur: &mut Cur, what: &str) -> PResult<i64> {
        Ok(cur.plain_num(what)?.0)
    }

    // ------------------------------------------------------------------------------------
    // Statements.
    // ------------------------------------------------------------------------------------

    fn statement(&mut self, cur: &mut Cur) -> PResult<()> {
        let span = cur.span();
        if cur.is_sym("@") {
            return self.step(cur);
        }
        let Some(Tok::Word(kw)) = cur.peek_tok() else {
            return Err((
                span,
                format!("expected a statement, found {}", cur.describe()),
            ));
        };
        // `NAME:` (or `NAME[..]:`) starts a step.
        let is_step = matches!(cur.peek_at(1), Some(Tok::Sym(":")))
            || (matches!(cur.peek_at(1), Some(Tok::Sym("[")))
                && (1..6).any(|k| matches!(cur.peek_at(k), Some(Tok::Sym(":")))));
        if is_step {
            return self.step(cur);
        }
        match kw.as_str() {
            "scenario" => {
                cur.next();
                if self.seen_scenario {
                    return Err((span, String::from("duplicate 'scenario' line")));
                }
                self.seen_scenario = true;
                let sp = cur.span();
                match cur.next().map(|t| &t.tok) {
                    Some(Tok::Str(s)) => self.sc.title = s.clone(),
                    _ => return Err((sp, String::from("expected a quoted title: scenario \"...\""))),
                }
                cur.end()
            }
            "vm" => {
                cur.next();
                if self.seen_vm {
                    return Err((span, String::from("duplicate 'vm' line")));
                }
                self.seen_vm = true;
                self.vm(cur)
            }
            "timeout" => {
                cur.next();
                if self.seen_timeout {
                    return Err((span, String::from("duplicate 'timeout' line")));
                }
                self.seen_timeout = true;
                let sp = cur.span();
                let d = self.duration(cur)?;
                if d == 0 {
                    return Err((sp, String::from("timeout must be positive")));
                }
                self.sc.timeout_ns = d;
                cur.end()
            }
            "proc" => {
                cur.next();
                self.proc_decl(cur, span)
            }
            "lwp" => {
                cur.next();
                self.lwp_decl(cur, span)
            }
            "event" => {
                cur.next();
                self.event_decl(cur)
            }
            "covers" => {
                cur.next();
                if cur.at_end() {
                    return Err((cur.span(), String::from("expected at least one tag after 'covers'")));
                }
                while let Some(t) = cur.next() {
                    match &t.tok {
                        Tok::Word(w) => self.sc.covers.push((t.span, w.clone())),
                        Tok::Sym(":") => {
                            // `seed001:SIGHUP:handler` lexes as words and ':' symbols; glue.
                            let Some((_, last)) = self.sc.covers.last_mut() else {
                                return Err((t.span, String::from("a tag cannot start with ':'")));
                            };
                            last.push(':');
                            match cur.next().map(|t| &t.tok) {
                                Some(Tok::Word(w)) => last.push_str(w),
                                Some(Tok::Num(v, u)) => {
                                    last.push_str(&format!("{v}{u}"));
                                }
                                _ => return Err((t.span, String::from("a tag cannot end with ':'"))),
                            }
                        }
                        Tok::Sym("->") => {
                            let Some((_, last)) = self.sc.covers.last_mut() else {
                                return Err((t.span, String::from("a tag cannot start with '->'")));
                            };
                            last.push_str("->");
                            match cur.next().map(|t| &t.tok) {
                                Some(Tok::Word(w)) => last.push_str(w),
                                _ => return Err((t.span, String::from("a tag cannot end with '->'"))),
                            }
                        }
                        _ => return Err((t.span, String::from("covers tags are words (seed001:SIGHUP:handler)"))),
                    }
                }
                Ok(())
            }
            "dump" => {
                cur.next();
                self.dump(cur, span)
            }
            "expect" => {
                cur.next();
                let e = self.expect(cur)?;
                self.sc.stmts.push(Stmt {
                    span,
                    kind: StmtKind::Expect(e),
                });
                Ok(())
            }
            "do" => {
                cur.next();
                self.body_action(cur, span)
            }
            _ => Err((
                span,
                format!(
                    "unknown statement '{kw}' (steps are written 'LWP: action', e.g. 'P1.main: block SIGUSR1')"
                ),
            )),
        }
    }

    fn vm(&mut self, cur: &mut Cur) -> PResult<()> {
        if cur.at_end() {
            return Err((
                cur.span(),
                String::from("expected cpus=N, mem=SIZE or min-cpus=N"),
            ));
        }
        while !cur.at_end() {
            let Some((key, kspan)) = cur.key() else {
                return Err((
                    cur.span(),
                    format!("expected key=value, found {}", cur.describe()),
                ));
            };
            match key.as_str() {
                "cpus" | "min-cpus" => {
                    let (v, sp) = cur.plain_num("a vCPU count")?;
                    if !(1..=64).contains(&v) {
                        return Err((sp, format!("{key} must be 1..=64")));
                    }
                    if key == "cpus" {
                        self.sc.vm.cpus = v as u32;
                    } else {
                        self.sc.vm.min_cpus = v as u32;
                    }
                }
                "mem" => {
                    let (v, unit, sp) = cur.num("a memory size (128M)")?;
                    let mib = if unit.is_empty() {
                        v as u64
                    } else {
                        names::size_bytes(v, &unit).map_err(|m| (sp, m))? >> 20
                    };
                    if !(16..=65536).contains(&mib) {
                        return Err((sp, String::from("mem must be 16M..=64G")));
                    }
                    self.sc.vm.mem_mib = mib as u32;
                }
                _ => {
                    return Err((
                        kspan,
                        format!("unknown vm key '{key}' (cpus, mem, min-cpus)"),
                    ))
                }
            }
        }
        if self.sc.vm.min_cpus > self.sc.vm.cpus {
            return Err((
                cur.end,
                format!(
                    "min-cpus={} is more than cpus={}",
                    self.sc.vm.min_cpus, self.sc.vm.cpus
                ),
            ));
        }
        Ok(())
    }

    fn check_name(&self, name: &str, span: Span, what: &str) -> PResult<()> {
        let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err((
                span,
                format!(
                    "bad {what} name '{name}': letters, digits and '_', starting with a letter"
                ),
            ));
        }
        if RESERVED.contains(&name) || name.starts_with("SIG") || names::errno(name).is_ok() {
            return Err((
                span,
                format!("'{name}' is reserved and cannot name a {what}"),
            ));
        }
        Ok(())
    }

    fn proc_decl(&mut self, cur: &mut Cur, span: Span) -> PResult<()> {
        let (name, nspan) = cur.word("a process name")?;
        self.check_name(&name, nspan, "process")?;
        if let Some(&p) = self.procs.get(&name) {
            return Err((
                nspan,
                format!(
                    "process {name} already declared at line {}",
                    self.sc.procs[p].span.line
                ),
            ));
        }
        let mut origin = ProcOrigin::Setup;
        let mut pgrp = None;
        while !cur.at_end() {
            if cur.eat_word("forked") {
                origin = ProcOrigin::Forked;
                continue;
            }
            let Some((key, kspan)) = cur.key() else {
                return Err((
                    cur.span(),
                    format!("expected 'forked' or pgrp=P, found {}", cur.describe()),
                ));
            };
            match key.as_str() {
                "pgrp" => {
                    let (p, pspan) = cur.word("a process name")?;
                    pgrp = Some(self.proc_id(&p, pspan)?);
                }
                _ => {
                    return Err((
                        kspan,
                        format!("unknown proc option '{key}' (forked, pgrp=P)"),
                    ))
                }
            }
        }
        let id = self.sc.procs.len();
        let main = self.sc.lwps.len();
        self.sc.procs.push(Proc {
            name: name.clone(),
            span,
            origin,
            pgrp,
            main,
        });
        self.procs.insert(name.clone(), id);
        let main_name = format!("{name}.main");
        self.sc.lwps.push(Lwp {
            name: main_name.clone(),
            proc: id,
            span,
            count: None,
            first_slot: self.next_slot,
            is_main: true,
            manual: false,
            detached: false,
            suspended: false,
            mask: None,
            api: Api::NetBsd,
        });
        self.next_slot += 1;
        self.lwps.insert(main_name, main);
        Ok(())
    }

    fn lwp_decl(&mut self, cur: &mut Cur, span: Span) -> PResult<()> {
        let (name, nspan) = cur.word("an LWP name (P1.A)")?;
        let Some((pname, short)) = name.split_once('.') else {
            return Err((
                nspan,
                format!("LWP names are PROC.NAME (e.g. P1.A), found '{name}'"),
            ));
        };
        let proc = self.proc_id(pname, nspan)?;
        self.check_name(short, nspan, "LWP")?;
        if let Some(&l) = self.lwps.get(&name) {
            return Err((
                nspan,
                format!(
                    "LWP {name} already declared at line {}",
                    self.sc.lwps[l].span.line
                ),
            ));
        }
        let mut count = None;
        if cur.eat_sym("[") {
            let (n, sp) = cur.plain_num("an array size")?;
            if !(1..=100_000).contains(&n) {
                return Err((sp, String::from("an LWP array has 1..=100000 members")));
            }
            count = Some(n as u32);
            cur.sym("]")?;
        }
        let mut l = Lwp {
            name: name.clone(),
            proc,
            span,
            count,
            first_slot: self.next_slot,
            is_main: false,
            manual: false,
            detached: false,
            suspended: false,
            mask: None,
            api: Api::NetBsd,
        };
        while !cur.at_end() {
            if cur.eat_word("manual") {
                l.manual = true;
                continue;
            }
            if cur.eat_word("detached") {
                l.detached = true;
                continue;
            }
            if cur.eat_word("suspended") {
                l.suspended = true;
                continue;
            }
            let Some((key, kspan)) = cur.key() else {
                return Err((
                    cur.span(),
                    format!(
                    "expected manual, detached, suspended, mask=SET or api=netbsd|linux, found {}",
                    cur.describe()
                ),
                ));
            };
            match key.as_str() {
                "mask" => l.mask = Some(self.sigset(cur)?),
                "api" => {
                    let (v, vspan) = cur.word("netbsd or linux")?;
                    l.api = match v.as_str() {
                        "netbsd" => Api::NetBsd,
                        "linux" => Api::Linux,
                        _ => return Err((vspan, format!("unknown api '{v}' (netbsd, linux)"))),
                    };
                }
                _ => return Err((kspan, format!("unknown lwp option '{key}' (mask, api)"))),
            }
        }
        if l.api == Api::Linux && (l.detached || l.suspended) {
            return Err((
                span,
                String::from(
                    "detached and suspended are _lwp_create flags: not available with api=linux",
                ),
            ));
        }
        self.next_slot += l.members();
        let id = self.sc.lwps.len();
        self.sc.lwps.push(l);
        self.lwps.insert(name, id);
        Ok(())
    }

    fn event_decl(&mut self, cur: &mut Cur) -> PResult<()> {
        let (name, nspan) = cur.word("an event name")?;
        let id = self.events[&name];
        if self.sc.events[id].span != nspan {
            return Err((
                nspan,
                format!(
                    "event {name} already declared at line {}",
                    self.sc.events[id].span.line
                ),
            ));
        }
        while !cur.at_end() {
            let Some((key, kspan)) = cur.key() else {
                return Err((
                    cur.span(),
                    format!("expected count=N, found {}", cur.describe()),
                ));
            };
            match key.as_str() {
                "count" => {
                    let (v, sp) = cur.plain_num("a count")?;
                    if v < 1 || v > u32::MAX as i64 {
                        return Err((sp, String::from("count must be at least 1")));
                    }
                }
                _ => return Err((kspan, format!("unknown event option '{key}' (count)"))),
            }
        }
        Ok(())
    }

    fn dump(&mut self, cur: &mut Cur, span: Span) -> PResult<()> {
        let k = self.sc.dumps.len();
        let name = if cur.at_end() {
            format!("dump#{}", k + 1)
        } else {
            let (n, nspan) = cur.word("a dump name")?;
            if let Some(&d) = self.dump_names.get(&n) {
                return Err((
                    nspan,
                    format!(
                        "dump {n} already taken at line {}",
                        self.sc.dumps[d].span.line
                    ),
                ));
            }
            n
        };
        cur.end()?;
        self.dump_names.insert(name.clone(), k);
        self.sc.dumps.push(Dump {
            name,
            span,
            stmt: self.sc.stmts.len(),
        });
        self.sc.stmts.push(Stmt {
            span,
            kind: StmtKind::Dump(k),
        });
        Ok(())
    }

    fn step(&mut self, cur: &mut Cur) -> PResult<()> {
        let span = cur.span();
        let label = if cur.eat_sym("@") {
            let (l, lspan) = cur.word("a label")?;
            if let Some(prev) = self.labels.get(&l) {
                return Err((
                    lspan,
                    format!("label @{l} already used at line {}", prev.line),
                ));
            }
            self.labels.insert(l.clone(), lspan);
            Some(l)
        } else {
            None
        };
        let (who, wspan) = cur.word("an actor (an LWP or 'host')")?;
        let actor = if who == "host" {
            Actor::Host
        } else {
            Actor::Lwp(self.lwp_ref_after(cur, &who, wspan, true)?)
        };
        cur.sym(":")?;
        let action = self.action(cur, false)?;
        let expect = self.arrow(cur, &action)?;
        cur.end()?;
        self.sc.stmts.push(Stmt {
            span,
            kind: StmtKind::Step(Step {
                label,
                actor,
                action,
                expect,
                body: Vec::new(),
            }),
        });
        Ok(())
    }

    fn body_action(&mut self, cur: &mut Cur, span: Span) -> PResult<()> {
        let once = cur.eat_word("once");
        let action = self.action(cur, true)?;
        let expect = self.arrow(cur, &action)?;
        cur.end()?;
        let Some(Stmt {
            kind: StmtKind::Step(step),
            ..
        }) = self.sc.stmts.last_mut()
        else {
            return Err((
                span,
                String::from("'do' must follow a 'handle' step (or another 'do')"),
            ));
        };
        if !matches!(step.action, Action::Handle { .. }) {
            return Err((
                span,
                String::from("'do' must follow a 'handle' step (or another 'do')"),
            ));
        }
        step.body.push(BodyAction {
            span,
            once,
            action,
            expect,
        });
        Ok(())
    }

    /// `-> EXPECTATION` if present.
    fn arrow(&mut self, cur: &mut Cur, action: &Action) -> PResult<Option<Expectation>> {
        let span = cur.span();
        if !cur.eat_sym("->") {
            return Ok(None);
        }
        let kind = action.result_kind();
        if kind == ResultKind::NoReturn {
            return Err((
                span,
                String::from("this action does not return: nothing to expect"),
            ));
        }
        Ok(Some(self.expectation(cur, kind)?))
    }

    fn expectation(&mut self, cur: &mut Cur, kind: ResultKind) -> PResult<Expectation> {
        let span = cur.span();
        if cur.eat_word("any") {
            return Ok(Expectation::Any);
        }
        if cur.eat_word("ok") {
            return Ok(Expectation::Ok);
        }
        if let Some(Tok::Word(w)) = cur.peek_tok() {
            if let Ok(e) = names::errno(w) {
                cur.next();
                return Ok(Expectation::Errno(e));
            }
            let looks_like_errno = w.len() > 1
                && w.starts_with('E')
                && w.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if looks_like_errno {
                return Err((span, format!("unknown errno {w}")));
            }
        }
        match kind {
            ResultKind::NoReturn => unreachable!("checked by arrow()"),
            ResultKind::Unit => Err((
                span,
                format!(
                    "expected ok, any or an errno name (EINVAL ...), found {}",
                    cur.describe()
                ),
            )),
            ResultKind::Int => {
                let op = self.opt_op(cur).unwrap_or(Op::Eq);
                let v = self.int_value(cur, "a number")?;
                Ok(Expectation::Int(op, v))
            }
            ResultKind::Sig => Ok(Expectation::Sig(self.signal(cur, false)?)),
            ResultKind::Set => Ok(Expectation::Set(self.sigset(cur)?)),
            ResultKind::Lwp => Ok(Expectation::Lwp(self.lwp_ref(cur, false)?)),
            ResultKind::Status => Ok(Expectation::Status(self.status(cur)?)),
            ResultKind::SsFlags => Ok(Expectation::SsFlags(self.flag_word(
                cur,
                &names::SS_FLAGS,
                "ss_flags value",
            )?)),
            ResultKind::Lwpctl => {
                let mut curcpu = None;
                let mut pctr = None;
                while !cur.at_end() && !cur.is_sym(";") {
                    let (f, fspan) = cur.word("curcpu or pctr")?;
                    let op = self.opt_op(cur).ok_or((
                        cur.span(),
                        String::from("expected a comparison (=, >=, ...)"),
                    ))?;
                    match f.as_str() {
                        "curcpu" => {
                            let special = match cur.peek_tok() {
                                Some(Tok::Word(w)) if w == "NONE" => Some((op, -1)),
                                Some(Tok::Word(w)) if w == "EXITED" => Some((op, -2)),
                                Some(Tok::Word(w)) if w == "oncpu" => {
                                    if op != Op::Eq {
                                        return Err((
                                            cur.span(),
                                            String::from("write curcpu=oncpu"),
                                        ));
                                    }
                                    Some((Op::Ge, 0))
                                }
                                _ => None,
                            };
                            curcpu = Some(match special {
                                Some(c) => {
                                    cur.next();
                                    c
                                }
                                None => (
                                    op,
                                    self.int_value(cur, "a CPU number, NONE, EXITED or oncpu")?,
                                ),
                            });
                        }
                        "pctr" => pctr = Some((op, self.int_value(cur, "a number")?)),
                        _ => {
                            return Err((
                                fspan,
                                format!("unknown lwpctl field '{f}' (curcpu, pctr)"),
                            ))
                        }
                    }
                }
                if curcpu.is_none() && pctr.is_none() {
                    return Err((span, String::from("expected curcpu=... and/or pctr...")));
                }
                Ok(Expectation::Lwpctl { curcpu, pctr })
            }
        }
    }

    /// An optional comparison operator (`=` counts as `==`).
    fn opt_op(&self, cur: &mut Cur) -> Option<Op> {
        let op = match cur.peek_tok()? {
            Tok::Sym("=") | Tok::Sym("==") => Op::Eq,
            Tok::Sym("!=") => Op::Ne,
            Tok::Sym("<") => Op::Lt,
            Tok::Sym("<=") => Op::Le,
            Tok::Sym(">") => Op::Gt,
            Tok::Sym(">=") => Op::Ge,
            Tok::Word(w) if w == "has" => Op::Has,
            Tok::Word(w) if w == "lacks" => Op::Lacks,
            Tok::Word(w) if w == "in" => Op::In,
            _ => return None,
        };
        cur.next();
        Some(op)
    }

    fn status(&self, cur: &mut Cur) -> PResult<StatusSpec> {
        let (w, span) =
            cur.word("exited N, killed SIG, dumped SIG, stopped SIG, continued or none")?;
        Ok(match w.as_str() {
            "exited" => {
                let (v, sp) = cur.plain_num("an exit status")?;
                if !(0..=255).contains(&v) {
                    return Err((sp, String::from("exit status must be 0..=255")));
                }
                StatusSpec::Exited(v as i32)
            }
            "killed" => StatusSpec::Killed(self.signal(cur, false)?),
            "dumped" => StatusSpec::Dumped(self.signal(cur, false)?),
            "stopped" => StatusSpec::Stopped(self.signal(cur, false)?),
            "continued" => StatusSpec::Continued,
            "none" => StatusSpec::Nothing,
            _ => {
                return Err((span, format!(
                    "expected exited N, killed SIG, dumped SIG, stopped SIG, continued or none, found '{w}'"
                )))
            }
        })
    }

    fn times(&self, cur: &mut Cur) -> PResult<u32> {
        let span = cur.span();
        if let Some(Tok::Word(w)) = cur.peek_tok() {
            if let Some(n) = w.strip_prefix('x') {
                if let Ok(n) = n.parse::<u32>() {
                    cur.next();
                    if n == 0 || n > 100_000 {
                        return Err((span, String::from("repetition must be 1..=100000")));
                    }
                    return Ok(n);
                }
            }
        }
        Ok(1)
    }

    fn kill_target(&self, cur: &mut Cur) -> PResult<KillTarget> {
        let span = cur.span();
        match cur.peek_tok() {
            Some(Tok::Num(0, u)) if u.is_empty() => {
                cur.next();
                Ok(KillTarget::OwnGroup)
            }
            Some(Tok::Num(-1, u)) if u.is_empty() => {
                cur.next();
                Ok(KillTarget::All)
            }
            Some(Tok::Num(..)) => Err((
                span,
                String::from("kill targets are a process name, 0, -1, pgrp(P) or pid=N"),
            )),
            _ => {
                if let Some((k, kspan)) = cur.key() {
                    if k != "pid" {
                        return Err((kspan, format!("unknown key '{k}' (pid=N)")));
                    }
                    let v = self.int_value(cur, "a pid")?;
                    return Ok(KillTarget::Raw(v));
                }
                let (w, wspan) = cur.word("a process name")?;
                if w == "pgrp" {
                    cur.sym("(")?;
                    let (p, pspan) = cur.word("a process name")?;
                    let p = self.proc_id(&p, pspan)?;
                    cur.sym(")")?;
                    return Ok(KillTarget::Group(p));
                }
                if w.contains('.') {
                    return Err((
                        wspan,
                        format!(
                            "kill sends to a process; use tkill/tgkill/lwp-kill to target LWP {w}"
                        ),
                    ));
                }
                Ok(KillTarget::Proc(self.proc_id(&w, wspan)?))
            }
        }
    }

    fn values(&self, cur: &mut Cur) -> PResult<(i64, i64)> {
        let (a, sp) = cur.plain_num("a value")?;
        if cur.eat_sym("..") {
            let (b, _) = cur.plain_num("the last value")?;
            if b < a || b - a >= 100_000 {
                return Err((
                    sp,
                    String::from("value range must be ascending and at most 100000 long"),
                ));
            }
            Ok((a, b))
        } else {
            Ok((a, a))
        }
    }

    /// `value=V[..W]` and `code=C` options of the sigqueue family.
    fn queue_opts(&self, cur: &mut Cur) -> PResult<((i64, i64), i32)> {
        let mut values = (0, 0);
        let mut code = signal::SI_QUEUE;
        while let Some((k, kspan)) = cur.key() {
            match k.as_str() {
                "value" => values = self.values(cur)?,
                "code" => code = self.si_code(cur)?,
                _ => return Err((kspan, format!("unknown option '{k}' (value, code)"))),
            }
        }
        Ok((values, code))
    }

    fn action(&mut self, cur: &mut Cur, in_handler: bool) -> PResult<Action> {
        let (verb, vspan) = cur.word("an action")?;
        let a = match verb.as_str() {
            "handle" => {
                let sig = self.signal(cur, false)?;
                let mut flags = signal::SA_SIGINFO;
                let mut mask = SigSet::EMPTY;
                let mut restorer = true;
                while !cur.at_end() && !cur.is_sym("->") {
                    if cur.eat_word("norestorer") {
                        restorer = false;
                        continue;
                    }
                    let Some((k, kspan)) = cur.key() else {
                        return Err((
                            cur.span(),
                            format!(
                                "expected flags=..., mask=... or norestorer, found {}",
                                cur.describe()
                            ),
                        ));
                    };
                    match k.as_str() {
                        "flags" => {
                            flags = self.flag_word(cur, &names::SA_FLAGS, "sigaction flag")?
                        }
                        "mask" => mask = self.sigset(cur)?,
                        _ => {
                            return Err((
                                kspan,
                                format!("unknown handle option '{k}' (flags, mask)"),
                            ))
                        }
                    }
                }
                Action::Handle {
                    sig,
                    flags,
                    mask,
                    restorer,
                }
            }
            "ignore" => Action::Ignore(self.signal(cur, false)?),
            "default" => Action::Default(self.signal(cur, false)?),
            "block" => Action::Block(self.sigset(cur)?),
            "unblock" => Action::Unblock(self.sigset(cur)?),
            "setmask" => Action::SetMask(self.sigset(cur)?),
            "query" => {
                let (w, wspan) = cur.word("what to query")?;
                Action::Query(match w.as_str() {
                    "mask" => Query::Mask,
                    "pending" => Query::Pending,
                    "altstack" => Query::Altstack,
                    "lwpctl" => {
                        if matches!(cur.peek_tok(), Some(Tok::Word(w)) if w.contains('.')) {
                            Query::Lwpctl(Some(self.lwp_ref(cur, false)?))
                        } else {
                            Query::Lwpctl(None)
                        }
                    }
                    "blockallsigs" => Query::Blockallsigs,
                    "lpmap-tid" => Query::LpmapTid,
                    "fastblock" => Query::Fastblock,
                    "cpu" => Query::Cpu,
                    "self" => Query::LwpSelf,
                    "tid" => Query::Tid,
                    "pid" => Query::Pid,
                    _ => {
                        return Err((wspan, format!(
                            "unknown query '{w}' (mask, pending, altstack, lwpctl, blockallsigs, lpmap-tid, fastblock, cpu, self, tid, pid)"
                        )))
                    }
                })
            }
            "altstack" => {
                if cur.eat_word("disable") {
                    Action::Altstack(AltstackOp::Disable)
                } else {
                    let (v, unit, sp) = cur.num("a stack size (8K) or 'disable'")?;
                    let size = names::size_bytes(v, &unit).map_err(|m| (sp, m))?;
                    let autodisarm = cur.eat_word("SS_AUTODISARM");
                    Action::Altstack(AltstackOp::Set { size, autodisarm })
                }
            }
            "sigblockall" => Action::SigBlockAll,
            "sigunblockall" => Action::SigUnblockAll {
                raw: cur.eat_word("raw"),
            },
            "fastblock" => {
                let (w, wspan) = cur.word("setptr, unsetptr, unblock, inc, dec or dec-raw")?;
                Action::Fastblock(match w.as_str() {
                    "setptr" => FastblockOp::SetPtr {
                        misaligned: cur.eat_word("misaligned"),
                    },
                    "unsetptr" => FastblockOp::UnsetPtr,
                    "unblock" => FastblockOp::Unblock,
                    "inc" => FastblockOp::Inc,
                    "dec" => FastblockOp::Dec,
                    "dec-raw" => FastblockOp::DecRaw,
                    _ => {
                        return Err((wspan, format!(
                            "unknown fastblock operation '{w}' (setptr, unsetptr, unblock, inc, dec, dec-raw)"
                        )))
                    }
                })
            }
            "lwpctl" => Action::LwpCtl,
            "rlimit" => {
                let (w, wspan) = cur.word("sigpending")?;
                if w != "sigpending" {
                    return Err((wspan, format!("unknown resource '{w}' (sigpending)")));
                }
                let (v, sp) = cur.plain_num("a limit")?;
                if v < 0 {
                    return Err((sp, String::from("a limit cannot be negative")));
                }
                Action::RlimitSigpending(v as u64)
            }
            "pause" => Action::Pause,
            "sigsuspend" => Action::Sigsuspend(self.sigset(cur)?),
            "sigtimedwait" => {
                let set = self.sigset(cur)?;
                let mut timeout_ns = None;
                if let Some((k, kspan)) = cur.key() {
                    if k != "timeout" {
                        return Err((kspan, format!("unknown option '{k}' (timeout)")));
                    }
                    timeout_ns = Some(self.duration(cur)?);
                }
                Action::Sigtimedwait { set, timeout_ns }
            }
            "sleep" => Action::Sleep(self.duration(cur)?),
            "park" => {
                let mut timeout_ns = None;
                let mut unpark = None;
                while let Some((k, kspan)) = cur.key() {
                    match k.as_str() {
                        "timeout" => timeout_ns = Some(self.duration(cur)?),
                        "unpark" => unpark = Some(self.lwp_ref(cur, false)?),
                        _ => {
                            return Err((kspan, format!("unknown option '{k}' (timeout, unpark)")))
                        }
                    }
                }
                Action::Park { timeout_ns, unpark }
            }
            "unpark" => Action::Unpark(self.lwp_ref(cur, false)?),
            "unpark-all" => {
                let mut v = Vec::new();
                while matches!(cur.peek_tok(), Some(Tok::Word(_))) {
                    v.push(self.lwp_ref(cur, true)?);
                }
                if v.is_empty() {
                    return Err((cur.span(), String::from("expected at least one LWP")));
                }
                Action::UnparkAll(v)
            }
            "wakeup" => Action::Wakeup(self.lwp_ref(cur, false)?),
            "futex-wait" | "await" | "post" => {
                let (e, espan) = cur.word("an event name")?;
                let e = self.event_id(&e, espan)?;
                match verb.as_str() {
                    "futex-wait" => Action::FutexWait(e),
                    "await" => Action::Await(e),
                    _ => Action::Post(e),
                }
            }
            "watch-lwpctl" => {
                if !cur.eat_word("until") {
                    return Err((cur.span(), String::from("expected 'until EVENT'")));
                }
                let (e, espan) = cur.word("an event name")?;
                Action::WatchLwpctl {
                    until: self.event_id(&e, espan)?,
                }
            }
            "yield" => Action::Yield,
            "spin" => {
                let until = if cur.eat_word("until") {
                    let (e, espan) = cur.word("an event name")?;
                    Some(self.event_id(&e, espan)?)
                } else {
                    None
                };
                Action::Spin { until }
            }
            "create" => Action::Create(self.lwp_ref(cur, true)?),
            "lwp-exit" => Action::LwpExit,
            "thread-exit" => {
                let v = if matches!(cur.peek_tok(), Some(Tok::Num(..))) {
                    self.int_value(cur, "an exit status")?
                } else {
                    0
                };
                Action::ThreadExit(v as i32)
            }
            "lwp-wait" => {
                if cur.eat_word("any") {
                    Action::LwpWait(None)
                } else {
                    Action::LwpWait(Some(self.lwp_ref(cur, false)?))
                }
            }
            "suspend" => Action::Suspend(self.lwp_ref(cur, false)?),
            "continue" => Action::Continue(self.lwp_ref(cur, false)?),
            "detach" => Action::Detach(self.lwp_ref(cur, false)?),
            "lwp-kill" => {
                let target = self.lwp_ref(cur, false)?;
                let sig = self.signal(cur, true)?;
                Action::LwpKill { target, sig }
            }
            "kill" => {
                let target = self.kill_target(cur)?;
                let sig = self.signal(cur, true)?;
                let times = self.times(cur)?;
                Action::Kill { target, sig, times }
            }
            "tkill" => {
                let target = self.lwp_ref(cur, false)?;
                let sig = self.signal(cur, true)?;
                let times = self.times(cur)?;
                Action::Tkill { target, sig, times }
            }
            "tgkill" => {
                let target = self.lwp_ref(cur, false)?;
                let sig = self.signal(cur, true)?;
                let mut tgid = None;
                if let Some((k, kspan)) = cur.key() {
                    if k != "tgid" {
                        return Err((kspan, format!("unknown option '{k}' (tgid)")));
                    }
                    let (p, pspan) = cur.word("a process name")?;
                    tgid = Some(self.proc_id(&p, pspan)?);
                }
                let times = self.times(cur)?;
                Action::Tgkill {
                    target,
                    tgid,
                    sig,
                    times,
                }
            }
            "sigqueue" => {
                let target = self.kill_target(cur)?;
                if !matches!(target, KillTarget::Proc(_) | KillTarget::Raw(_)) {
                    return Err((vspan, String::from("sigqueue targets a process or pid=N")));
                }
                let sig = self.signal(cur, true)?;
                let (values, code) = self.queue_opts(cur)?;
                Action::Sigqueue {
                    target,
                    sig,
                    values,
                    code,
                }
            }
            "tgsigqueue" => {
                let target = self.lwp_ref(cur, false)?;
                let sig = self.signal(cur, true)?;
                let (values, code) = self.queue_opts(cur)?;
                Action::TgSigqueue {
                    target,
                    sig,
                    values,
                    code,
                }
            }
            "raise" => Action::Raise(self.signal(cur, false)?),
            "fault" => {
                let (w, wspan) = cur.word("divzero, badptr, ud2 or int3")?;
                Action::Fault(match w.as_str() {
                    "divzero" => FaultKind::DivZero,
                    "badptr" => {
                        let addr = if matches!(cur.peek_tok(), Some(Tok::Num(..))) {
                            self.int_value(cur, "an address")? as u64
                        } else {
                            0x10
                        };
                        FaultKind::BadPtr(addr)
                    }
                    "ud2" => FaultKind::Ud2,
                    "int3" => FaultKind::Int3,
                    _ => {
                        return Err((
                            wspan,
                            format!("unknown fault '{w}' (divzero, badptr [ADDR], ud2, int3)"),
                        ))
                    }
                })
            }
            "skip-fault" => {
                if !in_handler {
                    return Err((
                        vspan,
                        String::from(
                            "skip-fault is only meaningful in a handler ('do skip-fault')",
                        ),
                    ));
                }
                Action::SkipFault
            }
            "fork" => {
                let (p, pspan) = cur.word("the child's process name")?;
                Action::Fork(self.proc_id(&p, pspan)?)
            }
            "exec" => Action::Exec,
            "exit" => {
                let (v, sp) = cur.plain_num("an exit status")?;
                if !(0..=255).contains(&v) {
                    return Err((sp, String::from("exit status must be 0..=255")));
                }
                Action::Exit(v as i32)
            }
            "wait" => {
                let target = if cur.eat_word("any") {
                    None
                } else {
                    let (p, pspan) = cur.word("a child process or 'any'")?;
                    Some(self.proc_id(&p, pspan)?)
                };
                let options = if matches!(cur.peek_tok(), Some(Tok::Word(w)) if w.starts_with('W'))
                {
                    self.flag_word(cur, &names::WAIT_FLAGS, "wait option")?
                } else {
                    0
                };
                Action::Wait { target, options }
            }
            _ => {
                let hint = suggest(&verb, &VERBS)
                    .map(|s| format!(" (did you mean {s}?)"))
                    .unwrap_or_default();
                return Err((vspan, format!("unknown action '{verb}'{hint}")));
            }
        };
        if in_handler && !a.allowed_in_handler() {
            return Err((vspan, format!("'{verb}' is not allowed in a handler")));
        }
        Ok(a)
    }

    // ------------------------------------------------------------------------------------
    // Assertions.
    // ------------------------------------------------------------------------------------

    fn expect(&mut self, cur: &mut Cur) -> PResult<Expect> {
        let span = cur.span();
        // Dump assertions.
        if (cur.is_word("lwp") || cur.is_word("proc"))
            && matches!(cur.peek_at(1), Some(Tok::Sym("(")))
        {
            let Some(dump) = self.sc.dumps.len().checked_sub(1) else {
                return Err((
                    span,
                    String::from("a dump assertion needs a 'dump' statement before it"),
                ));
            };
            // It must directly follow its dump (or another assertion on it).
            let ok = match self.sc.stmts.last().map(|s| &s.kind) {
                Some(StmtKind::Dump(_)) => true,
                Some(StmtKind::Expect(Expect::Dump(d))) => d.dump == dump,
                _ => false,
            };
            if !ok {
                return Err((span, format!(
                    "a dump assertion must directly follow its 'dump' statement (dump {} is at line {})",
                    self.sc.dumps[dump].name, self.sc.dumps[dump].span.line
                )));
            }
            return Ok(Expect::Dump(self.dump_assert(cur, dump)?));
        }
        // Exit status of a process: `expect P1 exited 0`.
        if let (Some(Tok::Word(p)), Some(Tok::Word(w))) = (cur.peek_tok(), cur.peek_at(1)) {
            if !p.contains('.')
                && matches!(
                    w.as_str(),
                    "exited" | "killed" | "dumped" | "stopped" | "continued"
                )
            {
                let (p, pspan) = cur.word("a process")?;
                let proc = self.proc_id(&p, pspan)?;
                let status = self.status(cur)?;
                if matches!(status, StatusSpec::Stopped(_) | StatusSpec::Continued) {
                    return Err((pspan, String::from(
                        "a process's final status is exited, killed or dumped; check stops with 'wait P WUNTRACED -> stopped SIG'",
                    )));
                }
                cur.end()?;
                return Ok(Expect::Exit { proc, status });
            }
        }
        let no = cur.eat_word("no");
        let first = self.selector(cur)?;
        if cur.is_word("then") {
            if no {
                return Err((span, String::from("'no' cannot be combined with 'then'")));
            }
            let mut v = alloc::vec![first];
            while cur.eat_word("then") {
                v.push(self.selector(cur)?);
            }
            cur.end()?;
            return Ok(Expect::Order(v));
        }
        let mut count = Count::Exactly(if no { 0 } else { 1 });
        if cur.eat_word("times") {
            if no {
                return Err((span, String::from("'no' cannot be combined with 'times'")));
            }
            let op = self.opt_op(cur).unwrap_or(Op::Eq);
            let (n, sp) = cur.plain_num("a count")?;
            if n < 0 || n > u32::MAX as i64 {
                return Err((sp, String::from("bad count")));
            }
            count = match op {
                Op::Eq => Count::Exactly(n as u32),
                Op::Ge => Count::AtLeast(n as u32),
                Op::Le => Count::AtMost(n as u32),
                _ => return Err((sp, String::from("times takes N, >= N or <= N"))),
            };
        }
        cur.end()?;
        Ok(Expect::Count { sel: first, count })
    }

    fn selector(&mut self, cur: &mut Cur) -> PResult<Selector> {
        let span = cur.span();
        let (k, kspan) = cur.word("handler, waited, delivered or step")?;
        let kind = match k.as_str() {
            "handler" => SelKind::Handler,
            "waited" => SelKind::Waited,
            "delivered" => SelKind::Delivered,
            "step" => {
                cur.sym("@")?;
                let (l, lspan) = cur.word("a label")?;
                let Some(stmt) = self.sc.label(&l) else {
                    return Err((lspan, format!("unknown label @{l} (labels must come before their use)")));
                };
                return Ok(Selector {
                    span,
                    kind: SelKind::Step(stmt),
                    sig: None,
                    on: None,
                    filters: Vec::new(),
                });
            }
            _ => {
                return Err((kspan, format!(
                    "expected handler, waited, delivered, step @LABEL, a process status or lwp(..)/proc(..), found '{k}'"
                )))
            }
        };
        let mut sel = Selector {
            span,
            kind,
            sig: None,
            on: None,
            filters: Vec::new(),
        };
        if let Some(Tok::Word(w)) = cur.peek_tok() {
            if w.starts_with("SIG") {
                sel.sig = Some(self.signal(cur, false)?);
            }
        }
        loop {
            if cur.at_end() || cur.is_word("then") || cur.is_word("times") {
                break;
            }
            if cur.eat_word("on") {
                if sel.on.is_some() {
                    return Err((cur.span(), String::from("'on' given twice")));
                }
                sel.on = Some(self.lwp_slots(cur)?);
                continue;
            }
            let fspan = cur.span();
            let (f, _) =
                cur.word("a field (code, pid, value, addr ...), 'on', 'then' or 'times'")?;
            let field = match f.as_str() {
                "code" => EvField::Code,
                "errno" => EvField::Errno,
                "pid" => EvField::Pid,
                "uid" => EvField::Uid,
                "value" => EvField::Value,
                "addr" => EvField::Addr,
                "status" => EvField::Status,
                "depth" => EvField::Depth,
                "altstack" => EvField::Altstack,
                "mask" => EvField::Mask,
                "ucstack" => EvField::UcStack,
                "aligned" => EvField::Aligned,
                _ => {
                    return Err((fspan, format!(
                        "unknown event field '{f}' (code, errno, pid, uid, value, addr, status, depth, altstack, mask, ucstack, aligned)"
                    )))
                }
            };
            let op = self.opt_op(cur).ok_or((
                cur.span(),
                format!("expected '=' or a comparison after {f}"),
            ))?;
            let vspan = cur.span();
            let value = match field {
                EvField::Code => FVal::Int(self.si_code(cur)? as i64),
                EvField::Errno => {
                    let (w, sp) = cur.word("an errno name")?;
                    FVal::Int(names::errno(&w).map_err(|m| (sp, m))? as i64)
                }
                EvField::Pid => match cur.peek_tok() {
                    Some(Tok::Word(_)) => {
                        let (p, sp) = cur.word("a process")?;
                        FVal::Pid(self.proc_id(&p, sp)?)
                    }
                    _ => FVal::Int(self.int_value(cur, "a pid")?),
                },
                EvField::Addr => {
                    if cur.eat_word("fault-ip") {
                        FVal::FaultIp
                    } else {
                        FVal::Int(self.int_value(cur, "an address or fault-ip")?)
                    }
                }
                EvField::Mask => FVal::Set(self.sigset(cur)?),
                EvField::UcStack => {
                    FVal::Int(self.flag_word(cur, &names::SS_FLAGS, "ss_flags value")? as i64)
                }
                EvField::Altstack | EvField::Aligned => {
                    let (w, sp) = cur.word("on/off or yes/no")?;
                    FVal::Bool(match w.as_str() {
                        "on" | "yes" | "true" => true,
                        "off" | "no" | "false" => false,
                        _ => return Err((sp, format!("expected on/off or yes/no, found '{w}'"))),
                    })
                }
                EvField::Status => {
                    if let Some(Tok::Word(_)) = cur.peek_tok() {
                        FVal::Int(self.signal(cur, false)? as i64)
                    } else {
                        FVal::Int(self.int_value(cur, "a status")?)
                    }
                }
                EvField::Uid | EvField::Value | EvField::Depth => {
                    FVal::Int(self.int_value(cur, "a number")?)
                }
            };
            let fits = match (&value, op) {
                (_, Op::In) => false,
                (FVal::Set(_), Op::Eq | Op::Ne | Op::Has | Op::Lacks) => true,
                (FVal::Set(_), _) | (_, Op::Has | Op::Lacks) => false,
                (FVal::Pid(_) | FVal::FaultIp | FVal::Bool(_), o) => matches!(o, Op::Eq | Op::Ne),
                (FVal::Int(_), _) => true,
            };
            if !fits {
                return Err((
                    vspan,
                    format!("operator {} does not apply to {f}", op.as_str()),
                ));
            }
            sel.filters.push(Filter {
                span: fspan,
                field,
                op,
                value,
            });
        }
        Ok(sel)
    }

    fn dump_assert(&mut self, cur: &mut Cur, dump: DumpId) -> PResult<DumpAssert> {
        let (which, _) = cur.word("lwp or proc")?;
        cur.sym("(")?;
        let lhs_is_proc = which == "proc";
        let mut proc = 0;
        let mut slots = Vec::new();
        if lhs_is_proc {
            let (p, sp) = cur.word("a process")?;
            proc = self.proc_id(&p, sp)?;
        } else {
            slots = self.lwp_slots(cur)?;
        }
        cur.sym(")")?;
        cur.sym(".")?;
        let (f, fspan) = cur.word("a field")?;
        // Function-like fields: action(SIG), sa_flags(SIG), sa_mask(SIG), edge(A,B).
        let mut sub = QueueSub::Whole;
        let mut is_queue = false;
        let lhs = if lhs_is_proc {
            let field = match f.as_str() {
                "state" => ProcField::State,
                "pending" => ProcField::Pending,
                "queue" | "queue.len" => {
                    is_queue = true;
                    ProcField::Queue
                }
                "nlwps" => ProcField::Nlwps,
                "nrlwps" => ProcField::Nrlwps,
                "nzlwps" => ProcField::Nzlwps,
                "ndlwps" => ProcField::Ndlwps,
                "nlwpwait" => ProcField::Nlwpwait,
                "pgid" => ProcField::Pgid,
                "action" | "sa_flags" | "sa_mask" => {
                    cur.sym("(")?;
                    let sig = self.signal(cur, false)?;
                    cur.sym(")")?;
                    match f.as_str() {
                        "action" => ProcField::Action(sig),
                        "sa_flags" => ProcField::SaFlags(sig),
                        _ => ProcField::SaMask(sig),
                    }
                }
                _ => {
                    return Err((fspan, format!(
                        "unknown process field '{f}' (state, pending, queue, nlwps, nrlwps, nzlwps, ndlwps, nlwpwait, pgid, action(SIG), sa_flags(SIG), sa_mask(SIG))"
                    )))
                }
            };
            if f == "queue.len" {
                sub = QueueSub::Len;
            }
            DumpLhs::Proc { proc, field, sub }
        } else {
            let field = match f.as_str() {
                "exists" => None,
                "state" => Some(LwpField::State),
                "mask" => Some(LwpField::Mask),
                "pending" => Some(LwpField::Pending),
                "queue" | "queue.len" => {
                    is_queue = true;
                    Some(LwpField::Queue)
                }
                "cpu" => Some(LwpField::Cpu),
                "lwpctl.curcpu" => Some(LwpField::LwpctlCurcpu),
                "lwpctl.pctr" => Some(LwpField::LwpctlPctr),
                "lpmap.blockallsigs" => Some(LwpField::LpmapBlockallsigs),
                "lpmap.tid" => Some(LwpField::LpmapTid),
                "fastblock" => Some(LwpField::Fastblock),
                "altstack.flags" => Some(LwpField::AltstackFlags),
                "edge" => {
                    cur.sym("(")?;
                    let (a, asp) = cur.word("an LWP state")?;
                    let a = names::lwp_state(&a).map_err(|m| (asp, m))?;
                    cur.sym(",")?;
                    let (b, bsp) = cur.word("an LWP state")?;
                    let b = names::lwp_state(&b).map_err(|m| (bsp, m))?;
                    cur.sym(")")?;
                    Some(LwpField::Edge(a, b))
                }
                _ => {
                    return Err((fspan, format!(
                        "unknown LWP field '{f}' (exists, state, mask, pending, queue, cpu, lwpctl.curcpu, lwpctl.pctr, lpmap.blockallsigs, lpmap.tid, fastblock, altstack.flags, edge(A,B))"
                    )))
                }
            };
            if f == "queue.len" {
                sub = QueueSub::Len;
            }
            DumpLhs::Lwp { slots, field, sub }
        };
        // queue[i].field
        if is_queue && sub == QueueSub::Whole && cur.is_sym("[") {
            cur.next();
            let (i, isp) = cur.plain_num("a queue index")?;
            if i < 0 {
                return Err((isp, String::from("bad queue index")));
            }
            cur.sym("]")?;
            cur.sym(".")?;
            let (qf, qsp) = cur.word("signo, code, value or pid")?;
            let item = match qf.as_str() {
                "signo" => QueueItemField::Signo,
                "code" => QueueItemField::Code,
                "value" => QueueItemField::Value,
                "pid" => QueueItemField::Pid,
                _ => {
                    return Err((
                        qsp,
                        format!("unknown queue entry field '{qf}' (signo, code, value, pid)"),
                    ))
                }
            };
            sub = QueueSub::Item(i as u32, item);
        }
        let lhs = match lhs {
            DumpLhs::Proc { proc, field, .. } => DumpLhs::Proc { proc, field, sub },
            DumpLhs::Lwp { slots, field, .. } => DumpLhs::Lwp { slots, field, sub },
        };
        let opspan = cur.span();
        let op = self.opt_op(cur).ok_or((
            opspan,
            format!("expected a comparison, found {}", cur.describe()),
        ))?;
        let rhs = self.dump_rhs(cur, &lhs, op, opspan)?;
        cur.end()?;
        Ok(DumpAssert { dump, lhs, op, rhs })
    }

    fn dump_rhs(&mut self, cur: &mut Cur, lhs: &DumpLhs, op: Op, opspan: Span) -> PResult<DVal> {
        #[derive(PartialEq)]
        enum T {
            Int,
            Cpu,
            Set,
            State,
            PState,
            Action,
            Bool,
            Pid,
            Sigs,
            Sig,
            SaFlags,
            SsFlags,
            Code,
        }
        let t = match lhs {
            DumpLhs::Proc { field, sub, .. } => match (field, sub) {
                (ProcField::Queue, QueueSub::Whole) => T::Sigs,
                (ProcField::Queue, QueueSub::Len) => T::Int,
                (ProcField::Queue, QueueSub::Item(_, f)) => match f {
                    QueueItemField::Signo => T::Sig,
                    QueueItemField::Code => T::Code,
                    QueueItemField::Value => T::Int,
                    QueueItemField::Pid => T::Pid,
                },
                (ProcField::State, _) => T::PState,
                (ProcField::Pending | ProcField::SaMask(_), _) => T::Set,
                (ProcField::Pgid, _) => T::Pid,
                (ProcField::Action(_), _) => T::Action,
                (ProcField::SaFlags(_), _) => T::SaFlags,
                _ => T::Int,
            },
            DumpLhs::Lwp { field, sub, .. } => match (field, sub) {
                (None, _) => T::Bool,
                (Some(LwpField::Queue), QueueSub::Whole) => T::Sigs,
                (Some(LwpField::Queue), QueueSub::Len) => T::Int,
                (Some(LwpField::Queue), QueueSub::Item(_, f)) => match f {
                    QueueItemField::Signo => T::Sig,
                    QueueItemField::Code => T::Code,
                    QueueItemField::Value => T::Int,
                    QueueItemField::Pid => T::Pid,
                },
                (Some(LwpField::State), _) => T::State,
                (Some(LwpField::Mask | LwpField::Pending), _) => T::Set,
                (Some(LwpField::LwpctlCurcpu), _) => T::Cpu,
                (Some(LwpField::AltstackFlags), _) => T::SsFlags,
                _ => T::Int,
            },
        };
        let set_like = t == T::Set;
        match op {
            Op::Has | Op::Lacks if !set_like => {
                return Err((opspan, String::from("has/lacks apply to signal sets")))
            }
            Op::In if t != T::State => {
                return Err((
                    opspan,
                    String::from("'in' applies to LWP states: state in {LSRUN, LSONPROC}"),
                ))
            }
            Op::Lt | Op::Le | Op::Gt | Op::Ge if !matches!(t, T::Int | T::Cpu) => {
                return Err((opspan, format!("operator {} needs a number", op.as_str())))
            }
            _ => {}
        }
        let span = cur.span();
        if cur.eat_word("none") {
            if matches!(t, T::Int | T::Cpu) && matches!(op, Op::Eq | Op::Ne) {
                return Ok(DVal::Unmapped);
            }
            return Err((
                span,
                String::from("'none' (not mapped) applies to lwpctl, lpmap and fastblock fields"),
            ));
        }
        Ok(match t {
            T::Int => DVal::Int(self.int_value(cur, "a number")?),
            T::Cpu => match cur.peek_tok() {
                Some(Tok::Word(w)) if w == "NONE" => {
                    cur.next();
                    DVal::Int(-1)
                }
                Some(Tok::Word(w)) if w == "EXITED" => {
                    cur.next();
                    DVal::Int(-2)
                }
                _ => DVal::Int(self.int_value(cur, "a CPU number, NONE or EXITED")?),
            },
            T::Set => DVal::Set(self.sigset(cur)?),
            T::State => {
                if op == Op::In {
                    cur.sym("{")?;
                    let mut v = Vec::new();
                    loop {
                        let (w, sp) = cur.word("an LWP state")?;
                        v.push(names::lwp_state(&w).map_err(|m| (sp, m))?);
                        if cur.eat_sym("}") {
                            break;
                        }
                        cur.sym(",")?;
                    }
                    DVal::States(v)
                } else {
                    let (w, sp) = cur.word("an LWP state")?;
                    DVal::States(alloc::vec![names::lwp_state(&w).map_err(|m| (sp, m))?])
                }
            }
            T::PState => {
                let (w, sp) = cur.word("active, stopped or zombie")?;
                DVal::ProcState(match w.as_str() {
                    "active" => ProcState::Active,
                    "stopped" => ProcState::Stopped,
                    "zombie" => ProcState::Zombie,
                    _ => {
                        return Err((
                            sp,
                            format!("unknown process state '{w}' (active, stopped, zombie)"),
                        ))
                    }
                })
            }
            T::Action => {
                let (w, sp) = cur.word("SIG_DFL, SIG_IGN or handler")?;
                DVal::Action(match w.as_str() {
                    "SIG_DFL" => ActionKind::Default,
                    "SIG_IGN" => ActionKind::Ignore,
                    "handler" => ActionKind::Handler,
                    _ => {
                        return Err((
                            sp,
                            format!("expected SIG_DFL, SIG_IGN or handler, found '{w}'"),
                        ))
                    }
                })
            }
            T::Bool => {
                let (w, sp) = cur.word("true or false")?;
                DVal::Bool(match w.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err((sp, format!("expected true or false, found '{w}'"))),
                })
            }
            T::Pid => {
                let (p, sp) = cur.word("a process")?;
                DVal::Pid(self.proc_id(&p, sp)?)
            }
            T::Sig => DVal::Int(self.signal(cur, false)? as i64),
            T::Code => DVal::Int(self.si_code(cur)? as i64),
            T::SaFlags => {
                DVal::Int(self.flag_word(cur, &names::SA_FLAGS, "sigaction flag")? as i64)
            }
            T::SsFlags => {
                DVal::Int(self.flag_word(cur, &names::SS_FLAGS, "ss_flags value")? as i64)
            }
            T::Sigs => {
                if !matches!(op, Op::Eq | Op::Ne) {
                    return Err((
                        span,
                        String::from("a queue compares with == or != [SIG, ...]"),
                    ));
                }
                cur.sym("[")?;
                let mut v = Vec::new();
                if !cur.eat_sym("]") {
                    loop {
                        v.push(self.signal(cur, false)?);
                        if cur.eat_sym("]") {
                            break;
                        }
                        cur.sym(",")?;
                    }
                }
                DVal::Sigs(v)
            }
        })
    }
}

/// The candidate closest to `word` (edit distance at most 2), for "did you mean".
fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    fn dist(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for i in 1..=a.len() {
            let mut cur = alloc::vec![i; b.len() + 1];
            for j in 1..=b.len() {
                let c = usize::from(a[i - 1] != b[j - 1]);
                cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + c);
            }
            prev = cur;
        }
        prev[b.len()]
    }
    candidates
        .iter()
        .map(|c| (dist(word, c), *c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
