//! Standalone named primitives: Python's `Lock()`, `RLock()`,
//! `Semaphore(n)`, `BoundedSemaphore(n)`, `Event()`, `Condition()` and
//! `Barrier(n)`, each in a segment of its own that other processes open by
//! name.
//!
//! Each is a segment like a [`Value`](crate::Value)'s: the same names,
//! directory, permissions, and type-checked header. Its descriptor is a
//! struct named after the primitive, so opening a `Semaphore` segment as a
//! [`Lock`] (or a `Value<u64>` as an [`Event`]) is an
//! [`Error::LayoutMismatch`] that names both:
//!
//! | type | lock mode | data: descriptor |
//! |---|---|---|
//! | [`Lock`] | own (a [`RawLock`] in the lock area) | `Lock {}` (empty) |
//! | [`RLock`] | own recursive (a [`RawRLock`] in the lock area) | `RLock {}` (empty) |
//! | [`Semaphore`] | none | `Semaphore { state: [u8; RawSemaphore::SIZE] }` |
//! | [`Event`] | none | `Event { state: [u8; RawEvent::SIZE] }` |
//! | [`Condition`] | none | `Condition { state: [u8; RawCondition::SIZE] }` |
//! | [`Barrier`] | none | `Barrier { state: [u8; RawBarrier::SIZE] }` |
//!
//! Each is one generic handle, [`Named<P>`](Named), over the in-place type
//! `P` ([`RawLock`], [`RawSemaphore`], ...): the trait [`NamedPrimitive`]
//! says, once per type, where the primitive lives (the lock area or the
//! data), whether it holds a robust mutex an opener checks or callers hold,
//! and its descriptor and lock mode, as the table shows.
//!
//! Only the creator initialises the primitive, before the segment is
//! published as ready; openers wait for that. Handles are cheap to clone
//! (an [`Arc`] inside), so one [`Lock`] can be given to several objects of
//! one process. The operations are those of the in-place `Raw*` types,
//! reached through `Deref`, except locking: [`Lock`], [`RLock`] and
//! [`Condition`] have their own `lock` methods, which poison (see
//! [`Value`](crate::Value#when-a-lock-holder-dies)) and whose guard also
//! says which segment it locks, and [`Condition`] its own `wait*` and
//! `notify*`, which accept such a guard taken through any handle of the
//! condition.
//!
//! # Lifetime
//!
//! As for every segment: it lives until its name is unlinked, explicitly
//! (`unlink`, [`crate::unlink`]) or when the last clone of the creating
//! handle drops if it was created with
//! [`SegmentOptions::unlink_on_drop`]. Openers never unlink.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::segment::header::{AREA_ALIGN, LOCK_AREA_SIZE, POISON_OFFSET};
use crate::segment::{LockMode, LockPlan, Segment, SegmentOptions};
use crate::sync::poison::{self, Poisoned, Wait};
use crate::sync::seqlock::SnapshotGate;
use crate::sync::Beside;
use crate::sync::{
    Guard, LockError, LockGuard, LockKind, LockWords, RawBarrier, RawCondition, RawEvent, RawLock,
    RawRLock, RawSemaphore, RobustLock, WaitTimeoutResult,
};

// The lock area holds a RawLock or a RawRLock at its start: it must be large
// and aligned enough, on every target this builds for.
const _: () = assert!(RawLock::SIZE <= LOCK_AREA_SIZE && AREA_ALIGN % RawLock::ALIGN == 0);
const _: () = assert!(RawRLock::SIZE <= LOCK_AREA_SIZE && AREA_ALIGN % RawRLock::ALIGN == 0);
// The poison word sits after the lock, 4-aligned, inside the area.
const _: () = assert!(
    RawLock::SIZE <= POISON_OFFSET && POISON_OFFSET % 4 == 0 && POISON_OFFSET + 4 <= LOCK_AREA_SIZE
);

/// A primitive that can live in a segment of its own, as [`Named`]`<Self>`:
/// the in-place types of [`crate::sync`]. The trait says, once per type,
/// where in the segment the primitive lives, whether it holds a robust
/// mutex there that an opener must check or that callers hold across calls,
/// and the segment's descriptor and lock mode. Sealed.
pub trait NamedPrimitive: sealed::InSegment {}

impl<P: sealed::InSegment> NamedPrimitive for P {}

mod sealed {
    use crate::layout::construct::{field, structure};
    use crate::layout::{Field, Layout, SharedLayout};
    use crate::segment::LockMode;

    /// Where a primitive lives in its segment.
    #[derive(Clone, Copy, Debug)]
    pub enum Place {
        /// At the start of the lock area: the segment's own lock, which the
        /// segment initialises and checks itself.
        LockArea {
            /// Whether it is recursive (`RLock`), which is the lock mode.
            recursive: bool,
        },
        /// At the start of the data, which is the primitive's opaque state;
        /// the segment has no lock.
        Data {
            /// The descriptor of the state, `[u8; SIZE]`.
            state: &'static Layout,
            /// What robust mutex the state starts with.
            mutex: DataMutex,
        },
    }

