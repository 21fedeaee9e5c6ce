//! Creating and opening an object, with every option, in one place.

use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::layout::SharedLayout;
use crate::named::Lock;
use crate::segment::SegmentOptions;

use super::data::{create_segment, Place};
use super::locking::{self, expect_no_lock, open_lock, LockChoice, Locked};
use super::shape::{self, Bytes, One, Shape};
use super::Shared;

/// How many times [`open_or_create`](Builder::open_or_create) tries again
/// when the segment it did not find exists by the time it creates it, or
/// the one it found is gone by the time it opens it.
const OPEN_OR_CREATE_ROUNDS: usize = 8;

/// Creates or opens a [`Shared`] object (a [`Value`](crate::Value),
/// [`Array`](crate::Array), byte string, ...), in the manner of
/// [`std::fs::OpenOptions`]: set what differs from the defaults, then
/// [`create`](Builder::create), [`open`](Builder::open) or
/// [`open_or_create`](Builder::open_or_create).
///
/// The defaults: the default directory (`/dev/shm`, or `$SHMSTRUCT_DIR`),
/// mode `0600`, a one-second wait for a creator still initialising the
/// segment, the object's own lock (for a [`Locked`] one), and the creating
/// handle unlinking the name when its last clone drops.
///
/// ```
/// use shmstruct::{Array, SegmentOptions, Value};
///
/// # let dir = std::env::temp_dir().join(format!("shmstruct-doc-build-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// // Python's `Array(c_double, 1000)`: zeroed elements.
/// let a = Array::<f64>::builder("samples").dir(&dir).zeroed(1000)?;
/// assert_eq!(a.to_vec()?, vec![0.0; 1000]);
///
/// // A whole options value, as the named primitives take it.
/// let options = SegmentOptions::new().dir(&dir).mode(0o640);
/// let squares = Array::builder("squares")
///     .options(&options)
///     .from_iter((0..4u32).map(|i| u64::from(i * i)))?;
/// assert_eq!(squares.get(3)?, 9);
///
/// // Created by whichever process comes first, opened by the others.
/// let n = Value::<u32>::builder("n").dir(&dir).open_or_create(7)?;
/// let m = Value::<u32>::builder("n").dir(&dir).open_or_create(8)?;
/// assert!(n.is_creator() && !m.is_creator());
/// assert_eq!(m.get()?, 7);
/// # drop((a, squares, n, m));
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
#[must_use = "a builder does nothing until `create`, `open` or `open_or_create`"]
pub struct Builder<D: Shape + ?Sized, L: LockChoice> {
    name: String,
    options: SegmentOptions,
    lock: Option<Lock>,
    capacity: Option<usize>,
    _object: PhantomData<fn() -> Shared<D, L>>,
}

impl<D: Shape + ?Sized, L: LockChoice> Clone for Builder<D, L> {
    fn clone(&self) -> Self {
        Builder {
            name: self.name.clone(),
            options: self.options.clone(),
            lock: self.lock.clone(),
            capacity: self.capacity,
            _object: PhantomData,
        }
    }
}

