//! What both benchmark programs (`bench_sync`, `bench_objects`) need
//! alike: the shared file a child process maps too, the start/stop
//! handshake of a two-process run, the raw robust pthread mutex that is
//! their locks' baseline, and the median of the repeats.

mod mapped_file;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

pub use mapped_file::MappedFile;

/// The three words that start and stop a run of two processes, one after
/// the other at an offset in the shared file: "ready" (the child has the
/// file open), "go" (the parent starts the clock), "done" (the child has
/// finished its share). The file starts zeroed; each word is set to 1.
pub struct Handshake<'a> {
    ready: &'a AtomicU32,
    go: &'a AtomicU32,
    done: &'a AtomicU32,
}

impl<'a> Handshake<'a> {
    /// The words at `offset`, `offset + 4` and `offset + 8` of `file`.
    pub fn at(file: &'a MappedFile, offset: usize) -> Handshake<'a> {
        Handshake {
            ready: file.atomic_u32(offset),
            go: file.atomic_u32(offset + 4),
            done: file.atomic_u32(offset + 8),
        }
    }

    /// The child's side: says it is ready, waits for "go", runs `work`,
    /// then says it is done.
    pub fn child<R>(&self, work: impl FnOnce() -> R) -> R {
        set(self.ready, 1);
        spin_until(self.go, 1);
        let result = work();
        set(self.done, 1);
        result
    }

    /// The parent's side: waits until the child is ready, then says "go";
    /// returns the instant just before it did.
    pub fn go(&self) -> Instant {
        spin_until(self.ready, 1);
        let start = Instant::now();
        set(self.go, 1);
        start
    }

    /// The parent's side: waits until the child is done.
    pub fn wait_done(&self) {
        spin_until(self.done, 1);
    }
}

fn set(word: &AtomicU32, value: u32) {
    // Release: publishes this process's earlier writes.
    word.store(value, Ordering::Release);
}

fn spin_until(word: &AtomicU32, value: u32) {
    // Acquire: pairs with the other process's Release store.
    while word.load(Ordering::Acquire) != value {
        std::thread::yield_now();
    }
}

/// The baseline: a process-shared robust pthread mutex of the default type,
/// used with bare pthread calls.
pub fn init_raw_robust(mutex: *mut libc::pthread_mutex_t) {
    let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
    // SAFETY: writable storage for an attribute object.
    let rc = unsafe { libc::pthread_mutexattr_init(attr.as_mut_ptr()) };
    assert_eq!(rc, 0);
    // SAFETY: initialised above.
    let rc = unsafe {
        libc::pthread_mutexattr_setpshared(attr.as_mut_ptr(), libc::PTHREAD_PROCESS_SHARED)
    };
    assert_eq!(rc, 0);
    // SAFETY: initialised above.
    let rc =
        unsafe { libc::pthread_mutexattr_setrobust(attr.as_mut_ptr(), libc::PTHREAD_MUTEX_ROBUST) };
    assert_eq!(rc, 0);
    // SAFETY: `mutex` points to unused, writable, aligned memory.
    assert_eq!(unsafe { libc::pthread_mutex_init(mutex, attr.as_ptr()) }, 0);
}

/// Locks the baseline mutex (set up by [`init_raw_robust`]).
pub fn raw_lock(mutex: *mut libc::pthread_mutex_t) {
    // SAFETY: an initialised robust mutex; nobody dies in the benchmark.
    let rc = unsafe { libc::pthread_mutex_lock(mutex) };
    debug_assert_eq!(rc, 0);
}

/// Unlocks the baseline mutex, which this thread holds.
pub fn raw_unlock(mutex: *mut libc::pthread_mutex_t) {
    // SAFETY: held by this thread.
    let rc = unsafe { libc::pthread_mutex_unlock(mutex) };
    debug_assert_eq!(rc, 0);
}

/// The median of `samples` (the mean of the middle two for an even count).
pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    let mid = samples.len() / 2;
    if samples.len() % 2 == 1 {
        samples[mid]
    } else {
        (samples[mid - 1] + samples[mid]) / 2.0
    }
}
