//! The crate's errors as Python exceptions: the built-in ones where Python
//! has one (`FileNotFoundError`, `TimeoutError`, ...), and
//! `shmstruct.LayoutMismatch` and `shmstruct.Poisoned` for the two that are
//! this library's own. The message is the Rust error's, which names the
//! segment and, for a mismatch, the fields.

use pyo3::create_exception;
use pyo3::exceptions::{
    PyFileExistsError, PyFileNotFoundError, PyOSError, PyPermissionError, PyRuntimeError,
    PyTimeoutError, PyValueError,
};
use pyo3::prelude::*;
use shmstruct::{Error, ErrorKind};

create_exception!(
    shmstruct,
    LayoutMismatch,
    PyValueError,
    "The segment holds another layout (or lock arrangement) than the one it was opened as; \
     the message names the fields that differ."
);

create_exception!(
    shmstruct,
    Poisoned,
    PyRuntimeError,
    "A holder of the lock died (or a Rust thread panicked) while holding it, so the data may \
     be half-written. The lock stays usable: take it with `acquire_poisoned()`, repair the \
     data, call `clear_poison()` and release it."
);

/// The Python exception for `error`.
pub fn to_py(error: Error) -> PyErr {
    let message = error.to_string();
    if error.is_not_found() {
        return PyFileNotFoundError::new_err(message);
    }
    if error.is_already_exists() {
        return PyFileExistsError::new_err(message);
    }
    if error.is_timed_out() {
        return PyTimeoutError::new_err(message);
    }
    if error.is_poisoned() || error.is_owner_died() {
        return Poisoned::new_err(message);
    }
    match error {
        Error::PermissionDenied { .. } | Error::Untrusted { .. } => {
            PyPermissionError::new_err(message)
        }
        // Python's BoundedSemaphore raises ValueError when released too often.
        Error::OverRelease { .. } => PyValueError::new_err(message),
        Error::BrokenBarrier => broken_barrier(message),
        _ => match error.kind() {
            ErrorKind::Layout => LayoutMismatch::new_err(message),
            ErrorKind::InvalidInput | ErrorKind::Access => PyValueError::new_err(message),
            ErrorKind::Lock => PyRuntimeError::new_err(message),
            _ => PyOSError::new_err(message),
        },
    }
}

/// `threading.BrokenBarrierError`, as Python's own barriers raise.
pub fn broken_barrier(message: String) -> PyErr {
    pyo3::Python::attach(|py| {
        match py
            .import("threading")
            .and_then(|threading| threading.getattr("BrokenBarrierError"))
        {
            Ok(class) => PyErr::from_type(class.cast_into().expect("an exception class"), message),
            Err(error) => error,
        }
    })
}

/// `?` for the crate's results inside `#[pymethods]`.
pub trait IntoPy<T> {
    /// The value, or the Python exception for the error.
    fn py(self) -> pyo3::PyResult<T>;
}

impl<T> IntoPy<T> for shmstruct::Result<T> {
    fn py(self) -> pyo3::PyResult<T> {
        self.map_err(to_py)
    }
}
