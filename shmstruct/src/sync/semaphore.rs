//! [`RawSemaphore`]: a process-shared counting semaphore that takes back the
//! permits of processes that died holding them.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use super::os::{self, Deadline, RobustMutex};
use super::Held;
use crate::os::ProcessId;
use crate::{Error, Result};

/// How many processes can hold tracked permits at once. Permits acquired
/// while every slot is taken by other processes are handed out untracked.
const HOLDER_SLOTS: usize = 16;

/// While other processes hold tracked permits, a blocked acquirer wakes up
/// this often to look for dead holders (nobody wakes a sleeper when a
/// holder is killed).
const RECLAIM_POLL: Duration = Duration::from_millis(10);

/// One process's tracked permits. `pid == 0` marks a free slot.
#[repr(C)]
struct Holder {
    pid: AtomicU32,
    permits: AtomicU32,
    start: AtomicU64,
}

/// What a half-finished update changed, to undo it if its process dies.
#[repr(C)]
struct Undo {
    /// 1 while an update is in progress.
    active: AtomicU32,
    value: AtomicU32,
    slot: AtomicU32,
    pid: AtomicU32,
    permits: AtomicU32,
    _pad: AtomicU32,
    start: AtomicU64,
}

/// Python's `multiprocessing.Semaphore` and `BoundedSemaphore`, in shared
/// memory: a count of permits that [`acquire`](RawSemaphore::acquire)
/// takes (blocking while there is none) and releasing gives back.
///
/// [`RawSemaphore::SIZE`] bytes, aligned to [`RawSemaphore::ALIGN`]. All
/// state is behind an internal robust mutex, whose holder dying mid-update
/// is undone by the next process; waiters sleep on a futex.
///
/// # Permits of dead processes
///
/// [`acquire`](RawSemaphore::acquire) returns a [`SemaphoreGuard`] and
/// records the permit against the calling process (pid and start time, so
/// a reused pid is not mistaken for the holder), in one of 16 slots.
/// Dropping the guard gives the permit back. If the process exits or is
/// killed while holding tracked permits, they are **reclaimed**: a process
/// that finds no permit free checks the recorded holders (`/proc/<pid>/stat`:
/// gone, a zombie, or a different process with that pid) and returns a
/// dead holder's permits to the count. A blocked acquirer repeats that check
/// every 10 ms while other processes hold tracked permits, so it proceeds
/// about 10 ms after the holder's death.
///
/// Not reclaimed, by design: permits turned into untracked ones with
/// [`SemaphoreGuard::forget`] (Python-style: acquire here, `release()`
/// elsewhere, perhaps in another process), and permits acquired while all
/// 16 slots were taken by other processes. Reclaiming assumes all users
/// see each other's pids: processes in different pid namespaces must not
/// share a semaphore.
///
/// For a bounded semaphore, [`release`](RawSemaphore::release) beyond the
/// bound is [`Error::OverRelease`]; a reclaim never raises the count above
/// the bound.
///
/// # Counters that cannot be right
///
/// The counters live in memory other processes can write, so a process
/// that does not follow the protocol (or a stray write) can leave any value
/// there. None of them is trusted with plain arithmetic: nothing panics,
/// whatever they hold. Counts saturate instead (a free count stays at most
/// `u32::MAX` and at least 0, a reclaim adds at most up to the bound), and
/// a holder slot that already records `u32::MAX` permits hands out the next
/// permit untracked, as when every slot is taken. A wrong count can then
/// make permits appear or disappear, as any write into the semaphore's
/// memory could; it cannot crash a process that uses it.
///
/// # Examples
///
/// ```
/// use std::mem::MaybeUninit;
/// use shmstruct::sync::RawSemaphore;
///
/// let mut memory = MaybeUninit::<RawSemaphore>::uninit();
/// // SAFETY: writable, aligned, not used by anyone else.
/// unsafe { RawSemaphore::init_bounded(memory.as_mut_ptr(), 2) }?;
/// // SAFETY: initialised above; `memory` outlives `semaphore`.
/// let semaphore = unsafe { RawSemaphore::from_ptr(memory.as_ptr()) };
/// let a = semaphore.acquire()?;
/// let b = semaphore.acquire()?;
/// assert!(semaphore.try_acquire().is_err());
/// drop(a);
/// b.forget(); // keep the permit, Python-style...
/// semaphore.release()?; // ...and give it back later
/// assert!(semaphore.release().is_err()); // over the bound of 2
/// # Ok::<(), shmstruct::Error>(())
/// ```
#[repr(C)]
pub struct RawSemaphore {
    mutex: RobustMutex,
    /// Futex word, bumped by every release so that sleepers wake.
    wake: AtomicU32,
    /// Free permits.
    value: AtomicU32,
    /// The maximum value of a bounded semaphore; 0 when unbounded.
    bound: AtomicU32,
    /// How many may be sleeping (one too many per killed sleeper, which
    /// costs an unneeded wake-up call, nothing else).
    waiters: AtomicU32,
    undo: Undo,
    holders: [Holder; HOLDER_SLOTS],
}

