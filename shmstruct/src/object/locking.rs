//! The lock choice of an object, a type: [`Locked`] (its own lock, or a
//! named lock shared with other objects, chosen at run time and recorded in
//! the header) or [`Unlocked`]; and what a locked object does with its
//! lock: guards, checks of a guard the caller holds, copies under it.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::named::{expect_lock_mode, Lock, NamedLockGuard};
use crate::segment::{LockMode, LockPlan, Segment, SegmentOptions};
use crate::sync::poison::{Poisoned, Wait};
use crate::sync::DataGuard;

use super::{shape, Shape, Shared};

/// Whether an object has a lock: [`Locked`] or [`Unlocked`]. Sealed.
pub trait LockChoice: sealed::Sealed {}

/// An object guarded by a process-shared, robust lock: its own (the
/// default) or a named [`Lock`] shared with other objects
/// ([`Builder::lock`](super::Builder::lock)). Only a type argument.
#[derive(Debug)]
pub enum Locked {}

/// An object without a lock, reached by word-wise atomic copies only
/// (Python's `lock=False`). Only a type argument.
#[derive(Debug)]
pub enum Unlocked {}

pub(crate) mod sealed {
    use crate::error::Result;
    use crate::named::Lock;

    pub trait Sealed {
        /// What a handle keeps of its lock.
        type Handle: Clone + Send + Sync;
        /// Whether the object has a lock.
        const LOCKED: bool;
        /// The handle of the lock `lock` makes, if the object has one.
        fn handle(lock: impl FnOnce() -> Result<Lock>) -> Result<Self::Handle>;
        /// The lock's name, for `Debug`.
        fn lock_name(handle: &Self::Handle) -> Option<&str>;
    }
}

impl sealed::Sealed for Locked {
    type Handle = Lock;
    const LOCKED: bool = true;

    fn handle(lock: impl FnOnce() -> Result<Lock>) -> Result<Lock> {
        lock()
    }

    fn lock_name(handle: &Lock) -> Option<&str> {
        Some(handle.name())
    }
}

impl LockChoice for Locked {}

impl sealed::Sealed for Unlocked {
    type Handle = ();
    const LOCKED: bool = false;

    fn handle(_lock: impl FnOnce() -> Result<Lock>) -> Result<()> {
        Ok(())
    }

    fn lock_name(_handle: &()) -> Option<&str> {
        None
    }
}

impl LockChoice for Unlocked {}

/// The lock plan of an object named `name`, created in `options`'
/// directory with lock choice `L`, guarded by `shared` if given: its own
/// lock, none, or the shared lock's name and the identity of its segment,
/// which openers compare with the segment they find under that name.
pub(crate) fn plan<L: LockChoice>(
    name: &str,
    shared: Option<&Lock>,
    options: &SegmentOptions,
) -> Result<LockPlan> {
    let Some(lock) = shared else {
        return Ok(if L::LOCKED {
            LockPlan::Own
        } else {
            LockPlan::None
        });
    };
    if lock.path() != options.get_dir().join(lock.name()) {
        return Err(Error::WrongLock {
            name: name.to_owned(),
            reason: format!(
                "its lock {} is not in the directory {} it is created in, where openers \
                 look for the lock",
                lock.path().display(),
                options.get_dir().display()
            ),
        });
    }
    Ok(LockPlan::Shared {
        lock: lock.name().to_owned(),
        identity: lock.identity(),
    })
}

/// The lock of an opened segment that must have one: its own, or a shared
/// one (opened from the same directory), which must be the very segment
/// the object was created with: a lock segment unlinked and created again
/// under its name since then holds another mutex than the handles opened
/// before, and two guards of "one" lock could be live at once.
pub(crate) fn open_lock(
    segment: &std::sync::Arc<Segment>,
    options: &SegmentOptions,
    opened_as: &'static str,
) -> Result<Lock> {
    expect_lock_mode(
        segment,
        |mode| matches!(mode, LockMode::Own | LockMode::Shared { .. }),
        opened_as,
    )?;
    match segment.lock_mode() {
        LockMode::Shared { lock: lock_name } => {
            let lock = Lock::open_lock_of(lock_name, options)?;
            // A different identity is a different file. The converse holds
            // where it matters: while any handle still maps the original
            // lock segment its inode is alive, so no new file gets its
            // number; once none does, a reused number misleads nobody (no
            // handle uses the old mutex any more).
            if segment.shared_lock_identity() == Some(lock.identity()) {
                Ok(lock)
            } else {
                Err(Error::WrongLock {
                    name: segment.name().to_owned(),
                    reason: format!(
                        "its lock segment \"{lock_name}\" was replaced since the object was \
                         created (unlinked and created again under that name): re-create the \
                         object with the current lock"
                    ),
                })
            }
        }
        _ => Lock::of_opened_segment(segment.clone()),
    }
}

