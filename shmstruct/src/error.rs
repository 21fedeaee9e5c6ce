//! The one error type of the crate.

use std::path::PathBuf;
use std::time::Duration;

use crate::layout::{DecodeError, LayoutDiff};

/// Everything that can go wrong in shmstruct.
///
/// Each case says what happened and what to do; an operating-system error
/// behind it is its [`source`](std::error::Error::source).
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

    /// An element index past the end of an array.
    #[error("index {index} is out of range for an array of length {len}")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// The array's length.
        len: usize,
    },

    /// A bulk copy between an array and a slice of another length.
    #[error(
        "a slice of {slice_len} elements cannot be copied to or from an array of \
         length {len}: the lengths must be equal"
    )]
    LengthMismatch {
        /// The array's length.
        len: usize,
        /// The slice's length.
        slice_len: usize,
    },

    /// No segment of that name exists.
    #[error(
        "segment \"{name}\" does not exist (looked for {}): create it first, \
         or check its name and the directory (SHMSTRUCT_DIR)",
        path.display()
    )]
    NotFound {
        /// The segment's name.
        name: String,
        /// Where it was looked for.
        path: PathBuf,
    },

    /// Creating a segment whose name is taken.
    #[error(
        "segment \"{name}\" already exists ({}): open it instead, or unlink it \
         if it is left over",
        path.display()
    )]
    AlreadyExists {
        /// The segment's name.
        name: String,
        /// Its path.
        path: PathBuf,
    },

    /// The segment (or its directory) may not be opened by this process.
    #[error(
        "permission denied for segment \"{name}\" ({}): it belongs to another \
         user or its mode forbids this one (segments are created with mode \
         0600 unless asked otherwise)",
        path.display()
    )]
    PermissionDenied {
        /// The segment's name.
        name: String,
        /// Its path.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// The segment's file is owned or writable by a user this process does
    /// not trust (see `SegmentOptions::trust_owner`).
    #[error(
        "segment \"{name}\" ({}) is not trusted: {reason}; someone else may have \
         taken the name, so remove it if it is not yours, or trust its owner \
         with SegmentOptions::trust_owner / trust_group",
        path.display()
    )]
    Untrusted {
        /// The segment's name.
        name: String,
        /// Its path.
        path: PathBuf,
        /// The uid that owns the file.
        uid: u32,
        /// Why it is refused.
        reason: Box<str>,
    },

    /// The segment's file has holes: touching them could raise `SIGBUS`
    /// when the file system is full, so it is refused.
    #[error(
        "segment \"{name}\" ({}) is sparse: {size} bytes long but only {allocated} \
         allocated; shmstruct reserves every byte when it creates a segment, so \
         this file was made or damaged by something else",
        path.display()
    )]
    Sparse {
        /// The segment's name.
        name: String,
        /// Its path.
        path: PathBuf,
        /// The file's size.
        size: u64,
        /// The bytes the file system has allocated to it.
        allocated: u64,
    },

    /// A segment's robust mutex is not what its creator writes: opening
    /// it would let glibc abort or hang this process.
    #[error(
        "segment \"{name}\" has a corrupt lock: {reason}; the segment was damaged \
         or not made by shmstruct, so recreate it"
    )]
    CorruptLock {
        /// The segment's name.
        name: String,
        /// What is wrong with the lock.
        reason: String,
    },

    /// The file system holding segments is full.
    #[error(
        "no space for segment \"{name}\" of {size} bytes in {}: the file system \
         is full (nothing was left behind); free space, unlink unused segments \
         or make the segment smaller",
        dir.display()
    )]
    NoSpace {
        /// The segment's name.
        name: String,
        /// The directory it was created in.
        dir: PathBuf,
        /// The size that did not fit.
        size: u64,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// A segment name that is not allowed.
    #[error(
        "invalid segment name {name:?}: {reason}; a name is 1 to 30 bytes of \
         A-Z a-z 0-9 . _ - (and not \".\" or \"..\")"
    )]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The file is not a shmstruct segment.
    #[error("{} is not a shmstruct segment: {reason}", path.display())]
    NotASegment {
        /// The segment's name.
        name: String,
        /// Its path.
        path: PathBuf,
        /// Why: not a regular file, a symbolic link, no magic bytes...
        reason: String,
    },

    /// A segment written by a shmstruct with another format version.
    #[error(
        "segment \"{name}\" has format version {found}, but this shmstruct \
         reads version {supported}: open it with a matching version of shmstruct"
    )]
    UnsupportedVersion {
        /// The segment's name.
        name: String,
        /// The version in its header.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },

    /// The file is shorter than its header says.
    #[error(
        "segment \"{name}\" is truncated: the file has {size} bytes but needs \
         {expected}; something shrank or damaged it: unlink it and create it again"
    )]
    Truncated {
        /// The segment's name.
        name: String,
        /// The file's size.
        size: u64,
        /// The size it should have.
        expected: u64,
    },

    /// The header contradicts itself (offsets out of bounds, bad state).
    #[error("segment \"{name}\" has a corrupt header: {reason}; unlink it and create it again")]
    CorruptHeader {
        /// The segment's name.
        name: String,
        /// What is inconsistent.
        reason: String,
    },

    /// The creator did not finish initialising within the open timeout.
    #[error(
        "segment \"{name}\" is still being initialised after waiting {waited:?}: \
         its creator may have died while creating it; open with a longer \
         timeout, or unlink it if it is stale"
    )]
    StillInitialising {
        /// The segment's name.
        name: String,
        /// How long the opener waited.
        waited: Duration,
    },

    /// The segment holds another layout than the one expected.
    #[error(
        "segment \"{name}\" holds `{}` ({} bytes) but `{}` ({} bytes) was expected: {diff}",
        diff.found().0, diff.found().1, diff.expected().0, diff.expected().1
    )]
    LayoutMismatch {
        /// The segment's name.
        name: String,
        /// The differences, field by field.
        diff: Box<LayoutDiff>,
    },

    /// The segment is guarded differently from what the opening type
    /// needs: a `Value` opened as a `RawValue`, a lock-free segment opened
    /// as a `Value`, a `Value` opened as the lock of another object...
    #[error(
        "segment \"{name}\" has {found}, so it cannot be opened as {opened_as}: \
         open it with the kind of object that created it (`Value` and `Array` \
         have a lock, `RawValue` and `RawArray` none)"
    )]
    LockModeMismatch {
        /// The segment's name.
        name: String,
        /// What its header says guards it.
        found: crate::segment::LockMode,
        /// What it was opened as.
        opened_as: &'static str,
    },

    /// A lock that does not guard this object: the guard of another lock,
    /// a lock in another directory than the object, or, on open, a shared
    /// lock's segment that was unlinked and created again under its name
    /// since the object was created (re-create the object).
    #[error("segment \"{name}\" cannot be used with that lock: {reason}")]
    WrongLock {
        /// The object's segment name.
        name: String,
        /// What is wrong.
        reason: String,
    },

    /// The layout descriptor stored in the segment cannot be decoded.
    #[error(
        "segment \"{name}\" has a corrupt layout descriptor: unlink it and \
         create it again"
    )]
    CorruptDescriptor {
        /// The segment's name.
        name: String,
        /// Why decoding failed.
        source: DecodeError,
    },

    /// An argument this crate cannot work with: a layout aligned beyond a
    /// page, an object too large to map, ... Nothing was created or changed.
    #[error("{reason}")]
    InvalidInput {
        /// What is wrong with the input, naming the segment it was for.
        reason: String,
    },

    /// Any other operating-system error.
    #[error("{context}")]
    Io {
        /// What was being done: `creating segment "demo" in /dev/shm`.
        context: String,
        /// The operating system's error.
        source: std::io::Error,
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
    /// when nobody uses it) or a new segment brings it back. The named
    /// objects never leave their lock so (they report [`Error::Poisoned`]);
    /// this is for locks left so by the in-place API ([`crate::RawLock`]),
    /// older versions of this crate, or other programs.
    #[error(
        "the lock is not recoverable: a holder died and the lock was later released \
         without being marked consistent; re-create it"
    )]
    NotRecoverable,
    /// The holder of an in-place lock ([`crate::RawLock`],
    /// [`crate::RawRLock`], a condition's) died; the guard that let the
    /// caller repair the data was dropped without being marked consistent,
    /// so the lock is now not recoverable (see [`Error::NotRecoverable`]).
    /// Produced when a `LockError::OwnerDied` is converted into an
    /// [`Error`]; the named objects report [`Error::Poisoned`] instead.
    #[error(
        "the previous holder of the lock died while holding it; the lock was released \
         without being marked consistent and is now not recoverable"
    )]
    OwnerDied,
    /// The data a lock guards is poisoned: a holder of the lock died or
    /// panicked while holding it, so the data may be half-written. Every
    /// `lock()`, `get()` and `set()` reports this, in every process, until
    /// someone repairs the data through `lock_poisoned()` and calls the
    /// guard's `clear_poison()` (as [`std::sync::PoisonError`]). The lock
    /// itself stays usable.
    #[error(
        "the data guarded by lock \"{lock}\" is poisoned: a holder died or panicked \
         while holding the lock; repair it through `lock_poisoned()`, then call \
         `clear_poison()` on the guard"
    )]
    Poisoned {
        /// The name of the lock's segment (the object's own, or a shared
        /// lock's).
        lock: String,
    },
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

