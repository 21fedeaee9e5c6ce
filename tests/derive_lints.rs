//! The derive's output compiles cleanly under strict lints in a user crate.
#![deny(
    missing_docs,
    unsafe_code,
    missing_debug_implementations,
    unused,
    unused_qualifications,
    unused_results,
    unsafe_op_in_unsafe_fn,
    unreachable_pub,
    non_ascii_idents,
    trivial_casts,
    trivial_numeric_casts,
    single_use_lifetimes,
    elided_lifetimes_in_paths,
    unused_import_braces,
    unused_lifetimes,
    clippy::all,
    clippy::pedantic,
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

use std::mem::{align_of, size_of};

use shmstruct::{ByteString, SharedLayout};

/// A point.
#[repr(C)]
#[derive(Debug, SharedLayout)]
#[shm(size = 16, align = 8)]
pub struct Point {
    /// Across.
    pub x: f64,
    /// Down.
    pub y: f64,
}

/// Everything at once: nesting, arrays, byte strings, atomics, over-alignment.
#[repr(C, align(32))]
#[derive(Debug, SharedLayout)]
pub struct Everything {
    /// A number.
    pub n: i32,
    /// Points.
    pub points: [Point; 3],
    /// A name.
    pub name: ByteString<16>,
    /// A counter.
    pub hits: std::sync::atomic::AtomicU32,
}

/// Packed, private fields.
#[repr(C, packed(2))]
#[derive(Debug, SharedLayout)]
pub struct Packed {
    a: u8,
    b: u64,
}

#[test]
fn derives_under_strict_lints() {
    let layout = Everything::LAYOUT;
    assert_eq!(layout.size(), size_of::<Everything>());
    assert_eq!(layout.align(), align_of::<Everything>());
    assert_eq!(layout.fields().len(), 4);
    assert_eq!(Packed::LAYOUT.fields()[1].offset(), 2);
    assert_eq!(Point::LAYOUT.fields()[1].name(), "y");
}
