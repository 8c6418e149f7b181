//! `vmm run --scenario FILE`: the VMM's part of a scenario run (docs/SCENARIOS.md, "Dumps and
//! dump assertions").
//!
//! The guest's scenario runner executes the scenario; at each `dump` statement it asks, through
//! the kernel, for dump `k` with the *bindings* (which kernel pid/lid each scenario name has).
//! The kernel forwards the request in a block whose address it publishes in the inspection
//! header and writes the dump port (the protocol is `shared_abi::scenario`, "Kernel → VMM").
//! While the guest is paused for that dump, this module
//!
//! 1. recognises the request ([`find_request`]: the block's magic, and its `request_id` equal
//!    to the id written to the port) and checks it (sizes, guest RAM; everything in it is
//!    untrusted);
//! 2. answers it ([`serve`]): checks the fingerprint against the file it loaded, parses the
//!    bindings, evaluates the assertions attached to dump `k` with `lwpvm_scenario::dump` over
//!    the dump just taken (`inspect::view` is its `DumpView`), or refuses with `-errno`;
//! 3. writes the verdicts, the result, and last `answered` into the block ([`write_answer`]),
//!    before the requesting vCPU is released.
//!
//! After the guest resumes, [`ScenarioHost::report`] writes the outcomes in the runner's
//! format (`ok`/`FAIL` lines with expected and actual values, and the dump itself when
//! something failed) to stderr or `--scenario-report FILE`. At the end of the run,
//! [`ScenarioHost::finish`] prints a summary and turns a guest exit status 0 into 1 when a
//! dump assertion failed, a request was refused, or a dump with assertions was never
//! requested: a scenario cannot pass in this VMM while part of it failed or went unchecked.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::mem::offset_of;
use std::path::{Path, PathBuf};

use lwpvm_scenario::ast::DumpId;
use lwpvm_scenario::dump::{self, Bindings, Verdict};
use lwpvm_scenario::report::{self, Outcome, Summary};
use lwpvm_scenario::Scenario;
use shared_abi::current::errno;
use shared_abi::current::inspect::{InspectHeader, Record};
use shared_abi::current::scenario::{
    ScenarioDumpBlock, BLOCK_ANSWERED_OFFSET, BLOCK_RESULT_OFFSET, MAX_BINDINGS_LEN, MAX_VERDICTS,
    SCENARIO_BLOCK_HEADER_SIZE, SCENARIO_BLOCK_MAGIC,
};

use crate::inspect::mem::GuestPhys;
use crate::inspect::model::Dump;
use crate::inspect::{self as insp, DumpFormat};
use crate::outcome::VmEnd;

/// Offset of `scenario_request` in the inspection header.
const SCENARIO_REQUEST_OFFSET: u64 = offset_of!(InspectHeader, scenario_request) as u64;

/// What `vmm run` was asked to do about a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioConfig {
    /// The scenario file (the same the guest's runner reads from its initrd).
    pub file: PathBuf,
    /// Where the VMM's report goes (`None`: stderr).
    pub report: Option<PathBuf>,
}

