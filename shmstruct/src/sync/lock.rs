//! [`RawLock`]: a process-shared, robust, non-reentrant mutex in place.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::time::Duration;

use super::area::LockWords;
use super::os::{Acquired, Deadline, MutexKind, RobustMutex};
use super::{poison, seqlock, LockError, LockResult, OwnerDied};
use crate::Result;

/// A lock shared by processes, living in shared memory: Python's
/// `multiprocessing.Lock`, but robust (a holder that dies does not
/// deadlock the others) and owned (only the thread that locked it unlocks
/// it, by dropping its guard).
///
/// It is a glibc `pthread_mutex_t` initialised with `PTHREAD_PROCESS_SHARED`,
/// `PTHREAD_MUTEX_ROBUST` and `PTHREAD_MUTEX_ERRORCHECK`, nothing else:
/// [`RawLock::SIZE`] bytes (40 on x86-64 and 48 on aarch64 glibc),
/// aligned to [`RawLock::ALIGN`].
///
/// # Sharing
///
/// A `RawLock` is created in place ([`RawLock::init`]) and reached through a
/// shared reference ([`RawLock::from_ptr`]); see [the module docs](super)
/// for why `&self` methods are sound on memory other processes change.
///
/// # When the holder dies
///
/// If a process (or thread) dies holding the lock, the next
/// [`lock`](RawLock::lock) returns [`LockError::OwnerDied`] carrying the
/// guard. The caller repairs whatever the dead holder may have left
/// half-written, then calls [`LockGuard::mark_consistent`]. A guard
/// dropped without that leaves the lock permanently unusable: every later
/// attempt fails with [`Error::NotRecoverable`](crate::Error::NotRecoverable).
///
/// A lock in place has no poison flag: a thread that panics holding its
/// guard releases it normally. The named [`Lock`](crate::Lock) and the
/// locks of `Value`, `Array` and `SharedBytes` poison instead (see
/// [`Value`](crate::Value#when-a-lock-holder-dies)).
///
/// # Examples
///
/// ```
/// use std::mem::MaybeUninit;
/// use shmstruct::sync::RawLock;
///
/// // Any memory will do for one process; between processes it lives in a
/// // shared mapping.
/// let mut memory = MaybeUninit::<RawLock>::uninit();
/// // SAFETY: the memory is writable, aligned and not used by anyone else.
/// unsafe { RawLock::init(memory.as_mut_ptr()) }?;
/// // SAFETY: initialised above; `memory` outlives `lock`.
/// let lock = unsafe { RawLock::from_ptr(memory.as_ptr()) };
/// {
///     let _guard = lock.lock()?;
///     assert!(lock.try_lock().is_err()); // held: it would block
/// }
/// assert!(lock.try_lock().is_ok());
/// # Ok::<(), shmstruct::Error>(())
/// ```
#[repr(C)]
pub struct RawLock {
    pub(super) mutex: RobustMutex,
}

impl RawLock {
    /// Bytes to reserve for a `RawLock`.
    pub const SIZE: usize = std::mem::size_of::<RawLock>();
    /// The alignment a `RawLock` needs.
    pub const ALIGN: usize = std::mem::align_of::<RawLock>();

    /// Initialises an unlocked lock at `ptr`. Only the creator of the
    /// memory calls this, once, before other processes look at it.
    ///
    /// # Safety
    ///
    /// `ptr` is valid for writes of [`RawLock::SIZE`] bytes and aligned to
    /// [`RawLock::ALIGN`], and no thread or process uses the memory during
    /// the call. For cross-process use the memory is a shared mapping.
    ///
    /// # Errors
    ///
    /// [`Error::SyncOs`](crate::Error::SyncOs) if the pthread library refuses (it does not on
    /// Linux).
    pub unsafe fn init(ptr: *mut RawLock) -> Result<()> {
        // SAFETY: forwarded from the caller; `mutex` is at offset 0 of a
        // `repr(C)` struct, so `ptr` is valid for it too.
        unsafe { RobustMutex::init(ptr.cast(), MutexKind::ErrorCheck) }
    }

