//! Process-shared, crash-robust synchronisation primitives that live *in
//! place* inside shared memory: [`RawLock`], [`RawRLock`], [`RawSemaphore`]
//! (also bounded), [`RawEvent`], [`RawCondition`] and [`RawBarrier`].
//!
//! # In-place types
//!
//! Each type is `#[repr(C)]`, has a fixed `size_of`
//! and alignment (its `SIZE` and `ALIGN` constants) so that a segment can
//! reserve room for it, and is never moved or copied once initialised:
//!
//! 1. the creator of the memory calls the type's `unsafe fn init(ptr, ..)`
//!    once, before any other process may look at it (segments publish their
//!    header's ready state after that);
//! 2. every process, the creator included, then turns the pointer into a
//!    `&'a Primitive` (`unsafe fn from_ptr`) valid while its mapping lives;
//! 3. all operations take `&self`. That is sound although other threads and
//!    processes change the memory at any time, because everything inside is
//!    interior-mutable: a pthread mutex in an [`UnsafeCell`](core::cell::UnsafeCell)
//!    used only through the pthread functions, and atomics.
//!
//! Sizes and alignments on x86-64 glibc (aarch64 glibc's `pthread_mutex_t`
//! is 8 bytes larger, which every mutex-holding type inherits):
//!
//! | type | `SIZE` | `ALIGN` |
//! |---|---|---|
//! | [`RawLock`], [`RawRLock`] | 40 | 8 |
//! | [`RawCondition`] | 56 | 8 |
//! | [`RawBarrier`] | 64 | 8 |
//! | [`RawSemaphore`] | 344 | 8 |
//! | [`RawEvent`] | 4 | 4 |
//!
//! The names carry `Raw` because they are the pieces inside shared memory;
//! the named objects (`Lock::create(name)`) and the `Value<T>` lock are
//! built on them.
//!
//! # One mutex interface, one guard
//!
//! As in lock_api, every mutex here sits under one `unsafe trait`,
//! [`RawMutex`] (acquire, try, acquire by a [`Deadline`], release, mark
//! consistent), implemented by [`RawLock`] and [`RawRLock`] (one type,
//! [`RobustLock`], of two kinds) and by the internal mutex of the other
//! primitives; and one generic [`Guard`] holds any of them: [`LockGuard`],
//! [`RLockGuard`] and the named [`NamedLockGuard`](crate::NamedLockGuard)
//! are that guard. [`DataGuard`] is a [`LockGuard`] with the data it
//! protects.
//!
//! # When a process dies
//!
//! No process can deadlock the others by dying inside a primitive:
//!
//! - [`RawLock`]/[`RawRLock`] are robust pthread mutexes: the next locker is
//!   told the owner died ([`LockError::OwnerDied`]), gets the guard, repairs
//!   the data and calls `mark_consistent`; if it does not, the lock becomes
//!   [`Error::NotRecoverable`]. The named objects (`Lock`, `RLock`,
//!   `Condition`, and the locks of `Value`, `Array` and `SharedBytes`) do
//!   not expose this: they mark the mutex consistent themselves and keep a
//!   poison flag beside it instead (see
//!   [`Value`](crate::Value#when-a-lock-holder-dies)), so their locks stay
//!   usable and report `Error::Poisoned` until repaired: one notion of a
//!   dead holder for everything that lives in a segment.
//!   The in-place locks keep the POSIX protocol because they have no place
//!   for that flag that every process would know of (they may live in any
//!   memory, such as a field of a user's struct): a panicking holder of a
//!   [`RawLock`] guard does not poison it.
//! - The others keep their state behind an internal robust mutex that they
//!   repair themselves, and sleep on futexes (a killed sleeper leaves nothing
//!   behind): a dead [`RawSemaphore`] holder's permits are reclaimed (see its
//!   docs for exactly when), a dead [`RawCondition`] waiter is simply gone,
//!   and a process killed while waiting at a [`RawBarrier`] still counts as
//!   arrived.
//!
//! Timeouts are measured on the monotonic clock and reported as
//! [`Error::TimedOut`]; `try_*` forms report
//! [`Error::WouldBlock`].
//!
//! # Platform
//!
//! Linux with glibc ≥ 2.30, 64-bit. The memory layout is glibc's
//! `pthread_mutex_t`, so every process sharing a primitive must use glibc
//! (C programs linked against glibc can share a [`RawLock`] directly).

use std::fmt;

use crate::Error;

mod area;
mod barrier;
mod condition;
mod event;
mod guard;
mod lock;
pub(crate) mod poison;
mod raw;
mod semaphore;
pub(crate) mod seqlock;

