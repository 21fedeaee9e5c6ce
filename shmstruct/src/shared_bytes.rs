//! `SharedBytes`: a byte string whose capacity is chosen at creation, in a
//! named segment — Python's `multiprocessing.Array('c', b'hello world')`.

use std::fmt;
use std::path::Path;

use crate::array::RawArray;
use crate::error::{Error, Result};
use crate::layout::{Kind, Layout};
use crate::segment::SegmentOptions;

/// A byte string of fixed capacity in a named shared-memory segment:
/// Python's `Array('c', b'hello world')`, whose capacity is the length of
/// its first value, or `Array('c', 20)`.
///
/// [`value`](SharedBytes::value) is the bytes up to the first NUL (Python's
/// `.value`), [`raw`](SharedBytes::raw) the whole buffer (`.raw`).
/// [`set_value`](SharedBytes::set_value) writes the bytes and then one NUL
/// if there is room, leaving what follows as it was, as Python does.
///
/// The segment's descriptor is a byte string of that capacity
/// (`ByteString<N>`, ctypes `c_char * N`), so Python and C see a `char`
/// array, and a [`Value<ByteString<N>>`](crate::Value) — the form for a
/// capacity known at compile time — opens the same segment.
///
/// Access is by copies only; no `&[u8]` into the segment is handed out.
/// Like [`Array`](crate::Array), it has no lock yet: a read racing a write
/// in another process can see a mix of both. The process-shared locks
/// arrive next.
///
/// # Examples
///
/// ```
/// use shmstruct::{SegmentOptions, SharedBytes};
///
/// let dir = std::env::temp_dir().join(format!("shmstruct-doc-bytes-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let options = SegmentOptions::new().dir(&dir).unlink_on_drop(true);
///
/// let s = SharedBytes::create_with("s", b"hello world", &options)?;
/// assert_eq!(s.capacity(), 11);
/// // Another process:
/// let t = SharedBytes::open_with("s", &options)?;
/// t.set_value(b"hi")?;
/// assert_eq!(s.value(), b"hi");
/// assert_eq!(s.raw(), b"hi\0lo world");
/// assert!(s.set_value(b"longer than eleven").is_err());
/// # drop((s, t));
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
pub struct SharedBytes {
    raw: RawArray<u8>,
}

impl SharedBytes {
    /// Creates the segment `name` in the default directory holding
    /// `initial`, with a capacity of exactly `initial.len()` bytes, as
    /// Python's `Array('c', initial)`.
    ///
    /// # Errors
    ///
    /// As [`Value::create`](crate::Value::create).
    pub fn create(name: &str, initial: &[u8]) -> Result<SharedBytes> {
        SharedBytes::create_with(name, initial, &SegmentOptions::new())
    }

    /// [`SharedBytes::create`] with options: directory, mode, unlinking on
    /// drop.
    ///
    /// # Errors
    ///
    /// As [`SharedBytes::create`].
    pub fn create_with(
        name: &str,
        initial: &[u8],
        options: &SegmentOptions,
    ) -> Result<SharedBytes> {
        SharedBytes::create_with_capacity_and_options(name, initial.len(), initial, options)
    }

    /// Creates the segment `name` holding a byte string of `capacity`
    /// bytes whose value is `initial`, zero-filled after it (Python's
    /// `Array('c', capacity)` followed by `.value = initial`).
    ///
    /// # Errors
    ///
    /// [`Error::TooLong`] if `initial` is longer than `capacity` (nothing is
    /// created); otherwise as [`SharedBytes::create`].
    pub fn create_with_capacity(
        name: &str,
        capacity: usize,
        initial: &[u8],
    ) -> Result<SharedBytes> {
        SharedBytes::create_with_capacity_and_options(
            name,
            capacity,
            initial,
            &SegmentOptions::new(),
        )
    }

    /// [`SharedBytes::create_with_capacity`] with options.
    ///
    /// # Errors
    ///
    /// As [`SharedBytes::create_with_capacity`].
    pub fn create_with_capacity_and_options(
        name: &str,
        capacity: usize,
        initial: &[u8],
        options: &SegmentOptions,
    ) -> Result<SharedBytes> {
        check_fits(initial, capacity)?;
        let layout = Layout::bytes(capacity);
        let raw = RawArray::create_described(name, &layout, capacity, options, |_, data| {
            // The rest is already zero: the file system hands out zeroed space.
            data.write(0, initial).expect("checked to fit");
        })?;
        Ok(SharedBytes { raw })
    }

