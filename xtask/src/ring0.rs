//! A build-time safeguard: the ring-0 image must not contain instructions that kill the
//! development machines' KVM (its ring 0 is interpreted; see docs/ARCHITECTURE.md and the host
//! facts in the README). The kernel is built for the soft-float `x86_64-unknown-none` target, so
//! these only appear by mistake (a target feature, inline asm, a crate's intrinsic), and the VM
//! dies with `KVM_EXIT_INTERNAL_ERROR` the first time one runs. Catch them before that.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Mnemonics that end the VM (or fault) when executed in ring 0 on this machine's KVM.
const FORBIDDEN: &[&str] = &[
    "int3",
    "int",
    "into",
    "popcnt",
    "cmpxchg16b",
    "rdtscp",
    "crc32",
    "xsave",
    "xsaveopt",
    "xsavec",
    "xsaves",
    "xsave64",
    "xsaveopt64",
    "xsavec64",
    "xsaves64",
    "xrstor",
    "xrstor64",
    "xrstors",
    "xgetbv",
    "invpcid",
    "movbe",
    // SMAP's access toggles: CPUID offers SMAP on this KVM, but a ring-0 stac ends the VM.
    "stac",
    "clac",
];

/// Disassembles `image` and fails, listing each offending instruction, if any is forbidden.
pub fn check(image: &Path) -> Result<()> {
    let out = Command::new("objdump")
        .args(["-d", "--no-show-raw-insn", "-M", "suffix"])
        .arg(image)
        .output()
        .context("cannot run objdump (install binutils)")?;
    if !out.status.success() {
        bail!(
            "objdump failed on {}: {}",
            image.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let bad = offending(&String::from_utf8_lossy(&out.stdout));
    if !bad.is_empty() {
        bail!(
            "the ring-0 image {} contains {} instruction(s) that kill this machine's KVM:\n{}",
            image.display(),
            bad.len(),
            bad.join("\n")
        );
    }
    Ok(())
}

/// The disassembly lines whose instruction is forbidden.
fn offending(disasm: &str) -> Vec<String> {
    disasm
        .lines()
        .filter(|line| {
            // "ffffffff80100000:\tmov    %rax,%rbx"
            let Some((_, insn)) = line.split_once(":\t") else {
                return false;
            };
            let mut words = insn.split_whitespace();
            let mut m = words.next().unwrap_or("");
            if matches!(m, "lock" | "rep" | "repz" | "repnz" | "data16" | "rex.W") {
                m = words.next().unwrap_or("");
            }
            let m = m.trim_end_matches(['q', 'l']);
            // Any instruction naming an xmm/ymm/zmm register is SSE/AVX work: SSE ALU ops kill
            // the VM in ring 0 here (fxsave/fxrstor name no register and are fine).
            let vector = insn.contains("%xmm") || insn.contains("%ymm") || insn.contains("%zmm");
            vector
                || FORBIDDEN.contains(&m)
                || FORBIDDEN.contains(&insn.split_whitespace().next().unwrap_or(""))
        })
        .map(|l| l.trim().to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::offending;

    #[test]
    fn finds_forbidden_instructions() {
        let d = "ffffffff80100000:\tmov    %rax,%rbx\n\
                 ffffffff80100003:\tint3\n\
                 ffffffff80100004:\tpopcnt %rax,%rbx\n\
                 ffffffff80100008:\tpxor   %xmm0,%xmm0\n\
                 ffffffff8010000c:\tfxsaveq (%rax)\n\
                 ffffffff80100010:\tlock cmpxchg16b (%rdi)\n\
                 ffffffff80100015:\trdtsc\n\
                 ffffffff80100017:\tint    $0x80\n";
        let bad = offending(d);
        assert_eq!(bad.len(), 5, "{bad:#?}");
        assert!(bad
            .iter()
            .all(|l| !l.contains("fxsave") && !l.contains("rdtsc")));
    }

    #[test]
    fn clean_code_passes() {
        let d = "ffffffff80100000:\tmov    %rax,%rbx\n\
                 ffffffff80100003:\tintel_like_symbol_is_not_an_insn\n\
                 ffffffff80100004:\tud2\n";
        assert!(offending(d).is_empty());
    }
}
