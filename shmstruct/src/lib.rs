//! Typed, fixed-layout data shared between processes through named shared
//! memory: Python's `multiprocessing.Value`, `Array` and `ctypes.Structure`,
//! for Rust.
#![deny(missing_docs)]

mod bytes;
mod error;
pub mod layout;
#[cfg(target_os = "linux")]
pub mod sync;

pub use bytes::ByteString;
pub use error::{Error, Result};
pub use layout::{Field, Kind, Layout, LayoutRef, Primitive, SharedLayout};
#[cfg(target_os = "linux")]
pub use sync::{
    DataGuard, LockError, LockGuard, LockResult, OwnerDied, RLockGuard, RawBarrier, RawCondition,
    RawEvent, RawLock, RawRLock, RawSemaphore, SemaphoreGuard,
};

/// Items the derive's expansion refers to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::layout::construct::{field, structure};
    pub use crate::layout::{Layout, SharedLayout};
    pub use core;
}
