//! In-kernel self-tests of memory management, run after the banner when the command line
//! says `lwpvm.selftest=mm` (or `kstack-overflow`). They stand in for ring-3 test programs
//! until user mode exists: frames, page tables, the heap, kernel stacks, an address space
//! populated on demand through `copy_to_user`, and `EFAULT` for every kind of bad pointer.
//!
//! `mm` prints `selftest mm: ok` on the console and exits with status 0, or one line per
//! failed check and `selftest mm: N failed`, status 1. `kstack-overflow` overflows a kernel
//! stack on purpose: the expected end is a `#DF` report with "kernel stack overflow" and
//! status `KERNEL_FAULT`.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use lwpvm_mmcore::{
    Access, Prot, MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED,
    PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE, USER_END,
};
use shared_abi::current::errno::{EEXIST, EFAULT, EINVAL, ENOMEM};
use shared_abi::current::ports::status;
use shared_abi::current::signal::{SEGV_ACCERR, SEGV_MAPERR};

use super::kstack::KernelStack;
use super::uaccess::{
    copy_from_user, copy_to_user, read_user, strncpy_from_user, write_user, UserPtr,
};
use super::vmspace::{Fault, VmSpace};
use super::{frame, heap};
use crate::arch::layout::KSTACK_SIZE;
use crate::arch::paging::{self, PTE_W};

/// Runs the self-test named `which` and exits the VM; returns if the name is not one of
/// memory management's (so other subsystems can claim it).
pub fn run(which: &str) {
    match which {
        "mm" => {
            let mut t = Tester { failed: 0 };
            t.frames();
            t.heap();
            t.page_tables();
            t.kernel_stacks();
            t.address_space();
            t.fork();
            t.bad_pointers();
            if t.failed == 0 {
                crate::println!("selftest mm: ok");
                log::info!("selftest mm: ok");
                crate::arch::exit(status::SUCCESS);
            }
            crate::println!("selftest mm: {} failed", t.failed);
            crate::arch::exit(1);
        }
        "kstack-overflow" => {
            let stack = KernelStack::new().expect("a kernel stack");
            log::info!(
                "selftest kstack-overflow: recursing on kernel stack {:#x}..{:#x}",
                stack.bottom(),
                stack.top()
            );
            let r = stack.run_on(recurse, 0);
            // Not reached: the guard page stops the recursion with #DF.
            crate::println!("selftest kstack-overflow: FAILED, recursion returned {r}");
            crate::arch::exit(1);
        }
        _ => {}
    }
}

/// Recurses with 1 KiB frames until the stack runs out.
extern "C" fn recurse(depth: u64) -> u64 {
    if depth == u64::MAX {
        return 0;
    }
    let mut buf = [0u8; 1024];
    buf[(depth as usize) % 1024] = depth as u8;
    let buf = core::hint::black_box(buf);
    recurse(depth + 1) + u64::from(buf[0])
}

extern "C" fn stack_probe(x: u64) -> u64 {
    let here = &x as *const u64 as u64;
    core::hint::black_box(here)
}

struct Tester {
    failed: u32,
}

impl Tester {
    #[track_caller]
    fn check(&mut self, ok: bool, what: &str) {
        if !ok {
            self.failed += 1;
            let loc = core::panic::Location::caller();
            crate::println!(
                "selftest mm: FAILED: {what} ({}:{})",
                loc.file(),
                loc.line()
            );
            log::error!(
                "selftest mm: FAILED: {what} ({}:{})",
                loc.file(),
                loc.line()
            );
        }
    }

