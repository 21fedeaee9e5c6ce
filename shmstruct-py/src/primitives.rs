//! `Semaphore` (and bounded), `Event`, `Condition` and `Barrier`: Python's
//! `multiprocessing` primitives, by name, over the crate's robust ones.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use shmstruct::NamedLockGuard;

use crate::errors::{broken_barrier, to_py, IntoPy};
use crate::handle::{options, Owned};
use crate::locks::{key_of, not_held, put_back, take_and_hold, take_held, with_held, Guard, Key};
use crate::wait::{acquire_timeout, released, sliced, sliced_released, timeout};

handle_struct!(
    /// A counting semaphore shared by processes through the named segment
    /// `name`: Python's `multiprocessing.Semaphore(value)`, or
    /// `BoundedSemaphore(value)` when created bounded. Any thread of any
    /// process may release it. A permit taken here is not given back if this
    /// process dies (as with Python's); use the Rust guard for that.
    Semaphore(shmstruct::Semaphore)
);

handle_class!(Semaphore(shmstruct::Semaphore, "") with {
    /// Creates the semaphore segment `name` with `value` permits; bounded:
    /// releasing beyond `value` raises `ValueError`.
    #[staticmethod]
    #[pyo3(signature = (name, value = 1, *, bounded = false, mode = None))]
    fn create(name: &str, value: u32, bounded: bool, mode: Option<u32>) -> PyResult<Semaphore> {
        let options = options(mode);
        let semaphore = if bounded {
            shmstruct::Semaphore::create_bounded_with(name, value, &options)
        } else {
            shmstruct::Semaphore::create_with(name, value, &options)
        }
        .py()?;
        Ok(Semaphore::new(Owned::created(semaphore)))
    }

    /// Takes a permit: `True`, or `False` if `blocking=False` or the
    /// `timeout` passed first.
    #[pyo3(signature = (blocking = true, timeout = None))]
    fn acquire(&self, py: Python<'_>, blocking: bool, timeout: Option<f64>) -> PyResult<bool> {
        let semaphore = &self.inner.handle;
        let taken = sliced(py, acquire_timeout(blocking, timeout)?, |slice| {
            semaphore.acquire_timeout(slice)?.forget()
        })?;
        Ok(taken.is_some())
    }

    /// Gives a permit back.
    fn release(&self) -> PyResult<()> {
        // The GIL is held here (`__exit__` calls this too); the release may
        // wait for the semaphore's internal mutex, so it runs without it.
        Python::attach(|py| released(py, || self.inner.handle.release())).py()
    }

    /// The number of permits available now.
    fn get_value(&self, py: Python<'_>) -> PyResult<u32> {
        released(py, || self.inner.handle.value()).py()
    }
});

handle_struct!(
    /// An event shared by processes through the named segment `name`: Python's
    /// `multiprocessing.Event()`.
    Event(shmstruct::Event)
);

handle_class!(Event(shmstruct::Event, "an event, not set") create {
    /// Sets the flag and wakes every waiter.
    fn set(&self) {
        self.inner.handle.set();
    }

    /// Clears the flag.
    fn clear(&self) {
        self.inner.handle.clear();
    }

    /// Whether the flag is set.
    fn is_set(&self) -> bool {
        self.inner.handle.is_set()
    }

    /// Waits until the flag is set or `timeout` seconds pass; returns the
    /// flag, as Python's `wait`.
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let event = &self.inner.handle;
        let set = sliced(py, self::timeout(timeout)?, |slice| {
            event.wait_timeout(slice)
        })?;
        Ok(set.is_some() || event.is_set())
    }
});

/// A condition variable with its own lock, shared by processes through the
/// named segment `name`: Python's `multiprocessing.Condition()`. Its lock
/// is held per thread, as a `Lock`'s. `notify(n)` wakes at most `n`
/// waiters. If a holder of its lock dies, it poisons what the lock guards,
/// as a `Lock` does: `acquire()` and `wait()` raise `shmstruct.Poisoned`
/// until someone takes it with `acquire_poisoned()`, repairs the data and
/// calls `clear_poison()`.
#[pyclass(module = "shmstruct", frozen)]
pub struct Condition {
    inner: Arc<Owned<shmstruct::Condition>>,
    key: Key,
}