    /// The robust mutex at the start of a primitive's data, if any.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum DataMutex {
        /// None (`Event`).
        None,
        /// An internal mutex, held only inside one call (`Semaphore`,
        /// `Barrier`); an opener checks its kind before anyone locks it.
        Internal,
        /// A mutex callers hold across calls (a `Condition`'s lock),
        /// checked as `Internal`; the segment must also know of it when it
        /// is dropped.
        HeldByCallers,
    }

    /// What [`super::Named`] needs to know about a primitive.
    #[derive(Clone, Copy, Debug)]
    pub struct Spec {
        /// The name of its descriptor, a struct: `Lock`, `Semaphore`, ...
        pub name: &'static str,
        /// How errors call it: "a `Lock`".
        pub what: &'static str,
        /// Where it lives.
        pub place: Place,
    }

    impl Spec {
        /// A lock in the lock area.
        pub const fn lock(name: &'static str, what: &'static str, recursive: bool) -> Spec {
            Spec {
                name,
                what,
                place: Place::LockArea { recursive },
            }
        }

        /// A primitive of `N` bytes in the data.
        pub const fn data<const N: usize>(
            name: &'static str,
            what: &'static str,
            mutex: DataMutex,
        ) -> Spec {
            let state = <[u8; N] as SharedLayout>::LAYOUT;
            Spec {
                name,
                what,
                place: Place::Data { state, mutex },
            }
        }

        /// The segment's lock mode.
        pub fn lock_mode(&self) -> LockMode {
            match self.place {
                Place::LockArea { recursive: false } => LockMode::Own,
                Place::LockArea { recursive: true } => LockMode::OwnRecursive,
                Place::Data { .. } => LockMode::None,
            }
        }

        /// The robust mutex at the start of the data.
        pub fn data_mutex(&self) -> DataMutex {
            match self.place {
                Place::LockArea { .. } => DataMutex::None,
                Place::Data { mutex, .. } => mutex,
            }
        }
    }

    /// A primitive [`super::Named`] can hold: what its [`Spec`] says.
    pub trait InSegment: Sized {
        /// Where it lives, and how its segment is described.
        const SPEC: Spec;
    }

    /// The descriptors of `P`'s segments.
    pub struct Descriptor<P>(P);

    impl<P: InSegment> Descriptor<P> {
        /// No field for a lock, which lives in the lock area; one opaque
        /// `state: [u8; SIZE]` for the others.
        const FIELDS: &'static [Field] = match P::SPEC.place {
            Place::LockArea { .. } => &[],
            Place::Data { state, .. } => &[field("state", 0, state)],
        };

        /// An empty struct named after the lock, or a struct named after
        /// the primitive holding its opaque state.
        pub const LAYOUT: &'static Layout = &match P::SPEC.place {
            Place::LockArea { .. } => structure(P::SPEC.name, 0, 1, None, None, Self::FIELDS),
            Place::Data { .. } => structure(
                P::SPEC.name,
                std::mem::size_of::<P>(),
                std::mem::align_of::<P>(),
                None,
                None,
                Self::FIELDS,
            ),
        };
    }
}

use sealed::{DataMutex, Descriptor, Place, Spec};

impl<K: LockKind> sealed::InSegment for RobustLock<K> {
    const SPEC: Spec = if RobustLock::<K>::REENTRANT {
        Spec::lock("RLock", "an `RLock`", true)
    } else {
        Spec::lock("Lock", "a `Lock`", false)
    };
}

impl sealed::InSegment for RawSemaphore {
    const SPEC: Spec =
        Spec::data::<{ RawSemaphore::SIZE }>("Semaphore", "a `Semaphore`", DataMutex::Internal);
}

impl sealed::InSegment for RawEvent {
    const SPEC: Spec = Spec::data::<{ RawEvent::SIZE }>("Event", "an `Event`", DataMutex::None);
}

impl sealed::InSegment for RawCondition {
    const SPEC: Spec = Spec::data::<{ RawCondition::SIZE }>(
        "Condition",
        "a `Condition`",
        DataMutex::HeldByCallers,
    );
}

impl sealed::InSegment for RawBarrier {
    const SPEC: Spec =
        Spec::data::<{ RawBarrier::SIZE }>("Barrier", "a `Barrier`", DataMutex::Internal);
}

/// Checks that an opened segment has a lock mode `accepted` allows.
pub(crate) fn expect_lock_mode(
    segment: &Segment,
    accepted: impl FnOnce(&LockMode) -> bool,
    opened_as: &'static str,
) -> Result<()> {
    if accepted(segment.lock_mode()) {
        Ok(())
    } else {
        Err(Error::LockModeMismatch {
            name: segment.name().to_owned(),
            found: segment.lock_mode().clone(),
            opened_as,
        })
    }
}

/// A primitive `P` in a segment of its own, which other processes open by
/// name: [`Lock`], [`RLock`], [`Semaphore`], [`Event`], [`Condition`] and
/// [`Barrier`] are this type. The operations are `P`'s, through `Deref`
/// (and, for [`Lock`], [`RLock`] and [`Condition`], their own poisoning
/// `lock` methods, whose guard also says which segment it locks).
///
/// Cheap to clone: the clones share one mapping.
pub struct Named<P: NamedPrimitive> {
    segment: Arc<Segment>,
    _primitive: PhantomData<fn() -> P>,
}

impl<P: NamedPrimitive> Named<P> {
    /// The descriptor of this primitive's segments.
    const LAYOUT: &'static Layout = Descriptor::<P>::LAYOUT;

    fn of(segment: Arc<Segment>) -> Self {
        Named {
            segment,
            _primitive: PhantomData,
        }
    }

