//! The platform seam of [`crate::sync`] on Linux: robust process-shared
//! pthread mutexes, futexes, the monotonic clock.
//!
//! Everything the portable primitives need from the operating system goes
//! through this file, so they read without `libc` or `cfg` noise.

use std::cell::UnsafeCell;
use std::io;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use crate::{Error, Result};

// glibc has had `pthread_mutex_clocklock` since 2.30; the `libc` crate does
// not declare it yet.
extern "C" {
    fn pthread_mutex_clocklock(
        mutex: *mut libc::pthread_mutex_t,
        clock: libc::clockid_t,
        abstime: *const libc::timespec,
    ) -> libc::c_int;
}

/// A point in time on `CLOCK_MONOTONIC`, the clock every timeout of this
/// module is measured on (it does not jump when the wall clock is set).
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    at: libc::timespec,
}

impl Deadline {
    /// `timeout` from now. Timeouts too large to represent saturate (they
    /// are then, in practice, "never").
    pub fn after(timeout: Duration) -> Deadline {
        let now = monotonic_now();
        let secs = i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX / 2);
        let mut sec = now.tv_sec.saturating_add(secs).min(i64::MAX / 2);
        let mut nsec = now.tv_nsec + i64::from(timeout.subsec_nanos());
        if nsec >= 1_000_000_000 {
            nsec -= 1_000_000_000;
            sec += 1;
        }
        Deadline {
            at: libc::timespec {
                tv_sec: sec,
                tv_nsec: nsec,
            },
        }
    }

    /// The earlier of `self` and `timeout` from now.
    pub(crate) fn min_after(self, timeout: Duration) -> Deadline {
        let other = Deadline::after(timeout);
        if (other.at.tv_sec, other.at.tv_nsec) < (self.at.tv_sec, self.at.tv_nsec) {
            other
        } else {
            self
        }
    }

    /// The later of `self` and `timeout` from now.
    pub(crate) fn max_after(self, timeout: Duration) -> Deadline {
        let other = Deadline::after(timeout);
        if (other.at.tv_sec, other.at.tv_nsec) > (self.at.tv_sec, self.at.tv_nsec) {
            other
        } else {
            self
        }
    }

    /// Whether the deadline has passed.
    pub(crate) fn has_passed(&self) -> bool {
        let now = monotonic_now();
        (now.tv_sec, now.tv_nsec) >= (self.at.tv_sec, self.at.tv_nsec)
    }
}

fn monotonic_now() -> libc::timespec {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_MONOTONIC is
    // supported on every Linux (clock_gettime(2)), so the call cannot fail.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    debug_assert_eq!(rc, 0);
    now
}

fn os_error(call: &'static str, code: libc::c_int) -> Error {
    Error::SyncOs {
        call,
        source: io::Error::from_raw_os_error(code),
    }
}

/// What a successful lock of a [`RawMutex`](super::RawMutex) found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquired {
    /// The mutex was consistent.
    Consistent,
    /// The previous owner died holding it (`EOWNERDEAD`): the caller owns
    /// it now, and it stays inconsistent until `mark_consistent`.
    OwnerDied,
}

/// Which pthread mutex type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MutexKind {
    /// `PTHREAD_MUTEX_ERRORCHECK`: relocking by the owner is `EDEADLK`.
    ErrorCheck,
    /// `PTHREAD_MUTEX_RECURSIVE`: the owner may lock again.
    Recursive,
}

/// Where glibc keeps a mutex's kind word (`__data.__kind`): after `__lock`,
/// `__count`, `__owner` and, on 64-bit targets, `__nusers`.
const KIND_OFFSET: usize = if cfg!(target_pointer_width = "64") {
    16
} else {
    12
};
const _: () = assert!(KIND_OFFSET + 4 <= std::mem::size_of::<libc::pthread_mutex_t>());

/// The kind word `pthread_mutex_init` writes for a robust, process-shared
/// mutex of `kind` in this process's glibc, learnt once by initialising a
/// private one; `None` if that fails.
fn expected_kind(kind: MutexKind) -> Option<i32> {
    use std::sync::OnceLock;
    static ERROR_CHECK: OnceLock<Option<i32>> = OnceLock::new();
    static RECURSIVE: OnceLock<Option<i32>> = OnceLock::new();
    let cell = match kind {
        MutexKind::ErrorCheck => &ERROR_CHECK,
        MutexKind::Recursive => &RECURSIVE,
    };
    *cell.get_or_init(|| {
        let mut local = std::mem::MaybeUninit::<RobustMutex>::zeroed();
        // SAFETY: `local` is this function's own, aligned storage for a
        // mutex, which nobody else sees.
        unsafe { RobustMutex::init(local.as_mut_ptr(), kind) }.ok()?;
        let word = local.as_ptr().cast::<u8>().wrapping_add(KIND_OFFSET);
        // SAFETY: inside `local` (const-asserted), which init wrote; no
        // other thread sees it. An unaligned read needs no alignment.
        let found = unsafe { word.cast::<i32>().read_unaligned() };
        // SAFETY: the mutex was initialised above and nobody holds it.
        unsafe { libc::pthread_mutex_destroy(local.as_mut_ptr().cast()) };
        Some(found)
    })
}

