//! `Lock` and `RLock`: Python's `multiprocessing.Lock()` and `RLock()`,
//! robust and poisoning, by name.
//!
//! # Held per thread
//!
//! Both are robust pthread mutexes, which belong to the thread that took
//! them: `release()` must come from the thread that called `acquire()`
//! (Python's `multiprocessing.Lock` lets another thread release it; this one
//! raises `RuntimeError`). A thread that takes a `Lock` it already holds
//! gets `RuntimeError` instead of a deadlock. The guard of a held `Lock` is
//! kept in a thread-local list, so a thread that ends holding a lock
//! releases it as it ends.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use shmstruct::NamedLockGuard;

use crate::handle::{Named, Owned};
use crate::wait::{acquire_timeout, sliced};

/// The guard of a lock this thread holds: a `Lock`'s (poisoning), or a
/// `Condition`'s lock. Its `'static` is a lifetime extended by [`hold`]'s
/// caller; the [`Held`] entry keeps what it borrows alive.
pub enum Guard {
    /// A `Lock`'s guard.
    Lock(NamedLockGuard<'static>),
    /// A `Condition`'s lock's guard.
    Condition(NamedLockGuard<'static>),
}

/// A lock guard kept after `acquire()` returned, until `release()`.
struct Held {
    /// The lock's segment: every handle of one lock shares it.
    key: Key,
    /// Declared before `handle`, so it is dropped (unlocked) first.
    guard: Guard,
    /// Keeps the mapping the guard points into alive.
    handle: Arc<dyn Send + Sync>,
}

thread_local! {
    /// The guards this thread holds, most recent last.
    static HELD: RefCell<Vec<Held>> = const { RefCell::new(Vec::new()) };
}

/// The key of a lock's held guards: its segment's (device, inode), the same
/// for every handle of it, whatever path reached it, and another for a
/// segment created again under the same name.
pub type Key = (u64, u64);

/// The key of the lock of `handle`.
pub fn key_of<P: shmstruct::NamedPrimitive>(handle: &shmstruct::Named<P>) -> Key {
    handle.identity()
}

/// Keeps `guard` as held by this thread for `key`, with `handle`.
///
/// # Safety
///
/// `handle` keeps alive everything `guard` borrows: `guard` was taken
/// through `handle` and borrows only the lock and the words beside it, in
/// `handle`'s mapping, and the crate handle's `Segment`, inside `handle`
/// (its `'static` is a lifetime extended by the caller). The guard never
/// leaves this thread (`HELD` is thread-local), as a lock guard must not,
/// and is dropped before `handle` (field order).
pub unsafe fn hold(key: &Key, handle: Arc<dyn Send + Sync>, guard: Guard) {
    HELD.with_borrow_mut(|held| {
        held.push(Held {
            key: *key,
            guard,
            handle,
        })
    });
}

/// The most recent guard this thread holds for `key`, taken out of the
/// list, with its handle (keep the handle alive at least as long as the
/// guard: [`put_back`] does).
///
/// # Errors
///
/// `RuntimeError` when this thread does not hold it.
pub fn take_held(key: &Key, what: &str) -> PyResult<(Guard, Arc<dyn Send + Sync>)> {
    HELD.with_borrow_mut(|held| {
        let at = held
            .iter()
            .rposition(|held| held.key == *key)
            .ok_or_else(|| not_held(what))?;
        let Held { guard, handle, .. } = held.remove(at);
        Ok((guard, handle))
    })
}

/// Puts back a guard taken with [`take_held`].
pub fn put_back(key: &Key, guard: Guard, handle: Arc<dyn Send + Sync>) {
    HELD.with_borrow_mut(|held| {
        held.push(Held {
            key: *key,
            guard,
            handle,
        })
    });
}

/// Forgets, without releasing them, the guards this thread's list holds:
/// run in a child made by `fork` (`os.register_at_fork`), whose copy of the
/// list names locks that the parent holds and the child does not. Dropping
/// them there would end the parent's write in the sequence word and try to
/// unlock a mutex the child does not own; keeping them would let the child
/// skip a lock it does not hold.
#[pyfunction]
pub fn forget_inherited_locks() {
    HELD.with_borrow_mut(|held| {
        for inherited in held.drain(..) {
            std::mem::forget(inherited);
        }
    });
}

/// Whether this thread holds the lock of `key`.
pub fn is_held(key: &Key) -> bool {
    HELD.with_borrow(|held| held.iter().any(|held| held.key == *key))
}

/// Calls `f` with the most recent guard this thread holds for `key`.
///
/// # Errors
///
/// `RuntimeError` when this thread does not hold it; `f`'s error.
pub fn with_held<T>(
    key: &Key,
    what: &str,
    f: impl FnOnce(&mut Guard) -> PyResult<T>,
) -> PyResult<T> {
    HELD.with_borrow_mut(|held| {
        let held = held
            .iter_mut()
            .rev()
            .find(|held| held.key == *key)
            .ok_or_else(|| not_held(what))?;
        f(&mut held.guard)
    })
}

/// A lock of the crate that poisons, whose guard this module keeps: a
/// `Lock`, or a `Condition`'s lock.
pub trait PoisoningLock: Named + Send + Sync + 'static {
    /// Takes it, waiting at most `wait` (zero: only if it is free), with
    /// poisoned data refused unless `poisoned`.
    fn take(&self, wait: Duration, poisoned: bool) -> shmstruct::Result<NamedLockGuard<'_>>;
}

macro_rules! poisoning_lock {
    ($($ty:ty),*) => {$(
        impl PoisoningLock for $ty {
            fn take(&self, wait: Duration, poisoned: bool) -> shmstruct::Result<NamedLockGuard<'_>> {
                if poisoned {
                    self.lock_poisoned_timeout(wait)
                } else if wait.is_zero() {
                    // No deadline to compute: the cheapest way to take a free lock.
                    self.try_lock()
                } else {
                    self.lock_timeout(wait)
                }
            }
        }
    )*};
}

