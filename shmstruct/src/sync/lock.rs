//! [`RawLock`] and [`RawRLock`]: process-shared, robust mutexes in place,
//! one type ([`RobustLock`]) of two kinds.

use std::marker::PhantomData;
use std::time::Duration;

use super::os::{Acquired, Deadline, MutexKind, RobustMutex};
use super::{Guard, LockResult, RawMutex};
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
/// [`lock`](RawLock::lock) returns [`LockError::OwnerDied`](super::LockError::OwnerDied)
/// carrying the guard. The caller repairs whatever the dead holder may have
/// left half-written, then calls [`LockGuard::mark_consistent`](Guard::mark_consistent).
/// A guard dropped without that leaves the lock permanently unusable: every
/// later attempt fails with [`Error::NotRecoverable`](crate::Error::NotRecoverable).
///
/// A lock in place has no poison flag: a thread that panics holding its
/// guard releases it normally. The named [`Lock`](crate::Lock),
/// [`RLock`](crate::RLock) and [`Condition`](crate::Condition) and the
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
///     assert!(lock.locked());
/// }
/// assert!(lock.try_lock().is_ok());
/// # Ok::<(), shmstruct::Error>(())
/// ```
pub type RawLock = RobustLock<Exclusive>;

/// A reentrant lock shared by processes, living in shared memory: Python's
/// `multiprocessing.RLock`, robust like [`RawLock`].
///
/// The thread that holds it may lock it again; it is free for others once
/// every guard is dropped (or every level released). It is a glibc
/// `pthread_mutex_t` with `PTHREAD_PROCESS_SHARED`, `PTHREAD_MUTEX_ROBUST`
/// and `PTHREAD_MUTEX_RECURSIVE`: [`RawRLock::SIZE`] bytes, aligned to
/// [`RawRLock::ALIGN`]. Owner death is reported as for [`RawLock`]
/// ([`LockError::OwnerDied`](super::LockError::OwnerDied)).
///
/// # Releasing, Python-style
///
/// Python's `RLock.release()` from a thread that does not own the lock
/// raises `RuntimeError`. Guards make that structurally impossible: a guard
/// is made only by the locking thread and cannot be sent to another
/// (`!Send`). For code that acquires and releases in separate places, as
/// Python does, [`RLockGuard::leak`](Guard::leak) keeps a level held
/// without a guard and [`RawRLock::release`](RobustLock::release) gives one
/// level back; `release` from a thread that does not hold the lock is
/// [`Error::NotOwner`](crate::Error::NotOwner) (the robust mutex checks the
/// owner).
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
pub type RawRLock = RobustLock<Reentrant>;

/// The kind of a [`RobustLock`]: [`Exclusive`] ([`RawLock`]) or
/// [`Reentrant`] ([`RawRLock`]). Sealed: these two are all there is.
pub trait LockKind: sealed::Sealed {}

/// A [`RawLock`]: locking it again from the thread that holds it is
/// [`Error::WouldDeadlock`](crate::Error::WouldDeadlock).
#[derive(Debug)]
pub enum Exclusive {}

/// A [`RawRLock`]: the thread that holds it may lock it again.
#[derive(Debug)]
pub enum Reentrant {}

impl LockKind for Exclusive {}
impl LockKind for Reentrant {}

mod sealed {
    /// The pthread mutex type of a [`super::LockKind`].
    pub trait Sealed {
        /// Whether the owner may lock again.
        const RECURSIVE: bool;
    }

    impl Sealed for super::Exclusive {
        const RECURSIVE: bool = false;
    }

    impl Sealed for super::Reentrant {
        const RECURSIVE: bool = true;
    }
}

/// A robust, process-shared mutex in place, of kind `K`: use it as
/// [`RawLock`] or [`RawRLock`], whose docs say what each is.
#[repr(C)]
pub struct RobustLock<K: LockKind> {
    pub(super) mutex: RobustMutex,
    _kind: PhantomData<K>,
}

impl<K: LockKind> RobustLock<K> {
    /// Bytes to reserve for the lock.
    pub const SIZE: usize = std::mem::size_of::<Self>();
    /// The alignment the lock needs.
    pub const ALIGN: usize = std::mem::align_of::<Self>();

    /// Whether the owner may lock it again.
    pub(crate) const REENTRANT: bool = <K as sealed::Sealed>::RECURSIVE;

    /// The pthread mutex type.
    const KIND: MutexKind = if <K as sealed::Sealed>::RECURSIVE {
        MutexKind::Recursive
    } else {
        MutexKind::ErrorCheck
    };