    /// The lock at `ptr`, for lifetime `'a`.
    ///
    /// # Safety
    ///
    /// `ptr` points to a lock that [`RawLock::init`] initialised, in memory
    /// that stays mapped for `'a` and that nobody re-initialises or
    /// overwrites meanwhile.
    pub unsafe fn from_ptr<'a>(ptr: *const RawLock) -> &'a RawLock {
        debug_assert!(ptr.is_aligned());
        // SAFETY: the caller guarantees an initialised lock that lives for
        // 'a; all its state is interior-mutable, so a shared reference is
        // fine while others use it.
        unsafe { &*ptr }
    }

    pub(super) fn guard(&self, acquired: Result<Acquired>) -> LockResult<LockGuard<'_>> {
        match acquired? {
            Acquired::Consistent => Ok(LockGuard::new(self, false, None)),
            Acquired::OwnerDied => Err(LockError::OwnerDied(OwnerDied::new(LockGuard::new(
                self, true, None,
            )))),
        }
    }

    /// Blocks until this thread holds the lock.
    ///
    /// # Errors
    ///
    /// - [`LockError::OwnerDied`]: acquired, but the previous holder died
    ///   holding it; the guard is inside.
    /// - [`Error::NotRecoverable`](crate::Error::NotRecoverable): a previous holder died and the lock was
    ///   released without being marked consistent.
    /// - [`Error::WouldDeadlock`](crate::Error::WouldDeadlock): this thread already holds it.
    pub fn lock(&self) -> LockResult<LockGuard<'_>> {
        self.guard(self.mutex.lock())
    }

    /// Whether any thread of any process holds the lock (Python's
    /// `Lock.locked()`). Only a snapshot: it may change right after.
    ///
    /// ```
    /// # use shmstruct::RawLock;
    /// # let mut place = std::mem::MaybeUninit::<RawLock>::uninit();
    /// # // SAFETY: `place` is writable, aligned and unused.
    /// # unsafe { RawLock::init(place.as_mut_ptr()) }?;
    /// # // SAFETY: initialised above, lives for the example.
    /// # let lock = unsafe { RawLock::from_ptr(place.as_ptr()) };
    /// assert!(!lock.locked());
    /// let guard = lock.lock()?;
    /// assert!(lock.locked());
    /// drop(guard);
    /// assert!(!lock.locked());
    /// # Ok::<(), shmstruct::Error>(())
    /// ```
    pub fn locked(&self) -> bool {
        self.mutex.is_locked()
    }

    /// Takes the lock if nobody holds it.
    ///
    /// # Errors
    ///
    /// [`Error::WouldBlock`](crate::Error::WouldBlock) if another thread holds it,
    /// [`Error::WouldDeadlock`](crate::Error::WouldDeadlock) if this one does, and the
    /// errors of [`RawLock::lock`].
    pub fn try_lock(&self) -> LockResult<LockGuard<'_>> {
        self.guard(self.mutex.try_lock())
    }

    /// Blocks until this thread holds the lock or `timeout` (on the
    /// monotonic clock) has passed.
    ///
    /// # Errors
    ///
    /// [`Error::TimedOut`](crate::Error::TimedOut) past the timeout, and the errors of
    /// [`RawLock::lock`].
    pub fn lock_timeout(&self, timeout: Duration) -> LockResult<LockGuard<'_>> {
        self.guard(self.mutex.lock_until(&Deadline::after(timeout)))
    }
}

impl std::fmt::Debug for RawLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawLock").finish_non_exhaustive()
    }
}

/// Proof that this thread holds a [`RawLock`]; dropping it unlocks.
///
/// Not `Send`: a pthread mutex must be unlocked by the thread that locked
/// it.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a RawLock,
    inconsistent: bool,
    /// The poison and sequence words beside the lock, for locks that have
    /// them (those in a segment's lock area; see [`super::poison`] and
    /// [`super::seqlock`]).
    words: Option<&'a LockWords>,
    _not_send: PhantomData<*const ()>,
}

impl<'a> LockGuard<'a> {
    pub(super) fn new(lock: &'a RawLock, inconsistent: bool, words: Option<&'a LockWords>) -> Self {
        LockGuard {
            lock,
            inconsistent,
            words,
            _not_send: PhantomData,
        }
    }