/// A process-shared, robust pthread mutex, in place.
///
/// `&self` methods are sound because the mutex is only ever touched through
/// the pthread functions, which are made for concurrent use by any number
/// of threads and processes (the `UnsafeCell` tells Rust that it changes
/// behind shared references). A `&RobustMutex` exists only for memory that
/// [`RobustMutex::init`] initialised (the public types' constructors are
/// `unsafe` and say so).
#[repr(C)]
pub(crate) struct RobustMutex {
    mutex: UnsafeCell<libc::pthread_mutex_t>,
}

// SAFETY: the pthread mutex is made to be used by many threads at once; all
// access goes through the pthread functions.
unsafe impl Sync for RobustMutex {}

impl RobustMutex {
    /// Initialises a process-shared, robust mutex of `kind` at `this`.
    ///
    /// # Safety
    ///
    /// `this` is valid for writes of `size_of::<RobustMutex>()` bytes,
    /// aligned, and no thread or process uses the memory as a mutex during
    /// the call (POSIX: initialising a mutex in use is undefined).
    pub(crate) unsafe fn init(this: *mut RobustMutex, kind: MutexKind) -> Result<()> {
        debug_assert!(this.is_aligned());
        let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        // SAFETY: `attr` is writable storage for an attribute object.
        let rc = unsafe { libc::pthread_mutexattr_init(attr.as_mut_ptr()) };
        if rc != 0 {
            return Err(os_error("pthread_mutexattr_init", rc));
        }
        let kind = match kind {
            MutexKind::ErrorCheck => libc::PTHREAD_MUTEX_ERRORCHECK,
            MutexKind::Recursive => libc::PTHREAD_MUTEX_RECURSIVE,
        };
        let result = (|| {
            // SAFETY: `attr` was initialised above.
            let rc = unsafe {
                libc::pthread_mutexattr_setpshared(attr.as_mut_ptr(), libc::PTHREAD_PROCESS_SHARED)
            };
            if rc != 0 {
                return Err(os_error("pthread_mutexattr_setpshared", rc));
            }
            // SAFETY: `attr` was initialised above.
            let rc = unsafe {
                libc::pthread_mutexattr_setrobust(attr.as_mut_ptr(), libc::PTHREAD_MUTEX_ROBUST)
            };
            if rc != 0 {
                return Err(os_error("pthread_mutexattr_setrobust", rc));
            }
            // SAFETY: `attr` was initialised above.
            let rc = unsafe { libc::pthread_mutexattr_settype(attr.as_mut_ptr(), kind) };
            if rc != 0 {
                return Err(os_error("pthread_mutexattr_settype", rc));
            }
            // `RobustMutex` is `repr(C)` with the mutex, in a
            // `repr(transparent)` `UnsafeCell`, as its only field: `this` is
            // the pthread_mutex_t's address.
            // SAFETY: the caller guarantees `this` is valid for writes and
            // unused; `attr` is initialised.
            let rc = unsafe { libc::pthread_mutex_init(this.cast(), attr.as_ptr()) };
            if rc != 0 {
                return Err(os_error("pthread_mutex_init", rc));
            }
            Ok(())
        })();
        // SAFETY: `attr` was initialised and is not used after this.
        unsafe { libc::pthread_mutexattr_destroy(attr.as_mut_ptr()) };
        result
    }

    /// Checks, before anyone locks it, that the mutex at `this` has exactly
    /// the kind word [`RobustMutex::init`] writes for `kind` (type, robust
    /// and process-shared bits). glibc trusts that word: a zeroed one makes
    /// a private, non-robust mutex that hangs or aborts between processes,
    /// and other kinds abort inside glibc. On a mismatch, the word found.
    ///
    /// # Safety
    ///
    /// `this` is valid for reads and writes of `size_of::<RobustMutex>()`
    /// bytes and aligned, for the duration of the call (it is only read);
    /// other processes access it
    /// only through the pthread functions or atomically.
    pub(crate) unsafe fn check_kind(
        this: *const RobustMutex,
        kind: MutexKind,
    ) -> std::result::Result<(), i32> {
        debug_assert!(this.is_aligned());
        let word = this
            .cast::<u8>()
            .wrapping_add(KIND_OFFSET)
            .cast::<i32>()
            .cast_mut();
        // SAFETY: `word` is inside the mutex (KIND_OFFSET + 4 <= its size,
        // const-asserted), 4-aligned as the mutex is; glibc writes the kind
        // only in pthread_mutex_init and reads it with relaxed atomic loads,
        // so this atomic load races with nothing non-atomic.
        let found = unsafe { std::sync::atomic::AtomicI32::from_ptr(word) }
            .load(std::sync::atomic::Ordering::Relaxed);
        let expected = expected_kind(kind);
        if Some(found) == expected {
            Ok(())
        } else {
            Err(found)
        }
    }