/// Why the scenario could not be loaded (before anything boots: exit status 200).
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("cannot read the --scenario file {path}: {source}")]
    Read {
        /// The path given.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file does not parse or validate.
    #[error("the --scenario file {path} has {count} error(s):\n{errors}")]
    Invalid {
        /// The path given.
        path: PathBuf,
        /// How many errors.
        count: usize,
        /// The errors, one `file:line:col: error: reason` per line.
        errors: String,
    },
    /// The report file cannot be created.
    #[error("cannot create the --scenario-report file {path}: {source}")]
    Report {
        /// The path given.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// Where the report goes.
enum Sink {
    Stderr,
    File(File),
}

impl Sink {
    fn write(&mut self, text: &str) {
        let r = match self {
            Sink::Stderr => {
                let mut e = io::stderr().lock();
                e.write_all(text.as_bytes()).and_then(|()| e.flush())
            }
            Sink::File(f) => f.write_all(text.as_bytes()).and_then(|()| f.flush()),
        };
        if let Err(e) = r {
            log::warn!("cannot write the scenario report: {e}");
        }
    }
}

/// What the runs of one dump gave.
#[derive(Debug, Clone, Copy, Default)]
struct DumpTally {
    /// Requests answered for it.
    requests: u32,
    /// Their outcomes, added up.
    summary: Summary,
}

/// The loaded scenario, the report sink and what was evaluated so far.
pub struct ScenarioHost {
    sc: Scenario,
    src: String,
    sink: Sink,
    dumps: BTreeMap<DumpId, DumpTally>,
    refusals: Vec<String>,
}

/// A scenario dump request found in guest memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Guest-physical address of the block.
    pub gpa: u64,
    /// The block's header as read.
    pub block: ScenarioDumpBlock,
    /// The bindings text's bytes, or why the block is malformed.
    pub bindings: Result<Vec<u8>, String>,
}

/// The VMM's answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The request id.
    pub request_id: u32,
    /// The dump asked for.
    pub dump_index: u32,
    /// Assertions evaluated (`>= 0`) or `-errno`.
    pub result: i32,
    /// One verdict code per outcome.
    pub verdicts: Vec<u8>,
    /// The outcomes, in file order.
    pub outcomes: Vec<Outcome>,
    /// Why the request was refused (`result < 0`).
    pub refused: Option<String>,
}

impl Answer {
    fn refused(req: &Request, errno: i32, why: impl Into<String>) -> Self {
        Answer {
            request_id: req.block.request_id,
            dump_index: req.block.dump_index,
            result: -errno,
            verdicts: Vec::new(),
            outcomes: Vec::new(),
            refused: Some(why.into()),
        }
    }

    /// The refusal as one line (`ESTALE: why`).
    fn refusal_line(&self) -> String {
        let name = errno::name(-self.result).unwrap_or("error");
        format!(
            "dump request {} (dump index {}) refused with {name}: {}",
            self.request_id,
            self.dump_index,
            self.refused.as_deref().unwrap_or("")
        )
    }
}

/// The scenario request that a dump-port write of `id` carries, if any (the guest is paused).
///
/// `None` means a plain dump request: no block published, or one for another request id (a
/// plain request from another CPU while a scenario request is in flight). A block that cannot
/// be read at all cannot be answered either; that is logged and treated as plain (the kernel
/// then sees no answer and fails the call with `EPROTO`).
pub fn find_request(mem: &dyn GuestPhys, header_gpa: Option<u64>, id: u32) -> Option<Request> {
    let gpa = mem.read_u64(header_gpa?.checked_add(SCENARIO_REQUEST_OFFSET)?)?;
    if gpa == 0 {
        return None;
    }
    let mut head = [0u8; SCENARIO_BLOCK_HEADER_SIZE];
    if !mem.read_phys(gpa, &mut head) {
        log::warn!(
            "dump request {id}: the inspection header's scenario_request {gpa:#x} is not in guest RAM; not answered"
        );
        return None;
    }
    let block = ScenarioDumpBlock::decode(&head)?;
    if block.magic != SCENARIO_BLOCK_MAGIC {
        log::warn!(
            "dump request {id}: the scenario request block at {gpa:#x} has magic {:#x}, not {SCENARIO_BLOCK_MAGIC:#x}; treated as a plain dump request",
            block.magic
        );
        return None;
    }
    if block.request_id != id {
        return None;
    }
    let bindings = check_block(mem, gpa, &block);
    Some(Request {
        gpa,
        block,
        bindings,
    })
}

/// The bindings of a well-formed block, or what is wrong with it.
fn check_block(mem: &dyn GuestPhys, gpa: u64, b: &ScenarioDumpBlock) -> Result<Vec<u8>, String> {
    if b.flags != 0 {
        return Err(format!("flags {:#x} (must be 0)", b.flags));
    }
    let (blen, vlen) = (b.bindings_len as usize, b.verdicts_len as usize);
    if blen > MAX_BINDINGS_LEN {
        return Err(format!(
            "bindings_len {blen} exceeds the limit of {MAX_BINDINGS_LEN} bytes"
        ));
    }
    if vlen > MAX_VERDICTS {
        return Err(format!(
            "verdicts_len {vlen} exceeds the limit of {MAX_VERDICTS}"
        ));
    }
    let bindings_at = gpa + SCENARIO_BLOCK_HEADER_SIZE as u64;
    let mut bindings = vec![0u8; blen];
    if !mem.read_phys(bindings_at, &mut bindings) {
        return Err(format!(
            "its {blen} bytes of bindings at {bindings_at:#x} are not all in guest RAM"
        ));
    }
    // The verdict area must be guest RAM before anything is written there.
    let verdicts_at = bindings_at + blen as u64;
    if !mem.read_phys(verdicts_at, &mut vec![0u8; vlen]) {
        return Err(format!(
            "its {vlen} bytes of verdicts at {verdicts_at:#x} are not all in guest RAM"
        ));
    }
    Ok(bindings)
}

