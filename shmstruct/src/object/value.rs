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

    /// A copy of the value read without taking the lock, never torn: the
    /// whole value as some holder of the lock left it (a seqlock read).
    /// Readers do not block each other, nor writers in other processes,
    /// and scale with their number; use it for values read far more often
    /// than written.
    ///
    /// - No lock is taken while no holder writes. A copy that a holder's
    ///   write overlapped is thrown away and made again; after a few such
    ///   tries (a long write, or a holder stopped or killed mid-write), the
    ///   snapshot takes the lock and copies under it, blocking as
    ///   [`get`](Shared::get) does.
    /// - The first snapshot of a lock in a process takes the lock once,
    ///   blocking as `get` does, to tell this process's writers. From then
    ///   on, every holder of the lock *in this process* waits, after
    ///   locking, for the snapshot copies of this process in flight to
    ///   finish (a copy is a few word loads): in Rust's memory model a copy
    ///   must not overlap a write through a guard in the same process.
    ///   Processes that never take snapshots of the lock pay one load of
    ///   process-local memory per `lock()`.
    /// - Every writer must bump the lock area's sequence word: this
    ///   library's guards do (all of them, with an own or a shared lock);
    ///   a C or Python program that writes under the mutex must too (see
    ///   the README's lock-area table), or a snapshot can be torn.
    ///
    /// # Errors
    ///
    /// As [`get`](Shared::get): [`Error::Poisoned`](crate::Error::Poisoned)
    /// after a holder died or panicked, also when it died mid-write (the
    /// half-written value is never returned);
    /// [`Error::WouldDeadlock`](crate::Error::WouldDeadlock) if this thread
    /// holds the lock (its own write is open).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("shmstruct-doc-snapshot-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let position = shmstruct::Value::<[f64; 3]>::builder("position").dir(&dir).create([0.0; 3])?;
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         for i in 1..=1000 {
    ///             let mut p = position.lock().unwrap();
    ///             // Written one field at a time: a snapshot never sees a mix.
    ///             for x in p.iter_mut() {
    ///                 *x = f64::from(i);
    ///             }
    ///         }
    ///     });
    ///     for _ in 0..1000 {
    ///         let [x, y, z] = position.snapshot().unwrap();
    ///         assert!(x == y && y == z);
    ///     }
    /// });
    /// assert_eq!(position.snapshot()?, [1000.0; 3]);
    /// # drop(position);
    /// # std::fs::remove_dir(&dir).unwrap();
    /// # Ok::<(), shmstruct::Error>(())
    /// ```
    #[inline]
    pub fn snapshot(&self) -> Result<T> {
        self.consistent(|| self.load())
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