/// The guard of a condition's lock, kept while this thread holds it.
type ConditionGuard = NamedLockGuard<'static>;

impl Condition {
    fn new(inner: Owned<shmstruct::Condition>) -> Condition {
        Condition {
            key: key_of(&inner.handle),
            inner: Arc::new(inner),
        }
    }
}

impl Condition {
    /// Takes the condition's lock within `timeout`, poisoned data refused
    /// unless `poisoned`: whether it is held.
    fn take(&self, py: Python<'_>, timeout: Option<Duration>, poisoned: bool) -> PyResult<bool> {
        take_and_hold(
            py,
            &self.key,
            &self.inner,
            timeout,
            poisoned,
            Guard::Condition,
        )
    }

    /// The guard this thread holds, for `f`.
    fn with_guard<T>(&self, f: impl FnOnce(&mut ConditionGuard) -> PyResult<T>) -> PyResult<T> {
        with_held(&self.key, "the condition's lock", |guard| match guard {
            Guard::Condition(guard) => f(guard),
            Guard::Lock(_) => Err(not_held("the condition's lock")),
        })
    }
}

handle_class!(Condition(shmstruct::Condition, "a condition variable") create with {
    /// Takes the condition's lock: `True`, or `False` if `blocking=False` or
    /// the `timeout` passed first. Raises `shmstruct.Poisoned` if the data
    /// is poisoned (the lock is then not held).
    #[pyo3(signature = (blocking = true, timeout = -1.0))]
    fn acquire(&self, py: Python<'_>, blocking: bool, timeout: Option<f64>) -> PyResult<bool> {
        self.take(py, acquire_timeout(blocking, timeout)?, false)
    }

    /// Takes the condition's lock whether or not its data is poisoned: the
    /// way to repair the data, then `clear_poison()` and `release()`.
    #[pyo3(signature = (blocking = true, timeout = -1.0))]
    fn acquire_poisoned(
        &self,
        py: Python<'_>,
        blocking: bool,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        self.take(py, acquire_timeout(blocking, timeout)?, true)
    }

    /// Whether the data is poisoned; only with the lock held.
    fn is_poisoned(&self) -> PyResult<bool> {
        self.with_guard(|guard| Ok(guard.is_poisoned()))
    }

    /// Marks the data repaired; only with the lock held.
    fn clear_poison(&self) -> PyResult<()> {
        self.with_guard(|guard| {
            guard.clear_poison();
            Ok(())
        })
    }

    /// Releases the condition's lock this thread holds.
    fn release(&self) -> PyResult<()> {
        let (guard, handle) = take_held(&self.key, "the condition's lock")?;
        drop(guard);
        drop(handle);
        Ok(())
    }

    /// Releases the lock, waits for a notification or `timeout` seconds,
    /// and takes the lock again; `False` if the timeout passed. Raises
    /// `shmstruct.Poisoned`, with the lock released, if a holder of the lock
    /// died or panicked meanwhile.
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let condition = &self.inner.handle;
        let timeout = self::timeout(timeout)?;
        let (guard, handle) = take_held(&self.key, "the condition's lock")?;
        let Guard::Condition(guard) = guard else {
            put_back(&self.key, guard, handle);
            return Err(not_held("the condition's lock"));
        };
        let mut slot = Some(guard);
        // Never with the GIL held: waking up re-takes the lock, which may
        // wait for a thread of this process that waits for the GIL.
        let waited = sliced_released(py, timeout, |slice| {
            let guard = slot.take().expect("the guard is back after every slice");
            let (guard, result) = condition.wait_timeout(guard, slice)?;
            slot = Some(guard);
            if result.timed_out() {
                Err(shmstruct::Error::TimedOut {
                    primitive: "condition",
                })
            } else {
                Ok(())
            }
        });
        // Held again whatever happened, unless the wait itself failed (a
        // poisoned wait releases the lock).
        if let Some(guard) = slot {
            // The guard now points into two handles: its mutex into the
            // mapping of the one that took it (`handle`), its poison and
            // sequence words into `self.inner`'s mapping and its segment
            // to `self.inner`'s `Segment` (the wait gave it those again).
            // The record keeps both alive.
            let both: Arc<dyn Send + Sync> = Arc::new((handle, self.inner.clone()));
            // SAFETY: the guard borrows only from those two handles, which
            // `both`, kept in the record and dropped after the guard, keeps
            // alive, each behind its `Arc` (as in `take_and_hold`).
            let guard = unsafe { std::mem::transmute::<NamedLockGuard<'_>, ConditionGuard>(guard) };
            put_back(&self.key, Guard::Condition(guard), both);
        }
        Ok(waited?.is_some())
    }

    /// Wakes at most `n` waiters; only with the lock held.
    #[pyo3(signature = (n = 1))]
    fn notify(&self, n: u32) -> PyResult<()> {
        let condition = &self.inner.handle;
        self.with_guard(|guard| condition.notify(guard, n).py())
    }

    /// Waits until `predicate()` is true (checked first, then after every
    /// wake-up, with the lock held) or `timeout` seconds pass; returns the
    /// last value of `predicate()`, as Python's `wait_for`.
    #[pyo3(signature = (predicate, timeout = None))]
    fn wait_for(
        &self,
        py: Python<'_>,
        predicate: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Py<PyAny>> {
        let deadline = self::timeout(timeout)?.map(|timeout| Instant::now() + timeout);
        loop {
            let result = predicate.call0()?;
            if result.is_truthy()? {
                return Ok(result.unbind());
            }
            let remaining = match deadline {
                None => None,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(result.unbind());
                    }
                    Some(left.as_secs_f64())
                }
            };
            self.wait(py, remaining)?;
        }
    }

    /// Wakes every waiter; only with the lock held.
    fn notify_all(&self) -> PyResult<()> {
        self.notify(u32::MAX)
    }
});

