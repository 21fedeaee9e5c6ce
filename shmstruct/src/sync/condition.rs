//! [`RawCondition`]: a process-shared condition variable with its own lock.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::os::{self, Deadline, Wake};
use super::{Guard, LockError, LockGuard, LockResult, OwnerDied, RawLock, RawMutex};
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
/// the lock is reported to the next locker as for [`RawLock`] (the named
/// [`Condition`](crate::Condition) poisons instead, through a word kept in
/// this type).
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
    /// Bumped by every notify that wakes someone; the futex word waiters
    /// sleep on while it is unchanged. Only changed under `lock`.
    sequence: AtomicU32,
    /// Waiters between the start of their wait and their return (counted
    /// under `lock`). A waiter killed meanwhile stays counted: see
    /// [`RawCondition::notify`] for what that costs.
    waiters: AtomicU32,
    /// Wake-ups notifies have handed out and no waiter has taken yet. A
    /// waiter returns as notified only by taking one, under `lock`, and
    /// only one handed out after its wait began.
    pending: AtomicU32,
    /// The poison word of the named `Condition`, whose lock poisons the
    /// data it guards (see [`super::poison`]); unused in place.
    poison: AtomicU32,
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
        // The counters are atomics, valid as zero bytes: no waiter, nothing
        // pending.
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

    /// The poison word of the named `Condition`'s lock.
    pub(crate) fn poison_word(&self) -> &AtomicU32 {
        &self.poison
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
    ///
    /// The waiter counts itself in `waiters` and remembers `sequence`. It
    /// returns as notified only by taking one of the `pending` wake-ups,
    /// with the lock held, and only after `sequence` moved past the value it
    /// remembered (so a wake-up handed out before its wait began is never
    /// its). Woken without one to take (another waiter was quicker, or the
    /// wake was spurious), it goes back to sleep. At its deadline it leaves
    /// without one, unless one was handed out meanwhile: then it returns as
    /// notified (not timed out), as Python's `wait` returns `True`.
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
        // Relaxed, here and below for `waiters`, `pending` and the loads of
        // `sequence` under the lock: the lock orders them with every other
        // waiter and notifier. Wrapping arithmetic: the words are shared
        // memory, and a corrupt value must not panic (it can only waste or
        // skip wake-ups, as any rogue write here could).
        let mut seen = self.sequence.load(Ordering::Relaxed);
        self.waiters.fetch_add(1, Ordering::Relaxed);
        let lock = guard.into_held();
        loop {
            // SAFETY: this thread holds the lock (the guard given up above,
            // or relocked below), and holds nothing that relies on it.
            let unlocked = unsafe { lock.release() };
            debug_assert!(unlocked.is_ok());
            let timed_out = self.sleep(seen, deadline);
            let guard = match Guard::acquired(lock, lock.acquire()) {
                Ok(guard) => guard,
                Err(LockError::OwnerDied(died)) => {
                    // The next holder died holding the lock: return now,
                    // with the guard that says so, notified if a wake-up
                    // was there to take, else as a spurious wake-up.
                    let left = self.leave(seen, true);
                    let notified = left.is_some_and(|result| !result.timed_out());
                    let result = WaitTimeoutResult(timed_out && !notified);
                    return Err(LockError::OwnerDied(died.map(|g| (g, result))));
                }
                Err(LockError::Failed(error)) => return Err(LockError::Failed(error)),
            };
            debug_assert!(std::ptr::eq(guard.lock(), lock));
            if let Some(result) = self.leave(seen, timed_out) {
                return Ok((guard, result));
            }
            seen = self.sequence.load(Ordering::Relaxed);
            guard.into_held();
        }
    }

    /// Sleeps, without the lock, until `sequence` is no longer `seen` or
    /// `deadline` passes; whether it passed.
    fn sleep(&self, seen: u32, deadline: Option<&Deadline>) -> bool {
        // Relaxed: a changed value is all we look for; what the notifier
        // wrote is ordered by the lock the caller takes next.
        while self.sequence.load(Ordering::Relaxed) == seen {
            if os::futex_wait(&self.sequence, seen, deadline) == Wake::TimedOut {
                return true;
            }
        }
        false
    }

    /// With the lock held by a waiter that remembered `sequence` as
    /// `seen`: takes a pending wake-up handed out since, and leaves the
    /// waiters, returning not timed out; or, with nothing to take, leaves
    /// them only if `give_up`, returning timed out; else `None` (sleep
    /// again).
    fn leave(&self, seen: u32, give_up: bool) -> Option<WaitTimeoutResult> {
        let pending = self.pending.load(Ordering::Relaxed);
        let notified = self.sequence.load(Ordering::Relaxed) != seen && pending > 0;
        if !notified && !give_up {
            return None;
        }
        let pending = if notified { pending - 1 } else { pending };
        let waiters = self.waiters.load(Ordering::Relaxed).wrapping_sub(1);
        self.waiters.store(waiters, Ordering::Relaxed);
        // Never more wake-ups pending than waiters to take them (only a
        // corrupt count could make it so).
        self.pending.store(pending.min(waiters), Ordering::Relaxed);
        Some(WaitTimeoutResult(!notified))
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

    /// Wakes at most `n` of the waiters (Python's `notify(n)`); `guard`
    /// proves this thread holds the condition's lock. A woken waiter
    /// returns once it gets the lock, after this thread releases it.
    ///
    /// # What is promised
    ///
    /// - At most `n` waits return as notified for this call, and only waits
    ///   that began before it (under the lock): a thread that starts waiting
    ///   after the notify, or that released the lock and has not yet gone
    ///   to sleep, is not woken by it unless it was waiting before it.
    /// - If at least `n` waits began before this call and have not
    ///   returned, exactly `n` of them return as notified (whichever the
    ///   scheduler picks, not necessarily the oldest).
    /// - A wait that times out leaves without taking a wake-up, unless one
    ///   was handed out before it got the lock back: then it returns as
    ///   notified. Either way no wake-up meant for a live waiter is lost.
    /// - A waiter killed while waiting stays counted. A notify may hand one
    ///   of its `n` wake-ups to it; a live waiter can then take that one on
    ///   a later notify, so that later call wakes one more than its `n`
    ///   (at most one more per killed waiter). It never wakes fewer.
    /// - A wait may also return early with [`LockError::OwnerDied`] (a
    ///   holder of the lock died); it is not counted as notified.
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
        // Relaxed (all): under the lock, which every waiter holds when it
        // reads or changes these words.
        let waiters = self.waiters.load(Ordering::Relaxed);
        let pending = self.pending.load(Ordering::Relaxed);
        // The waiters no pending wake-up is meant for yet.
        let unserved = waiters.saturating_sub(pending);
        let wake = n.min(unserved);
        if wake == 0 {
            return Ok(());
        }
        self.pending.store(pending + wake, Ordering::Relaxed);
        // Wrapping (as `fetch_add` is): only a change is looked for.
        self.sequence.fetch_add(1, Ordering::Relaxed);
        // Waking more sleepers than there are wake-ups to take would only
        // send the extra ones back to sleep; waiters not asleep yet see the
        // new sequence and take one without being woken.
        os::futex_wake(&self.sequence, i32::try_from(wake).unwrap_or(i32::MAX));
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
