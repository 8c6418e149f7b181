//! The kernel heap: `linked_list_allocator` over a static region, behind a spin lock.
//!
//! [`HEAP_SIZE`] bytes of the kernel's `.bss` (never zeroed at run time: the allocator only
//! writes its hole headers). Enough for boot-time tables; the real heap, grown from the frame
//! allocator, comes with memory management. Allocation before [`init`] fails (and the
//! allocation-error handler panics).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, Ordering};

use linked_list_allocator::Heap;
use spin::Mutex;

/// Size of the boot heap.
pub const HEAP_SIZE: usize = 256 * 1024;

#[repr(C, align(4096))]
struct HeapMem(UnsafeCell<[u8; HEAP_SIZE]>);

// SAFETY: the region is only reached through the allocator, under its lock.
unsafe impl Sync for HeapMem {}

static HEAP_MEM: HeapMem = HeapMem(UnsafeCell::new([0; HEAP_SIZE]));
static INITIALISED: AtomicBool = AtomicBool::new(false);

struct KernelHeap(Mutex<Heap>);

#[global_allocator]
static HEAP: KernelHeap = KernelHeap(Mutex::new(Heap::empty()));

// SAFETY: allocation and deallocation are delegated to `linked_list_allocator::Heap` under a
// lock; it returns blocks that fit the layout and do not overlap live blocks.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.0
            .lock()
            .allocate_first_fit(layout)
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(ptr) = NonNull::new(ptr) {
            // SAFETY: the caller passes a block this allocator returned with this layout.
            unsafe { self.0.lock().deallocate(ptr, layout) }
        }
    }
}

/// Gives the heap its region. Call once; later calls do nothing.
pub fn init() {
    if INITIALISED.swap(true, Ordering::AcqRel) {
        return;
    }
    // SAFETY: HEAP_MEM is a static region used by nothing but this heap, valid for the
    // kernel's lifetime; the flag above makes this run once.
    unsafe { HEAP.0.lock().init(HEAP_MEM.0.get().cast::<u8>(), HEAP_SIZE) }
}

/// Bytes in use and free.
pub fn usage() -> (usize, usize) {
    let heap = HEAP.0.lock();
    (heap.used(), heap.free())
}