    fn frames(&mut self) {
        let before = frame::stats();
        self.check(
            before.total > 0 && before.free <= before.total,
            "frame counts",
        );
        // A fresh zeroed frame is zero (fresh RAM: checks the known-zero assumption).
        let z = frame::alloc_zeroed().expect("a frame");
        self.check(frame_is_zero(z), "alloc_zeroed frame is zero");
        // Dirty it and free it: alloc() takes it back (LIFO), alloc_zeroed() avoids it while
        // known-zero frames remain.
        // SAFETY: `z` is ours; the direct map covers it.
        unsafe { *(frame::virt(z) as *mut u64).add(100) = 0xdead_beef };
        frame::free(z);
        let s = frame::stats();
        self.check(s.dirty == before.dirty + 1, "freed frame counted dirty");
        let z2 = frame::alloc_zeroed().expect("a frame");
        self.check(
            z2 != z && frame_is_zero(z2),
            "alloc_zeroed prefers known-zero frames",
        );
        let d = frame::alloc().expect("a frame");
        self.check(d == z, "alloc reuses the dirty frame");
        // An all-zero frame returned with free_zeroed comes back from alloc_zeroed.
        frame::zero_frame(d);
        frame::free_zeroed(d);
        let z3 = frame::alloc_zeroed().expect("a frame");
        self.check(z3 == d && frame_is_zero(z3), "zero list reuse");
        // copy_frame copies all 4096 bytes.
        // SAFETY: `z2` is ours; the direct map covers it.
        unsafe { *(frame::virt(z2) as *mut u64).add(511) = 0x77 };
        frame::copy_frame(z3, z2);
        // SAFETY: as above, for `z3`.
        self.check(
            unsafe { *(frame::virt(z3) as *const u64).add(511) } == 0x77,
            "copy_frame",
        );
        frame::free(z2);
        frame::free(z3);
        let after = frame::stats();
        self.check(after.used == before.used, "frames all returned");
        // Contiguous DMA runs are page-aligned and zero.
        let run = frame::alloc_contiguous_zeroed(3).expect("3 contiguous frames");
        self.check(
            (0..3).all(|i| frame_is_zero(run + i * 4096)),
            "contiguous run zero",
        );
        for i in 0..3 {
            frame::free(run + i * 4096);
        }
        log::info!("selftest mm: frames ok ({:?})", frame::stats());
    }

    fn heap(&mut self) {
        // Many small objects, then a large one: the heap grows from frames. (`black_box`:
        // the compiler may otherwise elide allocations whose contents it can see through.)
        let mut boxes: Vec<Box<[u64; 4]>> = Vec::new();
        for i in 0..2000u64 {
            boxes.push(core::hint::black_box(Box::new([i, i + 1, i + 2, i + 3])));
        }
        let boxes = core::hint::black_box(boxes);
        self.check(
            boxes.iter().enumerate().all(|(i, b)| b[3] == i as u64 + 3),
            "small heap objects intact",
        );
        let big = core::hint::black_box(vec![7u8; 300 * 1024]);
        self.check(big[300 * 1024 - 1] == 7, "large heap object");
        let s = heap::stats();
        self.check(s.mapped >= 300 * 1024, "heap grew");
        self.check(
            s.allocations >= 2002 && s.allocated >= 2000 * 32 + 300 * 1024,
            "heap counters",
        );
        self.check(s.available < s.mapped as usize, "heap available");
        drop(big);
        drop(boxes);
        log::info!("selftest mm: heap ok ({:?})", heap::stats());
    }

    fn page_tables(&mut self) {
        let before = frame::stats().used;
        let pml4 = frame::alloc_zeroed().expect("a frame");
        let root = paging::new_user_root(pml4);
        let va = 0x1234_5000u64;
        let pa = frame::alloc_zeroed().expect("a frame");
        let mut tables = Vec::new();
        // SAFETY: a private tree nobody else uses or loads.
        let r = unsafe {
            paging::map(root, va, pa, PTE_W, &mut || {
                let t = frame::alloc_zeroed()?;
                tables.push(t);
                Some(t)
            })
        };
        self.check(r.is_ok() && tables.len() == 3, "map creates 3 tables");
        self.check(
            paging::translate(root, va) == Some((pa, paging::PTE_P | PTE_W)),
            "translate after map",
        );
        // SAFETY: as above.
        let again = unsafe { paging::map(root, va, pa, PTE_W, &mut || None) };
        self.check(
            again == Err(paging::MapError::AlreadyMapped),
            "double map refused",
        );
        let mut seen = 0;
        // SAFETY: as above.
        unsafe { paging::unmap_range(root, va, va + 4096, &mut |_, e| seen = e) };
        self.check(seen & paging::PTE_ADDR == pa, "unmap reports the frame");
        self.check(paging::translate(root, va).is_none(), "unmapped");
        let mut freed = Vec::new();
        // A range covering the whole lower half frees all three tables.
        // SAFETY: as above; no leaf is present any more.
        unsafe { paging::free_tables(root, 0, USER_END, &mut |t| freed.push(t)) };
        freed.sort_unstable();
        tables.sort_unstable();
        self.check(freed == tables, "free_tables frees every empty table");
        for t in freed {
            frame::free_zeroed(t);
        }
        frame::free(pa);
        frame::free(pml4);
        self.check(frame::stats().used == before, "page-table frames returned");
        // The kernel's upper half is visible in the new tree.
        let k = paging::translate(root, stack_probe as *const () as u64);
        self.check(k.is_some(), "kernel text mapped in a user tree");
        log::info!("selftest mm: page tables ok (NX {})", paging::nx_enabled());
    }