    /// Creates the segment `name` for the primitive and lets `init`
    /// initialise it at the start of the data (a lock in the lock area is
    /// initialised by the segment, and `init` is not called).
    fn create_in(
        name: &str,
        options: &SegmentOptions,
        init: impl FnOnce(*mut P) -> Result<()>,
    ) -> Result<Self> {
        let (plan, place) = match P::SPEC.place {
            Place::LockArea { recursive: false } => (LockPlan::Own, None),
            Place::LockArea { recursive: true } => (LockPlan::OwnRecursive, None),
            Place::Data { mutex, .. } => (LockPlan::None, Some(mutex)),
        };
        let mut segment =
            Segment::create_locked(name, Self::LAYOUT, options, plan, |segment| match place {
                None => Ok(()),
                Some(_) => init(segment.data().cast::<P>().as_ptr()),
            })?;
        if place == Some(DataMutex::HeldByCallers) {
            segment.mark_mutex_in_data();
        }
        Ok(Named::of(Arc::new(segment)))
    }

    /// Opens the segment `name` in the default directory, waiting for its
    /// creator to finish it.
    ///
    /// # Errors
    ///
    /// As [`Value::open`](crate::Value::open); a segment that holds
    /// another primitive, or anything else, is an
    /// [`Error::LayoutMismatch`] naming what it holds.
    pub fn open(name: &str) -> Result<Self> {
        Self::open_with(name, &SegmentOptions::new())
    }

    /// [`open`](Named::open) with options: directory, timeout.
    ///
    /// # Errors
    ///
    /// As [`open`](Named::open).
    pub fn open_with(name: &str, options: &SegmentOptions) -> Result<Self> {
        let mut segment = Segment::open(name, Self::LAYOUT, options)?;
        let mode = P::SPEC.lock_mode();
        expect_lock_mode(&segment, |found| *found == mode, P::SPEC.what)?;
        match P::SPEC.data_mutex() {
            DataMutex::None => {}
            DataMutex::Internal => segment.check_mutex_at_data()?,
            DataMutex::HeldByCallers => {
                segment.check_mutex_at_data()?;
                segment.mark_mutex_in_data();
            }
        }
        if let Place::LockArea { .. } = P::SPEC.place {
            check_poison_word(&segment)?;
        }
        Ok(Named::of(Arc::new(segment)))
    }

    /// The name of the segment the primitive lives in (for a value's own
    /// lock, the value's name).
    pub fn name(&self) -> &str {
        self.segment.name()
    }

    /// That segment's file.
    pub fn path(&self) -> &Path {
        self.segment.path()
    }

    /// Removes the segment's name (see [`Value::unlink`](crate::Value::unlink)).
    ///
    /// # Errors
    ///
    /// As [`Value::unlink`](crate::Value::unlink).
    pub fn unlink(&self) -> Result<()> {
        self.segment.unlink()
    }

    /// The segment's (device, inode): the same for every handle and every
    /// mapping of it, in every process, and different for a segment
    /// created again under the same name.
    pub fn identity(&self) -> (u64, u64) {
        self.segment.identity()
    }
}

impl<P: NamedPrimitive> Clone for Named<P> {
    fn clone(&self) -> Self {
        Named::of(Arc::clone(&self.segment))
    }
}

impl<P: NamedPrimitive> Deref for Named<P> {
    type Target = P;

    fn deref(&self) -> &P {
        let place = match P::SPEC.place {
            Place::LockArea { .. } => self.segment.lock_area(),
            Place::Data { .. } => self.segment.data(),
        };
        // SAFETY: the segment was created for, or opened and checked
        // against, this primitive's descriptor and lock mode, so its
        // creator initialised the primitive in place (at the start of the
        // lock area for the locks, of the data for the others) before
        // publishing it; the place is as large and as aligned as the
        // primitive (the descriptor's size and alignment, or the const
        // assertions above for the lock area); it stays mapped while
        // `self.segment` lives, which outlives the borrow, and nobody
        // re-initialises it. All of `P`'s state is interior-mutable.
        unsafe { &*place.cast::<P>().as_ptr() }
    }
}

impl<P: NamedPrimitive> fmt::Debug for Named<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(P::SPEC.name)
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

/// The poison and sequence words of `segment`'s own lock (see
/// [`crate::sync::poison`] and [`crate::sync::seqlock`]).
#[inline]
fn lock_words(segment: &Segment) -> &LockWords {
    debug_assert!(matches!(
        segment.lock_mode(),
        LockMode::Own | LockMode::OwnRecursive
    ));
    // SAFETY: the segment's lock mode is Own (checked by every constructor
    // of a `Lock`), so the lock area is an own lock's area, zeroed by the
    // creator, mapped while `segment` lives, which outlives the borrow;
    // every process accesses the words only atomically.
    unsafe { LockWords::at_area(segment.lock_area().as_ptr()) }
}

/// Checks, on open, that the poison word of `segment`'s own lock is one
/// this crate writes.
fn check_poison_word(segment: &Segment) -> Result<()> {
    poison::check_word(lock_words(segment).poison()).map_err(|found| Error::CorruptLock {
        name: segment.name().to_owned(),
        reason: format!("its poison word is {found}, neither 0 nor 1"),
    })
}

