//! The copies of a byte string, with Python's `.value` and `.raw`:
//! [`SharedBytes`](crate::SharedBytes) under its lock,
//! [`RawBytes`](crate::RawBytes) without one.

use crate::error::{Error, Result};
use crate::named::NamedLockGuard;

use super::{Bytes, LockChoice, Locked, Shared, Unlocked};

impl<L: LockChoice> Shared<Bytes, L> {
    /// Creates the segment `name` in the default directory (`/dev/shm`, or
    /// `$SHMSTRUCT_DIR`), mode `0600`, holding `initial`, with a capacity of
    /// exactly `initial.len()` bytes, as Python's `Array('c', initial)`.
    /// The name is unlinked when this handle and its clones drop, unless
    /// [kept](Shared::keep). For another capacity, or anything else, see
    /// [`builder`](Shared::builder).
    ///
    /// # Errors
    ///
    /// As [`Builder::create`](super::Builder::create).
    pub fn create(name: &str, initial: &[u8]) -> Result<Self> {
        Self::builder(name).create(initial)
    }

    /// The capacity in bytes, fixed when the segment was created.
    pub fn capacity(&self) -> usize {
        self.len
    }

    /// `value` and, when it is shorter than the capacity, one NUL.
    fn terminated(&self, value: &[u8]) -> Result<Vec<u8>> {
        check_fits(value, self.len)?;
        let mut terminated = Vec::with_capacity(value.len() + 1);
        terminated.extend_from_slice(value);
        if value.len() < self.len {
            terminated.push(0);
        }
        Ok(terminated)
    }

    /// A copy of the bytes up to the first NUL, or of the whole buffer.
    fn copy_value(&self) -> Vec<u8> {
        let mut bytes = self.place().to_vec();
        if let Some(end) = bytes.iter().position(|&byte| byte == 0) {
            bytes.truncate(end);
        }
        bytes
    }

    /// Writes `value` and its NUL.
    fn write_value(&self, value: &[u8]) -> Result<()> {
        self.place().write(0, &self.terminated(value)?)
    }

    /// Writes `raw` over the start of the buffer.
    fn write_raw(&self, raw: &[u8]) -> Result<()> {
        check_fits(raw, self.len)?;
        self.place().write(0, raw)
    }
}

impl Shared<Bytes, Locked> {
    /// A copy of the bytes up to the first NUL, or of the whole buffer when
    /// there is none (Python's `.value`), under the lock.
    ///
    /// # Errors
    ///
    /// The lock errors of [`lock`](Shared::lock).
    pub fn value(&self) -> Result<Vec<u8>> {
        self.locked(|| Ok(self.copy_value()))
    }

    /// A copy of the whole buffer, NULs and all (Python's `.raw`), under the
    /// lock.
    ///
    /// # Errors
    ///
    /// The lock errors of [`lock`](Shared::lock).
    pub fn raw(&self) -> Result<Vec<u8>> {
        self.locked(|| Ok(self.place().to_vec()))
    }

    /// Replaces the value under the lock: writes `value` and, when it is
    /// shorter than the capacity, one NUL after it, in one copy. The bytes
    /// past the NUL are left as they were, as Python does.
    ///
    /// # Errors
    ///
    /// [`Error::TooLong`] if `value` is longer than the capacity (nothing
    /// is written); the lock errors of [`lock`](Shared::lock).
    pub fn set_value(&self, value: &[u8]) -> Result<()> {
        self.locked(|| self.write_value(value))
    }

    /// Overwrites the first `raw.len()` bytes of the buffer with `raw`,
    /// NULs and all, under the lock, leaving the rest as it was (Python's
    /// `.raw = ...`).
    ///
    /// # Errors
    ///
    /// [`Error::TooLong`] if `raw` is longer than the capacity (nothing is
    /// written); the lock errors of [`lock`](Shared::lock).
    pub fn set_raw(&self, raw: &[u8]) -> Result<()> {
        self.locked(|| self.write_raw(raw))
    }

    /// [`value`](Shared::value) under a lock the caller already holds.
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`] if `guard` is not of this byte string's lock.
    pub fn value_locked(&self, guard: &NamedLockGuard<'_>) -> Result<Vec<u8>> {
        self.under(guard, || Ok(self.copy_value()))
    }

    /// [`set_value`](Shared::set_value) under a lock the caller already
    /// holds.
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`] if `guard` is not of this byte string's lock;
    /// [`Error::TooLong`].
    pub fn set_value_locked(&self, guard: &NamedLockGuard<'_>, value: &[u8]) -> Result<()> {
        self.under(guard, || self.write_value(value))
    }
}

impl Shared<Bytes, Unlocked> {
    /// A copy of the bytes up to the first NUL, or of the whole buffer when
    /// there is none (Python's `.value`). One racing a write in another
    /// process may mix both.
    pub fn value(&self) -> Vec<u8> {
        self.copy_value()
    }

    /// A copy of the whole buffer, NULs and all (Python's `.raw`).
    pub fn raw(&self) -> Vec<u8> {
        self.place().to_vec()
    }

    /// Replaces the value: writes `value` and, when it is shorter than the
    /// capacity, one NUL after it. The bytes past the NUL are left as they
    /// were, as Python does.
    ///
    /// # Errors
    ///
    /// [`Error::TooLong`] if `value` is longer than the capacity; nothing is
    /// written.
    pub fn set_value(&self, value: &[u8]) -> Result<()> {
        self.write_value(value)
    }

    /// Overwrites the first `raw.len()` bytes of the buffer with `raw`,
    /// leaving the rest as it was (Python's `.raw = ...`).
    ///
    /// # Errors
    ///
    /// [`Error::TooLong`] if `raw` is longer than the capacity; nothing is
    /// written.
    pub fn set_raw(&self, raw: &[u8]) -> Result<()> {
        self.write_raw(raw)
    }
}

/// [`Error::TooLong`] unless `bytes` fits in `capacity`.
pub(super) fn check_fits(bytes: &[u8], capacity: usize) -> Result<()> {
    if bytes.len() > capacity {
        return Err(Error::TooLong {
            len: bytes.len(),
            capacity,
        });
    }
    Ok(())
}
