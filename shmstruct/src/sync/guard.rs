//! [`Guard`]: the one guard of every mutex of this module, and
//! [`DataGuard`], a guard with the data it protects.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};

use super::area::Beside;
use super::os::{Acquired, Deadline, RobustMutex};
use super::{poison, seqlock, LockError, LockResult, OwnerDied, RawLock, RawMutex, RawRLock};
use crate::segment::Segment;
use crate::Result;

/// Proof that this thread holds a [`RawMutex`]; dropping it releases the
/// mutex (one level of a reentrant one).
///
/// The guards of [`RawLock`] ([`LockGuard`]), [`RawRLock`]
/// ([`RLockGuard`]) and of the named [`Lock`](crate::Lock) and
/// [`Condition`](crate::Condition) ([`NamedLockGuard`]) are all this type.
/// A guard of a lock that lives in a segment also knows:
///
/// - the poison word beside the lock, for a lock in a segment (the named
///   locks and condition, and the locks of `Value`, `Array` and byte
///   strings): it poisons the data if dropped while its thread panics;
/// - for a segment's own non-reentrant lock, the sequence word too, which it
///   keeps odd while it lives (see
///   [`segment::header`](crate::segment::header#lock-modes));
/// - the segment it lives in, whose identity (device and inode) is the
///   same in every process and mapping, so that objects guarded by the
///   lock can check that a guard is of their lock (not a guard inside a
///   [`DataGuard`], which lends the data itself).
///
/// Not `Send`: a pthread mutex must be released by the thread that locked
/// it.
///
/// [`NamedLockGuard`]: crate::NamedLockGuard
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct Guard<'a, M: RawMutex + ?Sized> {
    // Only references and a flag: `lock()` builds the guard once, from
    // these, at the end of an inlined path, where it stays in registers
    // (see `poison::lock`).
    mutex: &'a M,
    /// The poison word beside the lock, for a lock that has one (see
    /// [`super::poison`]).
    poison: Option<&'a AtomicU32>,
    /// The sequence word beside the lock, for a lock that has one, which
    /// this guard keeps odd (see [`super::seqlock`]).
    sequence: Option<&'a AtomicU64>,
    /// The segment the lock lives in, if it does.
    segment: Option<&'a Segment>,
    inconsistent: bool,
    _not_send: PhantomData<*const ()>,
}

/// The guard of a [`RawLock`] (and of a [`Lock`](crate::Lock)).
pub type LockGuard<'a> = Guard<'a, RawLock>;

/// The guard of one level of a [`RawRLock`] (and of an
/// [`RLock`](crate::RLock)).
pub type RLockGuard<'a> = Guard<'a, RawRLock>;

/// A primitive's internal mutex, held; released on drop.
pub(super) type Held<'a> = Guard<'a, RobustMutex>;

/// How long a bounded call may still wait for a primitive's internal mutex
/// after its own deadline: a live, running process holds that mutex only
/// for a few instructions, so this is scheduling noise. A stopped or forged
/// holder costs a bounded call no more than this.
const ENTER_GRACE: std::time::Duration = std::time::Duration::from_millis(2);

impl<'a, M: RawMutex + ?Sized> Guard<'a, M> {
    /// The guard of `mutex`, which this thread has just locked.
    #[inline]
    pub(super) fn new(mutex: &'a M, inconsistent: bool) -> Self {
        Guard {
            mutex,
            poison: None,
            sequence: None,
            segment: None,
            inconsistent,
            _not_send: PhantomData,
        }
    }

    /// The result of locking `mutex`: its guard, or the guard inside
    /// [`LockError::OwnerDied`], or why it is not held.
    #[inline]
    pub(super) fn acquired(mutex: &'a M, acquired: Result<Acquired>) -> LockResult<Self> {
        match acquired? {
            Acquired::Consistent => Ok(Guard::new(mutex, false)),
            Acquired::OwnerDied => Err(LockError::OwnerDied(OwnerDied::new(Guard::new(
                mutex, true,
            )))),
        }
    }