#[cfg_attr(target_os = "linux", path = "linux.rs")]
mod os;

pub(crate) use area::{Beside, LockWords};
pub use barrier::RawBarrier;
pub use condition::{RawCondition, WaitTimeoutResult};
pub use event::RawEvent;
use guard::Held;
pub use guard::{DataGuard, Guard, LockGuard, RLockGuard};
pub use lock::{Exclusive, LockKind, RawLock, RawRLock, Reentrant, RobustLock};
pub(crate) use os::{robust_mutex_held_in_this_process, MutexKind, RobustMutex};
pub use os::{Acquired, Deadline};
pub use raw::RawMutex;
pub use semaphore::{RawSemaphore, SemaphoreGuard};

/// The result of acquiring a lock: the guard, or why there is none (or why
/// the guard comes with a warning).
pub type LockResult<G> = Result<G, LockError<G>>;

/// Why acquiring a lock did not simply succeed.
pub enum LockError<G> {
    /// The lock was acquired, but its previous holder died while holding it,
    /// so the data it guards may be half-updated. The guard is inside.
    OwnerDied(OwnerDied<G>),
    /// The lock was not acquired: [`Error::TimedOut`], [`Error::WouldBlock`],
    /// [`Error::NotRecoverable`], [`Error::WouldDeadlock`], ...
    Failed(Error),
}

impl<G> LockError<G> {
    /// Applies `f` to the guard an [`LockError::OwnerDied`] carries (e.g. to
    /// wrap a lock guard into a data guard).
    pub fn map<H>(self, f: impl FnOnce(G) -> H) -> LockError<H> {
        match self {
            LockError::OwnerDied(died) => LockError::OwnerDied(died.map(f)),
            LockError::Failed(error) => LockError::Failed(error),
        }
    }

    /// The [`OwnerDied`] inside, if that is what this is.
    pub fn owner_died(self) -> Option<OwnerDied<G>> {
        match self {
            LockError::OwnerDied(died) => Some(died),
            LockError::Failed(_) => None,
        }
    }
}

impl<G> From<Error> for LockError<G> {
    fn from(error: Error) -> Self {
        LockError::Failed(error)
    }
}

/// Converting drops the guard of an [`LockError::OwnerDied`] without marking
/// the lock consistent, so the in-place lock becomes not recoverable: `?` on
/// a lock result of the in-place API is the conservative choice (nobody
/// repaired the data, so nobody may use it again). The named objects'
/// `lock()` returns [`Error::Poisoned`] instead, and no such guard.
impl<G> From<LockError<G>> for Error {
    fn from(error: LockError<G>) -> Self {
        match error {
            LockError::OwnerDied(_) => Error::OwnerDied,
            LockError::Failed(error) => error,
        }
    }
}

impl<G> fmt::Debug for LockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::OwnerDied(died) => f.debug_tuple("OwnerDied").field(died).finish(),
            LockError::Failed(error) => f.debug_tuple("Failed").field(error).finish(),
        }
    }
}

impl<G> fmt::Display for LockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::OwnerDied(died) => died.fmt(f),
            LockError::Failed(error) => error.fmt(f),
        }
    }
}

impl<G> std::error::Error for LockError<G> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LockError::OwnerDied(_) => None,
            LockError::Failed(error) => Some(error),
        }
    }
}

/// The previous holder of a lock died while holding it; this carries the
/// guard of the now-held lock, as [`std::sync::PoisonError`] does.
///
/// Repair the data through the guard, then call the guard's
/// `mark_consistent`. Dropping the guard without that releases the lock in
/// a state no one can acquire again ([`Error::NotRecoverable`]).
pub struct OwnerDied<G> {
    guard: G,
}

impl<G> OwnerDied<G> {
    pub(crate) fn new(guard: G) -> Self {
        OwnerDied { guard }
    }

    /// The guard, to repair the data and mark the lock consistent.
    pub fn into_guard(self) -> G {
        self.guard
    }

    /// The guard, by reference.
    pub fn guard(&self) -> &G {
        &self.guard
    }

    /// The guard, by mutable reference.
    pub fn guard_mut(&mut self) -> &mut G {
        &mut self.guard
    }

    /// Applies `f` to the guard inside.
    pub fn map<H>(self, f: impl FnOnce(G) -> H) -> OwnerDied<H> {
        OwnerDied {
            guard: f(self.guard),
        }
    }
}

impl<G> fmt::Debug for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnerDied").finish_non_exhaustive()
    }
}

impl<G> fmt::Display for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the previous holder of the lock died while holding it; \
             repair the data, then mark the lock consistent",
        )
    }
}

impl<G> std::error::Error for OwnerDied<G> {}