// All fields below `mutex` are read and written only with `mutex` held, so
// they use Relaxed: the mutex orders them (its lock/unlock are acquire/
// release), and a holder that died mid-update is undone from `undo`.
// `wake` is the exception: it is also read by the kernel in futex_wait,
// which compares it atomically with the expected value.

const _: () = assert!(std::mem::offset_of!(RawSemaphore, mutex) == 0);

impl RawSemaphore {
    /// Bytes to reserve for a `RawSemaphore`.
    pub const SIZE: usize = std::mem::size_of::<RawSemaphore>();
    /// The alignment a `RawSemaphore` needs.
    pub const ALIGN: usize = std::mem::align_of::<RawSemaphore>();

    /// Initialises a semaphore with `value` free permits and no bound
    /// (Python's `Semaphore(value)`). Only the creator of the memory calls
    /// this, once, before others look at it.
    ///
    /// # Safety
    ///
    /// `ptr` is valid for writes of [`RawSemaphore::SIZE`] bytes, aligned to
    /// [`RawSemaphore::ALIGN`], and not used by anyone during the call.
    ///
    /// # Errors
    ///
    /// [`Error::SyncOs`] if the pthread library refuses.
    pub unsafe fn init(ptr: *mut RawSemaphore, value: u32) -> Result<()> {
        // SAFETY: forwarded from the caller.
        unsafe { Self::init_with_bound(ptr, value, 0) }
    }

    /// Initialises a bounded semaphore with `value` free permits, which is
    /// also its bound (Python's `BoundedSemaphore(value)`).
    ///
    /// # Safety
    ///
    /// As [`RawSemaphore::init`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSyncParameter`] if `value` is 0 (nothing could ever
    /// be acquired), [`Error::SyncOs`] if the pthread library refuses.
    pub unsafe fn init_bounded(ptr: *mut RawSemaphore, value: u32) -> Result<()> {
        if value == 0 {
            return Err(Error::InvalidSyncParameter {
                primitive: "bounded semaphore",
                reason: "the bound must be at least 1",
            });
        }
        // SAFETY: forwarded from the caller.
        unsafe { Self::init_with_bound(ptr, value, value) }
    }

    /// # Safety
    ///
    /// As [`RawSemaphore::init`].
    unsafe fn init_with_bound(ptr: *mut RawSemaphore, value: u32, bound: u32) -> Result<()> {
        debug_assert!(ptr.is_aligned());
        // Every field but the mutex is made of atomics, for which all-zero
        // bytes are valid zeros.
        // SAFETY: the caller guarantees `ptr` is valid for writes and unused.
        unsafe { ptr.write_bytes(0, 1) };
        // SAFETY: as above; `mutex` is at offset 0 (asserted below the
        // struct), so `ptr` is valid for it.
        unsafe { RobustMutex::init(ptr.cast(), os::MutexKind::ErrorCheck) }?;
        // SAFETY: initialised above (zeroed atomics and the mutex), not yet
        // shared with anyone.
        let this = unsafe { &*ptr };
        this.value.store(value, Ordering::Relaxed);
        this.bound.store(bound, Ordering::Relaxed);
        Ok(())
    }

