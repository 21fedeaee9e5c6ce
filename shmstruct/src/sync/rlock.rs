//! [`RawRLock`]: a process-shared, robust, reentrant mutex in place.

use std::marker::PhantomData;
use std::time::Duration;

use super::os::{Acquired, Deadline, MutexKind, RobustMutex};
use super::{LockError, LockResult, OwnerDied};
use crate::Result;

/// A reentrant lock shared by processes, living in shared memory: Python's
/// `multiprocessing.RLock`, robust like [`RawLock`](super::RawLock).
///
/// The thread that holds it may lock it again; it is free for others once
/// every guard is dropped (or every level released). It is a glibc
/// `pthread_mutex_t` with `PTHREAD_PROCESS_SHARED`, `PTHREAD_MUTEX_ROBUST`
/// and `PTHREAD_MUTEX_RECURSIVE`: [`RawRLock::SIZE`] bytes, aligned to
/// [`RawRLock::ALIGN`]. Owner death is reported as for
/// [`RawLock`](super::RawLock) ([`LockError::OwnerDied`]).
///
/// # Releasing, Python-style
///
/// Python's `RLock.release()` from a thread that does not own the lock
/// raises `RuntimeError`. Guards make that structurally impossible: a guard
/// is made only by the locking thread and cannot be sent to another
/// (`!Send`). For code that acquires and releases in separate places, as
/// Python does, [`RLockGuard::leak`] keeps a level held without a guard
/// and [`RawRLock::release`] gives one level back; `release` from a thread
/// that does not hold the lock is [`Error::NotOwner`](crate::Error::NotOwner)
/// (the robust mutex checks the owner).
///
/// Because the owner can hold several guards at once, a `RawRLock` guard
/// never hands out `&mut` access to data.
///
/// # Examples
///
/// ```
/// use std::mem::MaybeUninit;
/// use shmstruct::sync::RawRLock;
///
/// let mut memory = MaybeUninit::<RawRLock>::uninit();
/// // SAFETY: the memory is writable, aligned and not used by anyone else.
/// unsafe { RawRLock::init(memory.as_mut_ptr()) }?;
/// // SAFETY: initialised above; `memory` outlives `lock`.
/// let lock = unsafe { RawRLock::from_ptr(memory.as_ptr()) };
/// let outer = lock.lock()?;
/// let inner = lock.lock()?; // the owner may lock again
/// drop(inner);
/// drop(outer);
///
/// lock.lock()?.leak(); // acquire()...
/// lock.release()?; // ...release()
/// assert!(lock.release().is_err()); // not held any more
/// # Ok::<(), shmstruct::Error>(())
/// ```
#[repr(C)]
pub struct RawRLock {
    mutex: RobustMutex,
}

impl RawRLock {
    /// Whether it starts with an error-checking robust mutex (it is a whole mutex, checked through the lock mode),
    /// whose kind an opener checks before anyone locks it.
    pub(crate) const STARTS_WITH_MUTEX: bool = false;

    /// Bytes to reserve for a `RawRLock`.
    pub const SIZE: usize = std::mem::size_of::<RawRLock>();
    /// The alignment a `RawRLock` needs.
    pub const ALIGN: usize = std::mem::align_of::<RawRLock>();

    /// Initialises an unlocked reentrant lock at `ptr`. Only the creator of
    /// the memory calls this, once, before other processes look at it.
    ///
    /// # Safety
    ///
    /// As [`RawLock::init`](super::RawLock::init).
    ///
    /// # Errors
    ///
    /// [`Error::SyncOs`](crate::Error::SyncOs) if the pthread library
    /// refuses.
    pub unsafe fn init(ptr: *mut RawRLock) -> Result<()> {
        // SAFETY: forwarded from the caller; `mutex` is at offset 0 of a
        // `repr(C)` struct.
        unsafe { RobustMutex::init(ptr.cast(), MutexKind::Recursive) }
    }

    /// The reentrant lock at `ptr`, for lifetime `'a`.
    ///
    /// # Safety
    ///
    /// As [`RawLock::from_ptr`](super::RawLock::from_ptr), for a lock
    /// [`RawRLock::init`] initialised.
    pub unsafe fn from_ptr<'a>(ptr: *const RawRLock) -> &'a RawRLock {
        debug_assert!(ptr.is_aligned());
        // SAFETY: the caller guarantees an initialised lock that lives for
        // 'a; its state is interior-mutable.
        unsafe { &*ptr }
    }

