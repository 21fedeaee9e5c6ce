use shmstruct::SharedLayout;

// Every mistake in this struct is reported in the same build.
#[derive(SharedLayout)]
#[shm(size = 32, colour = 1)]
struct Config {
    enabled: bool,
    count: usize,
    name: String,
    next: &'static Config,
}

// A struct with mistakes still counts as `SharedLayout` elsewhere, so using it
// as a field adds no error of its own.
#[repr(C)]
#[derive(SharedLayout)]
struct Outer {
    config: Config,
    id: u32,
}

fn main() {}