    /// The guard of `mutex`, a lock of `segment` with the words `beside`
    /// it, which this thread has just locked, found consistent and checked
    /// for poison ([`poison::lock`]): starts a write in the sequence word,
    /// if there is one, which the guard's drop ends.
    #[inline(always)]
    pub(crate) fn poisoning(mutex: &'a M, beside: Beside<'a>, segment: &'a Segment) -> Self {
        if let Some(sequence) = beside.sequence {
            seqlock::begin_write(sequence);
        }
        Guard {
            mutex,
            poison: Some(beside.poison),
            sequence: beside.sequence.map(|sequence| sequence.word),
            segment: Some(segment),
            inconsistent: false,
            _not_send: PhantomData,
        }
    }

    /// Whether this guard holds the lock of segment `identity`.
    pub(crate) fn holds(&self, identity: (u64, u64)) -> bool {
        self.segment
            .is_some_and(|segment| segment.identity() == identity)
    }

    /// The lock this guard holds.
    pub fn lock(&self) -> &'a M {
        self.mutex
    }

    /// `false` while the lock is held after its previous holder died and
    /// before [`mark_consistent`](Guard::mark_consistent).
    pub fn is_consistent(&self) -> bool {
        !self.inconsistent
    }

    /// Declares the guarded data repaired after the previous holder died
    /// (`pthread_mutex_consistent`), so the lock stays usable after this
    /// guard drops. Does nothing on a consistent lock.
    ///
    /// # Errors
    ///
    /// [`Error::SyncOs`](crate::Error::SyncOs) if the pthread library
    /// refuses.
    pub fn mark_consistent(&mut self) -> Result<()> {
        if self.inconsistent {
            self.mutex.mark_consistent()?;
            self.inconsistent = false;
        }
        Ok(())
    }

    /// Whether the data this lock guards is marked poisoned: a holder died
    /// or panicked while holding the lock, and nobody has called
    /// [`clear_poison`](Guard::clear_poison) since. Always `false` for a
    /// lock without a poison word (one in place in other memory than a
    /// segment's).
    pub fn is_poisoned(&self) -> bool {
        self.poison.is_some_and(poison::is_set)
    }

    /// Declares the guarded data repaired: later `lock()`, `get()` and
    /// `set()` calls succeed again in every process (as
    /// [`std::sync::Mutex::clear_poison`]). Does nothing if the data is not
    /// poisoned, or for a lock without a poison word.
    pub fn clear_poison(&mut self) {
        if let Some(word) = self.poison {
            poison::clear(word);
        }
    }

    /// Gives up the guard without releasing: the caller takes over the
    /// responsibility to release (condition waits).
    pub(crate) fn into_held(self) -> &'a M {
        debug_assert!(self.sequence.is_none(), "no write may be left open");
        let mutex = self.mutex;
        std::mem::forget(self);
        mutex
    }
}

impl<'a> Held<'a> {
    /// Locks a primitive's internal `mutex`; if its holder died inside the
    /// primitive's own bookkeeping, runs `repair` before marking it
    /// consistent. With a `deadline`, gives up with
    /// [`crate::Error::TimedOut`] once it has passed and [`ENTER_GRACE`]
    /// more has elapsed, so that bounded calls stay bounded whatever the
    /// mutex's holder does.
    pub(super) fn enter_by(
        mutex: &'a RobustMutex,
        deadline: Option<&Deadline>,
        repair: impl FnOnce(),
    ) -> Result<Held<'a>> {
        let acquired = match deadline {
            None => mutex.acquire(),
            Some(deadline) => mutex.acquire_until(&deadline.max_after(ENTER_GRACE)),
        };
        match Guard::acquired(mutex, acquired) {
            Ok(held) => Ok(held),
            Err(LockError::OwnerDied(died)) => {
                repair();
                let mut held = died.into_guard();
                held.mark_consistent()?;
                Ok(held)
            }
            Err(LockError::Failed(error)) => Err(error),
        }
    }
}

