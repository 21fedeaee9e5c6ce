//! [`RawCondition`]: a process-shared condition variable with its own lock.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::lock::{LockGuard, RawLock};
use super::os::{self, Deadline, Wake};
use super::{LockError, LockResult, OwnerDied};
use crate::{Error, Result};

/// Python's `multiprocessing.Condition`, in shared memory: a [`RawLock`]
/// and a way to sleep until another process, holding that lock, notifies.
///
/// The lock is inside the condition ([`RawCondition::lock`]): all waiters
/// of one condition must use the same mutex, and between processes the
/// only way to know two pointers mean the same lock is to put them in one
/// place. Waiting and notifying take the guard of that lock, so notifying
/// without holding it is impossible (Python raises `RuntimeError`).
///
/// Built on the robust [`RawLock`] plus a futex sequence number, not on
/// `pthread_cond_t` (whose glibc implementation keeps per-waiter counts a
/// killed waiter never gives back, so a later notify can hang): a process
/// killed while waiting leaves nothing behind, and one killed while holding
/// the lock is reported to the next locker as for [`RawLock`].
///
/// [`RawCondition::SIZE`] bytes, aligned to [`RawCondition::ALIGN`].
///
/// # Examples
///
/// ```
/// use std::mem::MaybeUninit;
/// use std::time::Duration;
/// use shmstruct::sync::RawCondition;
///
/// let mut memory = MaybeUninit::<RawCondition>::uninit();
/// // SAFETY: writable, aligned, not used by anyone else.
/// unsafe { RawCondition::init(memory.as_mut_ptr()) }?;
/// // SAFETY: initialised above; `memory` outlives `condition`.
/// let condition = unsafe { RawCondition::from_ptr(memory.as_ptr()) };
/// let guard = condition.lock()?;
/// let (guard, result) = condition.wait_timeout(guard, Duration::from_millis(1))?;
/// assert!(result.timed_out());
/// condition.notify_all(&guard)?;
/// # Ok::<(), shmstruct::Error>(())
/// ```
#[repr(C)]
pub struct RawCondition {
    lock: RawLock,
    /// Bumped by every notify; waiters sleep while it is unchanged. Only
    /// changed and read under `lock`.
    sequence: AtomicU32,
    /// How many may be sleeping (so a notify with nobody waiting makes no
    /// system call). Changed under `lock`; a waiter killed while sleeping
    /// leaves it one too high, which costs only unneeded wake-up calls.
    waiters: AtomicU32,
}

/// How a wait or a notify knows that its guard holds the condition's lock.
#[derive(Clone, Copy, Debug)]
enum GuardCheck {
    /// The guard's lock is at this condition's address: the check of the
    /// in-place type, which knows nothing of other mappings.
    Address,
    /// The caller checked it (the named `Condition`, by segment identity):
    /// the same lock, perhaps mapped at another address.
    Verified,
}

/// Whether a timed condition wait returned because its time was up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// `true` if the wait ended because the timeout passed (for a
    /// predicate wait: and the predicate was still false).
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

const _: () = assert!(std::mem::offset_of!(RawCondition, lock) == 0);

impl RawCondition {
    /// Whether it starts with an error-checking robust mutex (its lock is its first field),
    /// whose kind an opener checks before anyone locks it.
    pub(crate) const STARTS_WITH_MUTEX: bool = true;

    /// Bytes to reserve for a `RawCondition`.
    pub const SIZE: usize = std::mem::size_of::<RawCondition>();
    /// The alignment a `RawCondition` needs.
    pub const ALIGN: usize = std::mem::align_of::<RawCondition>();

    /// Initialises a condition (and its unlocked lock) at `ptr`. Only the
    /// creator of the memory calls this, once, before others look at it.
    ///
    /// # Safety
    ///
    /// `ptr` is valid for writes of [`RawCondition::SIZE`] bytes, aligned
    /// to [`RawCondition::ALIGN`], and not used by anyone during the call.
    ///
    /// # Errors
    ///
    /// [`Error::SyncOs`] if the pthread library refuses.
    pub unsafe fn init(ptr: *mut RawCondition) -> Result<()> {
        // The counters are atomics, valid as zero bytes.
        // SAFETY: the caller guarantees `ptr` is valid for writes and unused.
        unsafe { ptr.write_bytes(0, 1) };
        // SAFETY: as above; `lock` is at offset 0 (asserted below the
        // struct), so `ptr` is valid for it.
        unsafe { RawLock::init(ptr.cast()) }
    }

    /// The condition at `ptr`, for lifetime `'a`.
    ///
    /// # Safety
    ///
    /// `ptr` points to a condition [`RawCondition::init`] initialised, in
    /// memory that stays mapped for `'a` and nobody re-initialises.
    pub unsafe fn from_ptr<'a>(ptr: *const RawCondition) -> &'a RawCondition {
        debug_assert!(ptr.is_aligned());
        // SAFETY: initialised and alive for 'a (caller); interior-mutable.
        unsafe { &*ptr }
    }

