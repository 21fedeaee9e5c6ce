//! [`RawMutex`]: the one interface to a robust, process-shared mutex in
//! place, in lock_api's shape, which every lock and primitive of this
//! module is built on, and [`Guard`](super::Guard) holds.

use super::os::{Acquired, Deadline};
use crate::Result;

/// A robust mutex that lives in shared memory: locking it excludes every
/// other thread of every process that maps it, and locking it after its
/// holder died says so ([`Acquired::OwnerDied`]) instead of deadlocking.
///
/// Implemented by [`RawLock`](super::RawLock), [`RawRLock`](super::RawRLock)
/// and the internal mutex of the other primitives. Most code uses the
/// guards their `lock()` methods return ([`Guard`](super::Guard)), which
/// call these methods; the trait is what a guard, a condition wait and the
/// poisoning logic need from a mutex, and nothing else.
///
/// # Examples
///
/// Code generic over the mutex, here a try-lock that reports whether the
/// previous holder died:
///
/// ```
/// use std::mem::MaybeUninit;
/// use shmstruct::sync::{Acquired, RawLock, RawMutex, RawRLock};
///
/// fn free_and_sound<M: RawMutex>(mutex: &M) -> shmstruct::Result<bool> {
///     match mutex.try_acquire() {
///         Ok(acquired) => {
///             // SAFETY: this thread has just acquired it, and holds nothing
///             // that relies on it.
///             unsafe { mutex.release() }?;
///             Ok(acquired == Acquired::Consistent)
///         }
///         Err(shmstruct::Error::WouldBlock { .. }) => Ok(false),
///         Err(error) => Err(error),
///     }
/// }
///
/// let mut a = MaybeUninit::<RawLock>::uninit();
/// let mut b = MaybeUninit::<RawRLock>::uninit();
/// // SAFETY: both places are writable, aligned and used by nobody else.
/// unsafe { RawLock::init(a.as_mut_ptr()) }?;
/// // SAFETY: as above.
/// unsafe { RawRLock::init(b.as_mut_ptr()) }?;
/// // SAFETY: initialised above; the place outlives the reference.
/// let a = unsafe { RawLock::from_ptr(a.as_ptr()) };
/// // SAFETY: as above.
/// let b = unsafe { RawRLock::from_ptr(b.as_ptr()) };
/// assert!(free_and_sound(a)? && free_and_sound(b)?);
/// let held = a.lock()?;
/// // Another thread finds it held (this one would be told `WouldDeadlock`).
/// let other = std::thread::scope(|s| s.spawn(|| free_and_sound(a)).join());
/// assert!(!other.expect("the thread ran")?);
/// drop(held);
/// # Ok::<(), shmstruct::Error>(())
/// ```
///
/// # Safety
///
/// An implementation guarantees that:
///
/// - after `acquire`, `try_acquire` or `acquire_until` returned `Ok`, the
///   calling thread holds the mutex (one more level of it, for a reentrant
///   one), and no thread of any process holds it until the holder releases
///   it or dies;
/// - acquiring synchronises with the previous release (acquire and release
///   ordering), so that what one holder wrote is visible to the next;
/// - a holder that dies is reported to the next locker as
///   [`Acquired::OwnerDied`], and the mutex is then usable again only after
///   [`mark_consistent`](RawMutex::mark_consistent);
/// - `try_acquire` and `acquire_until` return within their bound.
pub unsafe trait RawMutex {
    /// Blocks until the calling thread holds the mutex.
    ///
    /// # Errors
    ///
    /// [`Error::NotRecoverable`](crate::Error::NotRecoverable) for a mutex
    /// released inconsistent; [`Error::WouldDeadlock`](crate::Error::WouldDeadlock)
    /// for a non-reentrant mutex this thread holds.
    fn acquire(&self) -> Result<Acquired>;

    /// Takes the mutex only if nobody holds it.
    ///
    /// # Errors
    ///
    /// [`Error::WouldBlock`](crate::Error::WouldBlock) if another thread
    /// holds it; as [`RawMutex::acquire`].
    fn try_acquire(&self) -> Result<Acquired>;

    /// Blocks until the calling thread holds the mutex or `deadline`
    /// passes.
    ///
    /// # Errors
    ///
    /// [`Error::TimedOut`](crate::Error::TimedOut) past the deadline; as
    /// [`RawMutex::acquire`].
    fn acquire_until(&self, deadline: &Deadline) -> Result<Acquired>;

    /// Releases the mutex (one level of a reentrant one).
    ///
    /// # Safety
    ///
    /// The calling thread holds the mutex, and nothing it still uses relies
    /// on holding it (a guard's `&mut` to the data it protects).
    ///
    /// # Errors
    ///
    /// [`Error::NotOwner`](crate::Error::NotOwner) if the calling thread
    /// does not hold it.
    unsafe fn release(&self) -> Result<()>;

    /// Marks a mutex acquired with [`Acquired::OwnerDied`] consistent again,
    /// so that it stays usable after this holder releases it.
    ///
    /// # Errors
    ///
    /// [`Error::SyncOs`](crate::Error::SyncOs) if the mutex is not
    /// inconsistent or not held by this thread.
    fn mark_consistent(&self) -> Result<()>;

    /// Whether some thread of some process holds the mutex right now; only
    /// a snapshot.
    fn is_locked(&self) -> bool;
}