/// Answers `req` on `dump` (the guest is paused): with the scenario `host` was loaded with, or
/// `ENOENT` without one.
pub fn serve(host: Option<&mut ScenarioHost>, req: &Request, dump: &Dump) -> Answer {
    let malformed = |why: &String| {
        Answer::refused(
            req,
            errno::EPROTO,
            format!("malformed request block: {why}"),
        )
    };
    let Some(h) = host else {
        return match &req.bindings {
            Err(why) => malformed(why),
            Ok(_) => Answer::refused(
                req,
                errno::ENOENT,
                "this VMM was not given the scenario file (vmm run --scenario FILE)",
            ),
        };
    };
    let a = match &req.bindings {
        Err(why) => malformed(why),
        Ok(bindings) => h.evaluate(req, bindings, dump),
    };
    if a.refused.is_some() {
        h.refusals.push(a.refusal_line());
    }
    a
}

/// Writes `answer` into the block of `req`: the verdicts (as many as the block has room for),
/// the result, and last `answered`. `false` if guest memory refused a write.
pub fn write_answer(mem: &dyn GuestPhys, req: &Request, answer: &Answer) -> bool {
    if answer.result >= 0 {
        let n = answer.verdicts.len().min(req.block.verdicts_len as usize);
        let at = req.gpa + SCENARIO_BLOCK_HEADER_SIZE as u64 + u64::from(req.block.bindings_len);
        if !mem.write_phys(at, &answer.verdicts[..n]) {
            return false;
        }
    }
    mem.write_phys(
        req.gpa + BLOCK_RESULT_OFFSET as u64,
        &answer.result.to_le_bytes(),
    ) && mem.write_phys(
        req.gpa + BLOCK_ANSWERED_OFFSET as u64,
        &req.block.request_id.to_le_bytes(),
    )
}

impl ScenarioHost {
    /// Loads and validates the scenario, and creates the report file.
    pub fn load(cfg: &ScenarioConfig) -> Result<Self, ScenarioError> {
        let src = std::fs::read_to_string(&cfg.file).map_err(|source| ScenarioError::Read {
            path: cfg.file.clone(),
            source,
        })?;
        let sc = Self::parse(&cfg.file, &src)?;
        let sink = match &cfg.report {
            None => Sink::Stderr,
            Some(path) => {
                Sink::File(File::create(path).map_err(|source| ScenarioError::Report {
                    path: path.clone(),
                    source,
                })?)
            }
        };
        Ok(Self::with(sc, src, sink))
    }

    fn parse(path: &Path, src: &str) -> Result<Scenario, ScenarioError> {
        lwpvm_scenario::load(&path.display().to_string(), src).map_err(|e| ScenarioError::Invalid {
            path: path.to_path_buf(),
            count: e.len(),
            errors: e.to_string().trim_end().to_string(),
        })
    }

    fn with(sc: Scenario, src: String, sink: Sink) -> Self {
        ScenarioHost {
            sc,
            src,
            sink,
            dumps: BTreeMap::new(),
            refusals: Vec::new(),
        }
    }

    /// The file's base name, as reports show it.
    fn name(&self) -> &str {
        self.sc.file.rsplit('/').next().unwrap_or(&self.sc.file)
    }

