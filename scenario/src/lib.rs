//! The lwpvm scenario language: text files that describe an experiment with processes, LWPs
//! and signals, and what must come out of it. docs/SCENARIOS.md is the reference; this crate
//! is its implementation, shared by every side that touches a scenario:
//!
//! | who | uses |
//! |---|---|
//! | `cargo xtask check-scenarios`, `cargo xtask run SCENARIO` (host) | [`load`]: parse + validate, errors as `file:line:col: error: reason` |
//! | the guest's scenario runner (ring 3, `no_std`) | [`load`] on the initrd copy, the [`ast`] to execute, [`log::Record::encode`] to record, [`eval::evaluate`] + [`report`] at the end |
//! | the VMM (host) | [`load`] on the host copy, [`dump::Bindings::parse`], [`dump::evaluate`] through its [`dump::DumpView`] |
//!
//! The pipeline: [`parse::parse`] (syntax, names) → [`validate::validate`] (static checks:
//! existence of LWPs along the timeline, events that can never fire, deadlocks) → the runner
//! executes and writes the [`log`] → [`eval::evaluate`] (step expectations and `expect`
//! lines over the log) and, in the VMM, [`dump::evaluate`] (dump assertions) →
//! [`report::render`].
//!
//! `no_std` + `alloc`, no `unsafe`, no dependency but `shared-abi`: every number (signals,
//! errno, flags, states) comes from there.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod ast;
pub mod diag;
pub mod dump;
pub mod eval;
pub mod lex;
pub mod log;
pub mod names;
pub mod parse;
pub mod report;
pub mod validate;

pub use ast::Scenario;
pub use diag::{Error, Errors, Span};

/// Parses and validates `text`, the contents of `file`. This is what every user of a
/// scenario calls first: nothing runs unless it returns `Ok`.
pub fn load(file: &str, text: &str) -> Result<Scenario, Errors> {
    let sc = parse::parse(file, text)?;
    let errors = validate::validate(&sc);
    if errors.is_empty() {
        Ok(sc)
    } else {
        Err(errors)
    }
}

/// FNV-1a 64 of `bytes`: identifies a scenario file's exact contents. The runner sends it
/// with each dump request; the VMM refuses to evaluate a different file.
pub fn fingerprint(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    #[test]
    fn fingerprint_is_fnv1a() {
        assert_eq!(super::fingerprint(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(super::fingerprint(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