    fn raw(&self) -> *mut libc::pthread_mutex_t {
        self.mutex.get()
    }

    #[inline(always)]
    fn acquired(call: &'static str, rc: libc::c_int) -> Result<Acquired> {
        if rc == 0 {
            Ok(Acquired::Consistent)
        } else {
            Self::not_simply_acquired(call, rc)
        }
    }

    /// [`acquired`](Self::acquired) for a non-zero `rc`: the rare answers,
    /// kept out of line so that the common one stays short enough to
    /// inline into every `lock()`.
    #[cold]
    #[inline(never)]
    fn not_simply_acquired(call: &'static str, rc: libc::c_int) -> Result<Acquired> {
        match rc {
            libc::EOWNERDEAD => Ok(Acquired::OwnerDied),
            libc::ENOTRECOVERABLE => Err(Error::NotRecoverable),
            libc::EDEADLK => Err(Error::WouldDeadlock),
            libc::EBUSY => Err(Error::WouldBlock { primitive: "lock" }),
            libc::ETIMEDOUT => Err(Error::TimedOut { primitive: "lock" }),
            rc => Err(os_error(call, rc)),
        }
    }
}

// SAFETY: a robust, process-shared pthread mutex has every property the
// trait asks for (POSIX `pthread_mutex_lock`, `pthread_mutex_consistent`):
// mutual exclusion between processes mapping it, acquire/release
// synchronisation, EOWNERDEAD for a dead owner; the timed forms use
// `pthread_mutex_clocklock` with a deadline.
unsafe impl super::RawMutex for RobustMutex {
    /// Blocks until the calling thread owns the mutex.
    #[inline(always)]
    fn acquire(&self) -> Result<Acquired> {
        // SAFETY: the mutex was initialised (type invariant).
        let rc = unsafe { libc::pthread_mutex_lock(self.raw()) };
        Self::acquired("pthread_mutex_lock", rc)
    }

    /// Takes the mutex if nobody holds it (`WouldBlock` otherwise).
    ///
    /// This is a timed lock whose deadline has passed, not
    /// `pthread_mutex_trylock`: glibc's trylock (2.36 at least), on a
    /// not-recoverable robust mutex, returns `ENOTRECOVERABLE` but leaves
    /// the mutex's futex word set to the caller's thread id, so every later
    /// lock in every process blocks or fails with `EDEADLK`. The timed lock
    /// releases it correctly; with an expired deadline it takes a free mutex
    /// at once and reports `ETIMEDOUT` for a held one (POSIX: the timeout
    /// is only checked when the mutex cannot be locked immediately).
    #[inline]
    fn try_acquire(&self) -> Result<Acquired> {
        let past = Deadline {
            at: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
        };
        match self.acquire_until(&past) {
            Err(Error::TimedOut { .. }) => Err(Error::WouldBlock { primitive: "lock" }),
            other => other,
        }
    }

    /// Blocks until the calling thread owns the mutex or `deadline` passes
    /// (`TimedOut`).
    fn acquire_until(&self, deadline: &Deadline) -> Result<Acquired> {
        // SAFETY: the mutex was initialised (type invariant); `deadline.at`
        // is a normalised timespec on CLOCK_MONOTONIC.
        let rc =
            unsafe { pthread_mutex_clocklock(self.raw(), libc::CLOCK_MONOTONIC, &deadline.at) };
        Self::acquired("pthread_mutex_clocklock", rc)
    }

