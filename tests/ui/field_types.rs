use shmstruct::SharedLayout;

#[repr(C)]
#[derive(SharedLayout)]
struct Flags {
    on: bool,
    several: [bool; 4],
}

#[repr(C)]
#[derive(SharedLayout)]
struct Letter {
    c: char,
}

#[repr(C)]
#[derive(SharedLayout)]
struct Sizes {
    len: usize,
    delta: isize,
}

#[repr(C)]
#[derive(SharedLayout)]
struct Pointers {
    reference: &'static u32,
    raw: *const u8,
    raw_mut: *mut u8,
    function: fn(),
}

#[repr(C)]
#[derive(SharedLayout)]
struct Heap {
    name: String,
    items: Vec<u32>,
    boxed: Box<u64>,
    qualified: std::string::String,
}

#[repr(C)]
#[derive(SharedLayout)]
struct NoFixedLayout {
    pair: (u8, u16),
}

fn main() {}