impl<D: Shape + ?Sized, L: LockChoice> fmt::Debug for Builder<D, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("face", &shape::face::<D>(L::LOCKED).0)
            .field("name", &self.name)
            .field("options", &self.options)
            .field("lock", &self.lock.as_ref().map(Lock::name))
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl<D: Shape + ?Sized, L: LockChoice> Builder<D, L> {
    pub(super) fn new(name: &str) -> Builder<D, L> {
        Builder {
            name: name.to_owned(),
            options: SegmentOptions::new(),
            lock: None,
            capacity: None,
            _object: PhantomData,
        }
    }

    /// Uses `dir` instead of the default directory.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.options = self.options.dir(dir);
        self
    }

    /// Creates the segment with permission bits `mode` (default `0o600`:
    /// only this user), exactly, whatever the umask.
    pub fn mode(mut self, mode: u32) -> Self {
        self.options = self.options.mode(mode);
        self
    }

    /// How long an opener waits for a creator still initialising the
    /// segment (default one second).
    pub fn open_timeout(mut self, timeout: Duration) -> Self {
        self.options = self.options.open_timeout(timeout);
        self
    }

    /// Whether a created segment outlives its creating handle (default
    /// `false`: the name is unlinked when the handle's last clone drops).
    /// With `true` it lives until something unlinks it. Openers never
    /// unlink, whatever this says.
    pub fn keep(mut self, keep: bool) -> Self {
        self.options = self.options.unlink_on_drop(!keep);
        self
    }

    /// Takes every option from `options` (directory, mode, open timeout,
    /// unlinking on drop, trusted owners and groups), replacing what was
    /// set before.
    pub fn options(mut self, options: &SegmentOptions) -> Self {
        self.options = options.clone();
        self
    }

    /// Opens the segment and checks that it holds this shape of data with
    /// this lock choice, waiting up to the open timeout for its creator to
    /// finish it; a shared lock's segment is opened too. An array or a
    /// byte string takes its length from the segment.
    ///
    /// # Errors
    ///
    /// [`NotFound`](Error::NotFound),
    /// [`PermissionDenied`](Error::PermissionDenied),
    /// [`InvalidName`](Error::InvalidName),
    /// [`Untrusted`](Error::Untrusted),
    /// [`NotASegment`](Error::NotASegment),
    /// [`UnsupportedVersion`](Error::UnsupportedVersion),
    /// [`Truncated`](Error::Truncated),
    /// [`CorruptHeader`](Error::CorruptHeader),
    /// [`StillInitialising`](Error::StillInitialising),
    /// [`LayoutMismatch`](Error::LayoutMismatch) naming the differing
    /// fields, [`CorruptDescriptor`](Error::CorruptDescriptor),
    /// [`LockModeMismatch`](Error::LockModeMismatch) for a segment with a
    /// lock opened as an unlocked object or the reverse, or
    /// [`Io`](Error::Io); the same for a shared lock's segment, and
    /// [`WrongLock`](Error::WrongLock) if that segment was unlinked and
    /// created again since the object was created.
    pub fn open(self) -> Result<Shared<D, L>> {
        let (segment, len) = shape::open::<D>(&self.name, &self.options)?;
        let segment = Arc::new(segment);
        let (_, opened_as) = shape::face::<D>(L::LOCKED);
        if !L::LOCKED {
            expect_no_lock(&segment, opened_as)?;
        }
        let lock = L::handle(|| open_lock(&segment, &self.options, opened_as))?;
        Ok(Shared {
            segment,
            len,
            lock,
            created: false,
            _data: PhantomData,
        })
    }

    /// Creates the segment for `len` elements and lets `init` write them
    /// before it is published.
    fn create_len(
        self,
        len: usize,
        init: impl FnOnce(Place<'_, D::Element>) -> Result<()>,
    ) -> Result<Shared<D, L>> {
        let layout = shape::describe::<D>(&self.name, len)?;
        let plan = locking::plan::<L>(&self.name, self.lock.as_ref(), &self.options)?;
        let segment = create_segment::<D>(&self.name, &layout, len, &self.options, plan, init)?;
        let segment = Arc::new(segment);
        let lock = L::handle(|| {
            Ok(self
                .lock
                .unwrap_or_else(|| Lock::of_segment(segment.clone())))
        })?;
        Ok(Shared {
            segment,
            len,
            lock,
            created: true,
            _data: PhantomData,
        })
    }

    /// Opens the segment, or creates it with `create` if it does not
    /// exist; race-free between processes: a creation that finds the name
    /// taken opens instead, and an open that finds it gone creates, a
    /// bounded number of times.
    fn open_or(self, create: impl Fn(Self) -> Result<Shared<D, L>>) -> Result<Shared<D, L>> {
        let mut rounds = 0;
        loop {
            rounds += 1;
            let last = rounds == OPEN_OR_CREATE_ROUNDS;
            match self.clone().open() {
                Err(Error::NotFound { .. }) => {}
                opened => return opened,
            }
            match create(self.clone()) {
                Err(Error::AlreadyExists { .. }) if !last => {}
                created => return created,
            }
        }
    }
}

impl<D: Shape + ?Sized> Builder<D, Locked> {
    /// Guards the object with `lock`, shared with other objects, instead
    /// of a lock of its own (Python's `Value(..., lock=lock)`): a named
    /// [`Lock`], or another object's [`get_lock`](Shared::get_lock). The
    /// header records the lock's segment name and identity, so openers
    /// find it; an opener needs no such call.
    pub fn lock(mut self, lock: &Lock) -> Self {
        self.lock = Some(lock.clone());
        self
    }
}

