use shmstruct::SharedLayout;

enum Color {
    Red,
    Green,
}

#[repr(C)]
struct Plain {
    x: u32,
}

#[repr(C)]
#[derive(SharedLayout)]
struct Palette {
    color: Color,
    plain: Plain,
    maybe: Option<u32>,
    wide: u128,
    colors: [Color; 2],
}

fn main() {
    let _ = (Color::Red, Color::Green, Plain { x: 0 });
}