    /// The semaphore at `ptr`, for lifetime `'a`.
    ///
    /// # Safety
    ///
    /// `ptr` points to a semaphore [`RawSemaphore::init`] or
    /// [`RawSemaphore::init_bounded`] initialised, in memory that stays
    /// mapped for `'a` and that nobody re-initialises meanwhile.
    pub unsafe fn from_ptr<'a>(ptr: *const RawSemaphore) -> &'a RawSemaphore {
        debug_assert!(ptr.is_aligned());
        // SAFETY: initialised and alive for 'a (caller); interior-mutable.
        unsafe { &*ptr }
    }

    /// The internal mutex, with a half-finished update of a dead process
    /// rolled back.
    fn enter(&self) -> Result<Held<'_>> {
        self.enter_by(None)
    }

    /// As [`RawSemaphore::enter`], giving up (`TimedOut`) a moment after
    /// `deadline`.
    fn enter_by(&self, deadline: Option<&Deadline>) -> Result<Held<'_>> {
        Held::enter_by(&self.mutex, deadline, || {
            if self.undo.active.load(Ordering::Relaxed) != 0 {
                let slot =
                    &self.holders[self.undo.slot.load(Ordering::Relaxed) as usize % HOLDER_SLOTS];
                self.value
                    .store(self.undo.value.load(Ordering::Relaxed), Ordering::Relaxed);
                slot.pid
                    .store(self.undo.pid.load(Ordering::Relaxed), Ordering::Relaxed);
                slot.permits
                    .store(self.undo.permits.load(Ordering::Relaxed), Ordering::Relaxed);
                slot.start
                    .store(self.undo.start.load(Ordering::Relaxed), Ordering::Relaxed);
                self.undo.active.store(0, Ordering::Relaxed);
            }
        })
    }

    /// Sets `value` and slot `index` to (`pid`, `permits`, `start`) so that
    /// a death halfway is undone by the next `enter`. Held mutex required.
    fn update(&self, _held: &Held<'_>, value: u32, index: Option<usize>, holder: (u32, u32, u64)) {
        let Some(index) = index else {
            self.value.store(value, Ordering::Relaxed);
            return;
        };
        let slot = &self.holders[index];
        self.undo
            .value
            .store(self.value.load(Ordering::Relaxed), Ordering::Relaxed);
        self.undo.slot.store(index as u32, Ordering::Relaxed);
        self.undo
            .pid
            .store(slot.pid.load(Ordering::Relaxed), Ordering::Relaxed);
        self.undo
            .permits
            .store(slot.permits.load(Ordering::Relaxed), Ordering::Relaxed);
        self.undo
            .start
            .store(slot.start.load(Ordering::Relaxed), Ordering::Relaxed);
        self.undo.active.store(1, Ordering::Relaxed);
        self.value.store(value, Ordering::Relaxed);
        slot.pid.store(holder.0, Ordering::Relaxed);
        slot.permits.store(holder.1, Ordering::Relaxed);
        slot.start.store(holder.2, Ordering::Relaxed);
        self.undo.active.store(0, Ordering::Relaxed);
    }

    /// The slot of `me`, or a free one to record it in.
    fn slot_of(&self, me: ProcessId) -> (Option<usize>, Option<usize>) {
        let mut free = None;
        for (index, slot) in self.holders.iter().enumerate() {
            let pid = slot.pid.load(Ordering::Relaxed);
            if pid == me.pid && slot.start.load(Ordering::Relaxed) == me.start {
                return (Some(index), None);
            }
            if pid == 0 && free.is_none() {
                free = Some(index);
            }
        }
        (None, free)
    }

    /// Takes one permit for `me` (`value > 0` checked by the caller);
    /// whether it is tracked.
    fn take(&self, held: &Held<'_>, me: ProcessId) -> bool {
        // Saturating: the caller saw `value > 0` under the mutex, but the
        // word is shared memory that a rogue writer may have changed since.
        let value = self.value.load(Ordering::Relaxed).saturating_sub(1);
        match self.slot_of(me) {
            (Some(index), _) => {
                // Checked: a slot already at u32::MAX permits (only a
                // corrupt one gets there) cannot count one more, so the
                // permit is handed out untracked instead.
                let permits = self.holders[index].permits.load(Ordering::Relaxed);
                if let Some(permits) = permits.checked_add(1) {
                    self.update(held, value, Some(index), (me.pid, permits, me.start));
                    return true;
                }
            }
            (None, Some(free)) if me.start != 0 => {
                self.update(held, value, Some(free), (me.pid, 1, me.start));
                return true;
            }
            _ => {}
        }
        self.update(held, value, None, (0, 0, 0));
        false
    }

    /// Returns the permits of dead holders; how many.
    fn reclaim_dead(&self, held: &Held<'_>, me: ProcessId) -> u32 {
        let mut reclaimed = 0u32;
        for (index, slot) in self.holders.iter().enumerate() {
            let pid = slot.pid.load(Ordering::Relaxed);
            if pid == 0 || pid == me.pid {
                continue;
            }
            let holder = ProcessId {
                pid,
                start: slot.start.load(Ordering::Relaxed),
            };
            if holder.is_alive() {
                continue;
            }
            // Saturating, both: the slots are shared memory, and corrupt
            // ones could hold counts whose sum overflows.
            let permits = slot.permits.load(Ordering::Relaxed);
            let value = self.capped(self.value.load(Ordering::Relaxed).saturating_add(permits));
            self.update(held, value, Some(index), (0, 0, 0));
            reclaimed = reclaimed.saturating_add(permits);
        }
        reclaimed
    }

    fn capped(&self, value: u32) -> u32 {
        match self.bound.load(Ordering::Relaxed) {
            0 => value,
            bound => value.min(bound),
        }
    }

    /// Whether another process holds tracked permits.
    fn others_hold(&self, me: ProcessId) -> bool {
        self.holders.iter().any(|slot| {
            let pid = slot.pid.load(Ordering::Relaxed);
            pid != 0 && pid != me.pid
        })
    }

    fn acquire_until(&self, deadline: Option<Deadline>, block: bool) -> Result<SemaphoreGuard<'_>> {
        let me = ProcessId::current();
        // The internal mutex is bounded too: by the deadline, or at once
        // (plus the grace) for a `try_`.
        let bound = if block {
            deadline
        } else {
            Some(Deadline::after(Duration::ZERO))
        };
        let enter = || {
            self.enter_by(bound.as_ref()).map_err(|error| match error {
                Error::TimedOut { .. } if !block => Error::WouldBlock {
                    primitive: "semaphore",
                },
                Error::TimedOut { .. } => Error::TimedOut {
                    primitive: "semaphore",
                },
                other => other,
            })
        };
        let mut held = enter()?;
        let mut look_for_dead = !block;
        loop {
            if self.value.load(Ordering::Relaxed) > 0 {
                let tracked = self.take(&held, me);
                return Ok(SemaphoreGuard {
                    semaphore: self,
                    tracked,
                });
            }
            if look_for_dead && self.reclaim_dead(&held, me) > 0 {
                continue;
            }
            if !block {
                return Err(Error::WouldBlock {
                    primitive: "semaphore",
                });
            }
            if deadline.is_some_and(|d| d.has_passed()) {
                return Err(Error::TimedOut {
                    primitive: "semaphore",
                });
            }
            let poll = self.others_hold(me);
            let sleep_until = match (deadline, poll) {
                (Some(d), true) => Some(d.min_after(RECLAIM_POLL)),
                (None, true) => Some(Deadline::after(RECLAIM_POLL)),
                (d, false) => d,
            };
            // Relaxed: under the mutex (see the note on the fields).
            // `fetch_add`/`fetch_sub` wrap, so a corrupt `waiters` cannot
            // panic (a wrong count wastes or misses wake-up calls, as any
            // rogue write into the semaphore can).
            let seen = self.wake.load(Ordering::Relaxed);
            self.waiters.fetch_add(1, Ordering::Relaxed);
            drop(held);
            let woke = os::futex_wait(&self.wake, seen, sleep_until.as_ref());
            held = enter()?;
            self.waiters.fetch_sub(1, Ordering::Relaxed);
            look_for_dead = woke == os::Wake::TimedOut;
        }
    }

    /// Blocks until a permit is free and takes it.
    ///
    /// # Errors
    ///
    /// [`Error::NotRecoverable`]/[`Error::SyncOs`] only if the internal
    /// mutex is broken (it is repaired after an owner death, so in
    /// practice never).
    pub fn acquire(&self) -> Result<SemaphoreGuard<'_>> {
        self.acquire_until(None, true)
    }

    /// Takes a permit if one is free (after returning dead holders'
    /// permits).
    ///
    /// # Errors
    ///
    /// [`Error::WouldBlock`] if none is free.
    pub fn try_acquire(&self) -> Result<SemaphoreGuard<'_>> {
        self.acquire_until(None, false)
    }

    /// Blocks until a permit is free or `timeout` (monotonic clock) passes.
    ///
    /// # Errors
    ///
    /// [`Error::TimedOut`] if none became free in time.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<SemaphoreGuard<'_>> {
        self.acquire_until(Some(Deadline::after(timeout)), true)
    }

    /// Gives back one untracked permit (Python's `release()`): one that a
    /// [`SemaphoreGuard::forget`] kept, or a new one for an unbounded
    /// semaphore used as a signal. Any process may call it.
    ///
    /// # Errors
    ///
    /// [`Error::OverRelease`] if a bounded semaphore is already at its
    /// bound.
    pub fn release(&self) -> Result<()> {
        let held = self.enter()?;
        let value = self.value.load(Ordering::Relaxed);
        let bound = self.bound.load(Ordering::Relaxed);
        if bound != 0 && value >= bound {
            return Err(Error::OverRelease { bound });
        }
        let value = value.checked_add(1).ok_or(Error::InvalidSyncParameter {
            primitive: "semaphore",
            reason: "the count would overflow u32",
        })?;
        self.update(&held, value, None, (0, 0, 0));
        self.wake_one(held);
        Ok(())
    }

    /// Bumps the futex word and wakes one sleeper, after unlocking.
    fn wake_one(&self, held: Held<'_>) {
        // Relaxed: under the mutex; the kernel compares the word itself.
        self.wake.fetch_add(1, Ordering::Relaxed);
        let sleeping = self.waiters.load(Ordering::Relaxed) > 0;
        drop(held);
        if sleeping {
            os::futex_wake(&self.wake, 1);
        }
    }

    /// Releases a tracked permit of this process.
    fn release_tracked(&self, tracked: bool) -> Result<()> {
        let me = ProcessId::current();
        let held = self.enter()?;
        let value = self.capped(self.value.load(Ordering::Relaxed).saturating_add(1));
        match self.slot_of(me) {
            (Some(index), _) if tracked => {
                let permits = self.holders[index]
                    .permits
                    .load(Ordering::Relaxed)
                    .saturating_sub(1);
                let holder = if permits == 0 {
                    (0, 0, 0)
                } else {
                    (me.pid, permits, me.start)
                };
                self.update(&held, value, Some(index), holder);
            }
            _ => self.update(&held, value, None, (0, 0, 0)),
        }
        self.wake_one(held);
        Ok(())
    }

    /// Turns a tracked permit of this process into an untracked one.
    fn untrack(&self) -> Result<()> {
        let me = ProcessId::current();
        let held = self.enter()?;
        if let (Some(index), _) = self.slot_of(me) {
            let permits = self.holders[index]
                .permits
                .load(Ordering::Relaxed)
                .saturating_sub(1);
            let holder = if permits == 0 {
                (0, 0, 0)
            } else {
                (me.pid, permits, me.start)
            };
            let value = self.value.load(Ordering::Relaxed);
            self.update(&held, value, Some(index), holder);
        }
        Ok(())
    }

    /// The number of free permits now (Python's `get_value()`); it may
    /// change as soon as this returns.
    ///
    /// # Errors
    ///
    /// As [`RawSemaphore::acquire`].
    pub fn value(&self) -> Result<u32> {
        let _held = self.enter()?;
        Ok(self.value.load(Ordering::Relaxed))
    }
}

