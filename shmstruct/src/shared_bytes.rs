//! `SharedBytes`: a byte string whose capacity is chosen at creation, in a
//! named segment — Python's `multiprocessing.Array('c', b'hello world')`.

use std::fmt;
use std::path::Path;

use crate::array::{Elements, RawArray};
use crate::error::{Error, Result};
use crate::layout::{Layout, StoredRoot};
use crate::named::{Lock, NamedLockGuard};
use crate::segment::{LockPlan, SegmentOptions};
use crate::sync::poison::{Poisoned, Wait};
use crate::value::{open_lock, shared_lock_plan};

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
/// capacity known at compile time — opens the same segment (a
/// [`RawValue`](crate::RawValue) one without a lock).
///
/// Access is by copies, or in place under a guard of its lock that the
/// caller holds ([`as_mut_bytes_locked`](SharedBytes::as_mut_bytes_locked));
/// no `&[u8]` into the segment is handed out otherwise.
///
/// # Locks
///
/// Python's three `lock=` meanings, recorded in the segment as for
/// [`Value`](crate::Value): its own lock (the `create` forms), which every
/// copy takes; a [`Lock`] shared with other objects
/// ([`SharedBytes::create_with_lock`]; under a guard the caller holds, the
/// `_locked` forms check it and copy, or lend the buffer in place); or none
/// ([`SharedBytes::create_raw`], Python's `RawArray('c', ...)`, opened with
/// [`SharedBytes::open_raw`]), where a read racing a write in another
/// process can see a mix of both. Opening a segment with the wrong kind of
/// `open` is an [`Error::LockModeMismatch`]. When a lock holder dies or
/// panics, the copies return [`Error::Poisoned`] as
/// [`Value::get`](crate::Value::get) does, until someone repairs the bytes
/// under [`Lock::lock_poisoned`] (of [`get_lock`](SharedBytes::get_lock)).
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
/// assert_eq!(s.value()?, b"hi");
/// assert_eq!(s.raw()?, b"hi\0lo world");
/// assert!(s.set_value(b"longer than eleven").is_err());
/// # drop((s, t));
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
#[derive(Clone)]
pub struct SharedBytes {
    raw: RawArray<u8>,
    lock: Option<Lock>,
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
        let raw = create_bytes(name, capacity, initial, options, LockPlan::Own)?;
        let lock = Some(Lock::of_segment(raw.segment().clone()));
        Ok(SharedBytes { raw, lock })
    }

    /// Creates the segment `name` in the default directory holding
    /// `initial` (capacity `initial.len()`), guarded by `lock` (Python's
    /// `Array('c', initial, lock=lock)`).
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`] if the lock is not in the default directory;
    /// otherwise as [`SharedBytes::create`].
    pub fn create_with_lock(name: &str, initial: &[u8], lock: &Lock) -> Result<SharedBytes> {
        SharedBytes::create_with_lock_and_options(name, initial, lock, &SegmentOptions::new())
    }

    /// [`SharedBytes::create_with_lock`] with options.
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`] if the lock is not in the directory `options`
    /// name; otherwise as [`SharedBytes::create`].
    pub fn create_with_lock_and_options(
        name: &str,
        initial: &[u8],
        lock: &Lock,
        options: &SegmentOptions,
    ) -> Result<SharedBytes> {
        let plan = shared_lock_plan(name, lock, options)?;
        let raw = create_bytes(name, initial.len(), initial, options, plan)?;
        Ok(SharedBytes {
            raw,
            lock: Some(lock.clone()),
        })
    }

    /// Creates the segment `name` in the default directory holding
    /// `initial` in a buffer of `capacity` bytes, with no lock (Python's
    /// `RawArray('c', ...)`).
    ///
    /// # Errors
    ///
    /// As [`SharedBytes::create_with_capacity`].
    pub fn create_raw(name: &str, capacity: usize, initial: &[u8]) -> Result<SharedBytes> {
        SharedBytes::create_raw_with(name, capacity, initial, &SegmentOptions::new())
    }

    /// [`SharedBytes::create_raw`] with options.
    ///
    /// # Errors
    ///
    /// As [`SharedBytes::create_with_capacity`].
    pub fn create_raw_with(
        name: &str,
        capacity: usize,
        initial: &[u8],
        options: &SegmentOptions,
    ) -> Result<SharedBytes> {
        let raw = create_bytes(name, capacity, initial, options, LockPlan::None)?;
        Ok(SharedBytes { raw, lock: None })
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
        let raw = open_bytes(name, options)?;
        let lock = open_lock(raw.segment(), options, "`SharedBytes` (with a lock)")?;
        Ok(SharedBytes {
            raw,
            lock: Some(lock),
        })
    }

    /// Opens the segment `name` in the default directory, a byte string
    /// with no lock (made by [`SharedBytes::create_raw`]).
    ///
    /// # Errors
    ///
    /// As [`SharedBytes::open`]; [`Error::LockModeMismatch`] for a segment
    /// with a lock.
    pub fn open_raw(name: &str) -> Result<SharedBytes> {
        SharedBytes::open_raw_with(name, &SegmentOptions::new())
    }

    /// [`SharedBytes::open_raw`] with options: directory, timeout.
    ///
    /// # Errors
    ///
    /// As [`SharedBytes::open_raw`].
    pub fn open_raw_with(name: &str, options: &SegmentOptions) -> Result<SharedBytes> {
        let raw = open_bytes(name, options)?;
        raw.expect_no_lock("`SharedBytes` without a lock")?;
        Ok(SharedBytes { raw, lock: None })
    }

    /// Runs `copy` on the bytes, under the lock if there is one.
    fn locked<R>(&self, copy: impl FnOnce(Elements<'_, u8>) -> Result<R>) -> Result<R> {
        match &self.lock {
            Some(lock) => {
                let guard = lock.acquire(Wait::Block, Poisoned::Refuse)?;
                let result = copy(self.raw.elements());
                drop(guard);
                result
            }
            None => copy(self.raw.elements()),
        }
    }

    /// Runs `copy` on the bytes under `guard`, checked to be of this byte
    /// string's lock.
    fn with_guard<R>(
        &self,
        guard: &NamedLockGuard<'_>,
        copy: impl FnOnce(Elements<'_, u8>) -> Result<R>,
    ) -> Result<R> {
        self.check_guard(guard)?;
        copy(self.raw.elements())
    }

    /// Checks that `guard` holds this byte string's lock.
    fn check_guard(&self, guard: &NamedLockGuard<'_>) -> Result<()> {
        match &self.lock {
            Some(lock) if guard.holds(lock.identity()) => Ok(()),
            _ => Err(Error::WrongLock {
                name: self.name().to_owned(),
                reason: match &self.lock {
                    Some(lock) => format!(
                        "the guard holds another lock than \"{}\", which guards this byte string",
                        lock.name()
                    ),
                    None => "this byte string has no lock".to_owned(),
                },
            }),
        }
    }

    /// The lock that guards this byte string (Python's `get_lock()`), if
    /// it has one.
    pub fn get_lock(&self) -> Option<Lock> {
        self.lock.clone()
    }

    /// [`SharedBytes::value`] under a lock the caller already holds.
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`] if `guard` is not of this byte string's lock.
    pub fn value_locked(&self, guard: &NamedLockGuard<'_>) -> Result<Vec<u8>> {
        self.with_guard(guard, |bytes| Ok(until_nul(bytes.to_vec())))
    }

    /// [`SharedBytes::set_value`] under a lock the caller already holds.
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`] if `guard` is not of this byte string's lock;
    /// [`Error::TooLong`].
    pub fn set_value_locked(&self, guard: &NamedLockGuard<'_>, value: &[u8]) -> Result<()> {
        let terminated = terminate(value, self.capacity())?;
        self.with_guard(guard, |bytes| bytes.write(0, &terminated))
    }

    /// The whole buffer in place (Python's `.raw`, NULs and all), read and
    /// written under a lock the caller already holds, as
    /// [`Array::as_mut_slice_locked`](crate::Array::as_mut_slice_locked)
    /// (see there, and [`NamedLockGuard`](NamedLockGuard#in-place-access)).
    /// Writing through it is writing `.raw`: to change `.value`, mind the
    /// NUL that ends it.
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`] if `guard` is not of this byte string's lock,
    /// or if it has none (a [`create_raw`](SharedBytes::create_raw) one).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmstruct::{SegmentOptions, SharedBytes};
    ///
    /// # let dir = std::env::temp_dir().join(format!("shmstruct-doc-bytesmut-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let options = SegmentOptions::new().dir(&dir).unlink_on_drop(true);
    /// let s = SharedBytes::create_with("s", b"hello world", &options)?;
    /// // Its own lock, taken through a `Lock` handle of it:
    /// let lock = s.get_lock().expect("created with a lock");
    /// let mut guard = lock.lock()?;
    /// let bytes = s.as_mut_bytes_locked(&mut guard)?;
    /// bytes[..5].make_ascii_uppercase();
    /// bytes[5] = b'\0';
    /// drop(guard);
    /// assert_eq!(s.value()?, b"HELLO");
    /// assert_eq!(s.raw()?, b"HELLO\0world");
    /// # drop((s, lock));
    /// # std::fs::remove_dir(&dir).unwrap();
    /// # Ok::<(), shmstruct::Error>(())
    /// ```
    pub fn as_mut_bytes_locked<'g>(
        &'g self,
        guard: &'g mut NamedLockGuard<'_>,
    ) -> Result<&'g mut [u8]> {
        self.check_guard(guard)?;
        let mut bytes = self.raw.data();
        // SAFETY: as in `Array::as_mut_slice_locked`: `bytes` are this
        // segment's `capacity` bytes, inside one mapping, mapped for 'g
        // (`&'g self`); this byte string has a lock (a lock-free one is
        // refused above) and `guard` holds it (checked) for all of 'g,
        // borrowed mutably; other threads and processes wait for it, this
        // thread cannot lock it again (`WouldDeadlock`), and every other use
        // of `guard` waits for this borrow to end. A `Value<ByteString<N>>`
        // opened on the same segment has the same lock.
        Ok(unsafe { bytes.as_mut() })
    }
}

