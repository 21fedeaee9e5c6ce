//! Prints the layout descriptors of two shared structs: the ctypes
//! `_fields_` form, the pahole-like table with offsets and padding, and the
//! Python source that describes the same memory.
//!
//! Run with `cargo run --example layout`.

use shmstruct::{ByteString, SharedLayout};

/// A point, as in Python's `class Point(Structure)`.
#[derive(SharedLayout)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}

/// The objects of the classic `multiprocessing` program, in one struct.
#[derive(SharedLayout)]
#[repr(C)]
#[shm(size = 80, align = 8)]
struct Demo {
    n: i32,
    x: f64,
    s: ByteString<16>,
    a: [Point; 3],
}

fn main() {
    println!("{}", Point::LAYOUT);
    println!("{}", Demo::LAYOUT);
    println!();
    println!("{:#}", Demo::LAYOUT);
    println!();
    println!("fingerprint {:#018x}", Demo::LAYOUT.fingerprint());
    println!();
    print!("{}", Demo::LAYOUT.to_ctypes());
}
