//! Scenario files on the host: validation (`cargo xtask check-scenarios`, part of
//! `cargo xtask test`) and the checks `cargo xtask run SCENARIO` makes before anything is
//! built or booted. The language is `lwpvm-scenario` (docs/SCENARIOS.md); this module only
//! finds files and reports.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lwpvm_scenario::Scenario;

use crate::root;

/// The corpus directory.
pub fn corpus_dir() -> PathBuf {
    root().join("tests").join("scenarios")
}

/// Every `*.scn` file of the corpus, sorted.
pub fn corpus() -> Result<Vec<PathBuf>> {
    let dir = corpus_dir();
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "scn"))
        .collect();
    v.sort();
    Ok(v)
}

/// The name errors are reported under: relative to the repository root when possible.
fn display_name(path: &Path) -> String {
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let root = std::fs::canonicalize(root()).unwrap_or_else(|_| root());
    abs.strip_prefix(&root)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| path.display().to_string())
}

/// Loads (parses and validates) one file; on errors, prints them (`file:line:col: error:
/// reason`) and returns `None`.
pub fn load(path: &Path) -> Result<Option<Scenario>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    match lwpvm_scenario::load(&display_name(path), &text) {
        Ok(sc) => Ok(Some(sc)),
        Err(errors) => {
            eprint!("{errors}");
            Ok(None)
        }
    }
}

/// Validates `files` (the corpus if empty) and fails if any has errors.
pub fn check(files: &[PathBuf]) -> Result<()> {
    let files = if files.is_empty() {
        corpus()?
    } else {
        files.to_vec()
    };
    if files.is_empty() {
        bail!("no scenario files in {}", corpus_dir().display());
    }
    let mut bad = 0;
    for f in &files {
        if load(f)?.is_none() {
            bad += 1;
        }
    }
    if bad > 0 {
        bail!("{bad} of {} scenario files have errors", files.len());
    }
    println!("check-scenarios: {} files valid", files.len());
    Ok(())
}

/// The guest's scenario runner among the ring-3 programs built into the initrd (`bin/NAME`;
/// shared_abi `scenario::RUNNER_PATH`), built from `guest/user/src/bin/scenario.rs`.
pub const RUNNER_PROGRAM: &str = "scenario";

/// Whether the programs built into the initrd include the scenario runner.
pub fn runner_built(programs: &[String]) -> bool {
    programs.iter().any(|p| p == RUNNER_PROGRAM)
}

/// What `cargo xtask run SCENARIO` says when the guest cannot run scenarios yet.
pub const NO_RUNNER: &str = "scenario runner not available yet: the file is valid, but the guest \
cannot execute scenarios until processes, LWPs and signals exist in the kernel (issues 4 and 5) \
and the ring-3 runner (guest/user/src/bin/scenario.rs) is written: the guest build has no \
bin/scenario; see docs/SCENARIOS.md, Status";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runner_is_found_by_its_program_name() {
        let built =
            |names: &[&str]| runner_built(&names.iter().map(|n| n.to_string()).collect::<Vec<_>>());
        assert!(!built(&["syscalls", "fault", "spin", "hostile"]));
        assert!(built(&["fault", "scenario"]));
        assert!(!built(&["scenarios"]));
        assert_eq!(
            format!("bin/{RUNNER_PROGRAM}"),
            shared_abi::current::scenario::RUNNER_PATH
        );
    }
}
