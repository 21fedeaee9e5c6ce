//! The structs both layout oracles check (the ctypes one and the C one):
//! nested structs, arrays, padding, byte strings, atomics, `align(N)`,
//! `packed` and `packed(2)`, and two structs with the same name.
#![allow(dead_code)]

use shmstruct::{ByteString, SharedLayout};
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicU8};

#[derive(SharedLayout)]
#[repr(C)]
pub struct Point {
    x: f64,
    y: f64,
}

#[derive(SharedLayout)]
#[repr(C)]
pub struct Mixed {
    a: u8,
    b: u16,
    c: u32,
    d: u64,
    e: f32,
    f: f64,
    g: u8,
    h: i8,
    i: i16,
    j: i64,
}

#[derive(SharedLayout)]
#[repr(C)]
pub struct Outer {
    tag: u8,
    p: Point,
    m: Mixed,
    q: Point,
}

#[derive(SharedLayout)]
#[repr(C)]
pub struct Demo {
    n: i32,
    x: f64,
    s: ByteString<16>,
    a: [Point; 3],
}

#[derive(SharedLayout)]
#[repr(C)]
pub struct Grid {
    cells: [[i32; 2]; 3],
    corners: [[Point; 2]; 2],
    names: [ByteString<5>; 3],
    end: u8,
}

#[derive(SharedLayout)]
#[repr(C)]
pub struct Counters {
    hits: AtomicU64,
    level: AtomicI32,
    flag: AtomicU8,
}

#[derive(SharedLayout)]
#[repr(C, align(16))]
pub struct Aligned16 {
    a: u8,
    b: u32,
}

#[derive(SharedLayout)]
#[repr(C)]
pub struct HoldsAligned16 {
    a: u8,
    b: Aligned16,
    c: [Aligned16; 2],
    d: u8,
}

#[derive(SharedLayout)]
#[repr(C, align(8))]
pub struct Aligned8 {
    a: u8,
}

#[derive(SharedLayout)]
#[repr(C, align(64))]
pub struct Aligned64 {
    hits: AtomicU64,
    flag: u8,
}

#[derive(SharedLayout)]
#[repr(C)]
pub struct HoldsAligned64 {
    a: u8,
    b: Aligned64,
}

#[derive(SharedLayout)]
#[repr(C, packed)]
pub struct Packed {
    a: u8,
    b: u32,
    c: u16,
    d: f64,
}

#[derive(SharedLayout)]
#[repr(C, packed(2))]
pub struct Packed2 {
    a: u8,
    b: u64,
    p: Point,
    c: [u32; 3],
}

#[derive(SharedLayout)]
#[repr(C)]
pub struct HoldsPacked {
    a: u8,
    p: Packed2,
    q: Packed,
}

#[derive(SharedLayout)]
#[repr(C)]
pub struct Empty {}

pub mod one {
    use super::*;
    #[derive(SharedLayout)]
    #[repr(C)]
    pub struct Inner {
        a: u8,
    }
}

pub mod two {
    use super::*;
    #[derive(SharedLayout)]
    #[repr(C)]
    pub struct Inner {
        a: u64,
        b: [u8; 3],
    }
}

#[derive(SharedLayout)]
#[repr(C)]
pub struct Both {
    x: one::Inner,
    y: two::Inner,
    z: [one::Inner; 2],
    w: [two::Inner; 2],
}

/// Layouts that are not structs, with the name generated code gives them.
pub const NON_STRUCTS: [(&shmstruct::Layout, &str); 4] = [
    (<[Point; 3]>::LAYOUT, "Point_Array_3"),
    (<[[i32; 2]; 3]>::LAYOUT, "i32_Array_2_Array_3"),
    (ByteString::<16>::LAYOUT, "ByteString_16"),
    (AtomicU64::LAYOUT, "AtomicU64"),
];
