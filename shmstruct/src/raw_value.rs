//! `RawValue<T>`: one `T` in a named segment with no lock — Python's
//! `multiprocessing.RawValue`.

use std::fmt;
use std::path::Path;

use crate::error::Result;
use crate::layout::SharedLayout;
use crate::segment::SegmentOptions;
use crate::value::Value;

/// One `T` in a named shared-memory segment, with no lock: Python's
/// `RawValue`, or `Value(..., lock=False)`. Access is by copies only,
/// [`get`](RawValue::get) and [`set`](RawValue::set).
///
/// Today [`Value`] has no lock either and `RawValue` is a thin wrapper
/// around it, with the same segment and descriptor; once the process-shared
/// locks arrive, `Value` takes its lock for every access and `RawValue`
/// stays as it is. A `get` racing a `set` in another process can see a mix
/// of the old and new value (always a valid `T`); use `Atomic*` fields or a
/// locked `Value` when that matters.
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
    value: Value<T>,
}

impl<T: SharedLayout> RawValue<T> {
    /// Creates the segment `name` in the default directory holding `init`.
    ///
    /// # Errors
    ///
    /// As [`Value::create`].
    pub fn create(name: &str, init: T) -> Result<RawValue<T>> {
        Value::create(name, init).map(|value| RawValue { value })
    }

    /// [`RawValue::create`] with options: directory, mode, unlinking on drop.
    ///
    /// # Errors
    ///
    /// As [`Value::create`].
    pub fn create_with(name: &str, init: T, options: &SegmentOptions) -> Result<RawValue<T>> {
        Value::create_with(name, init, options).map(|value| RawValue { value })
    }

    /// Opens the segment `name` in the default directory and checks that it
    /// holds a `T`.
    ///
    /// # Errors
    ///
    /// As [`Value::open`].
    pub fn open(name: &str) -> Result<RawValue<T>> {
        Value::open(name).map(|value| RawValue { value })
    }

    /// [`RawValue::open`] with options: directory, timeout.
    ///
    /// # Errors
    ///
    /// As [`Value::open`].
    pub fn open_with(name: &str, options: &SegmentOptions) -> Result<RawValue<T>> {
        Value::open_with(name, options).map(|value| RawValue { value })
    }

    /// A copy of the value.
    pub fn get(&self) -> T {
        self.value.get()
    }

    /// Replaces the value.
    pub fn set(&self, value: T) {
        self.value.set(value);
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        self.value.name()
    }

    /// The segment's file.
    pub fn path(&self) -> &Path {
        self.value.path()
    }

    /// Whether this handle created the segment.
    pub fn is_creator(&self) -> bool {
        self.value.is_creator()
    }

    /// Removes the segment's name, as [`Value::unlink`].
    ///
    /// # Errors
    ///
    /// As [`Value::unlink`].
    pub fn unlink(&self) -> Result<()> {
        self.value.unlink()
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
