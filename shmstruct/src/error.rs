//! The one error type of the crate.

/// Everything that can go wrong in shmstruct.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value does not fit the fixed capacity that holds it.
    #[error("a value of {len} bytes does not fit in a byte string of capacity {capacity}")]
    TooLong {
        /// The length of the value.
        len: usize,
        /// The capacity of the byte string.
        capacity: usize,
    },
    /// A blocking operation on a synchronisation primitive did not succeed
    /// before its timeout (measured on the monotonic clock).
    #[error("timed out waiting for the {primitive}")]
    TimedOut {
        /// Which primitive was waited for (`"lock"`, `"semaphore"`, ...).
        primitive: &'static str,
    },
    /// A non-blocking operation (`try_*`) could not succeed at once.
    #[error("the {primitive} is not available right now (a blocking call would wait)")]
    WouldBlock {
        /// Which primitive was tried.
        primitive: &'static str,
    },
    /// The holder of a lock died and the next holder released it without
    /// marking it consistent: the lock is permanently unusable
    /// (`ENOTRECOVERABLE`). Only re-initialising the memory (the creator,
    /// when nobody uses it) or a new segment brings it back.
    #[error(
        "the lock is not recoverable: a holder died and the lock was later released \
         without being marked consistent; re-create it"
    )]
    NotRecoverable,
    /// The holder of a lock died; the guard that let the caller repair the
    /// data was dropped without being marked consistent, so the lock is now
    /// not recoverable (see [`Error::NotRecoverable`]). Produced when a
    /// `LockError::OwnerDied` is converted into an [`Error`].
    #[error(
        "the previous holder of the lock died while holding it; the lock was released \
         without being marked consistent and is now not recoverable"
    )]
    OwnerDied,
    /// The calling thread does not hold the lock it tried to release.
    #[error("this thread does not hold the {primitive} it tried to release")]
    NotOwner {
        /// Which primitive.
        primitive: &'static str,
    },
    /// The calling thread already holds this (non-reentrant) lock; locking
    /// it again would deadlock. Use an `RLock` to lock again from the owner.
    #[error("this thread already holds the lock; locking it again would deadlock")]
    WouldDeadlock,
    /// A barrier was broken (a waiter timed out, it was aborted or reset,
    /// or a process died inside its bookkeeping) while or before waiting.
    #[error("the barrier is broken (a waiter timed out, or it was aborted or reset)")]
    BrokenBarrier,
    /// A bounded semaphore was released more times than it was acquired.
    #[error("bounded semaphore released too many times (its bound is {bound})")]
    OverRelease {
        /// The semaphore's maximum value.
        bound: u32,
    },
    /// A synchronisation primitive was given a parameter it cannot work with.
    #[error("invalid {primitive} parameter: {reason}")]
    InvalidSyncParameter {
        /// Which primitive.
        primitive: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A pthread or futex call failed in a way the caller cannot fix.
    #[error("`{call}` failed")]
    SyncOs {
        /// The failing call.
        call: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
