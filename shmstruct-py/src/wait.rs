//! Blocking calls as Python wants them: the GIL released, Ctrl-C noticed
//! within a slice of time, and `timeout=` in seconds (`None` or negative:
//! forever).

use std::time::{Duration, Instant};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::to_py;

/// How long one slice of a wait lasts before signals are checked.
const SLICE: Duration = Duration::from_millis(50);

/// Python's `timeout` argument: `None` or negative waits forever.
///
/// # Errors
///
/// `ValueError` for NaN or a timeout too large to represent.
pub fn timeout(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    match seconds {
        None => Ok(None),
        Some(seconds) if seconds < 0.0 => Ok(None),
        Some(seconds) => Duration::try_from_secs_f64(seconds)
            .map(Some)
            .map_err(|_| PyValueError::new_err(format!("timeout {seconds} is not a duration"))),
    }
}

/// Python's `acquire(blocking, timeout)` pair as one timeout.
///
/// # Errors
///
/// `ValueError` for a timeout given with `blocking=False`, as Python's.
pub fn acquire_timeout(blocking: bool, seconds: Option<f64>) -> PyResult<Option<Duration>> {
    match (blocking, seconds) {
        (true, seconds) => timeout(seconds),
        (false, None) => Ok(Some(Duration::ZERO)),
        (false, Some(seconds)) if seconds < 0.0 => Ok(Some(Duration::ZERO)),
        (false, Some(_)) => Err(PyValueError::new_err(
            "can't specify a timeout for a non-blocking call",
        )),
    }
}

/// A value moved through `Python::detach`, which requires `Send`.
struct SameThread<T>(T);

// SAFETY: `Python::detach` runs its closure on the calling thread, only
// with the GIL released, and returns its result there: a `SameThread` is
// created, used and dropped on one thread. Lock guards (which must be
// released by the thread that took the lock) never move to another one.
// What `detach`'s `Send` bound also stands for, that the closure touches no
// Python object while the GIL is released, is the rule every caller of
// `sliced`, `sliced_released` and `released` keeps (stated on each): their
// closures call the Rust crate only.
unsafe impl<T> Send for SameThread<T> {}

impl<T> SameThread<T> {
    fn into_inner(self) -> T {
        self.0
    }
}

/// Whether `error` is a `try_*` call's "not now".
fn is_would_block(error: &shmstruct::Error) -> bool {
    matches!(error, shmstruct::Error::WouldBlock { .. })
}

/// Calls `attempt(Duration::ZERO)` with the GIL held, a few times (see
/// [`SPINS`]), then, if that timed out, goes on as [`sliced_released`]:
/// what is free now, or in a moment, is taken without giving up the GIL.
/// `attempt(Duration::ZERO)` must not block; it may report a timeout or a
/// `try_*` call's `WouldBlock`.
///
/// # Errors
///
/// As [`sliced_released`].
pub fn sliced<T>(
    py: Python<'_>,
    timeout: Option<Duration>,
    mut attempt: impl FnMut(Duration) -> shmstruct::Result<T>,
) -> PyResult<Option<T>> {
    let spins = if timeout == Some(Duration::ZERO) {
        1
    } else {
        SPINS
    };
    for _ in 0..spins {
        match attempt(Duration::ZERO) {
            Ok(value) => return Ok(Some(value)),
            Err(error) if !(error.is_timed_out() || is_would_block(&error)) => {
                return Err(to_py(error))
            }
            Err(_) => std::hint::spin_loop(),
        }
    }
    if timeout == Some(Duration::ZERO) {
        return Ok(None);
    }
    sliced_released(py, timeout, attempt)
}

/// How many times [`sliced`] tries before it gives up the GIL and sleeps:
/// a lock held for a Python statement in another process is often free
/// again within a few microseconds, and a sleep and a wake-up cost tens.
const SPINS: u32 = 200;

/// Calls `attempt(slice)`, with the GIL released, until it returns
/// something other than a timeout or `timeout` has passed; `slice` is at
/// most 50 ms, and Python's signal handlers run between slices (so Ctrl-C
/// raises `KeyboardInterrupt`). `Ok(None)` when the timeout passed.
///
/// `attempt` must be a wait that may end early with a timeout and be
/// repeated without harm (a lock, a semaphore, an event, a condition), and
/// must not touch any Python object (it runs without the GIL).
///
/// # Errors
///
/// The exception for any other error, or the one a signal handler raised.
pub fn sliced_released<T>(
    py: Python<'_>,
    timeout: Option<Duration>,
    mut attempt: impl FnMut(Duration) -> shmstruct::Result<T>,
) -> PyResult<Option<T>> {
    let deadline = timeout.map(|timeout| Instant::now() + timeout);
    loop {
        let slice = match deadline {
            None => SLICE,
            Some(deadline) => deadline
                .saturating_duration_since(Instant::now())
                .min(SLICE),
        };
        let call = SameThread(&mut attempt);
        let outcome = py
            .detach(move || SameThread((call.into_inner())(slice)))
            .into_inner();
        match outcome {
            Ok(value) => return Ok(Some(value)),
            Err(error) if error.is_timed_out() => {
                if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    return Ok(None);
                }
                py.check_signals()?;
            }
            Err(error) => return Err(to_py(error)),
        }
    }
}

/// Runs `call` once with the GIL released: for calls that cannot be cut
/// into slices (a barrier's wait, whose timeout breaks the barrier), and
/// short ones that may still wait for another process. `call` must not
/// touch any Python object (it runs without the GIL).
pub fn released<T>(py: Python<'_>, call: impl FnOnce() -> T) -> T {
    let call = SameThread(call);
    py.detach(move || SameThread((call.into_inner())()))
        .into_inner()
}