    /// The condition's lock.
    pub fn raw_lock(&self) -> &RawLock {
        &self.lock
    }

    /// Locks the condition's lock (see [`RawLock::lock`]).
    ///
    /// # Errors
    ///
    /// As [`RawLock::lock`].
    pub fn lock(&self) -> LockResult<LockGuard<'_>> {
        self.lock.lock()
    }

    fn check_guard(&self, guard: &LockGuard<'_>, check: GuardCheck) -> Result<()> {
        match check {
            GuardCheck::Verified => Ok(()),
            GuardCheck::Address if std::ptr::eq(guard.lock(), &self.lock) => Ok(()),
            GuardCheck::Address => Err(Error::NotOwner {
                primitive: "condition's lock",
            }),
        }
    }

    /// Releases the lock, sleeps until notified (or `deadline`), and locks
    /// again.
    fn wait_until<'a>(
        &'a self,
        guard: LockGuard<'a>,
        deadline: Option<&Deadline>,
        check: GuardCheck,
    ) -> LockResult<(LockGuard<'a>, WaitTimeoutResult)> {
        self.check_guard(&guard, check)?;
        if !guard.is_consistent() {
            // Unlocking it now would make the lock unrecoverable.
            return Err(LockError::OwnerDied(
                OwnerDied::new(guard).map(|g| (g, WaitTimeoutResult(false))),
            ));
        }
        // Relaxed (both): we hold the lock, which orders these with every
        // notifier; the kernel compares `sequence` again before sleeping.
        // `fetch_add`/`fetch_sub` wrap: both words are shared memory, and a
        // corrupt `waiters` must not panic (a wrong count only wastes or
        // skips a wake-up call, as any rogue write here could).
        let seen = self.sequence.load(Ordering::Relaxed);
        self.waiters.fetch_add(1, Ordering::Relaxed);
        let lock = guard.into_held_lock();
        let unlocked = lock.mutex.unlock();
        debug_assert!(unlocked.is_ok());
        let mut timed_out = false;
        // Relaxed: a changed value is all we look for; the data the
        // notifier wrote is ordered by the lock we take below.
        while self.sequence.load(Ordering::Relaxed) == seen {
            if os::futex_wait(&self.sequence, seen, deadline) == Wake::TimedOut {
                timed_out = true;
                break;
            }
        }
        let relocked = lock.guard(lock.mutex.lock());
        let decrement = |g: &LockGuard<'_>| {
            debug_assert!(std::ptr::eq(g.lock(), lock));
            // Relaxed: under the lock, as above.
            self.waiters.fetch_sub(1, Ordering::Relaxed);
        };
        match relocked {
            Ok(guard) => {
                decrement(&guard);
                Ok((guard, WaitTimeoutResult(timed_out)))
            }
            Err(LockError::OwnerDied(died)) => {
                decrement(died.guard());
                Err(LockError::OwnerDied(
                    died.map(|g| (g, WaitTimeoutResult(timed_out))),
                ))
            }
            Err(LockError::Failed(error)) => Err(LockError::Failed(error)),
        }
    }

    /// Releases the lock, sleeps until notified, and locks again (Python's
    /// `wait()`). Like every condition variable it may return without the
    /// awaited change: check the condition in a loop, or use
    /// [`RawCondition::wait_for`].
    ///
    /// # Errors
    ///
    /// - [`LockError::OwnerDied`] if, while this process slept, the next
    ///   holder of the lock died holding it (the guard is inside), or if
    ///   `guard` itself is still inconsistent (it is handed back unchanged).
    /// - [`Error::NotOwner`] if `guard` is not of this condition's lock.
    /// - [`Error::NotRecoverable`] if the lock became unrecoverable.
    pub fn wait<'a>(&'a self, guard: LockGuard<'a>) -> LockResult<LockGuard<'a>> {
        self.wait_until(guard, None, GuardCheck::Address)
            .map(|(guard, _)| guard)
            .map_err(|e| e.map(|(guard, _)| guard))
    }

    /// As [`RawCondition::wait`], at most `timeout` (monotonic clock). The
    /// lock is held again on return either way.
    ///
    /// # Errors
    ///
    /// As [`RawCondition::wait`].
    pub fn wait_timeout<'a>(
        &'a self,
        guard: LockGuard<'a>,
        timeout: Duration,
    ) -> LockResult<(LockGuard<'a>, WaitTimeoutResult)> {
        self.wait_until(guard, Some(&Deadline::after(timeout)), GuardCheck::Address)
    }

    /// Waits until `condition` returns true (Python's `wait_for`): checks
    /// it first, then after every wake-up, always with the lock held.
    ///
    /// # Errors
    ///
    /// As [`RawCondition::wait`].
    pub fn wait_for<'a>(
        &'a self,
        guard: LockGuard<'a>,
        condition: impl FnMut() -> bool,
    ) -> LockResult<LockGuard<'a>> {
        self.wait_for_until(guard, None, condition, GuardCheck::Address)
            .map(|(guard, _)| guard)
            .map_err(|e| e.map(|(guard, _)| guard))
    }

    /// As [`RawCondition::wait_for`], at most `timeout` in all; on return
    /// [`WaitTimeoutResult::timed_out`] says the predicate was still false.
    ///
    /// # Errors
    ///
    /// As [`RawCondition::wait`].
    pub fn wait_for_timeout<'a>(
        &'a self,
        guard: LockGuard<'a>,
        timeout: Duration,
        condition: impl FnMut() -> bool,
    ) -> LockResult<(LockGuard<'a>, WaitTimeoutResult)> {
        let deadline = Deadline::after(timeout);
        self.wait_for_until(guard, Some(deadline), condition, GuardCheck::Address)
    }

    /// Waits until `condition` returns true or `deadline` passes.
    fn wait_for_until<'a>(
        &'a self,
        guard: LockGuard<'a>,
        deadline: Option<Deadline>,
        mut condition: impl FnMut() -> bool,
        check: GuardCheck,
    ) -> LockResult<(LockGuard<'a>, WaitTimeoutResult)> {
        let mut guard = guard;
        loop {
            if condition() {
                return Ok((guard, WaitTimeoutResult(false)));
            }
            let (next, result) = self.wait_until(guard, deadline.as_ref(), check)?;
            guard = next;
            if result.timed_out() {
                let holds = condition();
                return Ok((guard, WaitTimeoutResult(!holds)));
            }
        }
    }

    /// [`RawCondition::wait_for_timeout`] (or, without a timeout,
    /// [`RawCondition::wait_for`]) with a guard that the caller has
    /// checked holds this condition's lock, perhaps through another mapping
    /// of the same memory (so at another address): the named `Condition`
    /// compares the segments' identities instead.
    pub(crate) fn wait_for_verified<'a>(
        &'a self,
        guard: LockGuard<'a>,
        timeout: Option<Duration>,
        condition: impl FnMut() -> bool,
    ) -> LockResult<(LockGuard<'a>, WaitTimeoutResult)> {
        let deadline = timeout.map(Deadline::after);
        self.wait_for_until(guard, deadline, condition, GuardCheck::Verified)
    }

    /// [`RawCondition::wait_timeout`] (or, without a timeout,
    /// [`RawCondition::wait`]) with a guard checked as for
    /// [`RawCondition::wait_for_verified`].
    pub(crate) fn wait_verified<'a>(
        &'a self,
        guard: LockGuard<'a>,
        timeout: Option<Duration>,
    ) -> LockResult<(LockGuard<'a>, WaitTimeoutResult)> {
        let deadline = timeout.map(Deadline::after);
        self.wait_until(guard, deadline.as_ref(), GuardCheck::Verified)
    }

    /// Wakes `n` sleeping waiters (Python's `notify(n)`); `guard` proves
    /// this thread holds the condition's lock. A woken waiter runs once it
    /// gets the lock, after this thread releases it. A waiter that had
    /// released the lock but not yet gone to sleep also returns, so more
    /// than `n` may wake (callers re-check their condition anyway).
    ///
    /// # Errors
    ///
    /// [`Error::NotOwner`] if `guard` is not of this condition's lock.
    pub fn notify(&self, guard: &LockGuard<'_>, n: u32) -> Result<()> {
        self.notify_checked(guard, n, GuardCheck::Address)
    }

    /// [`RawCondition::notify`] with a guard checked as for
    /// [`RawCondition::wait_for_verified`].
    pub(crate) fn notify_verified(&self, guard: &LockGuard<'_>, n: u32) -> Result<()> {
        self.notify_checked(guard, n, GuardCheck::Verified)
    }

    fn notify_checked(&self, guard: &LockGuard<'_>, n: u32, check: GuardCheck) -> Result<()> {
        self.check_guard(guard, check)?;
        // Relaxed: under the lock, which waiters also hold when they read
        // `sequence` and bump `waiters`. Wrapping (as `fetch_add` is): only
        // a change is looked for, and u32::MAX is as good a value as any.
        self.sequence.fetch_add(1, Ordering::Relaxed);
        if n > 0 && self.waiters.load(Ordering::Relaxed) > 0 {
            os::futex_wake(&self.sequence, i32::try_from(n).unwrap_or(i32::MAX));
        }
        Ok(())
    }

    /// Wakes one waiter.
    ///
    /// # Errors
    ///
    /// As [`RawCondition::notify`].
    pub fn notify_one(&self, guard: &LockGuard<'_>) -> Result<()> {
        self.notify(guard, 1)
    }

    /// Wakes every waiter.
    ///
    /// # Errors
    ///
    /// As [`RawCondition::notify`].
    pub fn notify_all(&self, guard: &LockGuard<'_>) -> Result<()> {
        self.notify(guard, u32::MAX)
    }
}

impl std::fmt::Debug for RawCondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawCondition").finish_non_exhaustive()
    }
}