    /// Evaluates a well-formed request.
    fn evaluate(&mut self, req: &Request, bindings: &[u8], dump: &Dump) -> Answer {
        let b = &req.block;
        if b.fingerprint != self.sc.fingerprint {
            return Answer::refused(
                req,
                errno::ESTALE,
                format!(
                    "the guest's scenario file (fingerprint {:#018x}) is not the VMM's {} ({:#018x})",
                    b.fingerprint,
                    self.sc.file,
                    self.sc.fingerprint
                ),
            );
        }
        let k = b.dump_index as usize;
        if k >= self.sc.dumps.len() {
            return Answer::refused(
                req,
                errno::ERANGE,
                format!(
                    "{} has {} dump statement(s); there is no dump {k}",
                    self.sc.file,
                    self.sc.dumps.len()
                ),
            );
        }
        let text = match std::str::from_utf8(bindings) {
            Ok(t) => t,
            Err(e) => {
                return Answer::refused(
                    req,
                    errno::EBADMSG,
                    format!("the bindings are not UTF-8 ({e})"),
                )
            }
        };
        let bindings = match Bindings::parse(&self.sc, text) {
            Ok(b) => b,
            Err(why) => {
                return Answer::refused(req, errno::EBADMSG, format!("bad bindings: {why}"))
            }
        };
        let outcomes = dump::evaluate(&self.sc, k, &bindings, dump);
        let t = self.dumps.entry(k).or_default();
        t.requests += 1;
        let s = Summary::of(&outcomes);
        t.summary.passed += s.passed;
        t.summary.failed += s.failed;
        t.summary.not_applicable += s.not_applicable;
        Answer {
            request_id: b.request_id,
            dump_index: b.dump_index,
            result: i32::try_from(outcomes.len()).unwrap_or(i32::MAX),
            verdicts: outcomes.iter().map(|o| Verdict::of(o) as u8).collect(),
            outcomes,
            refused: None,
        }
    }

    /// Writes the report of `answer` (after the guest resumed): the outcomes in the runner's
    /// format and, when something failed, the dump they were evaluated on.
    pub fn report(&mut self, answer: &Answer, dump: &Dump, vcpu: u8) {
        let mut text = String::new();
        if answer.refused.is_some() {
            text.push_str(&format!(
                "vmm: scenario {}: FAIL {} (from vCPU {vcpu})\n",
                self.name(),
                answer.refusal_line()
            ));
            self.sink.write(&text);
            return;
        }
        let k = answer.dump_index as usize;
        let d = &self.sc.dumps[k];
        let s = Summary::of(&answer.outcomes);
        text.push_str(&format!(
            "vmm: scenario {}: dump {k} '{}' (line {}), request {} from vCPU {vcpu}: {} assertion(s), {} passed, {} failed\n",
            self.name(),
            d.name,
            d.span.line,
            answer.request_id,
            answer.outcomes.len(),
            s.passed,
            s.failed
        ));
        for o in &answer.outcomes {
            text.push_str(&report::render_outcome(&self.sc, &self.src, o));
        }
        if s.failed > 0 {
            text.push_str(&format!(
                "vmm: scenario {}: the dump these assertions were evaluated on:\n",
                self.name()
            ));
            text.push_str(&insp::render(dump, DumpFormat::Text));
        }
        self.sink.write(&text);
    }

    /// Why the scenario failed in the VMM, if it did: failed assertions, refused requests,
    /// dumps with assertions that were never evaluated.
    pub fn failures(&self) -> Vec<String> {
        let mut v = Vec::new();
        let failed: usize = self.dumps.values().map(|t| t.summary.failed).sum();
        if failed > 0 {
            v.push(format!("{failed} dump assertion(s) failed"));
        }
        if !self.refusals.is_empty() {
            v.push(format!(
                "{} scenario dump request(s) refused",
                self.refusals.len()
            ));
        }
        for (k, d) in self.sc.dumps.iter().enumerate() {
            let n = self.sc.dump_asserts(k).count();
            if n > 0 && !self.dumps.contains_key(&k) {
                v.push(format!(
                    "dump {k} '{}' (line {}) with {n} assertion(s) was never requested",
                    d.name, d.span.line
                ));
            }
        }
        v
    }