impl<'a> LockGuard<'a> {
    /// Gives access to `data`, which this lock guards, for as long as the
    /// lock is held: the building block of a `Value<T>`'s lock, and of one
    /// lock shared by several objects.
    ///
    /// # Safety
    ///
    /// `data` is valid for reads and writes of a `T`, aligned, for `'a`;
    /// every bit pattern another process may store there is a valid `T`;
    /// and every thread of every process reads or writes it only while
    /// holding this lock (so the `&mut T` the guard hands out is exclusive).
    #[inline]
    pub unsafe fn guarding<T: ?Sized>(mut self, data: NonNull<T>) -> DataGuard<'a, T> {
        // The guard inside a `DataGuard` proves nothing to the `*_locked`
        // accessors: through `lock_guard()` it would let them write the
        // data behind a `&T` the `DataGuard` still lends.
        self.segment = None;
        DataGuard { guard: self, data }
    }
}

impl RLockGuard<'_> {
    /// Keeps this level held without a guard; release it later with
    /// [`RawRLock::release`](super::RobustLock::release) from this thread
    /// (Python's `acquire()` without `with`). An inconsistent guard is
    /// leaked as it is: mark it consistent first, or the release makes the
    /// lock not recoverable.
    pub fn leak(self) {
        std::mem::forget(self);
    }
}

impl<M: RawMutex + ?Sized> Drop for Guard<'_, M> {
    #[inline]
    fn drop(&mut self) {
        if let Some(word) = self.poison {
            // A guard dropped while its thread unwinds may leave the data
            // half-written: mark it before anyone else can lock (as std's
            // `Mutex` poisons).
            if std::thread::panicking() {
                poison::set(word);
            }
        }
        // After the poison word, so that a reader that sees the even
        // sequence value sees the poisoning too.
        if let Some(sequence) = self.sequence {
            seqlock::end_write(sequence);
        }
        // After an owner death without `mark_consistent`, this release is
        // what makes the mutex not recoverable (POSIX): that is intended.
        // It fails only for a level of a `RawRLock` already given back with
        // `release`, which leaves nothing to do.
        // SAFETY: this thread locked the mutex (the guard exists), and the
        // guard, dropping, no longer relies on it; a `DataGuard`'s `&mut`
        // borrows the guard, so none outlives this.
        let _ = unsafe { self.mutex.release() };
    }
}

impl<M: RawMutex + ?Sized> std::fmt::Debug for Guard<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("consistent", &self.is_consistent())
            .field("poisoned", &self.is_poisoned())
            .finish_non_exhaustive()
    }
}

/// A held [`RawLock`] and the data it guards, readable and writable through
/// `Deref`/`DerefMut` until the guard drops (made by
/// [`LockGuard::guarding`](Guard::guarding)).
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct DataGuard<'a, T: ?Sized> {
    guard: LockGuard<'a>,
    data: NonNull<T>,
}

impl<'a, T: ?Sized> DataGuard<'a, T> {
    /// The lock guard inside.
    pub fn lock_guard(&self) -> &LockGuard<'a> {
        &self.guard
    }

    /// See [`Guard::is_consistent`].
    pub fn is_consistent(&self) -> bool {
        self.guard.is_consistent()
    }

    /// See [`Guard::mark_consistent`].
    ///
    /// # Errors
    ///
    /// As [`Guard::mark_consistent`].
    pub fn mark_consistent(&mut self) -> Result<()> {
        self.guard.mark_consistent()
    }

    /// See [`Guard::is_poisoned`].
    pub fn is_poisoned(&self) -> bool {
        self.guard.is_poisoned()
    }

    /// See [`Guard::clear_poison`].
    pub fn clear_poison(&mut self) {
        self.guard.clear_poison();
    }
}

impl<T: ?Sized> Deref for DataGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: `guarding`'s contract: valid, aligned, and nobody else
        // touches it while the lock is held, which it is for `self`'s life.
        unsafe { self.data.as_ref() }
    }
}

impl<T: ?Sized> DerefMut for DataGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this borrow unique within
        // the process, and the lock excludes every other thread and process.
        unsafe { self.data.as_mut() }
    }
}

impl<T: ?Sized> std::fmt::Debug for DataGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataGuard")
            .field("consistent", &self.is_consistent())
            .finish_non_exhaustive()
    }
}
