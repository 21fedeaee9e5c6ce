//! What every handle shares: the lifetime rule (the creator's handle
//! removes the name when it is garbage-collected, unless kept; an opener
//! never does) and the segment options.

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;
use shmstruct::SegmentOptions;

use crate::errors::IntoPy;

/// A handle of the Rust crate that names a segment.
pub trait Named {
    /// Removes the name if it still names this handle's segment.
    fn unlink(&self) -> shmstruct::Result<()>;
}

macro_rules! named {
    ($($ty:ty),*) => {$(
        impl Named for $ty {
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
/// until `keep()`. The segment is never registered with
/// `multiprocessing.resource_tracker`, which would unlink it when any
/// process that merely opened it exits (CPython gh-82300).
pub struct Owned<H: Named> {
    /// The crate's handle.
    pub handle: H,
    unlink_on_drop: AtomicBool,
}

impl<H: Named> Owned<H> {
    /// A handle that removes its name when dropped.
    pub fn created(handle: H) -> Self {
        Owned {
            handle,
            unlink_on_drop: AtomicBool::new(true),
        }
    }

    /// A handle that never removes its name.
    pub fn opened(handle: H) -> Self {
        Owned {
            handle,
            unlink_on_drop: AtomicBool::new(false),
        }
    }

    /// Keeps the name when this handle is dropped.
    pub fn keep(&self) {
        // Relaxed: a flag read only by `drop`, which has `&mut self`.
        self.unlink_on_drop.store(false, Ordering::Relaxed);
    }

    /// Whether dropping this handle removes the name.
    pub fn unlinks_on_drop(&self) -> bool {
        // Relaxed: as in `keep`.
        self.unlink_on_drop.load(Ordering::Relaxed)
    }

    /// Removes the name now (from any handle, creator or not).
    pub fn unlink(&self) -> PyResult<()> {
        self.keep();
        self.handle.unlink().py()
    }
}

impl<H: Named> Drop for Owned<H> {
    fn drop(&mut self) {
        if *self.unlink_on_drop.get_mut() {
            // Already gone (unlinked by someone else) is fine.
            let _ = self.handle.unlink();
        }
    }
}

/// The options of every call: the default directory (`/dev/shm`, or
/// `$SHMSTRUCT_DIR`), `mode` for creators, `timeout` seconds to wait for a
/// creator that is still initialising.
pub fn options(mode: Option<u32>) -> SegmentOptions {
    let options = SegmentOptions::new();
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
