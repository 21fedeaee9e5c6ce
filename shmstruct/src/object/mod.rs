//! The one shared object: a `T`, a `[T]` or a byte string in a named,
//! type-checked segment, with its own lock, a lock shared with other
//! objects, or none — and the faces users know it by: [`Value`],
//! [`RawValue`], [`Array`], [`RawArray`], [`SharedBytes`] and [`RawBytes`].
//!
//! - `shape`: how each kind of data is described in the segment's header
//!   and checked on open;
//! - `locking`: the two lock choices, and what a locked object does with
//!   its lock;
//! - `builder`: creating and opening, with every option;
//! - `data`: the one place that touches the data (all of this module's
//!   `unsafe`);
//! - `value`, `array`, `bytes`: the copies each face offers.

use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

use crate::error::Result;
use crate::layout::SharedLayout;
use crate::segment::Segment;

mod array;
mod builder;
mod bytes;
mod data;
mod locking;
mod shape;
mod value;

pub use array::ArrayIter;
pub use builder::Builder;
pub(crate) use locking::{open_lock, plan as lock_plan};
pub use locking::{LockChoice, Locked, Unlocked};
pub use shape::{Bytes, One, Shape};

/// Data of shape `D` — one `T` ([`One<T>`]), a `[T]` or a byte string
/// ([`Bytes`]) — in a named shared-memory segment that other processes open
/// by name, guarded as `L` says: [`Locked`] (its own lock, or a named
/// [`Lock`](crate::Lock) shared with other objects) or [`Unlocked`].
///
/// Users meet it through its faces, Python's names:
///
/// | face | is | Python |
/// |---|---|---|
/// | [`Value<T>`] | `Shared<One<T>, Locked>` | `Value(c_double, 1.0)` |
/// | [`RawValue<T>`] | `Shared<One<T>, Unlocked>` | `RawValue(c_double, 1.0)`, `Value(..., lock=False)` |
/// | [`Array<T>`] | `Shared<[T], Locked>` | `Array(Point, points)` |
/// | [`RawArray<T>`] | `Shared<[T], Unlocked>` | `RawArray(Point, points)` |
/// | [`SharedBytes`] | `Shared<Bytes, Locked>` | `Array('c', b'hello')` |
/// | [`RawBytes`] | `Shared<Bytes, Unlocked>` | `RawArray('c', b'hello')` |
///
/// Each is created and opened the same way: the short forms
/// (`Value::create(name, init)`, `Value::open(name)`), or a [`Builder`]
/// for everything else: directory, mode, a shared lock, keeping the
/// segment, `open_or_create`.
///
/// # Opening checks the type
///
/// An opener checks that the segment holds what it expects before it reads
/// a byte of data: the same layout, field by field (two programs that
/// declare the same struct separately agree; swapped, retyped, added or
/// removed fields are refused with an
/// [`Error::LayoutMismatch`](crate::Error::LayoutMismatch) that names them),
/// and the same lock choice (a `Value`'s segment opened as a `RawValue`, or
/// the reverse, is an
/// [`Error::LockModeMismatch`](crate::Error::LockModeMismatch)). An array or
/// a byte string takes its length from the segment.
///
/// # The three meanings of Python's `lock=`
///
/// - **Own lock** (the default, `lock=True`): a [`Locked`] object made
///   without [`Builder::lock`]. The lock lives in the object's segment.
/// - **No lock** (`lock=False`): an [`Unlocked`] object, whose segment
///   records that it has none. Access is by copies only, word by word with
///   relaxed atomics: a read racing a write in another process can see a
///   mix of the old and new value at word boundaries (always a valid `T`,
///   and no undefined behaviour).
/// - **A shared lock** (`lock=some_lock`): [`Builder::lock`] with a named
///   [`Lock`](crate::Lock), or another object's
///   [`get_lock`](Shared::get_lock). The segment records the lock segment's
///   name, and an opener opens that lock too. Several objects are then read
///   and written under one acquisition with the `_locked` forms (copies),
///   or in place with [`get_mut_locked`](Shared::get_mut_locked), which
///   check that the guard is of their lock.
///
/// # Access to a locked object
///
/// [`lock`](Shared::lock) returns a guard through which the data is read
/// and written in place (`*guard = ...`, `guard.x += 1.0`, `guard[3]`,
/// `guard.iter()`) until it drops. The copies (`get`, `set`, `to_vec`, ...)
/// take the lock for one copy, as Python's `.value` does. A
/// [`snapshot`](Shared::snapshot) copies without the lock while no holder
/// writes, and is never torn (a seqlock). No `&T` into the segment exists
/// unless the lock is held. Every process must follow the lock: another
/// program (C, Python) that writes the data without taking it breaks what
/// the guard promises.
///
/// # When a lock holder dies
///
/// A holder that dies with its process, or a thread that panics while
/// holding the guard, *poisons* the object, as [`std::sync::Mutex`] does,
/// but in the segment's lock area, so every process sees it, and it
/// outlives the process that caused it. From then on
/// [`lock`](Shared::lock) and every copy report
/// [`Error::Poisoned`](crate::Error::Poisoned) in every process, and change
/// nothing. The lock itself stays usable: the library marks the robust
/// mutex consistent as soon as it finds the owner dead, so no call can
/// leave it not recoverable. Whoever can repair the data takes
/// [`lock_poisoned`](Shared::lock_poisoned), repairs it through the guard
/// and calls [`clear_poison`](crate::DataGuard::clear_poison) (std's
/// `PoisonError::into_inner` and `Mutex::clear_poison`). With a shared
/// lock, the poison is the lock's: every object it guards is poisoned.
///
/// [`Error::NotRecoverable`](crate::Error::NotRecoverable) remains only for
/// a lock that something else left in that state: an older version of this
/// crate, another program, or an owner-died guard of the in-place
/// [`RawLock`](crate::RawLock) dropped unrepaired.
///
/// # Lifetime
///
/// The handle that creates the segment owns its name, as `tempfile` does:
/// when its last clone drops (and the clones of its own lock from
/// [`get_lock`](Shared::get_lock)), the name is unlinked — also on an early
/// `?` return or a panic. To let the segment outlive its creator, keep it:
/// [`Builder::keep`] or [`Shared::keep`]; it then lives until something
/// unlinks it ([`Shared::unlink`], [`crate::unlink`], `shmstruct rm`). A
/// handle that opened the segment never unlinks it on its own: dropping it
/// only unmaps it. A shared lock is a segment of its own, with a lifetime
/// of its own.
///
/// # Examples
///
/// ```
/// use shmstruct::{SharedBytes, Value};
///
/// let dir = std::env::temp_dir().join(format!("shmstruct-doc-shared-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
///
/// let counter = Value::<u64>::builder("counter").dir(&dir).create(41)?;
/// // Another process would do this:
/// let other = Value::<u64>::builder("counter").dir(&dir).open()?;
/// *other.lock()? += 1;
/// assert_eq!(counter.get()?, 42);
///
/// // Opening with another type is refused before any data is read.
/// let error = Value::<f64>::builder("counter").dir(&dir).open().unwrap_err();
/// assert!(error.to_string().contains("holds `u64` (8 bytes) but `f64` (8 bytes) was expected"));
///
/// // One lock guarding a value and a byte string, as Python's `lock=lock`.
/// let s = SharedBytes::builder("s").dir(&dir).lock(&counter.get_lock()).create(b"hello")?;
/// {
///     let lock = counter.get_lock();
///     let mut guard = lock.lock()?;
///     *counter.get_mut_locked(&mut guard)? += 1;
///     s.get_mut_locked(&mut guard)?.make_ascii_uppercase();
/// }
/// assert_eq!((counter.get()?, s.value()?), (43, b"HELLO".to_vec()));
///
/// // The creating handles unlink their segments as they drop.
/// drop((counter, other, s));
/// std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
#[must_use = "a creating handle unlinks its segment as soon as it drops: bind it, or keep it"]
pub struct Shared<D: Shape + ?Sized, L: LockChoice = Locked> {
    segment: Arc<Segment>,
    /// The number of elements: 1 for a value, the array's length, the byte
    /// string's capacity.
    len: usize,
    lock: L::Handle,
    created: bool,
    _data: PhantomData<D>,
}