    fn guard(&self, acquired: Result<Acquired>) -> LockResult<RLockGuard<'_>> {
        match acquired? {
            Acquired::Consistent => Ok(RLockGuard::new(self, false)),
            Acquired::OwnerDied => Err(LockError::OwnerDied(OwnerDied::new(RLockGuard::new(
                self, true,
            )))),
        }
    }

    /// Blocks until this thread holds the lock (at once if it already does).
    ///
    /// # Errors
    ///
    /// [`LockError::OwnerDied`] (acquired; the guard is inside),
    /// [`Error::NotRecoverable`](crate::Error::NotRecoverable), and
    /// [`Error::SyncOs`](crate::Error::SyncOs) past the recursion limit.
    pub fn lock(&self) -> LockResult<RLockGuard<'_>> {
        self.guard(self.mutex.lock())
    }

    /// Whether any thread of any process holds the lock, at any depth
    /// (Python's `RLock.locked()`). Only a snapshot: it may change right
    /// after.
    pub fn locked(&self) -> bool {
        self.mutex.is_locked()
    }

    /// Takes the lock if nobody else holds it.
    ///
    /// # Errors
    ///
    /// [`Error::WouldBlock`](crate::Error::WouldBlock) if another thread
    /// holds it, and those of [`RawRLock::lock`].
    pub fn try_lock(&self) -> LockResult<RLockGuard<'_>> {
        self.guard(self.mutex.try_lock())
    }

    /// Blocks until this thread holds the lock or `timeout` (monotonic
    /// clock) has passed.
    ///
    /// # Errors
    ///
    /// [`Error::TimedOut`](crate::Error::TimedOut), and those of
    /// [`RawRLock::lock`].
    pub fn lock_timeout(&self, timeout: Duration) -> LockResult<RLockGuard<'_>> {
        self.guard(self.mutex.lock_until(&Deadline::after(timeout)))
    }

    /// Releases one level held by this thread without a guard (see
    /// [`RLockGuard::leak`]): Python's `RLock.release()`.
    ///
    /// # Errors
    ///
    /// [`Error::NotOwner`](crate::Error::NotOwner) if this thread does not
    /// hold the lock.
    pub fn release(&self) -> Result<()> {
        self.mutex.unlock()
    }
}

impl std::fmt::Debug for RawRLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRLock").finish_non_exhaustive()
    }
}

/// Proof that this thread holds one level of a [`RawRLock`]; dropping it
/// releases that level. Not `Send` (the owner thread must release).
#[must_use = "the lock level is released as soon as the guard is dropped"]
pub struct RLockGuard<'a> {
    lock: &'a RawRLock,
    inconsistent: bool,
    _not_send: PhantomData<*const ()>,
}

impl<'a> RLockGuard<'a> {
    fn new(lock: &'a RawRLock, inconsistent: bool) -> Self {
        RLockGuard {
            lock,
            inconsistent,
            _not_send: PhantomData,
        }
    }

    /// The lock this guard holds.
    pub fn lock(&self) -> &'a RawRLock {
        self.lock
    }

    /// `false` while held after the previous holder died and before
    /// [`RLockGuard::mark_consistent`].
    pub fn is_consistent(&self) -> bool {
        !self.inconsistent
    }

    /// Declares the guarded data repaired after the previous holder died,
    /// so the lock stays usable. Does nothing on a consistent lock.
    ///
    /// # Errors
    ///
    /// [`Error::SyncOs`](crate::Error::SyncOs) if the pthread library
    /// refuses.
    pub fn mark_consistent(&mut self) -> Result<()> {
        if self.inconsistent {
            self.lock.mutex.mark_consistent()?;
            self.inconsistent = false;
        }
        Ok(())
    }

    /// Keeps this level held without a guard; release it later with
    /// [`RawRLock::release`] from this thread (Python's `acquire()` without
    /// `with`). An inconsistent guard is leaked as it is: mark it
    /// consistent first, or the release makes the lock not recoverable.
    pub fn leak(self) {
        std::mem::forget(self);
    }
}

impl Drop for RLockGuard<'_> {
    fn drop(&mut self) {
        // Err only if this level was already given back with `release`.
        let _ = self.lock.mutex.unlock();
    }
}

impl std::fmt::Debug for RLockGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RLockGuard")
            .field("consistent", &self.is_consistent())
            .finish_non_exhaustive()
    }
}