/// A lock shared by processes through a named segment: Python's
/// `multiprocessing.Lock()`, robust (a holder that dies is reported to the
/// next locker, see [`RawLock`]).
///
/// A `Lock` is also what guards a [`Value`](crate::Value) or an
/// [`Array`](crate::Array): [`Value::get_lock`](crate::Value::get_lock)
/// returns the value's own lock as a `Lock`, and
/// [`Builder::lock`](crate::Builder::lock) makes a value
/// guarded by a `Lock` it shares with other objects. The guard of
/// [`Lock::lock`] knows which segment it locks, so an object can check that
/// it is given the guard of its own lock
/// ([`Value::get_locked`](crate::Value::get_locked)).
///
/// # Examples
///
/// ```
/// use shmstruct::{Lock, SegmentOptions};
///
/// let dir = std::env::temp_dir().join(format!("shmstruct-doc-lock-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let options = SegmentOptions::new().dir(&dir).unlink_on_drop(true);
///
/// let lock = Lock::create_with("the-lock", &options)?;
/// // Another process would open it by name:
/// let other = Lock::open_with("the-lock", &options)?;
/// {
///     let _guard = lock.lock()?;
///     assert!(other.try_lock().is_err()); // held
/// }
/// assert!(other.try_lock().is_ok());
/// # drop((lock, other));
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
pub type Lock = Named<RawLock>;

impl Lock {
    /// Creates the lock segment `name` in the default directory, unlocked.
    ///
    /// # Errors
    ///
    /// As [`Value::create`](crate::Value::create).
    pub fn create(name: &str) -> Result<Lock> {
        Lock::create_with(name, &SegmentOptions::new())
    }

    /// [`Lock::create`] with options: directory, mode, unlinking on drop.
    ///
    /// # Errors
    ///
    /// As [`Value::create`](crate::Value::create).
    pub fn create_with(name: &str, options: &SegmentOptions) -> Result<Lock> {
        Named::create_in(name, options, |_| Ok(()))
    }

    /// Opens the segment `name` as the lock of another object: any segment
    /// with its own (non-recursive) lock — a `Lock`, or a `Value` or
    /// `Array` whose lock is shared — whatever its data.
    pub(crate) fn open_lock_of(name: &str, options: &SegmentOptions) -> Result<Lock> {
        let segment = Segment::open_any(name, options)?;
        expect_lock_mode(
            &segment,
            |mode| *mode == LockMode::Own,
            "the lock of another object",
        )?;
        check_poison_word(&segment)?;
        Ok(Named::of(Arc::new(segment)))
    }

    /// The own lock of `segment`, whose lock mode is [`LockMode::Own`].
    pub(crate) fn of_segment(segment: Arc<Segment>) -> Lock {
        assert_eq!(*segment.lock_mode(), LockMode::Own);
        Named::of(segment)
    }

    /// The own lock of an opened `segment`, whose lock mode is
    /// [`LockMode::Own`], after checking its poison word.
    pub(crate) fn of_opened_segment(segment: Arc<Segment>) -> Result<Lock> {
        check_poison_word(&segment)?;
        Ok(Lock::of_segment(segment))
    }

    /// The lock in place, for the operations this handle does not repeat.
    #[inline]
    pub fn raw(&self) -> &RawLock {
        self
    }

    /// The poison and sequence words of the lock area.
    #[inline]
    pub(crate) fn words(&self) -> &LockWords {
        lock_words(&self.segment)
    }

    /// This process's snapshot gate of the lock (see
    /// [`crate::sync::seqlock`]).
    #[inline]
    pub(crate) fn gate(&self) -> &SnapshotGate {
        self.segment.snapshot_gate()
    }

    /// A copy of the data this lock guards, made by `read` without taking
    /// the lock when no holder is writing, and never torn: the seqlock read
    /// of [`crate::sync::seqlock`]. `read` copies with relaxed atomic loads
    /// (`crate::atomic_copy`) and may run several times; if the lock-free
    /// copies keep failing (a long write, or a holder that died mid-write),
    /// the lock is taken, waiting as `wait` says, and `read` runs under it.
    ///
    /// # Errors
    ///
    /// [`Error::Poisoned`] for poisoned data, as `get()` reports it; the
    /// errors of [`Lock::lock_timeout`] (or [`Lock::try_lock`]) if the lock
    /// had to be taken.
    #[inline]
    pub(crate) fn read_consistent<R>(&self, wait: Wait, read: impl FnMut() -> R) -> Result<R> {
        self.raw()
            .read_consistent(self.words(), self.gate(), &self.segment, wait, read)
    }
}

