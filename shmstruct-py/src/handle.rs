//! What every handle shares: the lifetime rule (the creator's handle
//! removes the name when it is garbage-collected, unless kept; an opener
//! never does) and the segment options.

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;
use shmstruct::SegmentOptions;

use crate::errors::IntoPy;

/// A handle of the Rust crate that names a segment.
pub trait Named {
    /// The segment's name.
    fn name(&self) -> &str;
    /// Removes the name if it still names this handle's segment.
    fn unlink(&self) -> shmstruct::Result<()>;
}

macro_rules! named {
    ($($ty:ty),*) => {$(
        impl Named for $ty {
            fn name(&self) -> &str {
                <$ty>::name(self)
            }
            fn unlink(&self) -> shmstruct::Result<()> {
                <$ty>::unlink(self)
            }
        }
    )*};
}

named!(
    shmstruct::dynamic::DynamicSegment,
    shmstruct::Lock,
    shmstruct::RLock,
    shmstruct::Semaphore,
    shmstruct::Event,
    shmstruct::Condition,
    shmstruct::Barrier
);

/// A handle and whether dropping it removes the name: set for the creator
/// until `keep()`, and only in the creating process (a child made by
/// `fork` has a copy of the handle, but did not create anything). The
/// segment is never registered with `multiprocessing.resource_tracker`,
/// which would unlink it when any process that merely opened it exits
/// (CPython gh-82300).
pub struct Owned<H: Named> {
    /// The crate's handle.
    pub handle: H,
    unlink_on_drop: AtomicBool,
    /// The process that made this handle.
    pid: u32,
}

impl<H: Named> Owned<H> {
    /// A handle that removes its name when dropped.
    pub fn created(handle: H) -> Self {
        Owned {
            handle,
            unlink_on_drop: AtomicBool::new(true),
            pid: std::process::id(),
        }
    }

    /// A handle that never removes its name.
    pub fn opened(handle: H) -> Self {
        Owned {
            handle,
            unlink_on_drop: AtomicBool::new(false),
            pid: std::process::id(),
        }
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        self.handle.name()
    }

    /// Keeps the name when this handle is dropped.
    pub fn keep(&self) {
        // Relaxed: a flag read only by `drop`, which has `&mut self`.
        self.unlink_on_drop.store(false, Ordering::Relaxed);
    }

    /// Whether dropping this handle removes the name.
    pub fn unlinks_on_drop(&self) -> bool {
        // Relaxed: as in `keep`.
        self.unlink_on_drop.load(Ordering::Relaxed) && self.pid == std::process::id()
    }

    /// Removes the name now (from any handle, creator or not).
    pub fn unlink(&self) -> PyResult<()> {
        self.keep();
        self.handle.unlink().py()
    }
}

impl<H: Named> Drop for Owned<H> {
    fn drop(&mut self) {
        if self.unlinks_on_drop() {
            // Already gone (unlinked by someone else) is fine.
            let _ = self.handle.unlink();
        }
    }
}

/// A `#[pyclass]` that holds only an `Owned` handle of the crate, with
/// `fn new`.
macro_rules! handle_struct {
    ($(#[$doc:meta])* $class:ident($handle:ty)) => {
        $(#[$doc])*
        #[pyclass(module = "shmstruct", frozen)]
        pub struct $class {
            inner: $crate::handle::Owned<$handle>,
        }

        impl $class {
            fn new(inner: $crate::handle::Owned<$handle>) -> $class {
                $class { inner }
            }
        }
    };
}

/// The `#[pymethods]` of a class whose `inner` is an `Owned` handle of a
/// named primitive and which has `fn new(Owned<_>) -> Self`: the given
/// methods, then `name`, `keep()` and `unlink()`; for a primitive (its
/// crate type given), also `open(name)` and `__repr__`; after `create`, also `create(name, *, mode=None)` (for the
/// primitives made without arguments, `$what` saying what it makes); after
/// `with`, also `__enter__` (a blocking `acquire`) and `__exit__`
/// (`release`).
macro_rules! handle_class {
    ($class:ident($handle:ty, $what:literal) create $($rest:ident)? { $($methods:tt)* }) => {
        handle_class!($class($handle, $what) $($rest)? {
            #[doc = concat!("Creates ", $what, " in the segment `name` (mode `0o600` unless `mode` says otherwise).")]
            #[staticmethod]
            #[pyo3(signature = (name, *, mode = None))]
            fn create(name: &str, mode: Option<u32>) -> PyResult<$class> {
                let handle = <$handle>::create_with(name, &$crate::handle::options(mode));
                let handle = $crate::errors::IntoPy::py(handle)?;
                Ok($class::new($crate::handle::Owned::created(handle)))
            }

            $($methods)*
        });
    };
    ($class:ident($handle:ty, $what:literal) with { $($methods:tt)* }) => {
        handle_class!($class($handle, $what) {
            $($methods)*

            fn __enter__(&self, py: Python<'_>) -> PyResult<bool> {
                self.acquire(py, true, None)
            }

            fn __exit__(
                &self,
                _type: &Bound<'_, PyAny>,
                _value: &Bound<'_, PyAny>,
                _traceback: &Bound<'_, PyAny>,
            ) -> PyResult<()> {
                self.release()
            }
        });
    };
    ($class:ident($handle:ty, $what:literal) { $($methods:tt)* }) => {
        handle_class!($class {
            $($methods)*

            #[doc = concat!("Opens the segment `name`, which must hold a `", stringify!($class), "`.")]
            #[staticmethod]
            fn open(name: &str) -> PyResult<$class> {
                let handle = <$handle>::open_with(name, &$crate::handle::options(None));
                let handle = $crate::errors::IntoPy::py(handle)?;
                Ok($class::new($crate::handle::Owned::opened(handle)))
            }

            fn __repr__(&self) -> String {
                format!(concat!("<shmstruct.", stringify!($class), " {:?}>"), self.inner.name())
            }
        });
    };
    ($class:ident { $($methods:tt)* }) => {
        #[pymethods]
        impl $class {
            $($methods)*

            /// The segment's name.
            #[getter]
            fn name(&self) -> &str {
                self.inner.name()
            }

            /// Keeps the segment when this (creating) handle is garbage-collected.
            fn keep(&self) {
                self.inner.keep();
            }

            /// Removes the segment's name now.
            fn unlink(&self) -> PyResult<()> {
                self.inner.unlink()
            }
        }
    };
}

/// The options of every call: the default directory (`/dev/shm`, or
/// `$SHMSTRUCT_DIR`), `mode` for creators. The crate's handles never unlink
/// on drop here: [`Owned`] decides, so that a child made by `fork` does not
/// remove what its parent created.
pub fn options(mode: Option<u32>) -> SegmentOptions {
    let options = SegmentOptions::new().unlink_on_drop(false);
    match mode {
        Some(mode) => options.mode(mode),
        None => options,
    }
}

/// Removes the segment `name` (Python: `shmstruct.unlink(name)`).
#[pyfunction]
pub fn unlink(name: &str) -> PyResult<()> {
    options(None).unlink(name).py()
}