    fn kernel_stacks(&mut self) {
        let a = KernelStack::new().expect("stack");
        let b = KernelStack::new().expect("stack");
        self.check(a.top() != b.top(), "distinct stacks");
        let root = paging::kernel_root();
        self.check(
            paging::translate(root, a.top() - 8).is_some()
                && paging::translate(root, a.bottom()).is_some(),
            "stack mapped",
        );
        self.check(
            paging::translate(root, a.bottom() - 8).is_none(),
            "guard page unmapped",
        );
        self.check(
            super::kstack::guard_hit(a.bottom() - 8).is_some()
                && super::kstack::guard_hit(a.bottom()).is_none(),
            "guard detection",
        );
        let sp = a.run_on(stack_probe, 0);
        self.check(sp > a.bottom() && sp < a.top(), "code runs on the stack");
        self.check(a.top() - a.bottom() == KSTACK_SIZE, "stack size");
        let top_a = a.top();
        drop(a);
        let c = KernelStack::new().expect("stack");
        self.check(c.top() == top_a, "freed slot reused");
        // More freed stacks than the cache keeps: the rest are unmapped, and their slots
        // are mapped again when reused.
        let n = super::kstack::CACHE_MAX + 6;
        let many: Vec<KernelStack> = (0..n).map(|_| KernelStack::new().expect("stack")).collect();
        let last_bottom = many[n - 1].bottom();
        drop(many);
        self.check(
            paging::translate(root, last_bottom).is_none(),
            "stacks beyond the cache unmapped",
        );
        let again: Vec<KernelStack> = (0..n).map(|_| KernelStack::new().expect("stack")).collect();
        self.check(
            again
                .iter()
                .all(|s| paging::translate(root, s.bottom()).is_some()),
            "reused slots mapped again",
        );
        self.check(
            again
                .iter()
                .map(|s| s.run_on(stack_probe, 0))
                .zip(&again)
                .all(|(sp, s)| sp > s.bottom() && sp < s.top()),
            "reused stacks usable",
        );
        drop(again);
        log::info!(
            "selftest mm: kernel stacks ok (live, cached) = {:?}",
            super::kstack::counts()
        );
    }