    /// At the end of the run: writes the summary and returns the end, with a guest exit
    /// status 0 turned into [`VmEnd::ScenarioFailed`] if the scenario failed in the VMM.
    pub fn finish(&mut self, end: VmEnd) -> VmEnd {
        let total = self.dumps.values().fold(Summary::default(), |mut a, t| {
            a.passed += t.summary.passed;
            a.failed += t.summary.failed;
            a.not_applicable += t.summary.not_applicable;
            a
        });
        let with_asserts = (0..self.sc.dumps.len())
            .filter(|&k| self.sc.dump_asserts(k).count() > 0)
            .count();
        let evaluated = self.dumps.keys().count();
        let mut text = format!(
            "vmm: scenario {}: {evaluated} of {with_asserts} dump(s) with assertions evaluated: {} passed, {} failed",
            self.name(),
            total.passed,
            total.failed
        );
        if !self.refusals.is_empty() {
            text.push_str(&format!("; {} request(s) refused", self.refusals.len()));
        }
        text.push('\n');
        let failures = self.failures();
        for f in &failures {
            text.push_str(&format!("vmm: scenario {}: FAIL {f}\n", self.name()));
        }
        self.sink.write(&text);
        match end {
            VmEnd::GuestExit { status: 0, vcpu } if !failures.is_empty() => VmEnd::ScenarioFailed {
                vcpu,
                scenario: self.name().to_string(),
                reasons: failures,
            },
            end => end,
        }
    }
}

#[cfg(test)]
mod tests {
    use shared_abi::current::inspect::{ProcState, Record, FEATURE_CPUS, FEATURE_PROCS, SLOT_LIVE};
    use shared_abi::current::lwp::{LSONPROC, LSSLEEP};
    use shared_abi::current::scenario::{ScenarioDumpBlock, VERDICT_FAIL, VERDICT_PASS};
    use shared_abi::current::signal::{self, SigSet};

    use super::*;
    use crate::inspect::capture;
    use crate::inspect::model::Reason;
    use crate::inspect::testkit::*;

    const SCN: &str = "\
scenario \"unit\"
proc P1
lwp P1.A
lwp P1.W[2]
dump first
expect proc(P1).state == active
expect proc(P1).nlwps == 4
expect lwp(P1.A).state == LSSLEEP
expect lwp(P1.A).mask == {SIGUSR1}
expect lwp(P1.W[*]).state == LSSLEEP
expect lwp(P1.main).state == LSONPROC
dump second
expect lwp(P1.A).state == LSSTOP
expect lwp(P1.A).edge(LSONPROC,LSSLEEP) == 1
expect lwp(P1.main).exists == true
dump third
";

    /// Bindings matching [`guest`]'s process 7.
    const BINDINGS: &str = "P1=7 P1.main=7:1 P1.A=7:2 P1.W[*]=7:3+";

    /// A guest whose process 7 has LWP 1 on CPU and LWPs 2..=4 asleep, LWP 2 blocking SIGUSR1.
    fn guest() -> SynthGuest {
        let mut g = SynthGuest::new();
        g.header.features = FEATURE_CPUS | FEATURE_PROCS;
        g.put_proc(0, &proc(7, ProcState::Active, 4));
        let mut l = lwp(7, 1, LSONPROC);
        l.cpu = 0;
        g.put_lwp(0, &l);
        for lid in 2..=4 {
            let mut l = lwp(7, lid, LSSLEEP);
            if lid == 2 {
                l.sigmask = SigSet::single(signal::SIGUSR1).bits();
            }
            g.put_lwp(lid as usize - 1, &l);
        }
        g.publish();
        g
    }

    fn host(src: &str) -> ScenarioHost {
        let sc = ScenarioHost::parse(Path::new("unit.scn"), src).unwrap();
        let quiet = File::create("/dev/null").unwrap();
        ScenarioHost::with(sc, src.to_string(), Sink::File(quiet))
    }

    /// Places a block for request `id` at 0x8000 and publishes it in the header.
    fn publish(g: &SynthGuest, id: u32, dump_index: u32, fp: u64, bindings: &[u8], room: u32) {
        let blk = ScenarioDumpBlock {
            magic: SCENARIO_BLOCK_MAGIC,
            request_id: id,
            dump_index,
            bindings_len: bindings.len() as u32,
            fingerprint: fp,
            verdicts_len: room,
            ..ScenarioDumpBlock::ZERO
        };
        let mut b = [0u8; SCENARIO_BLOCK_HEADER_SIZE];
        blk.encode_into(&mut b);
        assert!(g.mem.write_phys(0x8000, &b));
        assert!(g.mem.write_phys(0x8000 + 64, bindings));
        assert!(g.mem.write_phys(
            g.header_gpa + SCENARIO_REQUEST_OFFSET,
            &0x8000u64.to_le_bytes()
        ));
    }

