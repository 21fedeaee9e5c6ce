use shmstruct::SharedLayout;

#[derive(SharedLayout)]
#[repr(C)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

#[derive(SharedLayout)]
#[repr(C)]
pub struct Demo {
    pub n: i32,
    pub x: f64,
    pub s: ::shmstruct::ByteString<16>,
    pub a: [Point; 3],
}

#[derive(SharedLayout)]
#[repr(C, align(16))]
pub struct Aligned16 {
    pub a: u8,
    pub b: u32,
}

#[derive(SharedLayout)]
#[repr(C)]
pub struct HoldsAligned16 {
    pub a: u8,
    pub b: Aligned16,
    pub c: [Aligned16; 2],
    pub d: u8,
}

#[derive(SharedLayout)]
#[repr(C, packed(2))]
pub struct Packed2 {
    pub a: u8,
    pub b: u64,
    pub p: Point,
    pub c: [u32; 3],
}

#[derive(SharedLayout)]
#[repr(C, packed)]
pub struct Packed {
    pub a: u8,
    pub b: u32,
    pub c: u16,
    pub d: f64,
}

#[derive(SharedLayout)]
#[repr(C)]
pub struct HoldsPacked {
    pub a: u8,
    pub p: Packed2,
    pub q: Packed,
}

#[derive(SharedLayout)]
#[repr(C)]
pub struct Counters {
    pub hits: ::std::sync::atomic::AtomicU64,
    pub level: ::std::sync::atomic::AtomicI32,
    pub flag: ::std::sync::atomic::AtomicU8,
}

#[derive(SharedLayout)]
#[repr(C)]
pub struct Grid {
    pub cells: [[i32; 2]; 3],
    pub corners: [[Point; 2]; 2],
    pub names: [::shmstruct::ByteString<5>; 3],
    pub end: u8,
}

#[derive(SharedLayout)]
#[repr(C, align(64))]
pub struct Aligned64 {
    pub hits: ::std::sync::atomic::AtomicU64,
    pub flag: u8,
}

#[derive(SharedLayout)]
#[repr(C)]
pub struct HoldsAligned64 {
    pub a: u8,
    pub b: Aligned64,
}

#[derive(SharedLayout)]
#[repr(C)]
pub struct Everything {
    pub demo: Demo,
    pub aligned: HoldsAligned16,
    pub packed: HoldsPacked,
    pub counters: Counters,
    pub grid: Grid,
    pub far: HoldsAligned64,
}
