//! Typed, fixed-layout data shared between processes through named shared
//! memory: Python's `multiprocessing.Value`, `Array` and `ctypes.Structure`,
//! for Rust.
#![deny(missing_docs)]

mod array;
mod asserts;
mod bytes;
mod error;
pub mod layout;
#[cfg(target_os = "linux")]
mod named;
mod raw_value;
pub mod segment;
mod shared_bytes;
#[cfg(target_os = "linux")]
pub mod sync;
mod value;

pub use array::{Array, ArrayIter, RawArray};
pub use bytes::ByteString;
pub use error::{Error, Result};
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
