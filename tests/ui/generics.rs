use shmstruct::SharedLayout;

#[repr(C)]
#[derive(SharedLayout)]
struct Borrowed<'a> {
    x: &'a u32,
}

#[repr(C)]
#[derive(SharedLayout)]
struct Typed<T> {
    x: T,
}

#[repr(C)]
#[derive(SharedLayout)]
struct Sized<const N: usize> {
    bytes: [u8; N],
}

fn main() {}
