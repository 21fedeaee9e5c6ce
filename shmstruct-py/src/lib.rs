//! `shmstruct._shmstruct`: the native half of the Python package
//! `shmstruct` (its Python half is `python/shmstruct/`).
//!
//! Every protocol stays in the Rust crate: this module only carries its
//! handles to Python, maps its errors onto Python's exceptions, releases the
//! GIL around every call that can block, and waits in short slices so that
//! Ctrl-C interrupts a wait.
//!
//! - `segment`: a segment of any layout, whose data Python views in place
//!   through the buffer protocol (ctypes' `from_buffer`);
//! - `locks`: `Lock` and `RLock`, held per thread, and the data accessors
//!   of `Value` and `Array` that take them;
//! - `primitives`: `Semaphore`, `Event`, `Condition` and `Barrier`.

use pyo3::prelude::*;

mod errors;
#[macro_use]
mod handle;
mod locks;
mod primitives;
mod segment;
mod wait;

/// The module `shmstruct._shmstruct`.
#[pymodule]
fn _shmstruct(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("LayoutMismatch", py.get_type::<errors::LayoutMismatch>())?;
    m.add("Poisoned", py.get_type::<errors::Poisoned>())?;
    m.add_class::<segment::Segment>()?;
    m.add_class::<locks::Lock>()?;
    m.add_class::<locks::RLock>()?;
    m.add_class::<locks::LockedAttribute>()?;
    m.add_class::<primitives::Semaphore>()?;
    m.add_class::<primitives::Event>()?;
    m.add_class::<primitives::Condition>()?;
    m.add_class::<primitives::Barrier>()?;
    m.add_function(wrap_pyfunction!(segment::fingerprint, m)?)?;
    m.add_function(wrap_pyfunction!(segment::describe, m)?)?;
    m.add_function(wrap_pyfunction!(segment::ctypes_source, m)?)?;
    m.add_function(wrap_pyfunction!(handle::unlink, m)?)?;
    m.add_function(wrap_pyfunction!(locks::locked_call, m)?)?;
    m.add_function(wrap_pyfunction!(locks::forget_inherited_locks, m)?)?;
    Ok(())
}