/// The locks, [`Lock`] and [`RLock`]: locking with poisoning, kept in the
/// lock area's poison word.
impl<K: LockKind> Named<RobustLock<K>> {
    /// Locks with poisoning: the building block of every `lock()` of this
    /// lock and of the objects it guards. A [`Lock`]'s guard also keeps the
    /// sequence word odd while it lives (an [`RLock`]'s cannot: a nested
    /// level would make it even while the outer one still writes).
    #[inline(always)]
    pub(crate) fn acquire(
        &self,
        wait: Wait,
        poisoned: Poisoned,
    ) -> Result<Guard<'_, RobustLock<K>>> {
        let gate = (!RobustLock::<K>::REENTRANT).then(|| self.segment.snapshot_gate());
        let beside = lock_words(&self.segment).beside(gate);
        poison::lock(&**self, beside, &self.segment, wait, poisoned)
    }

    /// Blocks until this thread holds the lock (Python's `acquire()`; for
    /// an [`RLock`], one more level of it).
    ///
    /// # Errors
    ///
    /// - [`Error::Poisoned`] if a holder died or panicked holding the lock
    ///   and nobody has cleared that since (the lock is released again; see
    ///   [`lock_poisoned`](Named::lock_poisoned));
    /// - [`Error::WouldDeadlock`] if this thread holds a [`Lock`] already
    ///   (an [`RLock`] it holds is locked again at once);
    /// - [`Error::NotRecoverable`] only for a lock an older version of this
    ///   crate, or another program, left in that state.
    #[inline]
    pub fn lock(&self) -> Result<Guard<'_, RobustLock<K>>> {
        self.acquire(Wait::Block, Poisoned::Refuse)
    }

    /// Blocks until this thread holds the lock, poisoned or not: the way to
    /// repair the data after [`Error::Poisoned`], then
    /// [`clear_poison`](NamedLockGuard::clear_poison) (as
    /// [`std::sync::PoisonError::into_inner`]).
    ///
    /// # Errors
    ///
    /// As [`lock`](Named::lock), without [`Error::Poisoned`].
    pub fn lock_poisoned(&self) -> Result<Guard<'_, RobustLock<K>>> {
        self.acquire(Wait::Block, Poisoned::Accept)
    }

    /// [`lock_poisoned`](Named::lock_poisoned), giving up with [`Error::TimedOut`] after
    /// `timeout`.
    ///
    /// # Errors
    ///
    /// As [`lock_timeout`](Named::lock_timeout), without [`Error::Poisoned`].
    pub fn lock_poisoned_timeout(&self, timeout: Duration) -> Result<Guard<'_, RobustLock<K>>> {
        self.acquire(Wait::Timeout(timeout), Poisoned::Accept)
    }

    /// Whether any thread of any process holds the lock (Python's
    /// `locked()`); see [`RobustLock::locked`].
    pub fn locked(&self) -> bool {
        RobustLock::locked(self)
    }

    /// Takes the lock if nobody holds it (Python's `acquire(False)`).
    ///
    /// # Errors
    ///
    /// [`Error::WouldBlock`] if another thread holds it; as [`lock`](Named::lock).
    pub fn try_lock(&self) -> Result<Guard<'_, RobustLock<K>>> {
        self.acquire(Wait::Try, Poisoned::Refuse)
    }

    /// Blocks until this thread holds the lock or `timeout` passes
    /// (Python's `acquire(timeout=...)`).
    ///
    /// # Errors
    ///
    /// [`Error::TimedOut`] past the timeout; as [`lock`](Named::lock).
    pub fn lock_timeout(&self, timeout: Duration) -> Result<Guard<'_, RobustLock<K>>> {
        self.acquire(Wait::Timeout(timeout), Poisoned::Refuse)
    }
}

/// Proof that this thread holds a [`Lock`] (or a [`Condition`]'s lock), and
/// of which one: the segment's identity (device and inode), the same in
/// every process and every mapping. Dropping it unlocks.
///
/// Objects guarded by that lock accept it for access under the lock already
/// held: copies through `&guard`
/// ([`Value::get_locked`](crate::Value::get_locked),
/// [`Value::set_locked`](crate::Value::set_locked), and the same on arrays
/// and byte strings), and in place through `&mut guard`.
///
/// # In-place access
///
/// [`get_mut_locked`](crate::Shared::get_mut_locked) (of a `Value`, an
/// `Array` or `SharedBytes`) checks, as the copies do, that the guard holds
/// the object's lock (by the lock segment's identity), and then returns a
/// `&mut` into the shared
/// memory, borrowing the object and the guard for as long as it lives. It
/// is the only reference to that data anywhere:
///
/// - Other threads and processes wait for the lock, which this guard holds
///   until it drops; and it cannot drop, move or go to another thread (it is
///   neither `Send` nor `Sync`) while it is borrowed.
/// - This thread has no other guard of the lock: the lock is not
///   recursive, so locking it again through any handle — the object's
///   `lock()`, `get()`, `set()`, or any [`Lock`] of the same segment —
///   fails with [`Error::WouldDeadlock`] rather than handing out a second
///   guard.
/// - Through this guard, one reference at a time: the `&mut guard` borrow
///   lasts as long as the reference, so two objects that share the lock
///   (or two handles of one object, which map the same memory twice) are
///   reached one after the other, and the copying `_locked` forms, which
///   take `&guard`, wait too. Python's `with lock:` over several objects
///   becomes a sequence of short borrows, each used and dropped before the
///   next.
/// - The memory stays mapped: the object is borrowed too.
///
/// As everywhere, this holds only if every process follows the lock; a
/// program that writes the data without taking it breaks it. A guard of
/// poisoned data ([`Lock::lock_poisoned`]) is accepted: repair the data in
/// place, drop the reference, then [`clear_poison`](Self::clear_poison).
///
/// It is a [`LockGuard`] (the one [`Guard`](crate::sync::Guard) type) that
/// knows the segment its lock lives in.
pub type NamedLockGuard<'a> = LockGuard<'a>;

/// A reentrant lock shared by processes through a named segment:
/// Python's `multiprocessing.RLock()`, robust. It locks as [`Lock`] does,
/// with poisoning (a holder that dies or panics at any depth poisons it
/// until [`clear_poison`](crate::sync::Guard::clear_poison)), and may be
/// locked again by its holder; `release` and `leak` are [`RawRLock`]'s
/// (through `Deref`).
///
/// # Examples
///
/// ```
/// use shmstruct::{RLock, SegmentOptions};
///
/// let dir = std::env::temp_dir().join(format!("shmstruct-doc-rlock-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let options = SegmentOptions::new().dir(&dir).unlink_on_drop(true);
/// let lock = RLock::create_with("rlock", &options)?;
/// let outer = lock.lock()?;
/// let inner = lock.lock()?; // the owner may lock again
/// drop((inner, outer));
/// # drop(lock);
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
pub type RLock = Named<RawRLock>;

