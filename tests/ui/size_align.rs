use shmstruct::SharedLayout;

#[repr(C)]
#[derive(SharedLayout)]
#[shm(size = 24)]
struct Point {
    x: f64,
    y: f64,
}

#[repr(C)]
#[derive(SharedLayout)]
#[shm(size = 12, align = 8)]
struct Small {
    a: u32,
    b: u32,
    c: u32,
}

fn main() {}