impl std::fmt::Debug for RawSemaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawSemaphore").finish_non_exhaustive()
    }
}

/// A permit of a [`RawSemaphore`], given back when dropped.
#[must_use = "the permit is given back as soon as the guard is dropped"]
pub struct SemaphoreGuard<'a> {
    semaphore: &'a RawSemaphore,
    tracked: bool,
}

impl SemaphoreGuard<'_> {
    /// Keeps the permit without a guard, untracked: it is no longer
    /// reclaimed if this process dies, and is given back by
    /// [`RawSemaphore::release`], from any process.
    ///
    /// # Errors
    ///
    /// As [`RawSemaphore::acquire`].
    pub fn forget(self) -> Result<()> {
        let semaphore = self.semaphore;
        let tracked = self.tracked;
        std::mem::forget(self);
        if tracked {
            semaphore.untrack()?;
        }
        Ok(())
    }
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        let released = self.semaphore.release_tracked(self.tracked);
        debug_assert!(released.is_ok(), "releasing a permit: {released:?}");
    }
}

impl std::fmt::Debug for SemaphoreGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SemaphoreGuard")
            .field("tracked", &self.tracked)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::mem::MaybeUninit;

    use super::*;

    /// A bounded semaphore with `value` permits in local memory.
    fn local(memory: &mut MaybeUninit<RawSemaphore>, value: u32) -> &RawSemaphore {
        // SAFETY: `memory` is writable, aligned for a RawSemaphore and used
        // by nobody else.
        unsafe { RawSemaphore::init_bounded(memory.as_mut_ptr(), value) }.expect("init");
        // SAFETY: initialised above; the borrow of `memory` outlives it.
        unsafe { RawSemaphore::from_ptr(memory.as_ptr()) }
    }

    #[test]
    fn a_holder_slot_at_the_maximum_hands_out_untracked_permits() {
        let mut memory = MaybeUninit::uninit();
        let semaphore = local(&mut memory, 2);
        let first = semaphore.acquire().expect("a permit");
        assert!(first.tracked);
        let slot = semaphore
            .holders
            .iter()
            .find(|slot| slot.pid.load(Ordering::Relaxed) != 0)
            .expect("the permit is recorded");
        // What only a corrupt (or rogue) write can leave there.
        slot.permits.store(u32::MAX, Ordering::Relaxed);
        let second = semaphore.acquire().expect("a permit, no panic");
        assert!(!second.tracked);
        assert_eq!(slot.permits.load(Ordering::Relaxed), u32::MAX);
        drop(second);
        drop(first);
        assert_eq!(semaphore.value().expect("value"), 2);
    }

    #[test]
    fn corrupt_dead_holders_do_not_overflow_the_reclaim() {
        let mut memory = MaybeUninit::uninit();
        let semaphore = local(&mut memory, 3);
        semaphore.value.store(0, Ordering::Relaxed);
        // Two slots of a process that does not exist (above the kernel's
        // pid limit), each claiming every permit there could be.
        for slot in &semaphore.holders[..2] {
            slot.pid.store(u32::MAX - 1, Ordering::Relaxed);
            slot.start.store(1, Ordering::Relaxed);
            slot.permits.store(u32::MAX, Ordering::Relaxed);
        }
        let permit = semaphore.try_acquire().expect("reclaimed, no panic");
        drop(permit);
        // Never above the bound.
        assert_eq!(semaphore.value().expect("value"), 3);
    }

    #[test]
    fn a_free_count_at_the_maximum_does_not_overflow() {
        let mut memory = MaybeUninit::uninit();
        let semaphore = local(&mut memory, 1);
        // An unbounded semaphore whose count was set to the maximum.
        semaphore.bound.store(0, Ordering::Relaxed);
        semaphore.value.store(u32::MAX, Ordering::Relaxed);
        let permit = semaphore.acquire().expect("a permit");
        assert!(semaphore.release().is_ok());
        assert!(semaphore.release().is_err(), "the count would overflow");
        drop(permit);
        assert_eq!(semaphore.value().expect("value"), u32::MAX);
    }
}
