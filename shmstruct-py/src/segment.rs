//! A segment of any layout, for `Value`, `Array` and byte strings: the data
//! is exported through the buffer protocol, so ctypes' `from_buffer` views
//! it in place, and the mapping lives while any view does.

use std::ffi::c_int;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBool;
use pyo3::{ffi, PyTypeInfo};
use shmstruct::dynamic::{DataLock, DynamicSegment};
use shmstruct::segment::LockMode;
use shmstruct::Layout;

use crate::errors::IntoPy;
use crate::handle::{options, Owned};
use crate::locks::Lock;

/// The layout a descriptor (the binary encoding of `shmstruct::Layout`)
/// describes.
fn decode(descriptor: &[u8]) -> PyResult<Layout> {
    Layout::decode(descriptor)
        .map_err(|error| PyValueError::new_err(format!("not a layout descriptor: {error}")))
}

/// The fingerprint of a descriptor, as `Layout::fingerprint` computes it.
#[pyfunction]
pub fn fingerprint(descriptor: &[u8]) -> PyResult<u64> {
    Ok(decode(descriptor)?.fingerprint())
}

/// A descriptor in `_fields_` form: `Point: _fields_ = [('x', c_double), ...]`.
#[pyfunction]
pub fn describe(descriptor: &[u8]) -> PyResult<String> {
    Ok(decode(descriptor)?.to_string())
}

/// Python source defining ctypes classes for a descriptor
/// (`Layout::to_ctypes`), the type itself defined last.
#[pyfunction]
pub fn ctypes_source(descriptor: &[u8]) -> PyResult<String> {
    Ok(decode(descriptor)?.to_ctypes())
}

/// A named segment holding data of any layout, with the lock that guards
/// it: the native half of `shmstruct.Value` and `shmstruct.Array`.
///
/// Its data is a writable buffer: `ctype.from_buffer(segment)` is a view of
/// the shared memory, which keeps the segment mapped while it lives.
#[pyclass(module = "shmstruct._shmstruct", frozen)]
pub struct Segment {
    inner: Owned<DynamicSegment>,
    lock: Option<Py<Lock>>,
}

impl Segment {
    fn new(py: Python<'_>, inner: Owned<DynamicSegment>) -> PyResult<Segment> {
        let lock = match inner.handle.lock() {
            Some(lock) => Some(Py::new(py, Lock::of(lock))?),
            None => None,
        };
        Ok(Segment { inner, lock })
    }
}

handle_class!(Segment {
    /// Creates the segment `name` holding `init`, the bytes of the layout
    /// `descriptor`; `lock` is `True` (its own lock), `False` (none) or a
    /// `Lock` to share. Removed when garbage-collected, unless kept.
    #[staticmethod]
    #[pyo3(signature = (name, descriptor, init, lock, *, mode = None))]
    fn create(
        py: Python<'_>,
        name: &str,
        descriptor: &[u8],
        init: &[u8],
        lock: &Bound<'_, PyAny>,
        mode: Option<u32>,
    ) -> PyResult<Segment> {
        let layout = decode(descriptor)?;
        let shared;
        let data_lock = if lock.is_instance(&PyBool::type_object(py))? {
            if lock.extract::<bool>()? {
                DataLock::Own
            } else {
                DataLock::None
            }
        } else {
            shared = lock.cast::<Lock>()?.get().handle().clone();
            DataLock::Shared(&shared)
        };
        let segment =
            DynamicSegment::create(name, &layout, init, data_lock, &options(mode)).py()?;
        Segment::new(py, Owned::created(segment))
    }

    /// Opens the segment `name`, whatever it holds.
    #[staticmethod]
    fn open(py: Python<'_>, name: &str) -> PyResult<Segment> {
        let segment = DynamicSegment::open(name, &options(None)).py()?;
        Segment::new(py, Owned::opened(segment))
    }

    /// Checks that the segment holds data of the layout `descriptor`;
    /// raises `shmstruct.LayoutMismatch` naming the fields otherwise.
    fn check(&self, descriptor: &[u8]) -> PyResult<()> {
        self.inner.handle.check_layout(&decode(descriptor)?).py()
    }

    /// The segment's own descriptor (binary encoding).
    #[getter]
    fn descriptor(&self) -> Vec<u8> {
        self.inner.handle.layout().encode()
    }

    /// The descriptor in `_fields_` form.
    #[getter]
    fn layout(&self) -> String {
        self.inner.handle.layout().to_string()
    }

    /// The lock that guards the data, or `None`.
    #[getter]
    fn lock(&self, py: Python<'_>) -> Option<Py<Lock>> {
        self.lock.as_ref().map(|lock| lock.clone_ref(py))
    }

    /// `"own"`, `"none"` or `"shared"` (then see `lock.name`).
    #[getter]
    fn lock_mode(&self) -> &'static str {
        match self.inner.handle.lock_mode() {
            LockMode::None => "none",
            LockMode::Own => "own",
            LockMode::Shared { .. } => "shared",
            _ => "other",
        }
    }

    /// Whether this handle removes the name when garbage-collected.
    #[getter]
    fn unlinks_on_drop(&self) -> bool {
        self.inner.unlinks_on_drop()
    }

    fn __len__(&self) -> usize {
        self.inner.handle.len()
    }

    /// The data as a writable, contiguous buffer of bytes.
    ///
    /// # Safety
    ///
    /// Called by Python with a `view` to fill, as the buffer protocol says.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let segment = &slf.get().inner.handle;
        let len = isize::try_from(segment.len()).expect("a mapping is at most isize::MAX bytes");
        // SAFETY: `view` is the buffer Python asked us to fill; the data is
        // `len` bytes inside the mapping, which stays mapped while the
        // segment object lives, and `PyBuffer_FillInfo` stores a new
        // reference to that object in the view, released with the view.
        // The memory is writable (readonly = 0), and other processes write
        // it too: Python reaches it only through the buffer.
        let filled = unsafe {
            ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                segment.data().as_ptr().cast(),
                len,
                0,
                flags,
            )
        };
        if filled == -1 {
            Err(PyErr::fetch(slf.py()))
        } else {
            Ok(())
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "<shmstruct segment {:?}: {}>",
            self.inner.handle.name(),
            self.inner.handle.layout()
        )
    }
});