    fn address_space(&mut self) {
        let frames_before = frame::stats().used;
        let vm = VmSpace::new().expect("vmspace");
        vm.activate();
        self.check(paging::current_root() == vm.root(), "activate loads CR3");
        self.check(
            VmSpace::current().is_some_and(|c| c.root() == vm.root()),
            "current address space found from CR3",
        );
        let anon = MAP_PRIVATE | MAP_ANONYMOUS;
        let rw = PROT_READ | PROT_WRITE;
        let a = vm.mmap(0, 3 * 4096, rw, anon).expect("mmap");
        self.check(a < USER_END && a.is_multiple_of(4096), "mmap address");
        // Demand paging from inside copy_to_user: the pages do not exist yet.
        let msg = *b"hello from the kernel, across a page boundary";
        let at = UserPtr(a + 4096 - 20);
        self.check(
            copy_to_user(at, &msg).is_ok(),
            "copy_to_user populates pages",
        );
        self.check(vm.usage().0 == 2, "two pages populated");
        let mut back = [0u8; 45];
        self.check(
            copy_from_user(&mut back, at).is_ok() && back == msg,
            "copy_from_user reads back",
        );
        // An untouched page reads as zero.
        let z: u64 = read_user(UserPtr(a + 2 * 4096 + 8)).unwrap_or(1);
        self.check(z == 0, "demand-zero page");
        self.check(
            write_user(UserPtr(a + 5), &0x1122_3344_5566_7788u64).is_ok(),
            "write_user",
        );
        self.check(
            read_user::<u64>(UserPtr(a + 5)) == Ok(0x1122_3344_5566_7788),
            "read_user unaligned",
        );
        // Strings.
        let s = b"path/name\0junk";
        copy_to_user(UserPtr(a + 100), s).unwrap();
        let mut buf = [0xffu8; 32];
        self.check(
            strncpy_from_user(&mut buf, UserPtr(a + 100)) == Ok(9) && &buf[..10] == b"path/name\0",
            "strncpy_from_user",
        );
        let mut small = [0u8; 4];
        self.check(
            strncpy_from_user(&mut small, UserPtr(a + 100)) == Ok(4),
            "strncpy_from_user without NUL",
        );
        // mprotect read-only: writes fail with EFAULT, reads work.
        self.check(vm.mprotect(a, 4096, PROT_READ).is_ok(), "mprotect");
        self.check(
            copy_to_user(UserPtr(a), b"x") == Err(EFAULT),
            "write to read-only page",
        );
        self.check(
            read_user::<u64>(UserPtr(a + 5)) == Ok(0x1122_3344_5566_7788),
            "read-only page still readable",
        );
        // PROT_NONE keeps the contents for a later mprotect back.
        self.check(vm.mprotect(a, 4096, PROT_NONE).is_ok(), "mprotect none");
        self.check(
            read_user::<u64>(UserPtr(a + 5)) == Err(EFAULT),
            "PROT_NONE unreadable",
        );
        self.check(vm.mprotect(a, 4096, rw).is_ok(), "mprotect back");
        self.check(
            read_user::<u64>(UserPtr(a + 5)) == Ok(0x1122_3344_5566_7788),
            "contents survive PROT_NONE",
        );
        // Linux errors through the VmSpace interface.
        self.check(
            vm.mmap(a, 4096, rw, anon | MAP_FIXED_NOREPLACE) == Err(EEXIST),
            "MAP_FIXED_NOREPLACE",
        );
        self.check(
            vm.mmap(a + 1, 4096, rw, anon | MAP_FIXED) == Err(EINVAL),
            "unaligned",
        );
        self.check(
            vm.mprotect(a, 1 << 40, PROT_READ) == Err(ENOMEM),
            "mprotect hole",
        );
        // MAP_FIXED over populated pages replaces them with fresh zero pages.
        self.check(
            vm.mmap(a, 4096, rw, anon | MAP_FIXED) == Ok(a)
                && read_user::<u64>(UserPtr(a + 5)) == Ok(0),
            "MAP_FIXED replaces contents",
        );
        // What a ring-3 fault would get: SEGV_MAPERR without a region, SEGV_ACCERR for a
        // forbidden access.
        self.check(
            vm.handle_page_fault(0x10_0000, Access::Read)
                .map_err(Fault::si_code)
                == Err(SEGV_MAPERR),
            "fault without a region",
        );
        self.check(
            vm.handle_page_fault(a, Access::Exec)
                .map_err(Fault::si_code)
                == Err(SEGV_ACCERR),
            "exec fault in a non-executable region",
        );
        // munmap: the pages are gone.
        self.check(vm.munmap(a, 3 * 4096).is_ok(), "munmap");
        self.check(
            read_user::<u8>(UserPtr(a + 4096)) == Err(EFAULT),
            "unmapped after munmap",
        );
        self.check(vm.usage().0 == 0, "munmap freed the frames");
        // brk.
        vm.init_brk(0x60_0000).unwrap();
        self.check(
            vm.brk(0x60_0000 + 10_000) == 0x60_0000 + 10_000,
            "brk grows",
        );
        self.check(
            write_user(UserPtr(0x60_0000 + 9_000), &1u32).is_ok(),
            "heap usable",
        );
        self.check(vm.brk(0x60_0000) == 0x60_0000, "brk shrinks");
        self.check(
            read_user::<u32>(UserPtr(0x60_0000 + 9_000)) == Err(EFAULT),
            "heap gone",
        );
        // Image regions: bytes of a kernel slice, zero past its end; exec-only is readable.
        static IMAGE: [u8; 6000] = {
            let mut b = [0u8; 6000];
            let mut i = 0;
            while i < 6000 {
                b[i] = (i % 251) as u8 + 1;
                i += 1;
            }
            b
        };
        vm.map_image(
            0x40_0000,
            0x40_3000,
            Prot::from_bits(PROT_EXEC).unwrap(),
            &IMAGE,
            0x40_0000,
        )
        .unwrap();
        let mut page = [0u8; 64];
        self.check(
            copy_from_user(&mut page, UserPtr(0x40_0000 + 5990)).is_ok()
                && page[..10] == IMAGE[5990..]
                && page[10..].iter().all(|&b| b == 0),
            "image page: file bytes then zeroes",
        );
        self.check(
            read_user::<u8>(UserPtr(0x40_0000 + 4096)) == Ok(IMAGE[4096]),
            "image page contents",
        );
        self.check(
            read_user::<u8>(UserPtr(0x40_2000 + 17)) == Ok(0),
            "image page past the file is zero",
        );
        self.check(
            copy_to_user(UserPtr(0x40_0000), b"x") == Err(EFAULT),
            "write to exec-only image",
        );
        // Stack: the top page and one 8 MiB below are both demand-zero.
        let bottom = vm.map_stack(USER_END, 8 << 20).unwrap();
        self.check(
            write_user(UserPtr(USER_END - 8), &5u64).is_ok(),
            "stack top",
        );
        self.check(write_user(UserPtr(bottom), &5u64).is_ok(), "stack bottom");
        self.check(
            read_user::<u8>(UserPtr(bottom - 1)) == Err(EFAULT),
            "below the stack",
        );
        // Drop: every frame comes back (the heap may have grown meanwhile: compare after
        // accounting for its mapped pages).
        let heap_before = heap::stats().mapped;
        VmSpace::activate_kernel();
        drop(vm);
        let heap_growth = (heap::stats().mapped - heap_before) / 4096;
        let used = frame::stats().used;
        self.check(
            used <= frames_before + heap_growth + 8,
            "VmSpace drop returns its frames",
        );
        log::info!(
            "selftest mm: address space ok (frames used {frames_before} -> {used}, {:?})",
            frame::stats()
        );
    }