impl RLock {
    /// Creates the reentrant lock segment `name` in the default directory.
    ///
    /// # Errors
    ///
    /// As [`Value::create`](crate::Value::create).
    pub fn create(name: &str) -> Result<RLock> {
        RLock::create_with(name, &SegmentOptions::new())
    }

    /// [`RLock::create`] with options.
    ///
    /// # Errors
    ///
    /// As [`Value::create`](crate::Value::create).
    pub fn create_with(name: &str, options: &SegmentOptions) -> Result<RLock> {
        Named::create_in(name, options, |_| Ok(()))
    }
}

/// A semaphore shared by processes through a named segment: Python's
/// `multiprocessing.Semaphore(n)`, or `BoundedSemaphore(n)` when
/// created with [`Semaphore::create_bounded`]. The operations are
/// [`RawSemaphore`]'s (through `Deref`), including what happens to a
/// dead holder's permits.
///
/// # Examples
///
/// ```
/// use shmstruct::{SegmentOptions, Semaphore};
///
/// let dir = std::env::temp_dir().join(format!("shmstruct-doc-sem-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let options = SegmentOptions::new().dir(&dir).unlink_on_drop(true);
/// let slots = Semaphore::create_bounded_with("slots", 2, &options)?;
/// let other = Semaphore::open_with("slots", &options)?;
/// let a = slots.acquire()?;
/// let b = other.acquire()?;
/// assert!(slots.try_acquire().is_err());
/// drop((a, b));
/// assert_eq!(other.value()?, 2);
/// # drop((slots, other));
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
pub type Semaphore = Named<RawSemaphore>;

impl Semaphore {
    /// Creates the semaphore segment `name` in the default directory with
    /// `value` free permits and no bound.
    ///
    /// # Errors
    ///
    /// As [`Value::create`](crate::Value::create).
    pub fn create(name: &str, value: u32) -> Result<Semaphore> {
        Semaphore::create_with(name, value, &SegmentOptions::new())
    }

    /// [`Semaphore::create`] with options.
    ///
    /// # Errors
    ///
    /// As [`Value::create`](crate::Value::create).
    pub fn create_with(name: &str, value: u32, options: &SegmentOptions) -> Result<Semaphore> {
        Named::create_in(name, options, |semaphore| {
            // SAFETY: the data area is RawSemaphore::SIZE bytes (the
            // descriptor's size) aligned to at least RawSemaphore::ALIGN,
            // and nobody else sees the segment before it is ready.
            unsafe { RawSemaphore::init(semaphore, value) }
        })
    }

    /// Creates a bounded semaphore (Python's `BoundedSemaphore(value)`):
    /// `value` free permits, and releasing more than that is an error.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSyncParameter`] if `value` is 0 (nothing is
    /// created); otherwise as [`Value::create`](crate::Value::create).
    pub fn create_bounded(name: &str, value: u32) -> Result<Semaphore> {
        Semaphore::create_bounded_with(name, value, &SegmentOptions::new())
    }

    /// [`Semaphore::create_bounded`] with options.
    ///
    /// # Errors
    ///
    /// As [`Semaphore::create_bounded`].
    pub fn create_bounded_with(
        name: &str,
        value: u32,
        options: &SegmentOptions,
    ) -> Result<Semaphore> {
        Named::create_in(name, options, |semaphore| {
            // SAFETY: as in `create_with`.
            unsafe { RawSemaphore::init_bounded(semaphore, value) }
        })
    }
}

/// An event shared by processes through a named segment: Python's
/// `multiprocessing.Event()`. The operations are [`RawEvent`]'s
/// (through `Deref`).
///
/// # Examples
///
/// ```
/// use shmstruct::{Event, SegmentOptions};
///
/// let dir = std::env::temp_dir().join(format!("shmstruct-doc-event-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let options = SegmentOptions::new().dir(&dir).unlink_on_drop(true);
/// let ready = Event::create_with("ready", &options)?;
/// Event::open_with("ready", &options)?.set();
/// assert!(ready.is_set());
/// # drop(ready);
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
pub type Event = Named<RawEvent>;

impl Event {
    /// Creates the event segment `name` in the default directory, cleared.
    ///
    /// # Errors
    ///
    /// As [`Value::create`](crate::Value::create).
    pub fn create(name: &str) -> Result<Event> {
        Event::create_with(name, &SegmentOptions::new())
    }

    /// [`Event::create`] with options.
    ///
    /// # Errors
    ///
    /// As [`Value::create`](crate::Value::create).
    pub fn create_with(name: &str, options: &SegmentOptions) -> Result<Event> {
        Named::create_in(name, options, |event| {
            // SAFETY: the data area is RawEvent::SIZE bytes aligned to at
            // least RawEvent::ALIGN, unseen by others before it is ready.
            unsafe { RawEvent::init(event) };
            Ok(())
        })
    }
}

