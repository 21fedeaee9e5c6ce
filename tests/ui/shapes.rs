use shmstruct::SharedLayout;

#[repr(C)]
#[derive(SharedLayout)]
struct Tuple(u32, u32);

#[repr(C)]
#[derive(SharedLayout)]
struct Unit;

#[repr(u8)]
#[derive(SharedLayout)]
enum Mode {
    Off,
    On,
}

#[repr(C)]
#[derive(SharedLayout)]
union Either {
    int: u32,
    float: f32,
}

fn main() {}
