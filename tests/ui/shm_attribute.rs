use shmstruct::SharedLayout;

#[repr(C)]
#[derive(SharedLayout)]
#[shm(sise = 8)]
struct UnknownKey {
    x: u64,
}

#[repr(C)]
#[derive(SharedLayout)]
#[shm(size = 8, size = 8)]
struct DuplicateKey {
    x: u64,
}

#[repr(C)]
#[derive(SharedLayout)]
#[shm(size = "8")]
struct SizeNotANumber {
    x: u64,
}

#[repr(C)]
#[derive(SharedLayout)]
#[shm(align = 3)]
struct AlignNotAPowerOfTwo {
    x: u64,
}

#[repr(C)]
#[derive(SharedLayout)]
#[shm(crate = shmstruct)]
struct CrateNotAString {
    x: u64,
}

#[repr(C)]
#[derive(SharedLayout)]
#[shm(crate = "not a path")]
struct CrateNotAPath {
    x: u64,
}

#[repr(C)]
#[derive(SharedLayout)]
struct OnAField {
    #[shm(size = 8)]
    x: u64,
}

#[repr(C)]
#[derive(SharedLayout)]
#[shm]
struct NoArguments {
    x: u64,
}

#[repr(C)]
#[derive(SharedLayout)]
#[shm(size)]
struct NoValue {
    x: u64,
}

fn main() {}