impl<T: SharedLayout, L: LockChoice> Builder<One<T>, L> {
    /// Creates the segment holding `init`.
    ///
    /// # Errors
    ///
    /// [`InvalidName`](Error::InvalidName),
    /// [`AlreadyExists`](Error::AlreadyExists),
    /// [`PermissionDenied`](Error::PermissionDenied),
    /// [`NoSpace`](Error::NoSpace) (nothing is left behind), or
    /// [`Io`](Error::Io); with a shared lock,
    /// [`WrongLock`](Error::WrongLock) if the lock's segment is not in the
    /// directory the value is created in (openers look for it there).
    pub fn create(self, init: T) -> Result<Shared<One<T>, L>> {
        self.create_len(1, |place| place.set(0, &init))
    }

    /// [`open`](Builder::open)s the segment, or [`create`](Builder::create)s
    /// it holding `init` if it does not exist, race-free between processes
    /// ([`is_creator`](Shared::is_creator) tells which happened).
    ///
    /// # Errors
    ///
    /// As [`open`](Builder::open) and [`create`](Builder::create).
    pub fn open_or_create(self, init: T) -> Result<Shared<One<T>, L>> {
        self.open_or(|builder| builder.create_len(1, |place| place.set(0, &init)))
    }
}

impl<T: SharedLayout, L: LockChoice> Builder<[T], L> {
    /// Creates the segment holding a copy of `elements`; its length is
    /// theirs.
    ///
    /// # Errors
    ///
    /// As [`Builder::create`]; [`InvalidInput`](Error::InvalidInput) for an
    /// array too large to map.
    pub fn create(self, elements: &[T]) -> Result<Shared<[T], L>> {
        self.create_len(elements.len(), |place| place.write(0, elements))
    }

    /// Creates the segment holding `len` elements whose bytes are all zero
    /// (a valid `T`, as for every `SharedLayout` type): Python's
    /// `Array(Point, 1000)`. Costs nothing per element: the file system
    /// hands out zeroed space.
    ///
    /// # Errors
    ///
    /// As [`create`](Builder::create).
    pub fn zeroed(self, len: usize) -> Result<Shared<[T], L>> {
        self.create_len(len, |_| Ok(()))
    }

    /// Creates the segment holding the elements `elements` yields: as many
    /// as its [`len`](ExactSizeIterator::len) says (an iterator that yields
    /// fewer leaves the rest zero, one that yields more is cut short).
    ///
    /// # Errors
    ///
    /// As [`create`](Builder::create).
    pub fn from_iter<I>(self, elements: I) -> Result<Shared<[T], L>>
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: ExactSizeIterator,
    {
        let elements = elements.into_iter();
        let len = elements.len();
        self.create_len(len, |place| {
            elements
                .take(len)
                .enumerate()
                .try_for_each(|(index, element)| place.set(index, &element))
        })
    }

    /// [`open`](Builder::open)s the segment, or
    /// [`create`](Builder::create)s it holding a copy of `elements` if it
    /// does not exist, race-free between processes. An array that exists
    /// keeps its length, whatever `elements`' is.
    ///
    /// # Errors
    ///
    /// As [`open`](Builder::open) and [`create`](Builder::create).
    pub fn open_or_create(self, elements: &[T]) -> Result<Shared<[T], L>> {
        self.open_or(|builder| builder.create(elements))
    }
}

impl<L: LockChoice> Builder<Bytes, L> {
    /// Gives the byte string a capacity of `capacity` bytes instead of the
    /// length of its first value (Python's `Array('c', capacity)`); the
    /// bytes after the value are zero.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// Creates the segment holding the byte string `initial`, with a
    /// capacity of [`capacity`](Builder::capacity) bytes, or exactly
    /// `initial.len()` (Python's `Array('c', initial)`).
    ///
    /// # Errors
    ///
    /// [`TooLong`](Error::TooLong) if `initial` is longer than the capacity
    /// (nothing is created); as [`Builder::create`].
    pub fn create(self, initial: &[u8]) -> Result<Shared<Bytes, L>> {
        let capacity = self.capacity.unwrap_or(initial.len());
        super::bytes::check_fits(initial, capacity)?;
        // The rest is already zero: the file system hands out zeroed space.
        self.create_len(capacity, |place| place.write(0, initial))
    }

    /// [`open`](Builder::open)s the segment, or
    /// [`create`](Builder::create)s it holding `initial` if it does not
    /// exist, race-free between processes. A byte string that exists keeps
    /// its capacity and value.
    ///
    /// # Errors
    ///
    /// As [`open`](Builder::open) and [`create`](Builder::create).
    pub fn open_or_create(self, initial: &[u8]) -> Result<Shared<Bytes, L>> {
        self.open_or(|builder| builder.create(initial))
    }
}