    fn fork(&mut self) {
        let frames_before = frame::stats().used;
        let heap_before = heap::stats().mapped;
        let parent = VmSpace::new().expect("vmspace");
        parent.activate();
        let rw = PROT_READ | PROT_WRITE;
        let p = parent
            .mmap(0, 2 * 4096, rw, MAP_PRIVATE | MAP_ANONYMOUS)
            .unwrap();
        let s = parent
            .mmap(0, 4096, rw, MAP_SHARED | MAP_ANONYMOUS)
            .unwrap();
        let rd = |a: u64| read_user::<u64>(UserPtr(a)).unwrap_or(u64::MAX);
        let wr = |a: u64, v: u64| write_user(UserPtr(a), &v).is_ok();
        self.check(wr(p, 1) && wr(p + 4096, 2) && wr(s, 3), "parent writes");
        let child = parent.fork().expect("fork");
        self.check(
            child.usage() == parent.usage(),
            "child maps what the parent maps",
        );
        child.activate();
        self.check(
            rd(p) == 1 && rd(p + 4096) == 2 && rd(s) == 3,
            "child sees the data",
        );
        let used = frame::stats().used;
        self.check(wr(p, 10), "child writes a private page");
        self.check(
            frame::stats().used == used + 1,
            "copy-on-write copied one frame",
        );
        self.check(wr(s, 30), "child writes the shared page");
        self.check(frame::stats().used == used + 1, "shared page not copied");
        parent.activate();
        self.check(rd(p) == 1, "parent's private page unchanged");
        self.check(rd(s) == 30, "shared page shows the child's write");
        // The child copied `p`, so the parent is its last owner: no copy, just writable.
        let used = frame::stats().used;
        self.check(
            wr(p, 100) && frame::stats().used == used,
            "last owner reuses the frame",
        );
        self.check(wr(p + 4096, 20), "parent writes the other private page");
        child.activate();
        self.check(rd(p) == 10 && rd(p + 4096) == 2, "child keeps its own view");
        VmSpace::activate_kernel();
        drop(child);
        drop(parent);
        let heap_growth = (heap::stats().mapped - heap_before) / 4096;
        let used = frame::stats().used;
        self.check(
            used <= frames_before + heap_growth + 8,
            "fork: every frame returned",
        );
        log::info!("selftest mm: fork ok (frames used {frames_before} -> {used})");
    }

