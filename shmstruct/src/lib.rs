//! Typed, fixed-layout data shared between processes through named shared
//! memory: Python's `multiprocessing.Value`, `Array` and `ctypes.Structure`,
//! for Rust.
#![deny(missing_docs)]

mod asserts;
mod bytes;
mod error;
pub mod layout;
pub mod segment;
mod value;

pub use bytes::ByteString;
pub use error::{Error, Result};
pub use layout::{Field, Kind, Layout, LayoutRef, Primitive, SharedLayout};
pub use segment::{unlink, SegmentInfo, SegmentOptions, SegmentState};
pub use value::Value;
/// `#[derive(SharedLayout)]`: see the trait [`SharedLayout`](trait@SharedLayout).
pub use shmstruct_derive::SharedLayout;

/// Items the derive's expansion refers to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::asserts::{assert_align, assert_size};
    pub use crate::layout::construct::{field, structure};
    pub use crate::layout::{Field, Layout, SharedLayout};
    pub use core;
}
