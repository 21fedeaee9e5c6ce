//! Typed, fixed-layout data shared between processes through named shared
//! memory: Python's `multiprocessing.Value`, `Array` and `ctypes.Structure`,
//! for Rust.
//!
//! Two processes, one program: the parent creates a value and an array in
//! named segments and runs itself again as the child, which opens them by
//! name — type-checked — and changes them under their locks
//! (`examples/parent_child.rs`, which the tests run; `no_run` here because
//! a doctest cannot re-execute itself):
//!
#![doc = concat!("```rust,no_run\n", include_str!("../../examples/parent_child.rs"), "```")]
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

// The derive names the crate `::shmstruct`, so that this crate's own
// tests use it too.
extern crate self as shmstruct;

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
mod object;
#[cfg(target_os = "linux")]
mod os;
pub mod segment;
#[cfg(target_os = "linux")]
pub mod sync;

pub use bytes::ByteString;
pub use error::{Error, ErrorKind, Result};
pub use layout::{Field, Kind, Layout, LayoutRef, Primitive, SharedLayout};
#[cfg(target_os = "linux")]
pub use named::{
    Barrier, Condition, Event, Lock, Named, NamedLockGuard, NamedPrimitive, RLock, Semaphore,
};
#[cfg(target_os = "linux")]
pub use object::{
    Array, ArrayIter, Builder, Bytes, LockChoice, Locked, One, RawArray, RawBytes, RawValue, Shape,
    Shared, SharedBytes, Unlocked, Value,
};
pub use segment::{unlink, SegmentInfo, SegmentOptions, SegmentState};
/// `#[derive(SharedLayout)]`: see the trait [`SharedLayout`](trait@SharedLayout).
pub use shmstruct_derive::SharedLayout;
#[cfg(target_os = "linux")]
pub use sync::{
    DataGuard, LockError, LockGuard, LockResult, OwnerDied, RLockGuard, RawBarrier, RawCondition,
    RawEvent, RawLock, RawRLock, RawSemaphore, SemaphoreGuard,
};

/// Items the derive's expansion refers to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::asserts::{assert_align, assert_size};
    pub use crate::layout::construct::{field, structure};
    pub use crate::layout::{Field, Layout, SharedLayout};
    pub use core;
}
