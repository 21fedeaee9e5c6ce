//! `Value<T>`: one `T` in a named, type-checked segment, guarded by a
//! process-shared lock — its own, or one it shares with other objects.

use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{compiler_fence, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::atomic_copy;
use crate::error::{Error, Result};
use crate::layout::SharedLayout;
use crate::named::{expect_lock_mode, Lock, NamedLockGuard};
use crate::segment::{LockMode, LockPlan, Segment, SegmentOptions};
use crate::sync::poison::{Poisoned, Wait};
use crate::sync::DataGuard;

/// One `T` — a number or a `#[derive(SharedLayout)]` struct — in a named
/// shared-memory segment that other processes open by name, guarded by a
/// process-shared, robust lock: Python's `multiprocessing.Value`.
///
/// [`create`](Value::create) makes the segment, with its own lock, and
/// writes the first value; [`open`](Value::open) attaches to it after
/// checking that it holds a `T`: the same layout, field by field (two
/// programs that declare the same struct separately agree; swapped,
/// retyped, added or removed fields are refused with an
/// [`Error::LayoutMismatch`] that names them).
///
/// # The three meanings of Python's `lock=`
///
/// - **Own lock** (the default, `lock=True`): [`Value::create`]. The lock
///   lives in the value's segment.
/// - **No lock** (`lock=False`, `RawValue`): use [`RawValue`](crate::RawValue),
///   whose segment records that it has no lock. Opening one as a `Value`,
///   or a `Value` as a `RawValue`, is an [`Error::LockModeMismatch`].
/// - **A shared lock** (`lock=some_lock`): [`Value::create_with_lock`] with a
///   named [`Lock`], or another object's [`get_lock`](Value::get_lock). The
///   segment records the lock segment's name, and [`Value::open`] opens that
///   lock too, so a process that opens the value by name gets the same lock.
///   Several objects are then read and written under one acquisition with
///   [`get_locked`](Value::get_locked) and [`set_locked`](Value::set_locked)
///   (copies), or in place with [`get_mut_locked`](Value::get_mut_locked),
///   which check that the guard is of their lock.
///
/// # Access
///
/// [`lock`](Value::lock) returns a guard through which the `T` is read and
/// written in place (`*guard = ...`, `guard.x += 1.0`) until it drops.
/// [`get`](Value::get) and [`set`](Value::set) take the lock for one copy,
/// as Python's `.value` does. No `&T` into the segment exists unless the
/// lock is held.
///
/// Every process must follow the lock: another program (C, Python) that
/// writes the data without taking it breaks what the guard promises.
///
/// # When a lock holder dies
///
/// A holder that dies with its process, or a thread that panics while
/// holding the guard, *poisons* the value, as [`std::sync::Mutex`] does,
/// but in the segment's lock area, so every process sees it, and it
/// outlives the process that caused it. From then on [`lock`](Value::lock),
/// [`get`](Value::get) and [`set`](Value::set) report [`Error::Poisoned`]
/// ([`Error::is_poisoned`]) in every process, and change nothing. The lock
/// itself stays usable: the library marks the robust mutex consistent as
/// soon as it finds the owner dead, so no call can leave it not
/// recoverable. Whoever can repair the value takes
/// [`lock_poisoned`](Value::lock_poisoned), repairs it through the guard
/// and calls [`clear_poison`](DataGuard::clear_poison) (std's
/// `PoisonError::into_inner` and `Mutex::clear_poison`). With a shared
/// lock, the poison is the lock's: every object it guards is poisoned.
///
/// [`Error::NotRecoverable`] remains only for a lock that something else
/// left in that state: an older version of this crate, another program, or
/// an owner-died guard of the in-place [`RawLock`](crate::RawLock) dropped
/// unrepaired.
///
/// # Lifetime
///
/// The segment outlives every handle until its name is unlinked, always
/// explicitly: [`Value::unlink`] on any handle,
/// [`crate::unlink`] by name, or automatically when the creating handle
/// drops if it was created with [`SegmentOptions::unlink_on_drop`]. A handle
/// that opened the segment never unlinks it on its own: dropping it only
/// unmaps it. A shared lock is a segment of its own, unlinked separately.
///
/// # Examples
///
/// ```
/// use shmstruct::{SegmentOptions, Value};
///
/// let dir = std::env::temp_dir().join(format!("shmstruct-doc-value-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let options = SegmentOptions::new().dir(&dir);
///
/// let counter = Value::create_with("counter", 41u64, &options)?;
/// // Another process would do this:
/// let other = Value::<u64>::open_with("counter", &options)?;
/// *other.lock()? += 1;
/// assert_eq!(counter.get()?, 42);
///
/// // Opening with another type is refused before any data is read.
/// let error = Value::<f64>::open_with("counter", &options).unwrap_err();
/// assert!(error.to_string().contains("holds `u64` (8 bytes) but `f64` (8 bytes) was expected"));
///
/// counter.unlink()?;
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
///
/// One lock guarding two values, as Python's `Value(..., lock=lock)`:
///
/// ```
/// use shmstruct::{Lock, SegmentOptions, Value};
///
/// let dir = std::env::temp_dir().join(format!("shmstruct-doc-shared-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let options = SegmentOptions::new().dir(&dir).unlink_on_drop(true);
///
/// let lock = Lock::create_with("lock", &options)?;
/// let a = Value::create_with_lock_and_options("a", 10i64, &lock, &options)?;
/// let b = Value::create_with_lock_and_options("b", 0i64, &lock, &options)?;
///
/// // Another process opens `b` by name and gets the same lock:
/// let b2 = Value::<i64>::open_with("b", &options)?;
/// assert_eq!(b2.get_lock().name(), "lock");
///
/// // Move 3 from a to b under one acquisition.
/// {
///     let guard = lock.lock()?;
///     a.set_locked(&guard, a.get_locked(&guard)? - 3)?;
///     b2.set_locked(&guard, b2.get_locked(&guard)? + 3)?;
/// }
/// assert_eq!((a.get()?, b.get()?), (7, 3));
/// # drop((a, b, b2, lock));
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
pub struct Value<T: SharedLayout> {
    segment: Arc<Segment>,
    lock: Lock,
    created: bool,
    _type: PhantomData<T>,
}

/// Another handle to the same mapping (no new mapping, no system call).
/// It counts as the creator if this one does; a segment created with
/// [`SegmentOptions::unlink_on_drop`](crate::SegmentOptions::unlink_on_drop)
/// is removed when the last of the clones drops.
impl<T: SharedLayout> Clone for Value<T> {
    fn clone(&self) -> Self {
        Value {
            segment: Arc::clone(&self.segment),
            lock: self.lock.clone(),
            created: self.created,
            _type: PhantomData,
        }
    }
}

impl<T: SharedLayout> Value<T> {
    /// Creates the segment `name` in the default directory (`/dev/shm`, or
    /// `$SHMSTRUCT_DIR`), with mode `0600`, holding `init` and its own lock.
    ///
    /// # Errors
    ///
    /// [`InvalidName`](crate::Error::InvalidName),
    /// [`AlreadyExists`](crate::Error::AlreadyExists),
    /// [`PermissionDenied`](crate::Error::PermissionDenied),
    /// [`NoSpace`](crate::Error::NoSpace) (nothing is left behind), or
    /// [`Io`](crate::Error::Io).
    pub fn create(name: &str, init: T) -> Result<Value<T>> {
        Value::create_with(name, init, &SegmentOptions::new())
    }

    /// [`Value::create`] with options: directory, mode, unlinking on drop.
    ///
    /// # Errors
    ///
    /// As [`Value::create`].
    pub fn create_with(name: &str, init: T, options: &SegmentOptions) -> Result<Value<T>> {
        let segment = Arc::new(create_segment(name, init, options, LockPlan::Own)?);
        Ok(Value {
            lock: Lock::of_segment(segment.clone()),
            segment,
            created: true,
            _type: PhantomData,
        })
    }

    /// Creates the segment `name` in the default directory holding `init`,
    /// guarded by `lock` (Python's `Value(..., lock=lock)`): a standalone
    /// [`Lock`], or another object's [`get_lock`](Value::get_lock). The
    /// header records the lock's segment name, so openers find it.
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`] if the lock's segment is not in the directory
    /// the value is created in (openers look for it there); otherwise as
    /// [`Value::create`].
    pub fn create_with_lock(name: &str, init: T, lock: &Lock) -> Result<Value<T>> {
        Value::create_with_lock_and_options(name, init, lock, &SegmentOptions::new())
    }

    /// [`Value::create_with_lock`] with options.
    ///
    /// # Errors
    ///
    /// As [`Value::create_with_lock`].
    pub fn create_with_lock_and_options(
        name: &str,
        init: T,
        lock: &Lock,
        options: &SegmentOptions,
    ) -> Result<Value<T>> {
        let plan = shared_lock_plan(name, lock, options)?;
        let segment = Arc::new(create_segment(name, init, options, plan)?);
        Ok(Value {
            lock: lock.clone(),
            segment,
            created: true,
            _type: PhantomData,
        })
    }

    /// Opens the segment `name` in the default directory and checks that it
    /// holds a `T` guarded by a lock, waiting up to a second for its creator
    /// to finish it; a shared lock's segment is opened too.
    ///
    /// # Errors
    ///
    /// [`NotFound`](crate::Error::NotFound),
    /// [`PermissionDenied`](crate::Error::PermissionDenied),
    /// [`InvalidName`](crate::Error::InvalidName),
    /// [`NotASegment`](crate::Error::NotASegment),
    /// [`UnsupportedVersion`](crate::Error::UnsupportedVersion),
    /// [`Truncated`](crate::Error::Truncated),
    /// [`CorruptHeader`](crate::Error::CorruptHeader),
    /// [`StillInitialising`](crate::Error::StillInitialising),
    /// [`LayoutMismatch`](crate::Error::LayoutMismatch),
    /// [`CorruptDescriptor`](crate::Error::CorruptDescriptor),
    /// [`LockModeMismatch`](crate::Error::LockModeMismatch) for a segment
    /// without a lock (a `RawValue`'s), or
    /// [`Io`](crate::Error::Io); the same for a shared lock's segment, and
    /// [`WrongLock`](crate::Error::WrongLock) if that segment was unlinked
    /// and created again since the value was created.
    pub fn open(name: &str) -> Result<Value<T>> {
        Value::open_with(name, &SegmentOptions::new())
    }

    /// [`Value::open`] with options: directory, timeout.
    ///
    /// # Errors
    ///
    /// As [`Value::open`].
    pub fn open_with(name: &str, options: &SegmentOptions) -> Result<Value<T>> {
        let segment = Arc::new(Segment::open(name, T::LAYOUT, options)?);
        let lock = open_lock(&segment, options, "a `Value` (which needs a lock)")?;
        Ok(Value {
            segment,
            lock,
            created: false,
            _type: PhantomData,
        })
    }

    /// The value's data, for the guard.
    fn data(&self) -> NonNull<T> {
        self.segment.data().cast::<T>()
    }

    /// Locks this value's lock and wraps the guard into a guard of its data.
    fn guard_data(&self, wait: Wait, poisoned: Poisoned) -> Result<DataGuard<'_, T>> {
        let guard = self.lock.acquire(wait, poisoned)?;
        // SAFETY: `data()` is the segment's data area: a `T`, aligned
        // (checked on open, planned on create), mapped while `self` lives,
        // which outlives the guard; any bytes there are a valid `T`
        // (`T: SharedLayout`); and the guard holds this value's lock, which
        // every access to the data takes: this type reaches the data only
        // through `lock`, `get`, `set` and the `_locked` forms (which check
        // the guard is of this lock), and its segment records the lock
        // mode, so no lock-free handle opens it.
        Ok(unsafe { guard.guarding(self.data()) })
    }

    /// Blocks until this thread holds the value's lock; the guard reads and
    /// writes the `T` in place until it drops.
    ///
    /// # Errors
    ///
    /// - [`Error::Poisoned`] if a holder of the lock died, or panicked
    ///   while holding the guard, and nobody has cleared that since: the
    ///   data may be half-written. It stays so for every process; repair
    ///   it through [`lock_poisoned`](Value::lock_poisoned). The lock itself
    ///   stays usable.
    /// - [`Error::WouldDeadlock`] if this thread holds the lock already.
    /// - [`Error::NotRecoverable`] only for a lock that an older version of
    ///   this crate or another program left in that state.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("shmstruct-doc-vlock-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let options = shmstruct::SegmentOptions::new().dir(&dir).unlink_on_drop(true);
    /// let n = shmstruct::Value::create_with("n", 7i32, &options)?;
    /// {
    ///     let mut guard = n.lock()?;
    ///     *guard *= *guard;
    /// }
    /// assert_eq!(n.get()?, 49);
    /// # drop(n);
    /// # std::fs::remove_dir(&dir).unwrap();
    /// # Ok::<(), shmstruct::Error>(())
    /// ```
    pub fn lock(&self) -> Result<DataGuard<'_, T>> {
        self.guard_data(Wait::Block, Poisoned::Refuse)
    }

    /// Takes the value's lock if nobody holds it.
    ///
    /// # Errors
    ///
    /// [`Error::WouldBlock`] if another thread holds it; as [`Value::lock`].
    pub fn try_lock(&self) -> Result<DataGuard<'_, T>> {
        self.guard_data(Wait::Try, Poisoned::Refuse)
    }

    /// Blocks until this thread holds the value's lock or `timeout` passes.
    ///
    /// # Errors
    ///
    /// [`Error::TimedOut`] past the timeout; as [`Value::lock`].
    pub fn lock_timeout(&self, timeout: Duration) -> Result<DataGuard<'_, T>> {
        self.guard_data(Wait::Timeout(timeout), Poisoned::Refuse)
    }

    /// Blocks until this thread holds the value's lock, poisoned or not:
    /// the way to repair the value after [`Error::Poisoned`] (as
    /// [`std::sync::PoisonError::into_inner`]). Repair it through the
    /// guard, then call [`clear_poison`](DataGuard::clear_poison) (as
    /// [`std::sync::Mutex::clear_poison`]); without that, the value stays
    /// poisoned for everyone.
    ///
    /// # Errors
    ///
    /// As [`Value::lock`], without [`Error::Poisoned`].
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("shmstruct-doc-vpoison-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let options = shmstruct::SegmentOptions::new().dir(&dir).unlink_on_drop(true);
    /// let n = shmstruct::Value::create_with("n", 1u32, &options)?;
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
    pub fn lock_poisoned(&self) -> Result<DataGuard<'_, T>> {
        self.guard_data(Wait::Block, Poisoned::Accept)
    }

    /// [`Value::lock_poisoned`], giving up with [`Error::TimedOut`] after
    /// `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Value::lock_timeout`], without [`Error::Poisoned`].
    pub fn lock_poisoned_timeout(&self, timeout: Duration) -> Result<DataGuard<'_, T>> {
        self.guard_data(Wait::Timeout(timeout), Poisoned::Accept)
    }

    /// A copy of the value, taken under the lock (Python's `.value`).
    ///
    /// # Errors
    ///
    /// As [`Value::lock`]: [`Error::Poisoned`] after a holder died or
    /// panicked (see [the type](Value#when-a-lock-holder-dies)), for every
    /// call until the value is repaired; [`Error::WouldDeadlock`] if this
    /// thread holds the lock already.
    pub fn get(&self) -> Result<T> {
        let guard = self.lock()?;
        // SAFETY: the guard's data is a valid, aligned `T` (see
        // `guard_data`), readable while the lock is held.
        Ok(unsafe { read_shared(&*guard) })
    }

    /// Replaces the value under the lock (Python's `.value = ...`).
    ///
    /// # Errors
    ///
    /// As [`Value::get`]; nothing is written.
    pub fn set(&self, value: T) -> Result<()> {
        let mut guard = self.lock()?;
        // SAFETY: as in `get`, writable while the lock is held.
        unsafe { write_shared(&mut *guard, value) };
        Ok(())
    }

    /// Checks that `guard` holds this value's lock.
    fn check_guard(&self, guard: &NamedLockGuard<'_>) -> Result<()> {
        if guard.holds(self.lock.identity()) {
            Ok(())
        } else {
            Err(Error::WrongLock {
                name: self.name().to_owned(),
                reason: format!(
                    "the guard holds another lock than \"{}\", which guards this value",
                    self.lock.name()
                ),
            })
        }
    }

    /// A copy of the value, read under a lock the caller already holds:
    /// for several objects guarded by one lock.
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`] if `guard` is not of this value's lock (compared
    /// by the lock segment's identity, so any handle of the lock will do).
    pub fn get_locked(&self, guard: &NamedLockGuard<'_>) -> Result<T> {
        self.check_guard(guard)?;
        // SAFETY: the data is a valid, aligned `T` in the mapping (see
        // `guard_data`); `guard` holds this value's lock (checked), so no
        // other thread or process accesses it, and no `&mut T` into it
        // exists in this one (a data guard would hold the same lock, and
        // `get_mut_locked` borrows the guard mutably, so its `&mut T` and
        // this shared borrow of `guard` cannot overlap).
        Ok(unsafe { read_shared(self.data().as_ptr()) })
    }

    /// Replaces the value under a lock the caller already holds.
    ///
    /// # Errors
    ///
    /// As [`Value::get_locked`]; nothing is written.
    pub fn set_locked(&self, guard: &NamedLockGuard<'_>, value: T) -> Result<()> {
        self.check_guard(guard)?;
        // SAFETY: as in `get_locked`, for writes.
        unsafe { write_shared(self.data().as_ptr(), value) };
        Ok(())
    }

    /// The value in place, read and written under a lock the caller already
    /// holds: Python's `a.x **= 2` inside `with lock:`, for several objects
    /// guarded by one lock (or for this value's own lock, taken through
    /// [`get_lock`](Value::get_lock)).
    ///
    /// The reference borrows `guard` mutably, so it is the only one made
    /// through that guard until it is dropped: objects that share the lock
    /// are reached one after the other, not at once (see
    /// [`NamedLockGuard`](NamedLockGuard#in-place-access) for why that makes it sound).
    /// Copies that need the guard ([`get_locked`](Value::get_locked),
    /// [`set_locked`](Value::set_locked)) wait until it is dropped too.
    ///
    /// A guard of poisoned data ([`Lock::lock_poisoned`]) is accepted:
    /// this is how the data is repaired before
    /// [`clear_poison`](NamedLockGuard::clear_poison).
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`] if `guard` is not of this value's lock (compared
    /// by the lock segment's identity, so any handle of the lock will do).
    ///
    /// # Examples
    ///
    /// Two values guarded by one lock, updated in place under one
    /// acquisition:
    ///
    /// ```
    /// use shmstruct::{Lock, SegmentOptions, Value};
    ///
    /// # let dir = std::env::temp_dir().join(format!("shmstruct-doc-getmut-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let options = SegmentOptions::new().dir(&dir).unlink_on_drop(true);
    /// let lock = Lock::create_with("lock", &options)?;
    /// let n = Value::create_with_lock_and_options("n", 7i32, &lock, &options)?;
    /// let x = Value::create_with_lock_and_options("x", 1.0f64 / 3.0, &lock, &options)?;
    ///
    /// let mut guard = lock.lock()?;
    /// *n.get_mut_locked(&mut guard)? *= 7;
    /// let x_in_place = x.get_mut_locked(&mut guard)?;
    /// *x_in_place *= *x_in_place;
    /// assert_eq!(n.get_locked(&guard)?, 49);
    /// drop(guard);
    ///
    /// assert_eq!(x.get()?, 0.1111111111111111);
    ///
    /// // The guard of another lock is refused.
    /// let other = Lock::create_with("other", &options)?;
    /// let mut wrong = other.lock()?;
    /// assert!(matches!(n.get_mut_locked(&mut wrong), Err(shmstruct::Error::WrongLock { .. })));
    /// # drop(wrong);
    /// # drop((n, x, lock, other));
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
    pub fn get_mut_locked<'g>(&'g self, guard: &'g mut NamedLockGuard<'_>) -> Result<&'g mut T> {
        self.check_guard(guard)?;
        // SAFETY: the data is a `T`, aligned (checked on open, planned on
        // create), and any bytes there are a valid `T` (`T: SharedLayout`).
        // It stays mapped for 'g: `&'g self` keeps `self.segment` alive.
        // The `&mut T` is exclusive for 'g:
        // - `guard` holds this value's lock (checked: same lock segment,
        //   hence the same mutex), and keeps holding it for 'g, since it is
        //   borrowed mutably for 'g and so cannot be dropped (unlocked) or
        //   moved meanwhile. Every access to the data takes that lock (see
        //   `guard_data`; the segment records the lock mode, so no
        //   lock-free handle opens it), so no other thread or process
        //   touches the data while this thread holds it.
        // - In this thread, no other guard of the lock exists: it is a
        //   non-recursive, error-checking mutex, so a second `lock()`
        //   through any handle of it (`Value::lock`, `get`, `set`,
        //   `Lock::lock`) fails with `WouldDeadlock` instead of handing out
        //   a second guard, and no `DataGuard` of it can exist beside
        //   `guard`. What remains is `guard` itself, borrowed mutably for
        //   'g: the copying `_locked` forms need `&guard` and the other
        //   in-place forms `&mut guard`, so none runs until this reference
        //   is dropped. That holds for two handles of this value (two
        //   mappings of one file) and for objects sharing the lock alike.
        // - `NamedLockGuard` is neither `Send` nor `Sync`, so `guard` is
        //   used, and the lock released, only by this thread.
        Ok(unsafe { &mut *self.data().as_ptr() })
    }

    /// The lock that guards this value (Python's `get_lock()`): its own, or
    /// the shared one. A clone of the handle; give it to
    /// [`Value::create_with_lock`] to guard another object with it.
    pub fn get_lock(&self) -> Lock {
        self.lock.clone()
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        self.segment.name()
    }

    /// The segment's file.
    pub fn path(&self) -> &Path {
        self.segment.path()
    }

    /// Whether this handle created the segment.
    pub fn is_creator(&self) -> bool {
        self.created
    }

    /// Removes the segment's name, so that no process can open it any more;
    /// handles that have it open keep working. Explicit, from any handle:
    /// no handle unlinks on its own unless its creator asked for
    /// [`SegmentOptions::unlink_on_drop`]. A shared lock's segment is not
    /// touched.
    ///
    /// # Errors
    ///
    /// [`NotFound`](crate::Error::NotFound) if the name is already gone or
    /// names another segment now;
    /// [`PermissionDenied`](crate::Error::PermissionDenied) or
    /// [`Io`](crate::Error::Io) if removing it fails.
    pub fn unlink(&self) -> Result<()> {
        self.segment.unlink()
    }
}