    /// Releases the mutex (one level of a recursive one). A thread that
    /// does not own it gets `NotOwner` (robust mutexes check the owner).
    #[inline(always)]
    unsafe fn release(&self) -> Result<()> {
        // SAFETY: the mutex was initialised (type invariant); robust mutexes
        // check ownership, so a wrong caller gets EPERM, not corruption.
        let rc = unsafe { libc::pthread_mutex_unlock(self.raw()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(not_released(rc))
        }
    }

    /// Whether some thread, in any process, holds the mutex right now
    /// (Python's `locked()`): its futex word holds an owner's thread id.
    /// A mutex whose holder died, and that nobody has locked since, is not
    /// held. The answer may be stale as soon as it is returned.
    fn is_locked(&self) -> bool {
        // SAFETY: the futex word is the first, 4-aligned u32 of an
        // initialised glibc mutex (`__data.__lock`, see
        // `robust_mutex_held_in_this_process`), inside `self`, which lives
        // for this borrow; glibc and the kernel only ever change it with
        // atomic instructions, so an atomic load races with nothing.
        let word = unsafe { AtomicU32::from_ptr(self.raw().cast::<u32>()) };
        // Relaxed: a snapshot with no data to publish.
        word.load(std::sync::atomic::Ordering::Relaxed) & FUTEX_TID_MASK != 0
    }

    /// Marks a mutex acquired with [`Acquired::OwnerDied`] consistent again.
    fn mark_consistent(&self) -> Result<()> {
        // SAFETY: the mutex was initialised (type invariant); on a mutex
        // that is not inconsistent or not owned the call returns EINVAL.
        let rc = unsafe { libc::pthread_mutex_consistent(self.raw()) };
        match rc {
            0 => Ok(()),
            rc => Err(os_error("pthread_mutex_consistent", rc)),
        }
    }
}

/// Why `pthread_mutex_unlock` returned `rc`, not 0: out of line, as
/// [`RobustMutex::not_simply_acquired`].
#[cold]
#[inline(never)]
fn not_released(rc: libc::c_int) -> Error {
    match rc {
        libc::EPERM => Error::NotOwner { primitive: "lock" },
        rc => os_error("pthread_mutex_unlock", rc),
    }
}

/// The owner's thread id in a robust futex word (futex(2), "Robust
/// futexes"): the bits below `FUTEX_OWNER_DIED` and `FUTEX_WAITERS`.
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;

/// Whether a thread of this process holds the robust mutex whose futex word
/// is `word`: the first word of a glibc `pthread_mutex_t` (`__data.__lock`,
/// the word glibc registers with the kernel's robust-futex list), which
/// holds the owner's thread id while the mutex is locked and no thread id
/// (0, or only `FUTEX_OWNER_DIED`) while it is free.
///
/// A mutex held by this process is on its owner's robust list, which glibc
/// and the kernel write through at the address the mutex was locked at: such
/// memory must stay mapped (see `Segment`'s `Drop`). A thread id of another
/// process that happens to equal one of ours (another pid namespace) only
/// makes this answer `true` needlessly.
pub(crate) fn robust_mutex_held_in_this_process(word: &AtomicU32) -> bool {
    // Relaxed: only the owner field matters, and a lock taken by a thread of
    // this process that then gave up its handle happens-before the last
    // handle's drop that asks (the `Arc` that shares the handle orders it).
    let owner = word.load(std::sync::atomic::Ordering::Relaxed) & FUTEX_TID_MASK;
    let Ok(tid) = libc::pid_t::try_from(owner) else {
        return false;
    };
    if tid == 0 {
        return false;
    }
    let Ok(pid) = libc::pid_t::try_from(std::process::id()) else {
        return false;
    };
    // SAFETY: `tgkill` with signal 0 sends nothing (tgkill(2)); it only
    // checks that thread `tid` exists in thread group `pid`, this process.
    let rc = unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, 0) };
    rc == 0
}

/// Why [`futex_wait`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Woken, interrupted, or the word no longer held the expected value:
    /// the caller re-checks its condition.
    Maybe,
    /// The deadline passed.
    TimedOut,
}

/// Sleeps while `word` holds `expected`, until woken by [`futex_wake`] or
/// until `deadline`. Shared (not `FUTEX_PRIVATE_FLAG`) futexes are keyed by
/// the physical page, so this works across processes mapping the same
/// memory. A process killed while sleeping here leaves nothing behind.
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, deadline: Option<&Deadline>) -> Wake {
    let timeout = deadline.map_or(std::ptr::null(), |d| &d.at as *const libc::timespec);
    // FUTEX_WAIT_BITSET takes an absolute timeout, on CLOCK_MONOTONIC
    // without FUTEX_CLOCK_REALTIME (futex(2)).
    // SAFETY: `word` is a live, aligned 32-bit atomic; `timeout` is null or
    // a valid timespec; the unused uaddr2 is null.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT_BITSET,
            expected,
            timeout,
            std::ptr::null::<u32>(),
            libc::FUTEX_BITSET_MATCH_ANY,
        )
    };
    if rc == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ETIMEDOUT) {
        Wake::TimedOut
    } else {
        Wake::Maybe
    }
}

/// Wakes up to `count` threads (of any process) sleeping on `word`.
pub(crate) fn futex_wake(word: &AtomicU32, count: i32) {
    // SAFETY: `word` is a live, aligned 32-bit atomic; FUTEX_WAKE reads no
    // other argument.
    let rc = unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, count) };
    debug_assert!(rc >= 0, "FUTEX_WAKE failed: {}", io::Error::last_os_error());
}

/// Wakes every thread sleeping on `word`.
pub(crate) fn futex_wake_all(word: &AtomicU32) {
    futex_wake(word, i32::MAX);
}
