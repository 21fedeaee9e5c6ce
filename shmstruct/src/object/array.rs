//! The copies of an array: [`Array`](crate::Array) under its lock,
//! [`RawArray`](crate::RawArray) without one, and the lazy iterator of the
//! latter.

use std::fmt;
use std::iter::FusedIterator;

use crate::error::{Error, Result};
use crate::layout::SharedLayout;
use crate::named::NamedLockGuard;

use super::data::Place;
use super::{LockChoice, Locked, Shared, Unlocked};

impl<T: SharedLayout, L: LockChoice> Shared<[T], L> {
    /// Creates the segment `name` in the default directory (`/dev/shm`, or
    /// `$SHMSTRUCT_DIR`), mode `0600`, holding a copy of `elements` (and
    /// its own lock, for an [`Array`](crate::Array)). The name is unlinked
    /// when this handle and its clones drop, unless [kept](Shared::keep).
    /// For zeroed elements, an iterator, or anything else, see
    /// [`builder`](Shared::builder).
    ///
    /// # Errors
    ///
    /// As [`Builder::create`](super::Builder::create).
    pub fn create(name: &str, elements: &[T]) -> Result<Self> {
        Self::builder(name).create(elements)
    }

    /// The number of elements, fixed when the segment was created.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// [`Error::LengthMismatch`] unless `slice_len` is the array's length.
    fn check_len(&self, slice_len: usize) -> Result<()> {
        if slice_len != self.len {
            return Err(Error::LengthMismatch {
                len: self.len,
                slice_len,
            });
        }
        Ok(())
    }
}

impl<T: SharedLayout> Shared<[T], Locked> {
    /// A copy of element `index`, under the lock.
    ///
    /// # Errors
    ///
    /// [`Error::IndexOutOfRange`] if `index >= len()`; the lock errors of
    /// [`lock`](Shared::lock).
    pub fn get(&self, index: usize) -> Result<T> {
        self.locked(|| self.place().get(index))
    }

    /// Replaces element `index`, under the lock.
    ///
    /// # Errors
    ///
    /// As [`get`](Shared::get); nothing is written.
    pub fn set(&self, index: usize, value: T) -> Result<()> {
        self.locked(|| self.place().set(index, &value))
    }

    /// A copy of every element, in one word-wise copy under the lock. To
    /// go through the elements without copying them all, iterate under the
    /// guard: `for p in a.lock()?.iter()`.
    ///
    /// # Errors
    ///
    /// The lock errors of [`lock`](Shared::lock).
    pub fn to_vec(&self) -> Result<Vec<T>> {
        self.locked(|| Ok(self.place().to_vec()))
    }

    /// A copy of every element read without taking the lock, never torn:
    /// the whole array as some holder of the lock left it (a seqlock
    /// read), as [`Value::snapshot`](crate::Value::snapshot) describes;
    /// a copy that a write overlapped is made again, so it suits arrays
    /// that are written briefly and read often.
    ///
    /// # Errors
    ///
    /// As [`Value::snapshot`](crate::Value::snapshot).
    pub fn snapshot(&self) -> Result<Vec<T>> {
        self.place().to_vec_through(|copy| self.consistent(copy))
    }

    /// [`snapshot`](Shared::snapshot) into `destination`, without
    /// allocating.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless `destination.len() == len()`
    /// (`destination` is then unchanged); as [`snapshot`](Shared::snapshot)
    /// (`destination` may then hold a torn copy, which is not returned).
    pub fn snapshot_into(&self, destination: &mut [T]) -> Result<()> {
        self.check_len(destination.len())?;
        self.consistent(|| self.place().read_into(destination))?
    }

    /// Replaces every element with `source`'s, in one word-wise copy under
    /// the lock.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless `source.len() == len()` (nothing is
    /// written); the lock errors of [`lock`](Shared::lock).
    pub fn copy_from_slice(&self, source: &[T]) -> Result<()> {
        self.check_len(source.len())?;
        self.locked(|| self.place().write(0, source))
    }

    /// Copies every element into `destination`, in one word-wise copy under
    /// the lock.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless `destination.len() == len()`
    /// (`destination` is then unchanged); the lock errors of
    /// [`lock`](Shared::lock).
    pub fn copy_to_slice(&self, destination: &mut [T]) -> Result<()> {
        self.check_len(destination.len())?;
        self.locked(|| self.place().read_into(destination))
    }