    /// Opens the segment `name` in the default directory, checks that it
    /// holds a byte string and takes its capacity from it.
    ///
    /// # Errors
    ///
    /// As [`Value::open`](crate::Value::open); a segment that holds
    /// anything but a byte string is an
    /// [`Error::LayoutMismatch`](crate::Error::LayoutMismatch).
    pub fn open(name: &str) -> Result<SharedBytes> {
        SharedBytes::open_with(name, &SegmentOptions::new())
    }

    /// [`SharedBytes::open`] with options: directory, timeout.
    ///
    /// # Errors
    ///
    /// As [`SharedBytes::open`].
    pub fn open_with(name: &str, options: &SegmentOptions) -> Result<SharedBytes> {
        let raw = RawArray::open_described(name, options, |stored| {
            let capacity = match stored.kind() {
                Kind::Bytes { capacity } => *capacity,
                // Compared with a byte string of the same size, which the
                // layout check refuses, naming both types.
                _ => stored.size(),
            };
            (Layout::bytes(capacity), capacity)
        })?;
        Ok(SharedBytes { raw })
    }

    /// The capacity in bytes, fixed when the segment was created.
    pub fn capacity(&self) -> usize {
        self.raw.len()
    }

    /// A copy of the bytes up to the first NUL, or of the whole buffer when
    /// there is none (Python's `.value`).
    pub fn value(&self) -> Vec<u8> {
        let mut value = self.raw.to_vec();
        if let Some(end) = value.iter().position(|&byte| byte == 0) {
            value.truncate(end);
        }
        value
    }

    /// A copy of the whole buffer, NULs and all (Python's `.raw`).
    pub fn raw(&self) -> Vec<u8> {
        self.raw.to_vec()
    }

    /// Replaces the value: writes `value` and, when it is shorter than the
    /// capacity, one NUL after it, in one copy. The bytes past the NUL are
    /// left as they were, as Python does.
    ///
    /// # Errors
    ///
    /// [`Error::TooLong`] if `value` is longer than the capacity; nothing is
    /// written.
    pub fn set_value(&self, value: &[u8]) -> Result<()> {
        check_fits(value, self.capacity())?;
        if value.len() == self.capacity() {
            return self.raw.elements().write(0, value);
        }
        let mut terminated = Vec::with_capacity(value.len() + 1);
        terminated.extend_from_slice(value);
        terminated.push(0);
        self.raw.elements().write(0, &terminated)
    }

    /// Overwrites the first `raw.len()` bytes of the buffer with `raw`,
    /// NULs and all, leaving the rest as it was (Python's `.raw = ...`).
    ///
    /// # Errors
    ///
    /// [`Error::TooLong`] if `raw` is longer than the capacity; nothing is
    /// written.
    pub fn set_raw(&self, raw: &[u8]) -> Result<()> {
        check_fits(raw, self.capacity())?;
        self.raw.elements().write(0, raw)
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        self.raw.name()
    }

    /// The segment's file.
    pub fn path(&self) -> &Path {
        self.raw.path()
    }

    /// Whether this handle created the segment.
    pub fn is_creator(&self) -> bool {
        self.raw.is_creator()
    }

    /// Removes the segment's name, as [`Value::unlink`](crate::Value::unlink).
    ///
    /// # Errors
    ///
    /// As [`Value::unlink`](crate::Value::unlink).
    pub fn unlink(&self) -> Result<()> {
        self.raw.unlink()
    }
}

/// [`Error::TooLong`] unless `bytes` fits in `capacity`.
fn check_fits(bytes: &[u8], capacity: usize) -> Result<()> {
    if bytes.len() > capacity {
        return Err(Error::TooLong {
            len: bytes.len(),
            capacity,
        });
    }
    Ok(())
}

impl fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBytes")
            .field("name", &self.name())
            .field("capacity", &self.capacity())
            .field("created", &self.is_creator())
            .finish_non_exhaustive()
    }
}