    fn bad_pointers(&mut self) {
        let vm = VmSpace::new().expect("vmspace");
        vm.activate();
        let mut buf = [0u8; 16];
        self.check(UserPtr(0).is_null() && !UserPtr(1).is_null(), "is_null");
        self.check(
            copy_from_user(&mut buf, UserPtr(USER_END - 8).add(8)) == Err(EFAULT),
            "UserPtr::add past the end",
        );
        let cases: [(u64, usize, &str); 8] = [
            (0, 16, "null"),
            (0x1000_0000, 16, "unmapped user address"),
            (0xffff_8000_0010_0000, 16, "kernel direct map"),
            (0xffff_ffff_8010_0000, 16, "kernel image"),
            (0x0000_8000_0000_0000, 16, "first non-canonical address"),
            (0x1234_5678_9abc_def0, 16, "non-canonical"),
            (u64::MAX - 7, 16, "range wrapping past 2^64"),
            (USER_END - 8, 16, "range crossing the end of user space"),
        ];
        for (addr, len, what) in cases {
            self.check(
                copy_from_user(&mut buf[..len], UserPtr(addr)) == Err(EFAULT),
                what,
            );
            self.check(
                copy_to_user(UserPtr(addr), &buf[..len]) == Err(EFAULT),
                what,
            );
            self.check(read_user::<u64>(UserPtr(addr)) == Err(EFAULT), what);
            self.check(
                strncpy_from_user(&mut buf, UserPtr(addr)) == Err(EFAULT),
                what,
            );
        }
        // The kernel's own memory is untouched by a refused copy_to_user.
        let probe = [0x5au8; 16];
        let kaddr = probe.as_ptr() as u64;
        self.check(
            copy_to_user(UserPtr(kaddr), &[0u8; 16]) == Err(EFAULT),
            "kernel stack",
        );
        self.check(
            core::hint::black_box(probe) == [0x5a; 16],
            "kernel memory untouched",
        );
        // A string running into the end of user space without a NUL.
        vm.map_anon_fixed(USER_END - 4096, USER_END, Prot::RW)
            .unwrap();
        copy_to_user(UserPtr(USER_END - 4), b"abcd").unwrap();
        let mut long = [0u8; 64];
        self.check(
            strncpy_from_user(&mut long, UserPtr(USER_END - 4)) == Err(EFAULT),
            "string reaching the end of user space",
        );
        copy_to_user(UserPtr(USER_END - 1), b"\0").unwrap();
        self.check(
            strncpy_from_user(&mut long, UserPtr(USER_END - 4)) == Ok(3),
            "string ending at the end of user space",
        );
        // Zero-length copies of any address succeed (nothing is touched).
        self.check(copy_to_user(UserPtr(u64::MAX), &[]).is_ok(), "empty copy");
        VmSpace::activate_kernel();
        drop(vm);
        log::info!("selftest mm: bad pointers ok");
    }
}

fn frame_is_zero(pa: u64) -> bool {
    // SAFETY: `pa` is a frame the caller owns; the direct map covers it; u64s are valid for
    // any bits.
    let words = unsafe { core::slice::from_raw_parts(frame::virt(pa) as *const u64, 512) };
    words.iter().all(|&w| w == 0)
}