poisoning_lock!(shmstruct::Lock, shmstruct::Condition);

/// Takes the lock of `owner` within `timeout` (as [`sliced`] waits), and
/// keeps its guard, wrapped by `wrap`, as held by this thread for `key`:
/// whether it is held.
///
/// # Errors
///
/// As [`sliced`]: `shmstruct.Poisoned` for poisoned data (unless
/// `poisoned`), `RuntimeError` if this thread holds a `Lock` already, ...
pub fn take_and_hold<H: PoisoningLock>(
    py: Python<'_>,
    key: &Key,
    owner: &Arc<Owned<H>>,
    timeout: Option<Duration>,
    poisoned: bool,
    wrap: fn(NamedLockGuard<'static>) -> Guard,
) -> PyResult<bool> {
    let lock = &owner.handle;
    let Some(guard) = sliced(py, timeout, |wait| lock.take(wait, poisoned))? else {
        return Ok(false);
    };
    // SAFETY: the guard was taken through `owner`: it borrows the lock and
    // the words beside it, in `owner`'s mapping, and `owner`'s `Segment`.
    let guard =
        unsafe { std::mem::transmute::<NamedLockGuard<'_>, NamedLockGuard<'static>>(guard) };
    // SAFETY: `owner` (cloned into the record) keeps both alive, at the
    // same addresses (it is behind an `Arc`).
    unsafe { hold(key, owner.clone(), wrap(guard)) };
    Ok(true)
}

pub fn not_held(what: &str) -> PyErr {
    PyRuntimeError::new_err(format!(
        "this thread does not hold {what} (a shmstruct lock is released by the thread that \
         acquired it)"
    ))
}

/// A lock shared by processes through the named segment `name`: Python's
/// `multiprocessing.Lock()`, robust. If a holder dies (or a Rust thread
/// panics holding it), the lock *poisons* what it guards: every later
/// `acquire()`, in every process, raises `shmstruct.Poisoned` until someone
/// takes it with `acquire_poisoned()`, repairs the data and calls
/// `clear_poison()`. Held per thread: the thread that acquired it releases
/// it.
///
/// `Lock.create(name)` makes it (the name is removed when this handle is
/// garbage-collected, unless `keep()` is called); `Lock.open(name)` opens it.
#[pyclass(module = "shmstruct", frozen)]
pub struct Lock {
    inner: Arc<Owned<shmstruct::Lock>>,
    key: Key,
}

impl Lock {
    /// The Python handle of a value's lock (which the value's handle owns).
    pub fn of(lock: &shmstruct::Lock) -> Lock {
        Lock::new(Owned::opened(lock.clone()))
    }

    fn new(inner: Owned<shmstruct::Lock>) -> Lock {
        Lock {
            key: key_of(&inner.handle),
            inner: Arc::new(inner),
        }
    }

    /// The crate's handle.
    pub fn handle(&self) -> &shmstruct::Lock {
        &self.inner.handle
    }

    fn take(&self, py: Python<'_>, timeout: Option<Duration>, poisoned: bool) -> PyResult<bool> {
        take_and_hold(py, &self.key, &self.inner, timeout, poisoned, Guard::Lock)
    }

    /// The guard this thread holds, for `f`.
    fn with_guard<T>(&self, f: impl FnOnce(&mut NamedLockGuard<'static>) -> T) -> PyResult<T> {
        with_held(&self.key, "this lock", |guard| match guard {
            Guard::Lock(guard) => Ok(f(guard)),
            Guard::Condition(_) => Err(not_held("this lock")),
        })
    }
}

handle_class!(Lock(shmstruct::Lock, "an unlocked lock") create with {
    /// Takes the lock (Python's `acquire`): `True` once held, `False` if
    /// `blocking=False` or the `timeout` (seconds) passed first. Raises
    /// `shmstruct.Poisoned` if the data is poisoned (the lock is then not
    /// held), `RuntimeError` if this thread holds it already.
    #[pyo3(signature = (blocking = true, timeout = -1.0))]
    fn acquire(&self, py: Python<'_>, blocking: bool, timeout: Option<f64>) -> PyResult<bool> {
        self.take(py, acquire_timeout(blocking, timeout)?, false)
    }

    /// Takes the lock whether or not its data is poisoned: the way to
    /// repair the data, then `clear_poison()` and `release()`.
    #[pyo3(signature = (blocking = true, timeout = -1.0))]
    fn acquire_poisoned(
        &self,
        py: Python<'_>,
        blocking: bool,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        self.take(py, acquire_timeout(blocking, timeout)?, true)
    }

    /// Releases the lock this thread holds.
    fn release(&self) -> PyResult<()> {
        let (guard, handle) = take_held(&self.key, "this lock")?;
        drop(guard);
        drop(handle);
        Ok(())
    }

    /// Whether the data is poisoned; only with the lock held.
    fn is_poisoned(&self) -> PyResult<bool> {
        self.with_guard(|guard| guard.is_poisoned())
    }

    /// Marks the data repaired; only with the lock held.
    fn clear_poison(&self) -> PyResult<()> {
        self.with_guard(|guard| guard.clear_poison())
    }

    /// Whether any thread of any process holds the lock.
    fn locked(&self) -> bool {
        self.inner.handle.locked()
    }

    /// Whether this thread holds the lock.
    fn is_held(&self) -> bool {
        is_held(&self.key)
    }

    /// Takes the lock unless this thread holds it already; whether it took
    /// it (then `release()` it). For data accessors that may run inside
    /// ``with lock:``.
    fn acquire_unless_held(&self, py: Python<'_>) -> PyResult<bool> {
        if is_held(&self.key) {
            Ok(false)
        } else {
            self.take(py, None, false)
        }
    }
});

handle_struct!(
    /// A recursive lock shared by processes through the named segment `name`:
    /// Python's `multiprocessing.RLock()`, robust. The thread that holds it may
    /// take it again; it is free once released as often as it was acquired,
    /// by that thread. If a holder dies (or a Rust thread panics holding it),
    /// it poisons what it guards, as a `Lock` does: every later `acquire()`
    /// raises `shmstruct.Poisoned` until someone takes it with
    /// `acquire_poisoned()`, repairs the data and calls `clear_poison()`.
    RLock(shmstruct::RLock)
);

/// Takes one more level of `lock` (poisoned data refused unless
/// `poisoned`) within `timeout`: whether it is held.
fn take_rlock(
    py: Python<'_>,
    lock: &shmstruct::RLock,
    timeout: Option<Duration>,
    poisoned: bool,
) -> PyResult<bool> {
    let taken = sliced(py, timeout, |slice| {
        let guard = if poisoned {
            lock.lock_poisoned_timeout(slice)
        } else if slice.is_zero() {
            lock.try_lock()
        } else {
            lock.lock_timeout(slice)
        }?;
        // Released by `release()`, from this thread.
        guard.leak();
        Ok(())
    })?;
    Ok(taken.is_some())
}

handle_class!(RLock(shmstruct::RLock, "an unlocked recursive lock") create with {
    /// Takes the lock once more (Python's `acquire`): `True` once held,
    /// `False` if `blocking=False` or the `timeout` passed first. Raises
    /// `shmstruct.Poisoned` if the data is poisoned (the lock is then not
    /// taken).
    #[pyo3(signature = (blocking = true, timeout = -1.0))]
    fn acquire(&self, py: Python<'_>, blocking: bool, timeout: Option<f64>) -> PyResult<bool> {
        take_rlock(py, &self.inner.handle, acquire_timeout(blocking, timeout)?, false)
    }

    /// Takes the lock once more whether or not its data is poisoned: the
    /// way to repair the data, then `clear_poison()` and `release()`.
    #[pyo3(signature = (blocking = true, timeout = -1.0))]
    fn acquire_poisoned(
        &self,
        py: Python<'_>,
        blocking: bool,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        take_rlock(py, &self.inner.handle, acquire_timeout(blocking, timeout)?, true)
    }

    /// Marks the data repaired. Call it holding the lock (from
    /// `acquire_poisoned()`); it takes one more level for the moment it
    /// needs, so without the lock it waits for it.
    fn clear_poison(&self, py: Python<'_>) -> PyResult<()> {
        let lock = &self.inner.handle;
        let cleared = sliced(py, None, |slice| {
            let mut guard = lock.lock_poisoned_timeout(slice)?;
            guard.clear_poison();
            Ok(())
        })?;
        debug_assert!(cleared.is_some(), "no timeout was given");
        Ok(())
    }

    /// Releases one level of the lock this thread holds.
    fn release(&self) -> PyResult<()> {
        self.inner.handle.release().map_err(|error| match error {
            shmstruct::Error::NotOwner { .. } => not_held("this RLock"),
            other => crate::errors::to_py(other),
        })
    }

    /// Whether any thread of any process holds the lock.
    fn locked(&self) -> bool {
        self.inner.handle.locked()
    }
});

/// `f()` under `lock` (none: no lock), unless this thread holds it
/// already (the pattern ``with v.get_lock(): v.value += 1``): what every
/// data accessor of `Value` and `Array` does around its access.
fn under_lock<T>(
    py: Python<'_>,
    lock: Option<&Lock>,
    f: impl FnOnce() -> PyResult<T>,
) -> PyResult<T> {
    let lock = match lock {
        Some(lock) if !is_held(&lock.key) => lock,
        _ => return f(),
    };
    lock.take(py, None, false)?;
    let result = f();
    let (guard, handle) = take_held(&lock.key, "this lock")?;
    drop(guard);
    drop(handle);
    result
}

/// `function(*args)` under `lock` (a `Lock` or `None`), as [`under_lock`]:
/// the accessors that are not a plain attribute (an element, a copy).
#[pyfunction]
#[pyo3(signature = (lock, function, *args))]
pub fn locked_call<'py>(
    py: Python<'py>,
    lock: Option<&Bound<'py, Lock>>,
    function: &Bound<'py, PyAny>,
    args: &Bound<'py, pyo3::types::PyTuple>,
) -> PyResult<Bound<'py, PyAny>> {
    under_lock(py, lock.map(Bound::get), || function.call1(args))
}