/// One `T` — a number or a `#[derive(SharedLayout)]` struct — in a named
/// segment, guarded by a process-shared, robust lock: Python's
/// `multiprocessing.Value`. See [`Shared`] for creating, opening, locks
/// and lifetime.
///
/// # Examples
///
/// ```
/// let dir = std::env::temp_dir().join(format!("shmstruct-doc-value-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let n = shmstruct::Value::<i32>::builder("n").dir(&dir).create(7)?;
/// {
///     let mut guard = n.lock()?;
///     *guard *= *guard;
/// }
/// assert_eq!(n.get()?, 49);
/// # drop(n);
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
pub type Value<T> = Shared<One<T>, Locked>;

/// One `T` in a named segment with no lock: Python's `RawValue`, or
/// `Value(..., lock=False)`. Access is by word-wise atomic copies,
/// [`get`](Shared::get) and [`set`](Shared::set); see [`Shared`].
///
/// # Examples
///
/// ```
/// use shmstruct::RawValue;
///
/// let dir = std::env::temp_dir().join(format!("shmstruct-doc-rawvalue-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let x = RawValue::<f64>::builder("x").dir(&dir).create(1.0 / 3.0)?;
/// let other = RawValue::<f64>::builder("x").dir(&dir).open()?;
/// other.set(other.get() * other.get());
/// assert_eq!(x.get(), 0.1111111111111111);
/// # drop((x, other));
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
pub type RawValue<T> = Shared<One<T>, Unlocked>;