    /// The guard of a consistent `lock`, just locked, whose lock area has
    /// `words`: starts a write in the sequence word, which the guard's drop
    /// ends.
    pub(super) fn with_words(lock: &'a RawLock, words: &'a LockWords) -> Self {
        seqlock::begin_write(&words.sequence);
        LockGuard::new(lock, false, Some(words))
    }

    /// Whether the data this lock guards is marked poisoned: a holder died
    /// or panicked while holding the lock, and nobody has called
    /// [`clear_poison`](LockGuard::clear_poison) since. Always `false` for
    /// a lock in place ([`RawLock`]), which has no poison word.
    pub fn is_poisoned(&self) -> bool {
        self.words
            .is_some_and(|words| poison::is_set(&words.poison))
    }

    /// Declares the guarded data repaired: later `lock()`, `get()` and
    /// `set()` calls succeed again in every process (as
    /// [`std::sync::Mutex::clear_poison`]). Does nothing if the data is not
    /// poisoned, or for a lock in place ([`RawLock`]).
    pub fn clear_poison(&mut self) {
        if let Some(words) = self.words {
            poison::clear(&words.poison);
        }
    }

    /// The lock this guard holds.
    pub fn lock(&self) -> &'a RawLock {
        self.lock
    }

    /// Gives up the guard without unlocking: the caller takes over the
    /// responsibility to unlock (condition waits).
    pub(super) fn into_held_lock(self) -> &'a RawLock {
        debug_assert!(self.words.is_none(), "only a condition's lock waits");
        let lock = self.lock;
        std::mem::forget(self);
        lock
    }

    /// `false` while the lock is held after its previous holder died and
    /// before [`LockGuard::mark_consistent`].
    pub fn is_consistent(&self) -> bool {
        !self.inconsistent
    }

    /// Declares the guarded data repaired after the previous holder died
    /// (`pthread_mutex_consistent`), so the lock stays usable after this
    /// guard drops. Does nothing on a consistent lock.
    ///
    /// # Errors
    ///
    /// [`Error::SyncOs`](crate::Error::SyncOs) if the pthread library refuses.
    pub fn mark_consistent(&mut self) -> Result<()> {
        if self.inconsistent {
            self.lock.mutex.mark_consistent()?;
            self.inconsistent = false;
        }
        Ok(())
    }

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
    pub unsafe fn guarding<T: ?Sized>(self, data: NonNull<T>) -> DataGuard<'a, T> {
        DataGuard { guard: self, data }
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // A guard dropped while its thread unwinds may leave the data
        // half-written: mark it before anyone else can lock (as std's
        // `Mutex` poisons).
        if let Some(words) = self.words {
            if std::thread::panicking() {
                poison::set(&words.poison);
            }
            // After the poison word, so that a reader that sees the even
            // sequence value sees the poisoning too.
            seqlock::end_write(&words.sequence);
        }
        // After an owner death without `mark_consistent`, this unlock is
        // what makes the mutex not recoverable (POSIX): that is intended.
        let unlocked = self.lock.mutex.unlock();
        debug_assert!(unlocked.is_ok(), "unlocking a held lock: {unlocked:?}");
    }
}

impl std::fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("consistent", &self.is_consistent())
            .finish_non_exhaustive()
    }
}

/// A held [`RawLock`] and the data it guards, readable and writable through
/// `Deref`/`DerefMut` until the guard drops (made by
/// [`LockGuard::guarding`]).
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

    /// See [`LockGuard::is_consistent`].
    pub fn is_consistent(&self) -> bool {
        self.guard.is_consistent()
    }

    /// See [`LockGuard::mark_consistent`].
    ///
    /// # Errors
    ///
    /// As [`LockGuard::mark_consistent`].
    pub fn mark_consistent(&mut self) -> Result<()> {
        self.guard.mark_consistent()
    }

    /// See [`LockGuard::is_poisoned`].
    pub fn is_poisoned(&self) -> bool {
        self.guard.is_poisoned()
    }

    /// See [`LockGuard::clear_poison`].
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