/// The domain an [`Error`] belongs to, for callers that react to a group of
/// cases rather than to each one ([`Error::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Opening or creating a segment: it is missing, taken, forbidden,
    /// damaged, of another version, or the name is not allowed.
    Segment,
    /// The segment exists but holds another layout or lock arrangement than
    /// the one it was opened as.
    Layout,
    /// Acquiring, waiting on or releasing a synchronisation primitive.
    Lock,
    /// Reading or writing the data: an index, length or capacity that does
    /// not fit.
    Access,
    /// An argument that cannot work, whatever the state of the system.
    InvalidInput,
    /// Any other operating-system error.
    Os,
}

impl Error {
    /// The domain of this error.
    ///
    /// ```
    /// use shmstruct::{ErrorKind, Value};
    ///
    /// let error = Value::<u32>::open("shmstruct-doc-no-such-value").unwrap_err();
    /// assert_eq!(error.kind(), ErrorKind::Segment);
    /// assert!(error.is_not_found());
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::TooLong { .. }
            | Error::IndexOutOfRange { .. }
            | Error::LengthMismatch { .. } => ErrorKind::Access,
            Error::NotFound { .. }
            | Error::AlreadyExists { .. }
            | Error::PermissionDenied { .. }
            | Error::NoSpace { .. }
            | Error::InvalidName { .. }
            | Error::NotASegment { .. }
            | Error::UnsupportedVersion { .. }
            | Error::Truncated { .. }
            | Error::CorruptHeader { .. }
            | Error::StillInitialising { .. }
            | Error::CorruptDescriptor { .. }
            | Error::Untrusted { .. }
            | Error::Sparse { .. }
            | Error::CorruptLock { .. } => ErrorKind::Segment,
            Error::LayoutMismatch { .. } | Error::LockModeMismatch { .. } => ErrorKind::Layout,
            Error::WrongLock { .. }
            | Error::TimedOut { .. }
            | Error::WouldBlock { .. }
            | Error::NotRecoverable
            | Error::OwnerDied
            | Error::Poisoned { .. }
            | Error::NotOwner { .. }
            | Error::WouldDeadlock
            | Error::BrokenBarrier
            | Error::OverRelease { .. } => ErrorKind::Lock,
            Error::InvalidInput { .. } | Error::InvalidSyncParameter { .. } => {
                ErrorKind::InvalidInput
            }
            Error::Io { .. } | Error::SyncOs { .. } => ErrorKind::Os,
        }
    }

    /// Whether this error is about opening or creating a segment.
    pub fn is_segment(&self) -> bool {
        self.kind() == ErrorKind::Segment
    }

    /// Whether the segment holds another layout or lock arrangement.
    pub fn is_layout(&self) -> bool {
        self.kind() == ErrorKind::Layout
    }

    /// Whether this error comes from a synchronisation primitive.
    pub fn is_lock(&self) -> bool {
        self.kind() == ErrorKind::Lock
    }

    /// Whether an index, length or capacity did not fit the data.
    pub fn is_access(&self) -> bool {
        self.kind() == ErrorKind::Access
    }

    /// Whether an argument could not work.
    pub fn is_invalid_input(&self) -> bool {
        self.kind() == ErrorKind::InvalidInput
    }

    /// Whether no segment of that name exists ([`Error::NotFound`]).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// Whether the name is taken ([`Error::AlreadyExists`]).
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Error::AlreadyExists { .. })
    }

    /// Whether a timeout ran out ([`Error::TimedOut`]).
    pub fn is_timed_out(&self) -> bool {
        matches!(self, Error::TimedOut { .. })
    }

    /// Whether a previous holder of a lock died holding it
    /// ([`Error::OwnerDied`], [`Error::NotRecoverable`]).
    pub fn is_owner_died(&self) -> bool {
        matches!(self, Error::OwnerDied | Error::NotRecoverable)
    }

    /// Whether the data a lock guards may be half-written because a holder
    /// died or panicked holding the lock: [`Error::Poisoned`] (repairable
    /// through `lock_poisoned()`), and the in-place locks' unrepaired
    /// [`Error::OwnerDied`] and [`Error::NotRecoverable`].
    pub fn is_poisoned(&self) -> bool {
        matches!(
            self,
            Error::Poisoned { .. } | Error::OwnerDied | Error::NotRecoverable
        )
    }
}

