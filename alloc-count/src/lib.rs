#![doc = include_str!("../README.md")]
#![warn(missing_docs, unreachable_pub)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    // Const-initialised and without a destructor: reading them never allocates and works during
    // thread teardown, which matters inside an allocator.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

/// The counting allocator: install it with `#[global_allocator]` in the test binary.
pub struct Counting;

fn note() {
    if ARMED.with(Cell::get) {
        COUNT.with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: every method forwards to `System` under the caller's own contract; counting touches only
// const thread-locals.
#[allow(unsafe_code, reason = "a GlobalAlloc impl is unsafe by definition")]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` and returns its value with the number of allocations (and reallocations) it made on this
/// thread. Calls nest: an inner count is included in the outer one.
pub fn count<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = COUNT.with(Cell::get);
    let was = ARMED.with(|a| a.replace(true));
    let value = f();
    ARMED.with(|a| a.set(was));
    (value, COUNT.with(Cell::get) - before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    #[test]
    fn counts_this_threads_allocations_only() {
        let (v, n) = count(|| std::hint::black_box(vec![1u8; 16]));
        assert_eq!(n, 1, "the counter must be able to fail");
        let ((), n) = count(|| {
            let mut v = v;
            v.extend_from_slice(&[0; 64]);
        });
        assert_eq!(n, 1, "a reallocation counts");
        let (sum, n) = count(|| (0..1000u64).sum::<u64>());
        assert_eq!((sum, n), (499_500, 0));
        let (_, n) = count(|| std::thread::spawn(|| vec![0u8; 1 << 20]).join());
        assert!(
            n < 10,
            "another thread's megabyte is not this thread's: {n}"
        );
        let ((_, inner), outer) = count(|| count(|| Box::new(7)));
        assert_eq!((inner, outer), (1, 1), "nested counts");
    }
}
