//! [`RawBarrier`]: a process-shared barrier for a fixed number of parties.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::os::{self, Deadline, RobustMutex, Wake};
use super::Held;
use crate::{Error, Result};

/// Python's `multiprocessing.Barrier`, in shared memory: `parties`
/// processes (or threads) call [`wait`](RawBarrier::wait) and all return
/// once the last one arrives; then the barrier is ready for the next round.
///
/// A waiter whose timeout passes **breaks** the barrier for everyone, as in
/// Python: it gets [`Error::TimedOut`], the others waiting (and everyone
/// arriving later) get [`Error::BrokenBarrier`] until
/// [`reset`](RawBarrier::reset). [`abort`](RawBarrier::abort) breaks it on
/// purpose.
///
/// A process killed while waiting has arrived and still counts: the round
/// completes when the others arrive. A process killed inside the barrier's
/// internal critical section (a few instructions) breaks it, since the
/// round's state cannot be trusted. [`RawBarrier::SIZE`] bytes, aligned to
/// [`RawBarrier::ALIGN`].
///
/// The counts live in memory other processes can write. A count of
/// arrivals that is not below `parties` (which only a process that ignores
/// the protocol can leave there) breaks the barrier too, for the same
/// reason, rather than overflowing; the round numbers wrap.
///
/// # Examples
///
/// ```
/// use std::mem::MaybeUninit;
/// use std::time::Duration;
/// use shmstruct::sync::RawBarrier;
///
/// let mut memory = MaybeUninit::<RawBarrier>::uninit();
/// // SAFETY: writable, aligned, not used by anyone else.
/// unsafe { RawBarrier::init(memory.as_mut_ptr(), 2) }?;
/// // SAFETY: initialised above; `memory` outlives `barrier`.
/// let barrier = unsafe { RawBarrier::from_ptr(memory.as_ptr()) };
/// // Only one party arrives: the timeout breaks the barrier.
/// assert!(barrier.wait_timeout(Duration::from_millis(1)).is_err());
/// assert!(barrier.is_broken()?);
/// barrier.reset()?;
/// assert!(!barrier.is_broken()?);
/// # Ok::<(), shmstruct::Error>(())
/// ```
#[repr(C)]
pub struct RawBarrier {
    mutex: RobustMutex,
    /// Futex word, bumped whenever waiters must look again (a round passed,
    /// the barrier broke or was reset).
    wake: AtomicU32,
    parties: AtomicU32,
    /// Arrived in the current round.
    count: AtomicU32,
    /// The current round's number.
    generation: AtomicU32,
    /// The last round that completed (its waiters return `Ok`; those of a
    /// round ended by `reset` see it differ from theirs).
    passed: AtomicU32,
    /// 1 once broken, until `reset`.
    broken: AtomicU32,
}

// All fields but `wake` are read and written only with `mutex` held, so
// they use Relaxed: the mutex orders them. `wake` is bumped under the mutex
// too and compared by the kernel in futex_wait.

const _: () = assert!(std::mem::offset_of!(RawBarrier, mutex) == 0);

impl RawBarrier {
    /// Bytes to reserve for a `RawBarrier`.
    pub const SIZE: usize = std::mem::size_of::<RawBarrier>();
    /// The alignment a `RawBarrier` needs.
    pub const ALIGN: usize = std::mem::align_of::<RawBarrier>();

    /// Initialises a barrier for `parties` parties at `ptr`. Only the
    /// creator of the memory calls this, once, before others look at it.
    ///
    /// # Safety
    ///
    /// `ptr` is valid for writes of [`RawBarrier::SIZE`] bytes, aligned to
    /// [`RawBarrier::ALIGN`], and not used by anyone during the call.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSyncParameter`] if `parties` is 0,
    /// [`Error::SyncOs`] if the pthread library refuses.
    pub unsafe fn init(ptr: *mut RawBarrier, parties: u32) -> Result<()> {
        if parties == 0 {
            return Err(Error::InvalidSyncParameter {
                primitive: "barrier",
                reason: "it needs at least one party",
            });
        }
        debug_assert!(ptr.is_aligned());
        // Every field but the mutex is an atomic, valid as zero bytes.
        // SAFETY: the caller guarantees `ptr` is valid for writes and unused.
        unsafe { ptr.write_bytes(0, 1) };
        // SAFETY: as above; `mutex` is at offset 0 (asserted below the
        // struct), so `ptr` is valid for it.
        unsafe { RobustMutex::init(ptr.cast(), os::MutexKind::ErrorCheck) }?;
        // SAFETY: initialised above, not yet shared.
        let this = unsafe { &*ptr };
        this.parties.store(parties, Ordering::Relaxed);
        // No round has passed yet.
        this.passed.store(u32::MAX, Ordering::Relaxed);
        Ok(())
    }

