//! The derive's output uses absolute paths only: it compiles in a crate
//! without the implicit prelude.
#![no_implicit_prelude]

/// A point.
#[repr(C)]
#[derive(::shmstruct::SharedLayout)]
#[shm(size = 16, align = 8)]
pub struct Point {
    /// Across.
    pub x: f64,
    /// Down.
    pub y: f64,
}

/// Packed, with a nested struct and a byte string.
#[repr(C, packed)]
#[derive(::shmstruct::SharedLayout)]
pub struct Record {
    /// A tag.
    pub tag: u8,
    /// Where.
    pub at: Point,
    /// What.
    pub label: ::shmstruct::ByteString<8>,
}

#[test]
fn derives_without_the_prelude() {
    use ::shmstruct::SharedLayout;
    let layout = <Record as SharedLayout>::LAYOUT;
    ::std::assert_eq!(layout.size(), ::std::mem::size_of::<Record>());
    ::std::assert_eq!(layout.size(), 1 + 16 + 8);
    ::std::assert_eq!(layout.fields()[1].offset(), 1);
    ::std::assert_eq!(<Point as SharedLayout>::LAYOUT.fields()[1].offset(), 8);
}
