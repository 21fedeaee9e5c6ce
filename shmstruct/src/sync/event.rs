//! [`RawEvent`]: a process-shared flag that processes wait for.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::os::{self, Deadline, Wake};
use crate::{Error, Result};

/// The flag is clear and nobody sleeps on it.
const CLEAR: u32 = 0;
/// The flag is set; waiters return at once.
const SET: u32 = 1;
/// The flag is clear and someone may sleep on it: `set` must wake them.
/// (A sleeper killed here leaves this state behind; the only cost is one
/// unneeded wake-up call at the next `set`.)
const CLEAR_WAITED: u32 = 2;

/// How many times `wait` re-reads a clear flag before going to sleep. A
/// setter that answers within this window (a few hundred nanoseconds) costs
/// neither side a system call; the same idea as `std`'s futex mutex spin.
const SPIN: u32 = 100;

/// Python's `multiprocessing.Event`, in shared memory: a flag that
/// [`set`](RawEvent::set) raises, [`clear`](RawEvent::clear) lowers and
/// [`wait`](RawEvent::wait) waits for.
///
/// One futex word and no lock: a process killed at any point inside any
/// method leaves the event usable by the others. [`RawEvent::SIZE`] bytes,
/// aligned to [`RawEvent::ALIGN`].
///
/// The word lives in memory other processes can write. A value that is
/// none of its three states (only a process that ignores the protocol can
/// leave one there) reads as clear with sleepers: [`is_set`](RawEvent::is_set)
/// is false, [`wait`](RawEvent::wait) sleeps (and its timeout holds), and
/// [`set`](RawEvent::set) sets it and wakes everyone.
///
/// # Examples
///
/// ```
/// use std::mem::MaybeUninit;
/// use std::time::Duration;
/// use shmstruct::sync::RawEvent;
///
/// let mut memory = MaybeUninit::<RawEvent>::uninit();
/// // SAFETY: writable, aligned, not used by anyone else.
/// unsafe { RawEvent::init(memory.as_mut_ptr()) };
/// // SAFETY: initialised above; `memory` outlives `event`.
/// let event = unsafe { RawEvent::from_ptr(memory.as_ptr()) };
/// assert!(event.wait_timeout(Duration::from_millis(1)).is_err());
/// event.set();
/// event.wait();
/// assert!(event.is_set());
/// ```
#[repr(C)]
pub struct RawEvent {
    state: AtomicU32,
}

impl RawEvent {
    /// Bytes to reserve for a `RawEvent`.
    pub const SIZE: usize = std::mem::size_of::<RawEvent>();
    /// The alignment a `RawEvent` needs.
    pub const ALIGN: usize = std::mem::align_of::<RawEvent>();

    /// Initialises a clear event at `ptr`. Only the creator of the memory
    /// calls this, once, before other processes look at it.
    ///
    /// # Safety
    ///
    /// `ptr` is valid for writes of [`RawEvent::SIZE`] bytes, aligned to
    /// [`RawEvent::ALIGN`], and not used by anyone during the call.
    pub unsafe fn init(ptr: *mut RawEvent) {
        // SAFETY: the caller guarantees `ptr` is valid, aligned and unused.
        unsafe {
            ptr.write(RawEvent {
                state: AtomicU32::new(CLEAR),
            })
        };
    }

    /// The event at `ptr`, for lifetime `'a`.
    ///
    /// # Safety
    ///
    /// `ptr` points to an event [`RawEvent::init`] initialised, in memory
    /// that stays mapped for `'a` and that nobody re-initialises meanwhile.
    pub unsafe fn from_ptr<'a>(ptr: *const RawEvent) -> &'a RawEvent {
        debug_assert!(ptr.is_aligned());
        // SAFETY: initialised and alive for 'a (caller); atomics only.
        unsafe { &*ptr }
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        // Acquire: pairs with `set`'s Release, so what the setter wrote
        // before `set` is visible once this returns true.
        self.state.load(Ordering::Acquire) == SET
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        // Release: publishes the setter's earlier writes to waiters, which
        // load with Acquire. Anything but SET and CLEAR may have sleepers
        // (a corrupt state reads as CLEAR_WAITED).
        let previous = self.state.swap(SET, Ordering::Release);
        if previous != SET && previous != CLEAR {
            os::futex_wake_all(&self.state);
        }
    }

    /// Clears the flag. Waiters block again until the next `set`.
    pub fn clear(&self) {
        // Relaxed: clearing publishes nothing; it only has to be atomic
        // with respect to `set` (a concurrent set wins or loses as a whole).
        let _ = self
            .state
            .compare_exchange(SET, CLEAR, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Blocks until the flag is set.
    pub fn wait(&self) {
        let waited = self.wait_until(None);
        debug_assert!(waited.is_ok());
    }

    /// Blocks until the flag is set or `timeout` (monotonic clock) passes.
    ///
    /// # Errors
    ///
    /// [`Error::TimedOut`] if the flag was still clear at the timeout.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<()> {
        self.wait_until(Some(Deadline::after(timeout)))
    }

    fn wait_until(&self, deadline: Option<Deadline>) -> Result<()> {
        for _ in 0..SPIN {
            if self.is_set() {
                return Ok(());
            }
            std::hint::spin_loop();
        }
        loop {
            // Acquire: as in `is_set`.
            let state = self.state.load(Ordering::Acquire);
            if state == SET {
                return Ok(());
            }
            // Announce a sleeper, so that `set` wakes; a corrupt state (not
            // one of the three) is turned into CLEAR_WAITED too, or the
            // futex call below would return at once, forever. Relaxed: the
            // futex call re-checks the word in the kernel; ordering with
            // the setter's data comes from the Acquire load above on retry.
            if state != CLEAR_WAITED
                && self
                    .state
                    .compare_exchange(state, CLEAR_WAITED, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            if os::futex_wait(&self.state, CLEAR_WAITED, deadline.as_ref()) == Wake::TimedOut {
                return if self.is_set() {
                    Ok(())
                } else {
                    Err(Error::TimedOut { primitive: "event" })
                };
            }
        }
    }
}

impl std::fmt::Debug for RawEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawEvent")
            .field("set", &self.is_set())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::mem::MaybeUninit;

    use super::*;

    #[test]
    fn a_corrupt_state_reads_as_clear_and_waits_sleep() {
        let mut memory = MaybeUninit::<RawEvent>::uninit();
        // SAFETY: writable, aligned, used by nobody else.
        unsafe { RawEvent::init(memory.as_mut_ptr()) };
        // SAFETY: initialised above; `memory` outlives `event`.
        let event = unsafe { RawEvent::from_ptr(memory.as_ptr()) };
        event.state.store(7, Ordering::Relaxed);
        assert!(!event.is_set());
        // Returns at its timeout (it used to spin forever).
        let error = event
            .wait_timeout(Duration::from_millis(5))
            .expect_err("still clear");
        assert!(matches!(error, Error::TimedOut { .. }), "{error:?}");
        event.state.store(7, Ordering::Relaxed);
        event.set();
        assert!(event.is_set());
        event.wait();
    }
}