    /// The barrier at `ptr`, for lifetime `'a`.
    ///
    /// # Safety
    ///
    /// `ptr` points to a barrier [`RawBarrier::init`] initialised, in memory
    /// that stays mapped for `'a` and that nobody re-initialises meanwhile.
    pub unsafe fn from_ptr<'a>(ptr: *const RawBarrier) -> &'a RawBarrier {
        debug_assert!(ptr.is_aligned());
        // SAFETY: initialised and alive for 'a (caller); interior-mutable.
        unsafe { &*ptr }
    }

    /// The internal mutex; a process that died holding it broke the round.
    fn enter(&self) -> Result<Held<'_>> {
        self.enter_by(None)
    }

    /// As [`RawBarrier::enter`], giving up (`TimedOut`) a moment after
    /// `deadline`.
    fn enter_by(&self, deadline: Option<&Deadline>) -> Result<Held<'_>> {
        Held::enter_by(&self.mutex, deadline, || self.set_broken())
    }

    /// Breaks the barrier and wakes everyone. Mutex held.
    fn set_broken(&self) {
        self.broken.store(1, Ordering::Relaxed);
        self.wake.fetch_add(1, Ordering::Relaxed);
        os::futex_wake_all(&self.wake);
    }

    /// The number of parties.
    pub fn parties(&self) -> u32 {
        // Relaxed: written once by `init`, before the barrier was shared.
        self.parties.load(Ordering::Relaxed)
    }

    /// How many are waiting in the current round (Python's `n_waiting`).
    ///
    /// # Errors
    ///
    /// Only if the internal mutex is broken (in practice never).
    pub fn n_waiting(&self) -> Result<u32> {
        let _held = self.enter()?;
        Ok(self.count.load(Ordering::Relaxed))
    }

    /// Whether the barrier is broken.
    ///
    /// # Errors
    ///
    /// As [`RawBarrier::n_waiting`].
    pub fn is_broken(&self) -> Result<bool> {
        let _held = self.enter()?;
        Ok(self.broken.load(Ordering::Relaxed) != 0)
    }

    /// Waits until all parties have arrived; returns this party's arrival
    /// index, `0..parties` (`parties - 1` for the last, which releases the
    /// others), as Python's `wait()`.
    ///
    /// # Errors
    ///
    /// [`Error::BrokenBarrier`] if the barrier is or becomes broken.
    pub fn wait(&self) -> Result<u32> {
        self.wait_until(None, || {})
    }

    /// As [`RawBarrier::wait`], with Python's `action=`: the last party to
    /// arrive runs its `action` once, before any party of the round is
    /// released, so exactly one action runs per round. Every party passes
    /// its own action, since a closure cannot live in shared memory; only
    /// the last arrival's runs, and the others' are dropped unused.
    ///
    /// If the action panics, the barrier is broken (the others get
    /// [`Error::BrokenBarrier`]) and the panic continues in the caller.
    ///
    /// # Errors
    ///
    /// As [`RawBarrier::wait`].
    pub fn wait_with(&self, action: impl FnOnce()) -> Result<u32> {
        self.wait_until(None, action)
    }

    /// As [`RawBarrier::wait`], at most `timeout` (monotonic clock).
    ///
    /// # Errors
    ///
    /// [`Error::TimedOut`] if the round did not complete in time (the
    /// barrier is then broken for everyone), and
    /// [`Error::BrokenBarrier`] as for [`RawBarrier::wait`].
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u32> {
        self.wait_until(Some(Deadline::after(timeout)), || {})
    }

    /// [`RawBarrier::wait_with`] with at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`RawBarrier::wait_timeout`].
    pub fn wait_timeout_with(&self, timeout: Duration, action: impl FnOnce()) -> Result<u32> {
        self.wait_until(Some(Deadline::after(timeout)), action)
    }

    fn wait_until(&self, deadline: Option<Deadline>, action: impl FnOnce()) -> Result<u32> {
        let enter = || {
            self.enter_by(deadline.as_ref())
                .map_err(|error| match error {
                    Error::TimedOut { .. } => Error::TimedOut {
                        primitive: "barrier",
                    },
                    other => other,
                })
        };
        let mut held = enter()?;
        if self.broken.load(Ordering::Relaxed) != 0 {
            return Err(Error::BrokenBarrier);
        }
        let index = self.count.load(Ordering::Relaxed);
        let generation = self.generation.load(Ordering::Relaxed);
        let parties = self.parties();
        if index >= parties {
            // Arrivals are counted below `parties` under the mutex, so the
            // count is corrupt (and `index + 1` could overflow): the
            // round's state cannot be trusted.
            self.set_broken();
            return Err(Error::BrokenBarrier);
        }
        // Cannot overflow: `index < parties <= u32::MAX`.
        if index + 1 == parties {
            // Run under the internal mutex, as Python runs it under the
            // barrier's condition: nobody of this round is released, and no
            // other round starts, before it has finished.
            if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(action)) {
                self.set_broken();
                drop(held);
                std::panic::resume_unwind(panic);
            }
            self.count.store(0, Ordering::Relaxed);
            self.passed.store(generation, Ordering::Relaxed);
            self.generation
                .store(generation.wrapping_add(1), Ordering::Relaxed);
            self.wake.fetch_add(1, Ordering::Relaxed);
            drop(held);
            os::futex_wake_all(&self.wake);
            return Ok(index);
        }
        self.count.store(index + 1, Ordering::Relaxed);
        loop {
            let seen = self.wake.load(Ordering::Relaxed);
            drop(held);
            let woke = os::futex_wait(&self.wake, seen, deadline.as_ref());
            held = enter()?;
            if self.generation.load(Ordering::Relaxed) != generation {
                return if self.passed.load(Ordering::Relaxed) == generation {
                    Ok(index)
                } else {
                    Err(Error::BrokenBarrier)
                };
            }
            if self.broken.load(Ordering::Relaxed) != 0 {
                self.leave();
                return Err(Error::BrokenBarrier);
            }
            if woke == Wake::TimedOut {
                self.leave();
                self.set_broken();
                return Err(Error::TimedOut {
                    primitive: "barrier",
                });
            }
        }
    }

    /// A waiter of the current round gives up. Mutex held. (Saturating: a
    /// corrupt count of 0 stays 0.)
    fn leave(&self) {
        let count = self.count.load(Ordering::Relaxed);
        self.count.store(count.saturating_sub(1), Ordering::Relaxed);
    }

    /// Breaks the barrier (Python's `abort()`): current and future waiters
    /// get [`Error::BrokenBarrier`] until [`RawBarrier::reset`].
    ///
    /// # Errors
    ///
    /// As [`RawBarrier::n_waiting`].
    pub fn abort(&self) -> Result<()> {
        let _held = self.enter()?;
        self.set_broken();
        Ok(())
    }

    /// Returns the barrier to its empty, unbroken state (Python's
    /// `reset()`); parties waiting now get [`Error::BrokenBarrier`].
    ///
    /// # Errors
    ///
    /// As [`RawBarrier::n_waiting`].
    pub fn reset(&self) -> Result<()> {
        let _held = self.enter()?;
        let generation = self.generation.load(Ordering::Relaxed);
        self.count.store(0, Ordering::Relaxed);
        self.broken.store(0, Ordering::Relaxed);
        self.generation
            .store(generation.wrapping_add(1), Ordering::Relaxed);
        self.wake.fetch_add(1, Ordering::Relaxed);
        os::futex_wake_all(&self.wake);
        Ok(())
    }
}

impl std::fmt::Debug for RawBarrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawBarrier")
            .field("parties", &self.parties())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::mem::MaybeUninit;

    use super::*;

    #[test]
    fn a_corrupt_arrival_count_breaks_the_barrier_without_panicking() {
        let mut memory = MaybeUninit::<RawBarrier>::uninit();
        // SAFETY: writable, aligned, used by nobody else.
        unsafe { RawBarrier::init(memory.as_mut_ptr(), 2) }.expect("init");
        // SAFETY: initialised above; `memory` outlives `barrier`.
        let barrier = unsafe { RawBarrier::from_ptr(memory.as_ptr()) };
        for corrupt in [u32::MAX, 2] {
            barrier.count.store(corrupt, Ordering::Relaxed);
            let error = barrier.wait().expect_err("a corrupt count");
            assert!(matches!(error, Error::BrokenBarrier), "{error:?}");
            assert!(barrier.is_broken().expect("state"));
            barrier.reset().expect("reset");
            assert_eq!(barrier.n_waiting().expect("state"), 0);
        }
        barrier.parties.store(1, Ordering::Relaxed);
        assert_eq!(barrier.wait().expect("one party passes"), 0);
    }
}