    /// The block's (result, answered, verdicts).
    fn answered(g: &SynthGuest, blen: usize, n: usize) -> (i32, u32, Vec<u8>) {
        let mut v = vec![0u8; n];
        assert!(g.mem.read_phys(0x8000 + 64 + blen as u64, &mut v));
        (
            g.mem.read_u32(0x8000 + BLOCK_RESULT_OFFSET as u64).unwrap() as i32,
            g.mem
                .read_u32(0x8000 + BLOCK_ANSWERED_OFFSET as u64)
                .unwrap(),
            v,
        )
    }

    /// Finds, serves and answers request `id` as the VMM does.
    fn round_trip(g: &SynthGuest, h: Option<&mut ScenarioHost>, id: u32) -> Option<Answer> {
        let req = find_request(&g.mem, Some(g.header_gpa), id)?;
        let d = capture(&g.mem, Some(g.header_gpa), Reason::Control, Vec::new());
        let a = serve(h, &req, &d);
        assert!(write_answer(&g.mem, &req, &a));
        Some(a)
    }

    #[test]
    fn a_request_is_evaluated_and_answered_in_the_block() {
        let g = guest();
        let mut h = host(SCN);
        let fp = h.sc.fingerprint;
        publish(&g, 5, 0, fp, BINDINGS.as_bytes(), 8);
        let a = round_trip(&g, Some(&mut h), 5).unwrap();
        assert_eq!(a.result, 6, "{:#?}", a.outcomes);
        assert!(a.outcomes.iter().all(|o| !o.failed()), "{:#?}", a.outcomes);
        let (result, ans, v) = answered(&g, BINDINGS.len(), 8);
        assert_eq!((result, ans), (6, 5));
        assert_eq!(v, [1, 1, 1, 1, 1, 1, 0, 0], "only 6 verdicts written");

        // Dump 1: a wrong state, a field the table does not carry; exists holds.
        publish(&g, 6, 1, fp, BINDINGS.as_bytes(), 3);
        let a = round_trip(&g, Some(&mut h), 6).unwrap();
        assert_eq!(a.verdicts, [VERDICT_FAIL, VERDICT_FAIL, VERDICT_PASS]);
        let text = report::render_outcome(&h.sc, &h.src, &a.outcomes[0]);
        assert!(
            text.starts_with("FAIL unit.scn:13  expect lwp(P1.A).state == LSSTOP\n")
                && text.contains("actual:   P1.A: LSSLEEP"),
            "{text}"
        );
        assert_eq!(answered(&g, BINDINGS.len(), 3).0, 3);

        // Fewer verdict bytes than assertions: as many as fit; the result says how many.
        publish(&g, 7, 0, fp, BINDINGS.as_bytes(), 2);
        round_trip(&g, Some(&mut h), 7).unwrap();
        let (result, _, v) = answered(&g, BINDINGS.len(), 3);
        assert_eq!((result, &v[..2]), (6, &[1u8, 1][..]));
        assert_eq!(v[2], 1, "left as the previous request wrote it");

        // A dump with no assertions: 0.
        publish(&g, 8, 2, fp, BINDINGS.as_bytes(), 0);
        assert_eq!(round_trip(&g, Some(&mut h), 8).unwrap().result, 0);

        assert_eq!(h.failures(), ["2 dump assertion(s) failed"]);
    }

    #[test]
    fn plain_dump_requests_are_not_scenario_requests() {
        let g = guest();
        // Nothing published.
        assert_eq!(find_request(&g.mem, Some(g.header_gpa), 5), None);
        assert_eq!(find_request(&g.mem, None, 5), None);
        // A block for another request (a plain request from another CPU meanwhile).
        publish(&g, 5, 0, 1, b"", 0);
        assert_eq!(find_request(&g.mem, Some(g.header_gpa), 6), None);
        assert!(find_request(&g.mem, Some(g.header_gpa), 5).is_some());
        // Not a block.
        assert!(g.mem.write_phys(0x8000, &0u64.to_le_bytes()));
        assert_eq!(find_request(&g.mem, Some(g.header_gpa), 5), None);
        // Outside guest RAM.
        assert!(g.mem.write_phys(
            g.header_gpa + SCENARIO_REQUEST_OFFSET,
            &(1u64 << 40).to_le_bytes()
        ));
        assert_eq!(find_request(&g.mem, Some(g.header_gpa), 5), None);
    }