// `?` may carry an `Error` into `Box<dyn Error + Send + Sync>` and
// `anyhow::Error`. It is 80 bytes on 64-bit targets (its largest case holds
// a name, a directory, a size and an OS error); keep it from growing, since
// every `Result` of the crate is at least that large.
static_assertions::assert_impl_all!(Error: std::error::Error, Send, Sync);
static_assertions::const_assert!(std::mem::size_of::<Error>() <= 80);

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::{Error, ErrorKind};
    use crate::sync::DataGuard;
    use crate::NamedLockGuard;

    #[test]
    fn a_guard_result_is_no_larger_than_the_error() {
        use std::mem::size_of;
        let error = size_of::<Error>();
        assert_eq!(size_of::<Result<DataGuard<'static, u64>, Error>>(), error);
        assert_eq!(size_of::<Result<DataGuard<'static, [u64]>, Error>>(), error);
        assert_eq!(size_of::<Result<NamedLockGuard<'static>, Error>>(), error);
    }

    #[test]
    fn each_case_has_its_domain() {
        let cases = [
            (
                Error::IndexOutOfRange { index: 3, len: 2 },
                ErrorKind::Access,
            ),
            (Error::TimedOut { primitive: "lock" }, ErrorKind::Lock),
            (Error::NotRecoverable, ErrorKind::Lock),
            (
                Error::InvalidInput {
                    reason: "too large".into(),
                },
                ErrorKind::InvalidInput,
            ),
            (
                Error::InvalidName {
                    name: "a/b".into(),
                    reason: "a slash".into(),
                },
                ErrorKind::Segment,
            ),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{error:?}");
        }
        assert!(Error::NotRecoverable.is_owner_died());
        assert!(Error::TimedOut { primitive: "lock" }.is_timed_out());
        assert!(Error::TimedOut { primitive: "lock" }.is_lock());
        assert!(!Error::WouldDeadlock.is_access());
    }
}