    /// A copy of element `index`, under a lock the caller already holds
    /// (several objects guarded by one lock).
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`] if `guard` is not of this array's lock (compared
    /// by the lock segment's identity); [`Error::IndexOutOfRange`].
    pub fn get_locked(&self, guard: &NamedLockGuard<'_>, index: usize) -> Result<T> {
        self.under(guard, || self.place().get(index))
    }

    /// Replaces element `index` under a lock the caller already holds.
    ///
    /// # Errors
    ///
    /// As [`get_locked`](Shared::get_locked); nothing is written.
    pub fn set_locked(&self, guard: &NamedLockGuard<'_>, index: usize, value: T) -> Result<()> {
        self.under(guard, || self.place().set(index, &value))
    }

    /// A copy of every element under a lock the caller already holds.
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`] if `guard` is not of this array's lock.
    pub fn to_vec_locked(&self, guard: &NamedLockGuard<'_>) -> Result<Vec<T>> {
        self.under(guard, || Ok(self.place().to_vec()))
    }

    /// Replaces every element with `source`'s under a lock the caller
    /// already holds.
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`] if `guard` is not of this array's lock;
    /// [`Error::LengthMismatch`] unless `source.len() == len()`.
    pub fn copy_from_slice_locked(&self, guard: &NamedLockGuard<'_>, source: &[T]) -> Result<()> {
        self.check_len(source.len())?;
        self.under(guard, || self.place().write(0, source))
    }
}

impl<T: SharedLayout> Shared<[T], Unlocked> {
    /// A copy of element `index`.
    ///
    /// # Errors
    ///
    /// [`Error::IndexOutOfRange`] if `index >= len()`.
    pub fn get(&self, index: usize) -> Result<T> {
        self.place().get(index)
    }

    /// Replaces element `index`.
    ///
    /// # Errors
    ///
    /// [`Error::IndexOutOfRange`] if `index >= len()`; nothing is written.
    pub fn set(&self, index: usize, value: T) -> Result<()> {
        self.place().set(index, &value)
    }

    /// Copies of the elements, in order, each read when the iterator
    /// reaches it.
    pub fn iter(&self) -> ArrayIter<'_, T> {
        ArrayIter {
            place: self.place(),
            front: 0,
            back: self.len,
        }
    }

    /// A copy of every element, in one word-wise atomic copy.
    pub fn to_vec(&self) -> Vec<T> {
        self.place().to_vec()
    }

    /// Replaces every element with `source`'s, in one word-wise atomic copy.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless `source.len() == len()`; nothing is
    /// written.
    pub fn copy_from_slice(&self, source: &[T]) -> Result<()> {
        self.check_len(source.len())?;
        self.place().write(0, source)
    }

    /// Copies every element into `destination`, in one word-wise atomic copy.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless `destination.len() == len()`;
    /// `destination` is then unchanged.
    pub fn copy_to_slice(&self, destination: &mut [T]) -> Result<()> {
        self.check_len(destination.len())?;
        self.place().read_into(destination)
    }
}

impl<'a, T: SharedLayout> IntoIterator for &'a Shared<[T], Unlocked> {
    type Item = T;
    type IntoIter = ArrayIter<'a, T>;

    fn into_iter(self) -> ArrayIter<'a, T> {
        self.iter()
    }
}

/// An iterator over copies of a [`RawArray`](crate::RawArray)'s elements,
/// from [`iter`](Shared::iter). Each element is copied out, word by word,
/// when the iterator reaches it.
pub struct ArrayIter<'a, T> {
    place: Place<'a, T>,
    front: usize,
    back: usize,
}

impl<T: SharedLayout> Iterator for ArrayIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.front == self.back {
            return None;
        }
        let element = self.place.get(self.front).ok()?;
        self.front += 1;
        Some(element)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.back - self.front;
        (left, Some(left))
    }
}

impl<T: SharedLayout> DoubleEndedIterator for ArrayIter<'_, T> {
    fn next_back(&mut self) -> Option<T> {
        if self.front == self.back {
            return None;
        }
        let element = self.place.get(self.back - 1).ok()?;
        self.back -= 1;
        Some(element)
    }
}

impl<T: SharedLayout> ExactSizeIterator for ArrayIter<'_, T> {}

impl<T: SharedLayout> FusedIterator for ArrayIter<'_, T> {}

impl<T: SharedLayout> fmt::Debug for ArrayIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArrayIter")
            .field("type", &T::LAYOUT.name())
            .field("left", &(self.back - self.front))
            .finish()
    }
}