/// Checks that an opened segment has no lock, for an unlocked object.
pub(super) fn expect_no_lock(segment: &Segment, opened_as: &'static str) -> Result<()> {
    expect_lock_mode(segment, |mode| *mode == LockMode::None, opened_as)
}

impl<D: Shape + ?Sized> Shared<D, Locked> {
    /// Blocks until this thread holds the object's lock; the guard reads
    /// and writes the data in place (a `T`, a `[T]`, a `[u8]`) until it
    /// drops.
    ///
    /// # Errors
    ///
    /// - [`Error::Poisoned`] if a holder of the lock died, or panicked
    ///   while holding the guard, and nobody has cleared that since: the
    ///   data may be half-written. It stays so for every process; repair
    ///   it through [`lock_poisoned`](Shared::lock_poisoned). The lock
    ///   itself stays usable.
    /// - [`Error::WouldDeadlock`] if this thread holds the lock already.
    /// - [`Error::NotRecoverable`] only for a lock that an older version of
    ///   this crate or another program left in that state.
    #[inline]
    pub fn lock(&self) -> Result<DataGuard<'_, D::Target>> {
        self.guard_data(Wait::Block, Poisoned::Refuse)
    }

    /// Takes the object's lock if nobody holds it.
    ///
    /// # Errors
    ///
    /// [`Error::WouldBlock`] if another thread holds it; as
    /// [`lock`](Shared::lock).
    pub fn try_lock(&self) -> Result<DataGuard<'_, D::Target>> {
        self.guard_data(Wait::Try, Poisoned::Refuse)
    }

    /// Blocks until this thread holds the object's lock or `timeout`
    /// passes.
    ///
    /// # Errors
    ///
    /// [`Error::TimedOut`] past the timeout; as [`lock`](Shared::lock).
    pub fn lock_timeout(&self, timeout: Duration) -> Result<DataGuard<'_, D::Target>> {
        self.guard_data(Wait::Timeout(timeout), Poisoned::Refuse)
    }

    /// Blocks until this thread holds the object's lock, poisoned or not:
    /// the way to repair the data after [`Error::Poisoned`] (as
    /// [`std::sync::PoisonError::into_inner`]). Repair it through the
    /// guard, then call [`clear_poison`](DataGuard::clear_poison) (as
    /// [`std::sync::Mutex::clear_poison`]); without that, the object stays
    /// poisoned for everyone.
    ///
    /// # Errors
    ///
    /// As [`lock`](Shared::lock), without [`Error::Poisoned`].
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("shmstruct-doc-vpoison-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let n = shmstruct::Value::<u32>::builder("n").dir(&dir).create(1)?;
    /// let panicked = std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         let mut guard = n.lock().unwrap();
    ///         *guard = 2;
    ///         panic!("half-way through an update");
    ///     })
    ///     .join()
    /// });
    /// assert!(panicked.is_err());
    /// assert!(n.get().unwrap_err().is_poisoned());
    ///
    /// let mut guard = n.lock_poisoned()?;
    /// *guard = 0; // repaired
    /// guard.clear_poison();
    /// drop(guard);
    /// assert_eq!(n.get()?, 0);
    /// # drop(n);
    /// # std::fs::remove_dir(&dir).unwrap();
    /// # Ok::<(), shmstruct::Error>(())
    /// ```
    pub fn lock_poisoned(&self) -> Result<DataGuard<'_, D::Target>> {
        self.guard_data(Wait::Block, Poisoned::Accept)
    }

    /// [`lock_poisoned`](Shared::lock_poisoned), giving up with
    /// [`Error::TimedOut`] after `timeout`.
    ///
    /// # Errors
    ///
    /// As [`lock_timeout`](Shared::lock_timeout), without
    /// [`Error::Poisoned`].
    pub fn lock_poisoned_timeout(&self, timeout: Duration) -> Result<DataGuard<'_, D::Target>> {
        self.guard_data(Wait::Timeout(timeout), Poisoned::Accept)
    }

    /// The lock that guards this object (Python's `get_lock()`): its own,
    /// or the shared one. A clone of the handle; give it to
    /// [`Builder::lock`](super::Builder::lock) to guard another object
    /// with it.
    pub fn get_lock(&self) -> Lock {
        self.lock.clone()
    }

    /// The data in place, read and written under a lock the caller already
    /// holds: Python's `a.x **= 2` inside `with lock:`, for several objects
    /// guarded by one lock (or for this object's own lock, taken through
    /// [`get_lock`](Shared::get_lock)).
    ///
    /// The reference borrows `guard` mutably, so it is the only one made
    /// through that guard until it is dropped: objects that share the lock
    /// are reached one after the other, not at once (see
    /// [`NamedLockGuard`](NamedLockGuard#in-place-access) for why that
    /// makes it sound). A guard of poisoned data
    /// ([`Lock::lock_poisoned`]) is accepted: this is how the data is
    /// repaired before [`clear_poison`](NamedLockGuard::clear_poison).
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`] if `guard` is not of this object's lock
    /// (compared by the lock segment's identity, so any handle of the lock
    /// will do).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmstruct::{Array, Lock, SegmentOptions, SharedBytes, Value};
    ///
    /// # let dir = std::env::temp_dir().join(format!("shmstruct-doc-getmut-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let lock = Lock::create_with("lock", &SegmentOptions::new().dir(&dir))?;
    /// let n = Value::<i32>::builder("n").dir(&dir).lock(&lock).create(7)?;
    /// let a = Array::<f64>::builder("A").dir(&dir).lock(&lock).create(&[1.5, -2.0, 3.0])?;
    /// let s = SharedBytes::builder("s").dir(&dir).lock(&lock).create(b"hello")?;
    ///
    /// // with lock: n.value *= 7; for a in A: a **= 2; s.value = s.value.upper()
    /// let mut guard = lock.lock()?;
    /// *n.get_mut_locked(&mut guard)? *= 7;
    /// for x in a.get_mut_locked(&mut guard)? {
    ///     *x *= *x;
    /// }
    /// s.get_mut_locked(&mut guard)?.make_ascii_uppercase();
    /// drop(guard);
    ///
    /// assert_eq!(n.get()?, 49);
    /// assert_eq!(a.to_vec()?, [2.25, 4.0, 9.0]);
    /// assert_eq!(s.value()?, b"HELLO");
    ///
    /// // The guard of another lock is refused.
    /// let other = Lock::create_with("other", &SegmentOptions::new().dir(&dir))?;
    /// let mut wrong = other.lock()?;
    /// assert!(matches!(n.get_mut_locked(&mut wrong), Err(shmstruct::Error::WrongLock { .. })));
    /// # drop(wrong);
    /// # drop((n, a, s, lock, other));
    /// # std::fs::remove_dir(&dir).unwrap();
    /// # Ok::<(), shmstruct::Error>(())
    /// ```
    ///
    /// Two references through one guard at once do not compile, even to
    /// two handles of the same value:
    ///
    /// ```compile_fail,E0499
    /// # use shmstruct::{Lock, Value};
    /// # fn f(lock: &Lock, a: &Value<i32>, b: &Value<i32>) -> shmstruct::Result<()> {
    /// let mut guard = lock.lock()?;
    /// let first = a.get_mut_locked(&mut guard)?;
    /// let second = b.get_mut_locked(&mut guard)?; // `guard` is still borrowed
    /// *first += *second;
    /// # Ok(())
    /// # }
    /// ```
    pub fn get_mut_locked<'g>(
        &'g self,
        guard: &'g mut NamedLockGuard<'_>,
    ) -> Result<&'g mut D::Target> {
        self.borrow_locked(guard)
    }

    /// Checks that `guard` holds this object's lock.
    pub(super) fn check_guard(&self, guard: &NamedLockGuard<'_>) -> Result<()> {
        if guard.holds(self.lock.identity()) {
            Ok(())
        } else {
            Err(Error::WrongLock {
                name: self.name().to_owned(),
                reason: format!(
                    "the guard holds another lock than \"{}\", which guards this {}",
                    self.lock.name(),
                    shape::noun::<D>()
                ),
            })
        }
    }

    /// Runs `copy` with the lock held.
    #[inline]
    pub(super) fn locked<R>(&self, copy: impl FnOnce() -> Result<R>) -> Result<R> {
        let guard = self.lock.acquire(Wait::Block, Poisoned::Refuse)?;
        let result = copy();
        drop(guard);
        result
    }

    /// A copy made by `copy` without the lock when no writer is active,
    /// never torn: the seqlock read of [`crate::sync::seqlock`], falling
    /// back to the lock (blocking) as [`Lock::read_consistent`] says.
    /// `copy` may run several times; it copies with atomic loads only.
    #[inline]
    pub(super) fn consistent<R>(&self, copy: impl FnMut() -> R) -> Result<R> {
        self.lock.read_consistent(Wait::Block, copy)
    }

    /// Runs `copy` under `guard`, checked to be of this object's lock.
    pub(super) fn under<R>(
        &self,
        guard: &NamedLockGuard<'_>,
        copy: impl FnOnce() -> Result<R>,
    ) -> Result<R> {
        self.check_guard(guard)?;
        copy()
    }
}
