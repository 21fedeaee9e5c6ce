use shmstruct::SharedLayout;

#[repr(C)]
#[derive(SharedLayout)]
struct Noisy {
    x: u32,
}

impl Drop for Noisy {
    fn drop(&mut self) {}
}

fn main() {}
