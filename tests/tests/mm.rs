//! Memory-management tests: the kernel's in-kernel self-tests (`lwpvm.selftest=mm`: frames,
//! page tables, heap, kernel stacks, an address space populated on demand through
//! `copy_to_user`, `EFAULT` for bad pointers) and a deliberate kernel stack overflow, on our
//! VMM with 1 and 2 vCPUs and under QEMU TCG. They stand in for ring-3 test programs until
//! user mode exists.

use lwpvm_tests::{Artifacts, Boot, Host};
use shared_abi::current::ports::status;

fn art() -> Artifacts {
    Artifacts::from_env()
}

/// Every machine shape the self-tests run on.
const SHAPES: [(Host, u32); 3] = [(Host::Lwpvm, 1), (Host::Lwpvm, 2), (Host::QemuTcg, 1)];

#[test]
fn mm_selftest_passes() {
    let art = art();
    for (host, cpus) in SHAPES {
        let out = Boot::new(host)
            .cpus(cpus)
            .cmdline("lwpvm.selftest=mm")
            .run(&art);
        out.assert_status(status::SUCCESS);
        out.assert_console("selftest mm: ok");
        assert!(
            !out.stdout.contains("FAILED"),
            "a self-test check failed\n{}",
            out.report()
        );
    }
}

#[test]
fn mm_selftest_passes_with_little_memory_and_an_initrd() {
    // 32 MiB with the initrd as a boot module: the frame allocator must step around it.
    let art = art();
    for host in [Host::Lwpvm, Host::QemuTcg] {
        let out = Boot::new(host)
            .mem(32)
            .initrd(&art.initrd)
            .cmdline("lwpvm.selftest=mm")
            .run(&art);
        out.assert_status(status::SUCCESS);
        out.assert_console("selftest mm: ok");
    }
}

#[test]
fn kernel_stack_overflow_is_reported_as_such() {
    let art = art();
    for (host, cpus) in SHAPES {
        let out = Boot::new(host)
            .cpus(cpus)
            .cmdline("lwpvm.selftest=kstack-overflow")
            .run(&art);
        out.assert_status(status::KERNEL_FAULT);
        out.assert_stderr("kernel stack overflow");
        out.assert_stderr("#DF double fault");
    }
}