/// Creates a segment holding `init` with lock mode `mode`.
pub(crate) fn create_segment<T: SharedLayout>(
    name: &str,
    init: T,
    options: &SegmentOptions,
    mode: LockPlan,
) -> Result<Segment> {
    Segment::create_locked(name, T::LAYOUT, options, mode, |segment| {
        let data = segment.data().cast::<T>();
        // SAFETY: the data area is `size_of::<T>()` bytes inside the
        // mapping at an offset aligned to `align_of::<T>()` (Header::plan
        // aligned it to at least that, and the mapping is page-aligned);
        // only this process writes it before it is published as ready.
        unsafe { write_shared(data.as_ptr(), init) };
        Ok(())
    })
}

/// The lock plan of an object named `name`, created in `options`'
/// directory, guarded by `lock`: its name and the identity of its segment,
/// which openers compare with the segment they find under that name.
pub(crate) fn shared_lock_plan(
    name: &str,
    lock: &Lock,
    options: &SegmentOptions,
) -> Result<LockPlan> {
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
    segment: &Arc<Segment>,
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

/// Copies a `T` out of shared memory.
///
/// A word-wise copy with relaxed atomic loads (`atomic_copy`: a copy that
/// races a writer is no data race) after a compiler fence: the fence stops
/// the compiler from reusing what an earlier copy read, since another
/// process may have changed the memory since.
///
/// # Safety
///
/// `source` must be valid for reads of `size_of::<T>()` bytes and aligned
/// for `T`, and every access to those bytes that may run concurrently must
/// go through `atomic_copy` with the same `T` (as these functions and the
/// array copies do) or be kept apart by a lock. Any bytes found there make
/// a valid `T` (`T: SharedLayout`).
pub(crate) unsafe fn read_shared<T: SharedLayout>(source: *const T) -> T {
    debug_assert!(source.is_aligned());
    let mut value = MaybeUninit::<T>::uninit();
    compiler_fence(Ordering::SeqCst);
    // SAFETY: `source` is valid for `size_of::<T>()` bytes and every
    // concurrent access to it goes through `atomic_copy` (the caller); it
    // cannot overlap `value`, a local; both are aligned for `T`.
    unsafe { atomic_copy::load(source, value.as_mut_ptr(), 1) };
    // SAFETY: every byte of `value` was written above, and any bytes are a
    // valid `T` (`T: SharedLayout`).
    unsafe { value.assume_init() }
}

/// Copies a `T` into shared memory: a word-wise copy with relaxed atomic
/// stores (see [`read_shared`]) followed by a compiler fence, so that the
/// compiler neither drops it as unobserved nor moves it past later code.
///
/// # Safety
///
/// `destination` must be valid for writes of `size_of::<T>()` bytes and
/// aligned for `T`, with concurrent accesses as for [`read_shared`]. The old value is overwritten without being dropped
/// (`T: SharedLayout` has no drop glue).
pub(crate) unsafe fn write_shared<T: SharedLayout>(destination: *mut T, value: T) {
    debug_assert!(destination.is_aligned());
    let value = std::mem::ManuallyDrop::new(value);
    // SAFETY: `destination` is valid for `size_of::<T>()` bytes and every
    // concurrent access to it goes through `atomic_copy` (the caller); it
    // cannot overlap `value`, a local; both are aligned for `T`
    // (`ManuallyDrop<T>` has `T`'s layout).
    unsafe { atomic_copy::store(&*value, destination, 1) };
    compiler_fence(Ordering::SeqCst);
}

impl<T: SharedLayout> fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Value")
            .field("name", &self.name())
            .field("type", &T::LAYOUT.name())
            .field("lock", &self.lock.name())
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}
