//! The copies of a value: [`Value`](crate::Value) under its lock,
//! [`RawValue`](crate::RawValue) without one.

use crate::error::Result;
use crate::layout::SharedLayout;
use crate::named::NamedLockGuard;

use super::{LockChoice, Locked, One, Shared, Unlocked};

impl<T: SharedLayout, L: LockChoice> Shared<One<T>, L> {
    /// Creates the segment `name` in the default directory (`/dev/shm`, or
    /// `$SHMSTRUCT_DIR`), mode `0600`, holding `init` (and its own lock,
    /// for a [`Value`](crate::Value)). The name is unlinked when this
    /// handle and its clones drop, unless [kept](Shared::keep). For
    /// anything else, see [`builder`](Shared::builder).
    ///
    /// # Errors
    ///
    /// As [`Builder::create`](super::Builder::create).
    pub fn create(name: &str, init: T) -> Result<Self> {
        Self::builder(name).create(init)
    }
}

impl<T: SharedLayout> Shared<One<T>, Locked> {
    /// A copy of the value, taken under the lock (Python's `.value`).
    ///
    /// # Errors
    ///
    /// As [`lock`](Shared::lock): [`Error::Poisoned`](crate::Error::Poisoned)
    /// after a holder died or panicked (see
    /// [the type](Shared#when-a-lock-holder-dies)), for every call until
    /// the value is repaired;
    /// [`Error::WouldDeadlock`](crate::Error::WouldDeadlock) if this thread
    /// holds the lock already.
    pub fn get(&self) -> Result<T> {
        self.locked(|| Ok(self.load()))
    }

    /// Replaces the value under the lock (Python's `.value = ...`).
    ///
    /// # Errors
    ///
    /// As [`get`](Shared::get); nothing is written.
    pub fn set(&self, value: T) -> Result<()> {
        self.locked(|| {
            self.store(value);
            Ok(())
        })
    }

    /// A copy of the value, read under a lock the caller already holds:
    /// for several objects guarded by one lock.
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`](crate::Error::WrongLock) if `guard` is not of
    /// this value's lock (compared by the lock segment's identity, so any
    /// handle of the lock will do).
    pub fn get_locked(&self, guard: &NamedLockGuard<'_>) -> Result<T> {
        self.under(guard, || Ok(self.load()))
    }

    /// Replaces the value under a lock the caller already holds.
    ///
    /// # Errors
    ///
    /// As [`get_locked`](Shared::get_locked); nothing is written.
    pub fn set_locked(&self, guard: &NamedLockGuard<'_>, value: T) -> Result<()> {
        self.under(guard, || {
            self.store(value);
            Ok(())
        })
    }
}

impl<T: SharedLayout> Shared<One<T>, Unlocked> {
    /// A copy of the value, word by word: one racing a
    /// [`set`](Shared::set) in another process may mix the old and new
    /// value at word boundaries (always a valid `T`).
    pub fn get(&self) -> T {
        self.load()
    }

    /// Replaces the value, word by word.
    pub fn set(&self, value: T) {
        self.store(value);
    }
}