/// `len` elements of `T`, a length chosen when the segment is created, in
/// a named segment guarded by a process-shared, robust lock: Python's
/// `multiprocessing.Array`. The descriptor is `[T; len]`, so Python and C
/// see a `T * len` array. See [`Shared`].
///
/// # Examples
///
/// ```
/// use shmstruct::{Array, SharedLayout};
///
/// #[repr(C)]
/// #[derive(SharedLayout, Clone, Copy, Debug, PartialEq)]
/// struct Point {
///     x: f64,
///     y: f64,
/// }
///
/// let dir = std::env::temp_dir().join(format!("shmstruct-doc-array-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
///
/// let points = [Point { x: 1.875, y: -6.25 }, Point { x: -5.75, y: 2.0 }];
/// let a = Array::builder("points").dir(&dir).create(&points)?;
///
/// // Another process, knowing only the element type, squares every point
/// // under one acquisition of the lock:
/// let b = Array::<Point>::builder("points").dir(&dir).open()?;
/// for p in b.lock()?.iter_mut() {
///     *p = Point { x: p.x * p.x, y: p.y * p.y };
/// }
/// assert_eq!(a.get(0)?, Point { x: 3.515625, y: 39.0625 });
/// assert_eq!(b.lock()?[1], Point { x: 33.0625, y: 4.0 });
///
/// // Bulk copies need slices of the array's length.
/// let mut out = vec![Point { x: 0.0, y: 0.0 }; 3];
/// let error = a.copy_to_slice(&mut out).unwrap_err();
/// assert!(error.to_string().contains("3 elements"));
/// # drop((a, b));
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
pub type Array<T> = Shared<[T], Locked>;

/// `len` elements of `T` in a named segment with no lock: Python's
/// `RawArray`. Access is by word-wise atomic copies, close to `memcpy`
/// speed; [`iter`](Shared::iter) copies each element as it reaches it. See
/// [`Shared`].
///
/// # Examples
///
/// ```
/// use shmstruct::RawArray;
///
/// let dir = std::env::temp_dir().join(format!("shmstruct-doc-rawarray-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
///
/// let squares = RawArray::builder("squares").dir(&dir).create(&[0u64, 1, 4, 9])?;
/// // Another process would do this; it learns the length from the segment:
/// let other = RawArray::<u64>::builder("squares").dir(&dir).open()?;
/// assert_eq!(other.len(), 4);
/// other.set(3, 16)?;
/// assert_eq!(squares.iter().collect::<Vec<_>>(), [0, 1, 4, 16]);
///
/// // Out of range is an error, with the index and the length.
/// let error = squares.get(4).unwrap_err();
/// assert_eq!(error.to_string(), "index 4 is out of range for an array of length 4");
/// # drop((squares, other));
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
pub type RawArray<T> = Shared<[T], Unlocked>;

/// A byte string of fixed capacity in a named segment, guarded by a lock:
/// Python's `Array('c', b'hello world')`, whose capacity is the length of
/// its first value, or `Array('c', 20)` ([`Builder::capacity`]).
///
/// [`value`](Shared::value) is the bytes up to the first NUL (Python's
/// `.value`), [`raw`](Shared::raw) the whole buffer (`.raw`).
/// [`set_value`](Shared::set_value) writes the bytes and then one NUL if
/// there is room, leaving what follows as it was, as Python does. The
/// descriptor is a byte string of that capacity (`ByteString<N>`, ctypes
/// `c_char * N`), so Python and C see a `char` array, and a
/// [`Value<ByteString<N>>`](crate::ByteString) — the form for a capacity
/// known at compile time — opens the same segment. See [`Shared`].
///
/// # Examples
///
/// ```
/// use shmstruct::SharedBytes;
///
/// let dir = std::env::temp_dir().join(format!("shmstruct-doc-bytes-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
///
/// let s = SharedBytes::builder("s").dir(&dir).create(b"hello world")?;
/// assert_eq!(s.capacity(), 11);
/// // Another process:
/// let t = SharedBytes::builder("s").dir(&dir).open()?;
/// t.set_value(b"hi")?;
/// assert_eq!(s.value()?, b"hi");
/// assert_eq!(s.raw()?, b"hi\0lo world");
/// assert!(s.set_value(b"longer than eleven").is_err());
/// # drop((s, t));
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
pub type SharedBytes = Shared<Bytes, Locked>;

