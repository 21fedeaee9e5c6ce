//! `RawValue<T>`: one `T` in a named segment with no lock — Python's
//! `multiprocessing.RawValue`.

use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

use crate::error::Result;
use crate::layout::SharedLayout;
use crate::named::expect_lock_mode;

use crate::segment::{LockMode, LockPlan, Segment, SegmentOptions};
use crate::value::{create_segment, read_shared, write_shared};

/// One `T` in a named shared-memory segment, with no lock: Python's
/// `RawValue`, or `Value(..., lock=False)`. Access is by copies only,
/// [`get`](RawValue::get) and [`set`](RawValue::set).
///
/// Its segment records that it has no lock ([`LockMode::None`]): opening a
/// [`Value`](crate::Value)'s segment as a `RawValue`, or a `RawValue`'s as
/// a `Value`, is an [`Error::LockModeMismatch`](crate::Error::LockModeMismatch)
/// (copies that ignore the lock would break what the value's lock guard
/// promises). A `get` racing a `set` in another process can see a mix
/// of the old and new value at word boundaries (always a valid `T`; the
/// copies are relaxed atomic word copies, so the race is defined); use
/// `Atomic*` fields or a locked `Value` when that matters.
///
/// # Examples
///
/// ```
/// use shmstruct::{RawValue, SegmentOptions};
///
/// let dir = std::env::temp_dir().join(format!("shmstruct-doc-rawvalue-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let options = SegmentOptions::new().dir(&dir).unlink_on_drop(true);
///
/// let x = RawValue::create_with("x", 1.0f64 / 3.0, &options)?;
/// let other = RawValue::<f64>::open_with("x", &options)?;
/// other.set(other.get() * other.get());
/// assert_eq!(x.get(), 0.1111111111111111);
/// # drop((x, other));
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
pub struct RawValue<T: SharedLayout> {
    segment: Arc<Segment>,
    created: bool,
    _type: PhantomData<T>,
}

/// Another handle to the same mapping (no new mapping, no system call).
/// It counts as the creator if this one does; a segment created with
/// [`SegmentOptions::unlink_on_drop`](crate::SegmentOptions::unlink_on_drop)
/// is removed when the last of the clones drops.
impl<T: SharedLayout> Clone for RawValue<T> {
    fn clone(&self) -> Self {
        RawValue {
            segment: Arc::clone(&self.segment),
            created: self.created,
            _type: PhantomData,
        }
    }
}

impl<T: SharedLayout> RawValue<T> {
    /// Creates the segment `name` in the default directory holding `init`.
    ///
    /// # Errors
    ///
    /// As [`Value::create`](crate::Value::create).
    pub fn create(name: &str, init: T) -> Result<RawValue<T>> {
        RawValue::create_with(name, init, &SegmentOptions::new())
    }

    /// [`RawValue::create`] with options: directory, mode, unlinking on drop.
    ///
    /// # Errors
    ///
    /// As [`Value::create`](crate::Value::create).
    pub fn create_with(name: &str, init: T, options: &SegmentOptions) -> Result<RawValue<T>> {
        let segment = create_segment(name, init, options, LockPlan::None)?;
        Ok(RawValue {
            segment: Arc::new(segment),
            created: true,
            _type: PhantomData,
        })
    }

    /// Opens the segment `name` in the default directory and checks that it
    /// holds a `T`.
    ///
    /// # Errors
    ///
    /// As [`Value::open`](crate::Value::open);
    /// [`LockModeMismatch`](crate::Error::LockModeMismatch) for a segment
    /// with a lock (a `Value`'s).
    pub fn open(name: &str) -> Result<RawValue<T>> {
        RawValue::open_with(name, &SegmentOptions::new())
    }

    /// [`RawValue::open`] with options: directory, timeout.
    ///
    /// # Errors
    ///
    /// As [`RawValue::open`].
    pub fn open_with(name: &str, options: &SegmentOptions) -> Result<RawValue<T>> {
        let segment = Segment::open(name, T::LAYOUT, options)?;
        expect_lock_mode(
            &segment,
            |mode| *mode == LockMode::None,
            "a `RawValue` (which has no lock)",
        )?;
        Ok(RawValue {
            segment: Arc::new(segment),
            created: false,
            _type: PhantomData,
        })
    }

    /// A copy of the value.
    pub fn get(&self) -> T {
        // SAFETY: `data()` is `size_of::<T>()` bytes inside the mapping,
        // aligned for `T` (checked when the segment was opened, planned when
        // it was created), and stays mapped while `self` lives. No reference
        // into it exists (the segment has no lock, so no guard).
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

    /// Removes the segment's name, as [`Value::unlink`](crate::Value::unlink).
    ///
    /// # Errors
    ///
    /// As [`Value::unlink`](crate::Value::unlink).
    pub fn unlink(&self) -> Result<()> {
        self.segment.unlink()
    }
}

impl<T: SharedLayout> fmt::Debug for RawValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawValue")
            .field("name", &self.name())
            .field("type", &T::LAYOUT.name())
            .field("created", &self.is_creator())
            .finish_non_exhaustive()
    }
}