    #[test]
    fn refusals_say_why_and_count_as_failures() {
        let g = guest();
        let mut h = host(SCN);
        let fp = h.sc.fingerprint;
        let refused = |h: &mut ScenarioHost, id, k, fp, bindings: &[u8]| {
            publish(&g, id, k, fp, bindings, 8);
            let a = round_trip(&g, Some(h), id).unwrap();
            assert_eq!(answered(&g, bindings.len(), 0).0, a.result);
            assert_eq!(answered(&g, bindings.len(), 0).1, id);
            (a.result, a.refused.unwrap())
        };
        let (r, why) = refused(&mut h, 1, 0, fp ^ 1, BINDINGS.as_bytes());
        assert_eq!(r, -errno::ESTALE);
        assert!(why.contains("fingerprint"), "{why}");
        let (r, why) = refused(&mut h, 2, 3, fp, BINDINGS.as_bytes());
        assert_eq!(r, -errno::ERANGE);
        assert!(why.contains("3 dump statement(s)"), "{why}");
        let (r, why) = refused(&mut h, 3, 0, fp, b"P1=7 P9.X=7:1");
        assert_eq!(r, -errno::EBADMSG);
        assert!(why.contains("P9.X"), "{why}");
        let (r, why) = refused(&mut h, 4, 0, fp, b"P1=7 \xff\xfe");
        assert_eq!(r, -errno::EBADMSG);
        assert!(why.contains("UTF-8"), "{why}");
        let (r, _) = refused(&mut h, 5, 0, fp, b"P1=x");
        assert_eq!(r, -errno::EBADMSG);
        // Without a scenario file.
        publish(&g, 9, 0, fp, BINDINGS.as_bytes(), 8);
        let a = round_trip(&g, None, 9).unwrap();
        assert_eq!(a.result, -errno::ENOENT);
        let f = h.failures();
        assert_eq!(f[0], "5 scenario dump request(s) refused");
        assert!(f[1].starts_with("dump 0 'first' (line 5) with 6 assertion(s) was never requested"));
        assert!(f[2].starts_with("dump 1 'second'"));
        assert_eq!(f.len(), 3, "dump 2 has no assertions: {f:?}");
    }

    #[test]
    fn malformed_blocks_are_refused_with_eproto() {
        let g = guest();
        let mut h = host(SCN);
        let fp = h.sc.fingerprint;
        let check = |h: &mut ScenarioHost, what: &str, patch: &dyn Fn()| {
            publish(&g, 11, 0, fp, BINDINGS.as_bytes(), 8);
            patch();
            let a = round_trip(&g, Some(h), 11).unwrap();
            assert_eq!(a.result, -errno::EPROTO, "{what}");
            assert!(a.refused.as_ref().unwrap().contains(what), "{a:?}");
            // Answered in the block, wherever the header says it is; no verdicts written.
            let at = g
                .mem
                .read_u64(g.header_gpa + SCENARIO_REQUEST_OFFSET)
                .unwrap();
            assert_eq!(
                g.mem.read_u32(at + BLOCK_RESULT_OFFSET as u64),
                Some(-errno::EPROTO as u32)
            );
            assert_eq!(g.mem.read_u32(at + BLOCK_ANSWERED_OFFSET as u64), Some(11));
        };
        let field = |off: u64, v: u32| assert!(g.mem.write_phys(0x8000 + off, &v.to_le_bytes()));
        check(&mut h, "flags", &|| field(12, 1));
        check(&mut h, "bindings_len 262145", &|| {
            field(20, MAX_BINDINGS_LEN as u32 + 1)
        });
        check(&mut h, "verdicts_len 4097", &|| {
            field(32, MAX_VERDICTS as u32 + 1)
        });
        // Within the limits, but running past the end of guest RAM (16 MiB).
        let top = (16u64 << 20) - 64 - 100;
        check(&mut h, "bindings at", &|| {
            let mut b = [0u8; 64];
            assert!(g.mem.read_phys(0x8000, &mut b));
            assert!(g.mem.write_phys(top, &b));
            assert!(g.mem.write_phys(top + 20, &200u32.to_le_bytes()));
            assert!(g
                .mem
                .write_phys(g.header_gpa + SCENARIO_REQUEST_OFFSET, &top.to_le_bytes()));
        });
        check(&mut h, "verdicts at", &|| {
            let mut b = [0u8; 64];
            assert!(g.mem.read_phys(0x8000, &mut b));
            assert!(g.mem.write_phys(top, &b));
            assert!(g.mem.write_phys(top + 20, &10u32.to_le_bytes()));
            assert!(g.mem.write_phys(top + 32, &100u32.to_le_bytes()));
            assert!(g
                .mem
                .write_phys(g.header_gpa + SCENARIO_REQUEST_OFFSET, &top.to_le_bytes()));
        });
        assert_eq!(h.refusals.len(), 5);
    }