/// A byte string of fixed capacity in a named segment with no lock:
/// Python's `RawArray('c', ...)`. The copies of [`SharedBytes`], without
/// the lock. See [`Shared`].
///
/// Having no lock, it has no guard to lend its bytes under:
///
/// ```compile_fail,E0599
/// # fn f(raw: &shmstruct::RawBytes, lock: &shmstruct::Lock) -> shmstruct::Result<()> {
/// let mut guard = lock.lock()?;
/// raw.get_mut_locked(&mut guard)?; // no such method without a lock
/// # Ok(())
/// # }
/// ```
pub type RawBytes = Shared<Bytes, Unlocked>;

impl<D: Shape + ?Sized, L: LockChoice> Shared<D, L> {
    /// A builder for creating or opening the segment `name`: directory,
    /// mode, a shared lock, keeping the segment, `open_or_create`.
    ///
    /// ```
    /// use shmstruct::{Lock, Value};
    ///
    /// # let dir = std::env::temp_dir().join(format!("shmstruct-doc-builder-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let lock = Lock::create_with("lock", &shmstruct::SegmentOptions::new().dir(&dir))?;
    /// let a = Value::<i64>::builder("a").dir(&dir).mode(0o640).lock(&lock).create(10)?;
    /// let b = Value::<i64>::builder("b").dir(&dir).lock(&lock).open_or_create(0)?;
    /// assert!(b.is_creator());
    /// {
    ///     let mut guard = lock.lock()?;
    ///     a.set_locked(&guard, a.get_locked(&guard)? - 3)?;
    ///     b.set_locked(&guard, b.get_locked(&guard)? + 3)?;
    /// }
    /// assert_eq!((a.get()?, b.get()?), (7, 3));
    /// # drop((a, b, lock));
    /// # std::fs::remove_dir(&dir).unwrap();
    /// # Ok::<(), shmstruct::Error>(())
    /// ```
    pub fn builder(name: &str) -> Builder<D, L> {
        Builder::new(name)
    }

    /// Opens the segment `name` in the default directory (`/dev/shm`, or
    /// `$SHMSTRUCT_DIR`) and checks that it holds this shape of data with
    /// this lock choice, waiting up to a second for its creator to finish
    /// it; a shared lock's segment is opened too. See [`Builder::open`].
    ///
    /// # Errors
    ///
    /// As [`Builder::open`].
    pub fn open(name: &str) -> Result<Self> {
        Builder::new(name).open()
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        self.segment.name()
    }

    /// The segment's file.
    pub fn path(&self) -> &Path {
        self.segment.path()
    }

    /// Whether this handle (or the handle it was cloned from) created the
    /// segment.
    pub fn is_creator(&self) -> bool {
        self.created
    }

    /// Keeps the segment's name when the creating handle and its clones
    /// drop: the segment then lives until something unlinks it. A handle
    /// that opened the segment never unlinks it, so this changes nothing
    /// for it.
    pub fn keep(&self) {
        self.segment.keep();
    }

    /// Removes the segment's name now, so that no process can open it any
    /// more; handles that have it open keep working. A shared lock's
    /// segment is not touched.
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

/// Another handle to the same mapping (no new mapping, no system call).
/// It counts as the creator if this one does: the name is removed when the
/// last of the clones drops, unless kept.
impl<D: Shape + ?Sized, L: LockChoice> Clone for Shared<D, L> {
    fn clone(&self) -> Self {
        Shared {
            segment: Arc::clone(&self.segment),
            len: self.len,
            lock: self.lock.clone(),
            created: self.created,
            _data: PhantomData,
        }
    }
}

impl<D: Shape + ?Sized, L: LockChoice> fmt::Debug for Shared<D, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct(shape::face::<D>(L::LOCKED).0);
        debug
            .field("name", &self.name())
            .field("type", &D::Element::LAYOUT.name());
        if shape::has_length::<D>() {
            debug.field("len", &self.len);
        }
        debug
            .field("lock", &L::lock_name(&self.lock))
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}