handle_struct!(
    /// A barrier for `parties` threads or processes, shared through the named
    /// segment `name`: Python's `multiprocessing.Barrier(parties)`. A `timeout`
    /// that passes breaks the barrier (`threading.BrokenBarrierError`), as in
    /// Python. `wait()` releases the GIL but, unlike the other waits, is not
    /// cut into slices (a slice's timeout would break the barrier), so Ctrl-C
    /// is noticed only when it returns; give it a `timeout`.
    Barrier(shmstruct::Barrier)
);

handle_class!(Barrier(shmstruct::Barrier, "") {
    /// Creates the barrier segment `name` for `parties` parties.
    #[staticmethod]
    #[pyo3(signature = (name, parties, *, mode = None))]
    fn create(name: &str, parties: u32, mode: Option<u32>) -> PyResult<Barrier> {
        let barrier = shmstruct::Barrier::create_with(name, parties, &options(mode)).py()?;
        Ok(Barrier::new(Owned::created(barrier)))
    }

    /// Waits until all parties have called `wait`; returns this party's
    /// index, from 0 to `parties - 1`, as Python's.
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<u32> {
        let barrier = &self.inner.handle;
        let timeout = self::timeout(timeout)?;
        released(py, || match timeout {
            Some(timeout) => barrier.wait_timeout(timeout),
            None => barrier.wait(),
        })
        .map_err(|error| {
            if error.is_timed_out() {
                // Python's barrier breaks on a timeout, and says so.
                broken_barrier(error.to_string())
            } else {
                to_py(error)
            }
        })
    }

    /// Breaks the barrier: every waiter, now and later, raises
    /// `BrokenBarrierError` until `reset()`.
    fn abort(&self, py: Python<'_>) -> PyResult<()> {
        released(py, || self.inner.handle.abort()).py()
    }

    /// Returns the barrier to its initial, unbroken state.
    fn reset(&self, py: Python<'_>) -> PyResult<()> {
        released(py, || self.inner.handle.reset()).py()
    }

    /// The number of parties.
    #[getter]
    fn parties(&self) -> u32 {
        self.inner.handle.parties()
    }

    /// The number of parties waiting now.
    #[getter]
    fn n_waiting(&self, py: Python<'_>) -> PyResult<u32> {
        released(py, || self.inner.handle.n_waiting()).py()
    }

    /// Whether the barrier is broken.
    #[getter]
    fn broken(&self, py: Python<'_>) -> PyResult<bool> {
        released(py, || self.inner.handle.is_broken()).py()
    }
});