    #[test]
    fn the_end_status_says_whether_the_scenario_passed() {
        let g = guest();
        let fp_of = |h: &ScenarioHost| h.sc.fingerprint;
        let ok_end = VmEnd::GuestExit { status: 0, vcpu: 1 };
        // Everything requested and passing: the guest's status stands.
        let src = "proc P1\nlwp P1.A\nlwp P1.W[2]\ndump\nexpect lwp(P1.A).state == LSSLEEP\ndump\n";
        let mut h = host(src);
        publish(&g, 1, 0, fp_of(&h), BINDINGS.as_bytes(), 1);
        round_trip(&g, Some(&mut h), 1).unwrap();
        assert_eq!(h.finish(ok_end.clone()), ok_end);
        // A failure turns 0 into 1, and says why; a non-zero status stands.
        let mut h = host(SCN);
        publish(&g, 2, 1, fp_of(&h), BINDINGS.as_bytes(), 3);
        round_trip(&g, Some(&mut h), 2).unwrap();
        let end = h.finish(ok_end.clone());
        assert_eq!(end.exit_status(), 1);
        let m = end.message().unwrap();
        assert!(
            m.contains("2 dump assertion(s) failed")
                && m.contains("dump 0 'first' (line 5) with 6 assertion(s) was never requested"),
            "{m}"
        );
        let failed = VmEnd::GuestExit { status: 1, vcpu: 0 };
        assert_eq!(h.finish(failed.clone()), failed);
        // A record the guest tears mid-request is a failure with its reason, not a pass.
        let mut g = guest();
        let mut l = lwp(7, 2, LSSLEEP);
        l.seq = 9;
        l.live = SLOT_LIVE;
        g.put_lwp(1, &l);
        let mut h = host(SCN);
        publish(&g, 3, 0, fp_of(&h), BINDINGS.as_bytes(), 6);
        let a = round_trip(&g, Some(&mut h), 3).unwrap();
        assert_eq!(a.verdicts, [1, 1, 2, 2, 1, 1]);
    }

    #[test]
    fn load_errors_name_file_line_and_column() {
        let dir = std::env::temp_dir().join(format!("vmm-scn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.scn");
        std::fs::write(&bad, "proc P1\nP1.main: block SIGFOO\n").unwrap();
        let e = ScenarioHost::load(&ScenarioConfig {
            file: bad.clone(),
            report: None,
        })
        .err()
        .unwrap();
        let m = e.to_string();
        assert!(
            m.contains(&format!("{}:2:", bad.display())) && m.contains("SIGFOO"),
            "{m}"
        );
        let e = ScenarioHost::load(&ScenarioConfig {
            file: dir.join("missing.scn"),
            report: None,
        })
        .err()
        .unwrap();
        assert!(matches!(e, ScenarioError::Read { .. }));
        let good = dir.join("good.scn");
        std::fs::write(&good, SCN).unwrap();
        let e = ScenarioHost::load(&ScenarioConfig {
            file: good,
            report: Some(dir.join("no-such-dir").join("r.txt")),
        })
        .err()
        .unwrap();
        assert!(matches!(e, ScenarioError::Report { .. }));
    }
}
