//! The allocation cap of fuzz test binaries: a global allocator that forwards to `System` but
//! refuses any single allocation above a cap, so that a size taken from a file without a bound
//! fails the case (or names it before the process aborts) instead of passing on a machine with
//! memory to spare.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Installs [`CappedAllocator`] with the cap `$max` (bytes) as the global allocator of this
/// test binary (a `#[global_allocator]` must live in the binary itself, hence a macro), and
/// adds the test `allocation_cap_is_installed`, which checks that it refuses.
#[macro_export]
macro_rules! install_capped_allocator {
    ($max:expr) => {
        #[global_allocator]
        static OSTRACK_FUZZ_ALLOCATOR: $crate::CappedAllocator = $crate::CappedAllocator::new($max);

        #[test]
        fn allocation_cap_is_installed() {
            $crate::check_allocation_cap($max);
        }
    };
}

/// The cap of the installed [`CappedAllocator`], 0 while none has allocated yet.
static CAP: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// (format, case) this thread is running, for the refusal's message.
    static CURRENT_CASE: Cell<Option<(&'static str, u64)>> = const { Cell::new(None) };
    /// The largest allocation refused on this thread since the case began (0: none). Fallible
    /// allocations return an error instead of aborting, so refusals are counted and fail the
    /// case.
    static REFUSED: Cell<usize> = const { Cell::new(0) };
}

/// A global allocator that refuses single allocations above its cap. Install it with
/// [`install_capped_allocator!`].
pub struct CappedAllocator {
    max: usize,
}

impl CappedAllocator {
    pub const fn new(max: usize) -> Self {
        Self { max }
    }

    /// Checks `size` against the cap; records the cap, so the runner knows it is installed.
    fn allows(&self, size: usize) -> bool {
        if CAP.load(Ordering::Relaxed) != self.max {
            CAP.store(self.max, Ordering::Relaxed);
        }
        size <= self.max || refuse(size)
    }
}

/// Records a refusal and names the case on stderr, without allocating (the abort that follows
/// an infallible allocation gives no other hint). Always false.
fn refuse(size: usize) -> bool {
    let _ = REFUSED.try_with(|r| r.set(r.get().max(size)));
    if let Some((format, case)) = CURRENT_CASE.try_with(Cell::get).ok().flatten() {
        let _ = std::io::stderr().write_fmt(format_args!(
            "fuzz: refused an allocation of {size} bytes in {format} case {case} \
             (rerun with OSTRACK_FUZZ_CASE={format}:{case})\n"
        ));
    }
    false
}

// SAFETY: every call is forwarded unchanged to `System`, or refused by returning null, which
// the `GlobalAlloc` contract allows.
unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !self.allows(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !self.allows(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.allows(new_size) {
            return std::ptr::null_mut();
        }
        // SAFETY: `ptr` came from `System` through this allocator; the contract is unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// The cap of the installed [`CappedAllocator`]; `None` when the binary has none.
pub fn allocation_cap() -> Option<usize> {
    Some(CAP.load(Ordering::Relaxed)).filter(|&cap| cap > 0)
}

/// Starts counting refusals for case `case` of `format` on this thread.
pub(crate) fn begin_case(format: &'static str, case: u64) {
    CURRENT_CASE.set(Some((format, case)));
    REFUSED.set(0);
}

/// Ends the case; the largest allocation refused during it, if any.
pub(crate) fn end_case() -> Option<usize> {
    CURRENT_CASE.set(None);
    Some(REFUSED.replace(0)).filter(|&size| size > 0)
}

/// Checks that the installed cap is `max` and that it refuses (fallibly here: an infallible
/// refusal aborts the process). Called by the test [`install_capped_allocator!`] adds.
pub fn check_allocation_cap(max: usize) {
    assert_eq!(
        allocation_cap(),
        Some(max),
        "the allocation cap is not installed"
    );
    REFUSED.set(0);
    let mut v: Vec<u8> = Vec::new();
    let over = v.try_reserve_exact(max + 1);
    assert_eq!(end_case(), Some(max + 1));
    assert!(over.is_err());
    assert!(v.try_reserve_exact(max.min(1 << 20)).is_ok());
}
