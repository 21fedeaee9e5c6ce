//! `Value<T>`: one `T` in a named, type-checked segment.

use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::path::Path;
use std::ptr;
use std::sync::atomic::{compiler_fence, Ordering};

use crate::error::Result;
use crate::layout::SharedLayout;
use crate::segment::{Segment, SegmentOptions};

/// One `T` — a number or a `#[derive(SharedLayout)]` struct — in a named
/// shared-memory segment that other processes open by name.
///
/// [`create`](Value::create) makes the segment and writes the first value;
/// [`open`](Value::open) attaches to it after checking that it holds a `T`:
/// the same layout, field by field (two programs that declare the same
/// struct separately agree; swapped, retyped, added or removed fields are
/// refused with an [`Error::LayoutMismatch`](crate::Error::LayoutMismatch)
/// that names them).
///
/// [`get`](Value::get) and [`set`](Value::set) copy the whole value out of
/// and into the segment. Other processes may write it at any moment, so no
/// `&T` into the segment is ever handed out.
///
/// # Lifetime
///
/// The segment outlives every handle until its name is unlinked, always
/// explicitly: [`Value::unlink`] on any handle,
/// [`crate::unlink`] by name, or automatically when the creating handle
/// drops if it was created with [`SegmentOptions::unlink_on_drop`]. A handle
/// that opened the segment never unlinks it on its own: dropping it only
/// unmaps it.
///
/// # Concurrency
///
/// `get` and `set` take no lock (locks arrive with the segment's lock area):
/// a `get` that races a `set` in another process can see a mix of the old
/// and the new value. Fields that must change atomically should be
/// `Atomic*` integers or be guarded by a lock.
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
/// let counter = Value::create_with("counter", 41u64, &options).unwrap();
/// // Another process would do this:
/// let other = Value::<u64>::open_with("counter", &options).unwrap();
/// other.set(other.get() + 1);
/// assert_eq!(counter.get(), 42);
///
/// // Opening with another type is refused before any data is read.
/// let error = Value::<f64>::open_with("counter", &options).unwrap_err();
/// assert!(error.to_string().contains("holds `u64` (8 bytes) but `f64` (8 bytes) was expected"));
///
/// counter.unlink().unwrap();
/// # std::fs::remove_dir(&dir).unwrap();
/// ```
pub struct Value<T: SharedLayout> {
    segment: Segment,
    created: bool,
    _type: PhantomData<T>,
}

impl<T: SharedLayout> Value<T> {
    /// Creates the segment `name` in the default directory (`/dev/shm`, or
    /// `$SHMSTRUCT_DIR`), with mode `0600`, holding `init`.
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
        let segment = Segment::create(name, T::LAYOUT, options, |segment| {
            let data = segment.data().cast::<T>();
            // SAFETY: the data area is `size_of::<T>()` bytes inside the
            // mapping at an offset aligned to `align_of::<T>()` (Header::plan
            // aligned it to at least that, and the mapping is page-aligned);
            // only this process writes it before it is published as ready.
            unsafe { write_shared(data.as_ptr(), init) };
        })?;
        Ok(Value {
            segment,
            created: true,
            _type: PhantomData,
        })
    }

    /// Opens the segment `name` in the default directory and checks that it
    /// holds a `T`, waiting up to a second for its creator to finish it.
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
    /// [`CorruptDescriptor`](crate::Error::CorruptDescriptor), or
    /// [`Io`](crate::Error::Io).
    pub fn open(name: &str) -> Result<Value<T>> {
        Value::open_with(name, &SegmentOptions::new())
    }

    /// [`Value::open`] with options: directory, timeout.
    ///
    /// # Errors
    ///
    /// As [`Value::open`].
    pub fn open_with(name: &str, options: &SegmentOptions) -> Result<Value<T>> {
        let segment = Segment::open(name, T::LAYOUT, options)?;
        Ok(Value {
            segment,
            created: false,
            _type: PhantomData,
        })
    }

    /// A copy of the value.
    pub fn get(&self) -> T {
        // SAFETY: `data()` is `size_of::<T>()` bytes inside the mapping,
        // aligned for `T` (checked when the segment was opened, planned when
        // it was created), and stays mapped while `self` lives.
        unsafe { read_shared(self.segment.data().cast::<T>().as_ptr()) }
    }

    /// Replaces the value.
    pub fn set(&self, value: T) {
        // SAFETY: as in `get`.
        unsafe { write_shared(self.segment.data().cast::<T>().as_ptr(), value) };
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
    /// [`SegmentOptions::unlink_on_drop`].
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

/// Copies a `T` out of shared memory.
///
/// A plain copy (`memcpy`) after a compiler fence: the fence stops the
/// compiler from reusing what an earlier copy read, since another process
/// may have changed the memory since. (Not a volatile access: a volatile
/// load of a large aggregate compiles to a long run of loads and stores, and
/// of a very large one crashes LLVM.)
///
/// # Safety
///
/// `source` must be valid for reads of `size_of::<T>()` bytes and aligned
/// for `T`. Any bytes found there make a valid `T` (`T: SharedLayout`).
pub(crate) unsafe fn read_shared<T: SharedLayout>(source: *const T) -> T {
    debug_assert!(source.is_aligned());
    let mut value = MaybeUninit::<T>::uninit();
    compiler_fence(Ordering::SeqCst);
    // SAFETY: `source` is valid for `size_of::<T>()` bytes (the caller) and
    // cannot overlap `value`, a local; both are aligned for `T`.
    unsafe { ptr::copy_nonoverlapping(source, value.as_mut_ptr(), 1) };
    // SAFETY: every byte of `value` was written above, and any bytes are a
    // valid `T` (`T: SharedLayout`).
    unsafe { value.assume_init() }
}

/// Copies a `T` into shared memory: a plain copy (`memcpy`) followed by a
/// compiler fence, so that the compiler neither drops it as unobserved nor
/// moves it past later code.
///
/// # Safety
///
/// `destination` must be valid for writes of `size_of::<T>()` bytes and
/// aligned for `T`. The old value is overwritten without being dropped
/// (`T: SharedLayout` has no drop glue).
pub(crate) unsafe fn write_shared<T: SharedLayout>(destination: *mut T, value: T) {
    debug_assert!(destination.is_aligned());
    let value = std::mem::ManuallyDrop::new(value);
    // SAFETY: `destination` is valid for `size_of::<T>()` bytes (the
    // caller) and cannot overlap `value`, a local; both are aligned for `T`
    // (`ManuallyDrop<T>` has `T`'s layout).
    unsafe { ptr::copy_nonoverlapping(&*value, destination, 1) };
    compiler_fence(Ordering::SeqCst);
}

impl<T: SharedLayout> fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Value")
            .field("name", &self.name())
            .field("type", &T::LAYOUT.name())
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}
