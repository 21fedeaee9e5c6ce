use shmstruct::SharedLayout;

#[derive(SharedLayout)]
struct NoRepr {
    x: u32,
}

#[repr(Rust)]
#[derive(SharedLayout)]
struct ReprRust {
    x: u32,
}

#[repr(transparent)]
#[derive(SharedLayout)]
struct Transparent {
    x: u32,
}

#[repr(align(8))]
#[derive(SharedLayout)]
struct AlignWithoutC {
    x: u32,
}

#[repr(C, packed, align(8))]
#[derive(SharedLayout)]
struct PackedAndAligned {
    x: u32,
}

#[repr(C, align(8), align(16))]
#[derive(SharedLayout)]
struct TwoAligns {
    x: u32,
}

fn main() {}