/// An attribute of shared data (a number's `value`, a Structure's field, a
/// byte string's `value` and `raw`), read and written under the object's
/// lock, unless this thread holds it already.
//
// The attribute `name` of the object's ctypes view `_obj`, under its lock
// `_lock` as `under_lock` takes it: a descriptor in native code, because a
// Python `property` calling `locked_call` costs more than the lock itself.
// (Its doc comment is what `help()` shows for every such attribute.)
#[pyclass(module = "shmstruct", frozen)]
pub struct LockedAttribute {
    name: Py<pyo3::types::PyString>,
}

impl LockedAttribute {
    /// The lock and the ctypes view of `instance` (a `Value` or an `Array`).
    fn parts<'py>(
        instance: &Bound<'py, PyAny>,
    ) -> PyResult<(Option<Bound<'py, Lock>>, Bound<'py, PyAny>)> {
        let py = instance.py();
        let lock = instance.getattr(pyo3::intern!(py, "_lock"))?;
        let lock = if lock.is_none() {
            None
        } else {
            Some(lock.cast_into::<Lock>()?)
        };
        Ok((lock, instance.getattr(pyo3::intern!(py, "_obj"))?))
    }
}

#[pymethods]
impl LockedAttribute {
    #[new]
    fn new(name: Bound<'_, pyo3::types::PyString>) -> LockedAttribute {
        LockedAttribute {
            name: name.unbind(),
        }
    }

    /// The attribute, read under the lock; the descriptor itself when read
    /// from the class.
    fn __get__<'py>(
        slf: &Bound<'py, Self>,
        instance: Option<&Bound<'py, PyAny>>,
        _owner: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let Some(instance) = instance else {
            return Ok(slf.clone().into_any());
        };
        let (lock, obj) = LockedAttribute::parts(instance)?;
        let name = slf.get().name.bind(slf.py());
        under_lock(slf.py(), lock.as_ref().map(Bound::get), || {
            obj.getattr(name)
        })
    }

    /// The attribute, written under the lock.
    fn __set__(&self, instance: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let (lock, obj) = LockedAttribute::parts(instance)?;
        let name = self.name.bind(instance.py());
        under_lock(instance.py(), lock.as_ref().map(Bound::get), || {
            obj.setattr(name, value)
        })
    }

    /// Refused, as for a `property` without a deleter.
    fn __delete__(&self, instance: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(pyo3::exceptions::PyAttributeError::new_err(format!(
            "can't delete attribute {}",
            self.name.bind(instance.py())
        )))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "<shmstruct attribute {} under the lock>",
            self.name.bind(py)
        )
    }
}