    /// Initialises an unlocked lock at `ptr`. Only the creator of the
    /// memory calls this, once, before other processes look at it.
    ///
    /// # Safety
    ///
    /// `ptr` is valid for writes of `SIZE` bytes and aligned to `ALIGN`,
    /// and no thread or process uses the memory during the call. For
    /// cross-process use the memory is a shared mapping.
    ///
    /// # Errors
    ///
    /// [`Error::SyncOs`](crate::Error::SyncOs) if the pthread library
    /// refuses (it does not on Linux).
    pub unsafe fn init(ptr: *mut Self) -> Result<()> {
        // SAFETY: forwarded from the caller; `mutex` is at offset 0 of a
        // `repr(C)` struct (the marker takes no room), so `ptr` is valid
        // for it too.
        unsafe { RobustMutex::init(ptr.cast(), Self::KIND) }
    }

    /// The lock at `ptr`, for lifetime `'a`.
    ///
    /// # Safety
    ///
    /// `ptr` points to a lock of this kind that `init` initialised, in
    /// memory that stays mapped for `'a` and that nobody re-initialises or
    /// overwrites meanwhile.
    pub unsafe fn from_ptr<'a>(ptr: *const Self) -> &'a Self {
        debug_assert!(ptr.is_aligned());
        // SAFETY: the caller guarantees an initialised lock that lives for
        // 'a; all its state is interior-mutable, so a shared reference is
        // fine while others use it.
        unsafe { &*ptr }
    }

    /// Blocks until this thread holds the lock (at once, for a
    /// [`RawRLock`] it already holds).
    ///
    /// # Errors
    ///
    /// - [`LockError::OwnerDied`](super::LockError::OwnerDied): acquired,
    ///   but the previous holder died holding it; the guard is inside.
    /// - [`Error::NotRecoverable`](crate::Error::NotRecoverable): a previous
    ///   holder died and the lock was released without being marked
    ///   consistent.
    /// - [`Error::WouldDeadlock`](crate::Error::WouldDeadlock): this thread
    ///   already holds a [`RawLock`].
    /// - [`Error::SyncOs`](crate::Error::SyncOs) past a [`RawRLock`]'s
    ///   recursion limit.
    pub fn lock(&self) -> LockResult<Guard<'_, Self>> {
        Guard::acquired(self, self.acquire())
    }

    /// Whether any thread of any process holds the lock, at any depth
    /// (Python's `locked()`). Only a snapshot: it may change right after.
    pub fn locked(&self) -> bool {
        self.is_locked()
    }

    /// Takes the lock if nobody else holds it.
    ///
    /// # Errors
    ///
    /// [`Error::WouldBlock`](crate::Error::WouldBlock) if another thread
    /// holds it, and the errors of [`lock`](RobustLock::lock).
    pub fn try_lock(&self) -> LockResult<Guard<'_, Self>> {
        Guard::acquired(self, self.try_acquire())
    }

    /// Blocks until this thread holds the lock or `timeout` (on the
    /// monotonic clock) has passed.
    ///
    /// # Errors
    ///
    /// [`Error::TimedOut`](crate::Error::TimedOut) past the timeout, and
    /// the errors of [`lock`](RobustLock::lock).
    pub fn lock_timeout(&self, timeout: Duration) -> LockResult<Guard<'_, Self>> {
        Guard::acquired(self, self.acquire_until(&Deadline::after(timeout)))
    }
}

impl RawRLock {
    /// Releases one level held by this thread without a guard (see
    /// [`RLockGuard::leak`](Guard::leak)): Python's `RLock.release()`.
    ///
    /// Safe, unlike [`RawMutex::release`]: a `RawRLock` guard gives no
    /// access that relies on holding the lock.
    ///
    /// # Errors
    ///
    /// [`Error::NotOwner`](crate::Error::NotOwner) if this thread does not
    /// hold the lock.
    pub fn release(&self) -> Result<()> {
        // SAFETY: the mutex checks the owner (robust), and nothing relies
        // on a reentrant lock staying held (see above).
        unsafe { RawMutex::release(self) }
    }
}

// SAFETY: every method forwards to the robust pthread mutex inside, which
// has the properties the trait asks for (its own impl).
unsafe impl<K: LockKind> RawMutex for RobustLock<K> {
    #[inline(always)]
    fn acquire(&self) -> Result<Acquired> {
        self.mutex.acquire()
    }

    #[inline]
    fn try_acquire(&self) -> Result<Acquired> {
        self.mutex.try_acquire()
    }

    fn acquire_until(&self, deadline: &Deadline) -> Result<Acquired> {
        self.mutex.acquire_until(deadline)
    }

    #[inline(always)]
    unsafe fn release(&self) -> Result<()> {
        // SAFETY: forwarded from the caller.
        unsafe { self.mutex.release() }
    }

    fn mark_consistent(&self) -> Result<()> {
        self.mutex.mark_consistent()
    }

    fn is_locked(&self) -> bool {
        self.mutex.is_locked()
    }
}

impl<K: LockKind> std::fmt::Debug for RobustLock<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = if <K as sealed::Sealed>::RECURSIVE {
            "RawRLock"
        } else {
            "RawLock"
        };
        f.debug_struct(name).finish_non_exhaustive()
    }
}
