//! [`read_locked`]: a copy of any segment's data, whatever its type, taken
//! under the lock that guards it (for tools that inspect segments).

use std::sync::Arc;
use std::time::Duration;

use super::{Segment, SegmentOptions};
use crate::error::Result;

/// A copy of a segment's data taken under its lock by [`read_locked`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedCopy {
    /// The data area's bytes (decode them with
    /// [`Layout::decode_data`](crate::Layout::decode_data)).
    pub data: Vec<u8>,
    /// Whether the data is poisoned: a holder died or panicked holding the
    /// lock, now or earlier, and nobody has cleared the poison since. The
    /// copy may then be half-written. It stays poisoned: only a repair
    /// through `lock_poisoned()` and `clear_poison()` clears it.
    pub poisoned: bool,
}

/// Opens the segment `name`, takes the lock that guards its data (its own
/// lock, or for [`LockMode::Shared`](super::LockMode::Shared) the lock
/// segment's) within `timeout`, copies the data and releases the lock.
///
/// Poisoned data is copied too, and [`LockedCopy::poisoned`] says so. If a
/// previous holder died holding the lock, the data is marked poisoned and
/// the lock consistent, as every lock of the library does: the lock stays
/// usable, and every process is told that the data may be half-written.
///
/// # Errors
///
/// The errors of opening the segment; [`Error::LockModeMismatch`] for a
/// segment without a lock over its data; [`Error::TimedOut`] if the lock is
/// still held after `timeout`; [`Error::NotRecoverable`] and the other
/// errors of [`Lock::lock_poisoned_timeout`](crate::Lock::lock_poisoned_timeout).
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
/// # let options = shmstruct::SegmentOptions::new().dir(&dir);
/// use std::time::Duration;
///
/// let n = shmstruct::Value::builder("n").options(&options).create(7i32)?;
/// let copy = shmstruct::segment::read_locked("n", &options, Duration::from_secs(1))?;
/// assert_eq!(copy.data, 7i32.to_ne_bytes());
/// assert!(!copy.poisoned);
/// # drop(n);
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
pub fn read_locked(name: &str, options: &SegmentOptions, timeout: Duration) -> Result<LockedCopy> {
    let segment = Arc::new(Segment::open_any(name, options)?);
    let lock = crate::object::open_lock(&segment, options, "a segment read under its lock")?;
    let guard = lock.lock_poisoned_timeout(timeout)?;
    let size = usize::try_from(segment.header().data_size).unwrap_or(usize::MAX);
    let mut data = vec![0u8; size];
    // SAFETY: the data area is `data_size` bytes inside the mapping
    // (Header::check), which `segment` keeps mapped; `data` is a separate
    // allocation of that size. Every writer of the data holds this lock,
    // which this thread holds, so nobody writes it during the copy.
    unsafe { std::ptr::copy_nonoverlapping(segment.data().as_ptr(), data.as_mut_ptr(), size) };
    let poisoned = guard.is_poisoned();
    drop(guard);
    Ok(LockedCopy { data, poisoned })
}
