//! [`read_locked`]: a copy of any segment's data, whatever its type, taken
//! under the lock that guards it (for tools that inspect segments).

use std::sync::Arc;
use std::time::Duration;

use super::{Segment, SegmentOptions};
use crate::error::Result;
use crate::sync::LockError;

/// A copy of a segment's data taken under its lock by [`read_locked`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedCopy {
    /// The data area's bytes (decode them with
    /// [`Layout::decode_data`](crate::Layout::decode_data)).
    pub data: Vec<u8>,
    /// Whether the lock's previous holder had died holding it. The copy is
    /// then what it left, maybe half-written, and the lock was marked
    /// consistent before it was released, so it stays usable.
    pub owner_died: bool,
}

/// Opens the segment `name`, takes the lock that guards its data (its own
/// lock, or for [`LockMode::Shared`](super::LockMode::Shared) the lock
/// segment's) within `timeout`, copies the data and releases the lock.
///
/// If a previous holder died holding the lock, the copy is still taken and
/// the lock is marked consistent, as nothing is repaired: it does not become
/// not recoverable. [`LockedCopy::owner_died`] says so.
///
/// # Errors
///
/// The errors of opening the segment; [`Error::LockModeMismatch`] for a
/// segment without a lock over its data; [`Error::TimedOut`] if the lock is
/// still held after `timeout`; [`Error::NotRecoverable`] and the other
/// errors of [`RawLock::lock_timeout`](crate::RawLock::lock_timeout).
///
/// [`Error::LockModeMismatch`]: crate::Error::LockModeMismatch
/// [`Error::TimedOut`]: crate::Error::TimedOut
/// [`Error::NotRecoverable`]: crate::Error::NotRecoverable
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("shmstruct-doc-locked-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// # let options = shmstruct::SegmentOptions::new().dir(&dir).unlink_on_drop(true);
/// use std::time::Duration;
///
/// let n = shmstruct::Value::create_with("n", 7i32, &options)?;
/// let copy = shmstruct::segment::read_locked("n", &options, Duration::from_secs(1))?;
/// assert_eq!(copy.data, 7i32.to_ne_bytes());
/// assert!(!copy.owner_died);
/// # drop(n);
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
pub fn read_locked(name: &str, options: &SegmentOptions, timeout: Duration) -> Result<LockedCopy> {
    let segment = Arc::new(Segment::open_any(name, options)?);
    let lock = crate::value::open_lock(&segment, options, "a segment read under its lock")?;
    let (mut guard, owner_died) = match lock.raw().lock_timeout(timeout) {
        Ok(guard) => (guard, false),
        Err(LockError::OwnerDied(died)) => (died.into_guard(), true),
        Err(LockError::Failed(error)) => return Err(error),
    };
    let size = usize::try_from(segment.header().data_size).unwrap_or(usize::MAX);
    let mut data = vec![0u8; size];
    // SAFETY: the data area is `data_size` bytes inside the mapping
    // (Header::check), which `segment` keeps mapped; `data` is a separate
    // allocation of that size. Every writer of the data holds this lock,
    // which this thread holds, so nobody writes it during the copy.
    unsafe { std::ptr::copy_nonoverlapping(segment.data().as_ptr(), data.as_mut_ptr(), size) };
    if owner_died {
        guard.mark_consistent()?;
    }
    drop(guard);
    Ok(LockedCopy { data, owner_died })
}
