//! Typed, fixed-layout data shared between processes through named shared
//! memory: Python's `multiprocessing.Value`, `Array` and `ctypes.Structure`,
//! for Rust.
//!
//! ```
//! use shmstruct::{Array, Lock, SegmentOptions, SharedLayout, Value};
//!
//! // A `_fields_`-style layout, checked against the compiler.
//! #[derive(SharedLayout, Clone, Copy, Debug, PartialEq)]
//! #[repr(C)]
//! struct Point {
//!     x: f64,
//!     y: f64,
//! }
//! assert_eq!(Point::LAYOUT.to_string(), "Point: _fields_ = [('x', c_double), ('y', c_double)]");
//!
//! // Segments are files in /dev/shm; this example keeps its own in a
//! // private directory and removes them when the creating handles drop.
//! let dir = std::env::temp_dir().join(format!("shmstruct-doc-crate-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let options = SegmentOptions::new().dir(&dir).unlink_on_drop(true);
//!
//! // One process creates a value with its own lock, and an array guarded
//! // by a lock of its own choosing...
//! let n = Value::create_with("n", 7i32, &options)?;
//! let lock = Lock::create_with("lock", &options)?;
//! let points = [Point { x: 1.875, y: -6.25 }, Point { x: -5.75, y: 2.0 }];
//! let a = Array::create_with_lock_and_options("a", &points, &lock, &options)?;
//!
//! // ...another opens them by name: the layout is checked before a byte of
//! // data is read, and the array finds its lock by itself.
//! let n2 = Value::<i32>::open_with("n", &options)?;
//! let a2 = Array::<Point>::open_with("a", &options)?;
//! {
//!     let mut guard = n2.lock()?;
//!     *guard *= *guard;
//! }
//! {
//!     let mut guard = a2.lock()?;
//!     for p in guard.iter_mut() {
//!         *p = Point { x: p.x * p.x, y: p.y * p.y };
//!     }
//! }
//! assert_eq!(n.get()?, 49);
//! assert_eq!(a.get(1)?, Point { x: 33.0625, y: 4.0 });
//!
//! // A different type is refused, field by field.
//! let error = Value::<f32>::open_with("n", &options).unwrap_err();
//! assert!(error.to_string().contains("holds `i32` (4 bytes) but `f32` (4 bytes) was expected"));
//! # drop((n, n2, a, a2, lock));
//! # std::fs::remove_dir(&dir).unwrap();
//! # Ok::<(), shmstruct::Error>(())
//! ```
//!
//! The README follows: the tour, the mapping from Python's API, and what
//! happens when a process dies holding a lock.
//!
#![doc = include_str!("../../README.md")]
#![deny(missing_docs)]

#[cfg(not(target_os = "linux"))]
compile_error!(
    "shmstruct supports Linux with glibc: it relies on robust process-shared \
     pthread mutexes, futexes, /dev/shm and /proc/<pid>/stat"
);

mod array;
mod asserts;
mod atomic_copy;
mod bytes;
#[cfg(target_os = "linux")]
#[doc(hidden)]
pub mod dynamic;
mod error;
pub mod layout;
#[cfg(target_os = "linux")]
mod named;
#[cfg(target_os = "linux")]
mod os;
mod raw_value;
pub mod segment;
mod shared_bytes;
#[cfg(target_os = "linux")]
pub mod sync;
mod value;

pub use array::{Array, ArrayIter, RawArray};
pub use bytes::ByteString;
pub use error::{Error, ErrorKind, Result};
pub use layout::{Field, Kind, Layout, LayoutRef, Primitive, SharedLayout};
#[cfg(target_os = "linux")]
pub use named::{Barrier, Condition, Event, Lock, NamedLockGuard, RLock, Semaphore};
pub use raw_value::RawValue;
pub use segment::{unlink, SegmentInfo, SegmentOptions, SegmentState};
pub use shared_bytes::SharedBytes;
/// `#[derive(SharedLayout)]`: see the trait [`SharedLayout`](trait@SharedLayout).
pub use shmstruct_derive::SharedLayout;
#[cfg(target_os = "linux")]
pub use sync::{
    DataGuard, LockError, LockGuard, LockResult, OwnerDied, RLockGuard, RawBarrier, RawCondition,
    RawEvent, RawLock, RawRLock, RawSemaphore, SemaphoreGuard,
};
pub use value::Value;

/// Items the derive's expansion refers to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::asserts::{assert_align, assert_size};
    pub use crate::layout::construct::{field, structure};
    pub use crate::layout::{Field, Layout, SharedLayout};
    pub use core;
}