/// A condition variable shared by processes through a named segment:
/// Python's `multiprocessing.Condition()`. The operations are
/// [`RawCondition`]'s (through `Deref`).
///
/// The condition carries its own lock ([`RawCondition::lock`]): all
/// waiters of one condition must use one mutex, and between processes
/// the way to know that is to keep them together. Unlike Python's
/// `Condition(lock)`, it cannot adopt a separate [`Lock`]; guard the
/// shared state with the condition's own lock instead.
///
/// Its own `lock`, `wait*` and `notify*` methods (which take the place
/// of [`RawCondition`]'s) use a [`NamedLockGuard`] and check it by the
/// segment's identity, so a guard taken through one handle of the
/// condition serves every handle of it, in any mapping.
///
/// Its lock poisons as [`Lock`]'s does: a holder that dies or panics
/// holding it makes `lock()` and the waits report [`Error::Poisoned`] in
/// every process until a repairer clears it ([`Condition::lock_poisoned`]).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use shmstruct::{Condition, SegmentOptions};
///
/// let dir = std::env::temp_dir().join(format!("shmstruct-doc-cond-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let options = SegmentOptions::new().dir(&dir).unlink_on_drop(true);
/// let changed = Condition::create_with("changed", &options)?;
/// let guard = changed.lock()?;
/// let (guard, result) = changed.wait_timeout(guard, Duration::from_millis(1))?;
/// assert!(result.timed_out());
/// changed.notify_all(&guard)?;
/// # drop(guard);
/// # drop(changed);
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
pub type Condition = Named<RawCondition>;

impl Condition {
    /// Checks that `guard` holds this condition's lock (through any handle
    /// of its segment).
    fn check_guard(&self, guard: &NamedLockGuard<'_>) -> Result<()> {
        if guard.holds(self.segment.identity()) {
            Ok(())
        } else {
            Err(Error::NotOwner {
                primitive: "condition's lock",
            })
        }
    }

    /// The words beside the condition's lock: its poison word.
    fn beside(&self) -> Beside<'_> {
        Beside::poison(self.poison_word())
    }

    /// Locks the condition's lock, with poisoning as [`Lock::lock`]: a
    /// holder that died or panicked holding it poisons the data it guards.
    ///
    /// # Errors
    ///
    /// As [`Lock::lock`].
    pub fn lock(&self) -> Result<NamedLockGuard<'_>> {
        self.acquire(Wait::Block, Poisoned::Refuse)
    }

    /// Locks the condition's lock if it is free.
    ///
    /// # Errors
    ///
    /// As [`Lock::try_lock`].
    pub fn try_lock(&self) -> Result<NamedLockGuard<'_>> {
        self.acquire(Wait::Try, Poisoned::Refuse)
    }

    /// Locks the condition's lock, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Lock::lock_timeout`].
    pub fn lock_timeout(&self, timeout: Duration) -> Result<NamedLockGuard<'_>> {
        self.acquire(Wait::Timeout(timeout), Poisoned::Refuse)
    }

    /// Locks the condition's lock, poisoned or not, to repair the data (see
    /// [`Lock::lock_poisoned`]).
    ///
    /// # Errors
    ///
    /// As [`Lock::lock_poisoned`].
    pub fn lock_poisoned(&self) -> Result<NamedLockGuard<'_>> {
        self.acquire(Wait::Block, Poisoned::Accept)
    }

    /// As [`lock_poisoned`](Condition::lock_poisoned), waiting at most
    /// `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Lock::lock_poisoned_timeout`].
    pub fn lock_poisoned_timeout(&self, timeout: Duration) -> Result<NamedLockGuard<'_>> {
        self.acquire(Wait::Timeout(timeout), Poisoned::Accept)
    }

    fn acquire(&self, wait: Wait, poisoned: Poisoned) -> Result<NamedLockGuard<'_>> {
        poison::lock(
            self.raw_lock(),
            self.beside(),
            &self.segment,
            wait,
            poisoned,
        )
    }

    /// Waits as [`RawCondition::wait_for_verified`] says, after checking
    /// `guard` by segment identity, and gives back a guard of this
    /// condition again, with poisoning: if a holder of the lock died while
    /// this thread waited, or the data is poisoned when it has the lock
    /// back, the lock is released and [`Error::Poisoned`] returned.
    fn wait_named<'a>(
        &'a self,
        guard: NamedLockGuard<'a>,
        timeout: Option<Duration>,
        condition: Option<&mut dyn FnMut() -> bool>,
    ) -> Result<(NamedLockGuard<'a>, WaitTimeoutResult)> {
        self.check_guard(&guard)?;
        let waited = match condition {
            Some(condition) => self.wait_for_verified(guard, timeout, condition),
            None => self.wait_verified(guard, timeout),
        };
        let (guard, result) = match waited {
            Ok(relocked) => relocked,
            Err(LockError::OwnerDied(died)) => {
                let (guard, result) = died.into_guard();
                (poison::recovered(guard, self.beside())?, result)
            }
            Err(LockError::Failed(error)) => return Err(error),
        };
        // Built again as `poison::lock` builds it (a guard given back
        // without having been released is checked again too, as
        // `Error::Poisoned` says).
        let lock = guard.into_held();
        // SAFETY: this thread holds the lock, and gave up its guard above.
        unsafe { poison::refuse(lock, self.beside(), &self.segment, Poisoned::Refuse) }?;
        Ok((Guard::poisoning(lock, self.beside(), &self.segment), result))
    }

    /// As [`RawCondition::wait`], with a guard of this condition taken
    /// through any handle of it.
    ///
    /// # Errors
    ///
    /// [`Error::Poisoned`] (the lock released) if a holder of the lock died
    /// or panicked while this thread waited; as [`RawCondition::wait`].
    pub fn wait<'a>(&'a self, guard: NamedLockGuard<'a>) -> Result<NamedLockGuard<'a>> {
        self.wait_named(guard, None, None).map(|(guard, _)| guard)
    }

    /// As [`RawCondition::wait_timeout`], with a guard of this condition
    /// taken through any handle of it.
    ///
    /// # Errors
    ///
    /// As [`Condition::wait`].
    pub fn wait_timeout<'a>(
        &'a self,
        guard: NamedLockGuard<'a>,
        timeout: Duration,
    ) -> Result<(NamedLockGuard<'a>, WaitTimeoutResult)> {
        self.wait_named(guard, Some(timeout), None)
    }

    /// As [`RawCondition::wait_for`], with a guard of this condition taken
    /// through any handle of it.
    ///
    /// # Errors
    ///
    /// As [`Condition::wait`].
    pub fn wait_for<'a>(
        &'a self,
        guard: NamedLockGuard<'a>,
        mut condition: impl FnMut() -> bool,
    ) -> Result<NamedLockGuard<'a>> {
        self.wait_named(guard, None, Some(&mut condition))
            .map(|(guard, _)| guard)
    }

    /// As [`RawCondition::wait_for_timeout`], with a guard of this
    /// condition taken through any handle of it.
    ///
    /// # Errors
    ///
    /// As [`Condition::wait`].
    pub fn wait_for_timeout<'a>(
        &'a self,
        guard: NamedLockGuard<'a>,
        timeout: Duration,
        mut condition: impl FnMut() -> bool,
    ) -> Result<(NamedLockGuard<'a>, WaitTimeoutResult)> {
        self.wait_named(guard, Some(timeout), Some(&mut condition))
    }

    /// As [`RawCondition::notify`], with a guard of this condition taken
    /// through any handle of it.
    ///
    /// # Errors
    ///
    /// [`Error::NotOwner`] if `guard` is not of this condition's lock.
    pub fn notify(&self, guard: &NamedLockGuard<'_>, n: u32) -> Result<()> {
        self.check_guard(guard)?;
        self.notify_verified(guard, n)
    }

    /// Wakes one waiter.
    ///
    /// # Errors
    ///
    /// As [`Condition::notify`].
    pub fn notify_one(&self, guard: &NamedLockGuard<'_>) -> Result<()> {
        self.notify(guard, 1)
    }

    /// Wakes every waiter.
    ///
    /// # Errors
    ///
    /// As [`Condition::notify`].
    pub fn notify_all(&self, guard: &NamedLockGuard<'_>) -> Result<()> {
        self.notify(guard, u32::MAX)
    }

    /// Creates the condition segment `name` in the default directory.
    ///
    /// # Errors
    ///
    /// As [`Value::create`](crate::Value::create).
    pub fn create(name: &str) -> Result<Condition> {
        Condition::create_with(name, &SegmentOptions::new())
    }

    /// [`Condition::create`] with options.
    ///
    /// # Errors
    ///
    /// As [`Value::create`](crate::Value::create).
    pub fn create_with(name: &str, options: &SegmentOptions) -> Result<Condition> {
        Named::create_in(name, options, |condition| {
            // SAFETY: the data area is RawCondition::SIZE bytes aligned to
            // at least RawCondition::ALIGN, unseen before it is ready.
            unsafe { RawCondition::init(condition) }
        })
    }
}

