//! Building the artifacts: guest kernel, ring-3 programs, initrd, VMM.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{bail, Context, Result};
use lwpvm_tests::Artifacts;

use crate::{cargo, cpio, ring0, root};

/// The guest kernel's binary name (guest/Cargo.toml).
const KERNEL_BIN: &str = "lwpvm-kernel";

/// Builds everything a boot needs and returns the paths.
pub fn all(release_vmm: bool) -> Result<Artifacts> {
    all_with(release_vmm, None).map(|(art, _)| art)
}

/// [`all`], with one more scenario file in the initrd (as `scenarios/NAME`, replacing a
/// corpus file of the same name): `cargo xtask run SCENARIO` for a file outside the corpus.
/// Also returns the names of the ring-3 programs in the initrd (`bin/NAME`).
pub fn all_with(
    release_vmm: bool,
    extra_scenario: Option<&Path>,
) -> Result<(Artifacts, Vec<String>)> {
    let (kernel, programs) = guest()?;
    ring0::check(&kernel)?;
    let initrd = initrd(&programs, extra_scenario)?;
    let vmm = vmm(release_vmm)?;
    let art = Artifacts {
        kernel,
        initrd,
        vmm,
        qemu: std::env::var_os(lwpvm_tests::ENV_QEMU)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("qemu-system-x86_64")),
    };
    Ok((art, programs.into_iter().map(|(name, _)| name).collect()))
}

/// Builds the guest workspace (kernel and ring-3 programs) for x86_64-unknown-none and returns
/// the kernel image and the programs, as (name, path).
fn guest() -> Result<(PathBuf, Vec<(String, PathBuf)>)> {
    let mut cmd = cargo();
    cmd.current_dir(root().join("guest"))
        .args([
            "build",
            "--release",
            "--workspace",
            "--message-format=json-render-diagnostics",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let out = cmd.output().context("cannot start cargo for the guest")?;
    if !out.status.success() {
        bail!("building the guest failed ({})", out.status);
    }
    let mut kernel = None;
    let mut programs = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let (Some(exe), Some(name)) = (msg["executable"].as_str(), msg["target"]["name"].as_str())
        else {
            continue;
        };
        if name == KERNEL_BIN {
            kernel = Some(PathBuf::from(exe));
        } else {
            programs.push((name.to_owned(), PathBuf::from(exe)));
        }
    }
    programs.sort();
    let kernel = kernel.context("the guest build produced no kernel image")?;
    Ok((kernel, programs))
}

/// Packs the ring-3 programs (as `bin/NAME`) and the scenario files (as `scenarios/NAME`) into a
/// cpio archive, the initrd the kernel loads its programs from.
fn initrd(programs: &[(String, PathBuf)], extra_scenario: Option<&Path>) -> Result<PathBuf> {
    let mut entries = Vec::new();
    for (name, path) in programs {
        let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        entries.push(cpio::Entry::file(format!("bin/{name}"), 0o755, data));
    }
    let scenarios = root().join("tests").join("scenarios");
    let mut files: Vec<PathBuf> = Vec::new();
    if scenarios.is_dir() {
        files = std::fs::read_dir(&scenarios)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
    }
    if let Some(extra) = extra_scenario {
        files.retain(|f| f.file_name() != extra.file_name());
        files.push(extra.to_path_buf());
    }
    files.sort_by_key(|f| f.file_name().map(|n| n.to_os_string()));
    for path in files {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let data = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        entries.push(cpio::Entry::file(format!("scenarios/{name}"), 0o644, data));
    }
    let dir = root().join("target").join("lwpvm");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("initrd.cpio");
    std::fs::write(&path, cpio::archive(&entries))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Builds the VMM.
fn vmm(release: bool) -> Result<PathBuf> {
    let mut cmd = cargo();
    cmd.current_dir(root()).args(["build", "-p", "vmm"]);
    if release {
        cmd.arg("--release");
    }
    crate::status(cmd, "building the VMM")?;
    let profile = if release { "release" } else { "debug" };
    Ok(root().join("target").join(profile).join("vmm"))
}