/// Creates a byte string segment of `capacity` bytes holding `initial`.
fn create_bytes(
    name: &str,
    capacity: usize,
    initial: &[u8],
    options: &SegmentOptions,
    mode: LockPlan,
) -> Result<RawArray<u8>> {
    check_fits(initial, capacity)?;
    let layout = Layout::bytes(capacity);
    RawArray::create_described(name, &layout, capacity, options, mode, |_, data| {
        // The rest is already zero: the file system hands out zeroed space.
        data.write(0, initial).expect("checked to fit");
    })
}

/// `bytes` up to the first NUL.
fn until_nul(mut bytes: Vec<u8>) -> Vec<u8> {
    if let Some(end) = bytes.iter().position(|&byte| byte == 0) {
        bytes.truncate(end);
    }
    bytes
}

/// `value` and, when it is shorter than `capacity`, one NUL.
fn terminate(value: &[u8], capacity: usize) -> Result<Vec<u8>> {
    check_fits(value, capacity)?;
    let mut terminated = Vec::with_capacity(value.len() + 1);
    terminated.extend_from_slice(value);
    if value.len() < capacity {
        terminated.push(0);
    }
    Ok(terminated)
}

/// Opens a byte string segment, whatever its lock mode.
fn open_bytes(name: &str, options: &SegmentOptions) -> Result<RawArray<u8>> {
    {
        RawArray::open_described(name, options, |stored| {
            let capacity = match stored {
                StoredRoot::Bytes { capacity } => capacity,
                // Compared with a byte string of the same size, which the
                // layout check refuses, naming both types.
                _ => stored.size(),
            };
            (Layout::bytes(capacity), capacity)
        })
    }
}

impl SharedBytes {
    /// The capacity in bytes, fixed when the segment was created.
    pub fn capacity(&self) -> usize {
        self.raw.len()
    }

    /// A copy of the bytes up to the first NUL, or of the whole buffer when
    /// there is none (Python's `.value`).
    ///
    /// # Errors
    ///
    /// The lock errors of [`Value::get`](crate::Value::get).
    pub fn value(&self) -> Result<Vec<u8>> {
        self.locked(|bytes| Ok(until_nul(bytes.to_vec())))
    }

    /// A copy of the whole buffer, NULs and all (Python's `.raw`).
    ///
    /// # Errors
    ///
    /// The lock errors of [`Value::get`](crate::Value::get).
    pub fn raw(&self) -> Result<Vec<u8>> {
        self.locked(|bytes| Ok(bytes.to_vec()))
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
        let terminated = terminate(value, self.capacity())?;
        self.locked(|bytes| bytes.write(0, &terminated))
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
        self.locked(|bytes| bytes.write(0, raw))
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
            .field("lock", &self.lock.as_ref().map(Lock::name))
            .field("created", &self.is_creator())
            .finish_non_exhaustive()
    }
}