/// A barrier shared by processes through a named segment: Python's
/// `multiprocessing.Barrier(parties)`. The operations are
/// [`RawBarrier`]'s (through `Deref`).
///
/// # Examples
///
/// ```
/// use shmstruct::{Barrier, SegmentOptions};
///
/// let dir = std::env::temp_dir().join(format!("shmstruct-doc-barrier-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let options = SegmentOptions::new().dir(&dir).unlink_on_drop(true);
/// let start = Barrier::create_with("start", 1, &options)?;
/// assert_eq!(Barrier::open_with("start", &options)?.parties(), 1);
/// start.wait()?; // one party: passes at once
/// # drop(start);
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
pub type Barrier = Named<RawBarrier>;

impl Barrier {
    /// Creates the barrier segment `name` in the default directory for
    /// `parties` parties.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSyncParameter`] if `parties` is 0 (nothing is
    /// created); otherwise as [`Value::create`](crate::Value::create).
    pub fn create(name: &str, parties: u32) -> Result<Barrier> {
        Barrier::create_with(name, parties, &SegmentOptions::new())
    }

    /// [`Barrier::create`] with options.
    ///
    /// # Errors
    ///
    /// As [`Barrier::create`].
    pub fn create_with(name: &str, parties: u32, options: &SegmentOptions) -> Result<Barrier> {
        Named::create_in(name, options, |barrier| {
            // SAFETY: the data area is RawBarrier::SIZE bytes aligned to at
            // least RawBarrier::ALIGN, unseen before it is ready.
            unsafe { RawBarrier::init(barrier, parties) }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_round_trip() {
        for layout in [
            Lock::LAYOUT,
            RLock::LAYOUT,
            Semaphore::LAYOUT,
            Event::LAYOUT,
            Condition::LAYOUT,
            Barrier::LAYOUT,
        ] {
            let decoded = Layout::decode(&layout.encode()).expect("decodes");
            assert_eq!(&decoded, layout);
            assert_eq!(decoded.fingerprint(), layout.fingerprint());
        }
        assert_eq!(Semaphore::LAYOUT.size(), RawSemaphore::SIZE);
        assert_eq!(Semaphore::LAYOUT.align(), RawSemaphore::ALIGN);
        assert_eq!(Lock::LAYOUT.name(), "Lock");
        assert_eq!(Lock::LAYOUT.size(), 0);
    }
}
