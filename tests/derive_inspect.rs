//! `#[derive(SharedLayout)]` descriptors read through the public API, checked
//! against the compiler (`offset_of!`, `size_of`, `align_of`) and against the
//! numbers a C compiler or ctypes would give.

use std::mem::{align_of, offset_of, size_of};

use shmstruct::{ByteString, Kind, Layout, Primitive, SharedLayout};

/// Checks `$ty`'s descriptor field by field: name, the literal offset
/// expected, which must also be what `offset_of!` says, and the field type's
/// size and alignment as the compiler sees them.
macro_rules! assert_fields {
    ($ty:ty { $($field:ident: $field_ty:ty = $offset:expr),* $(,)? }) => {{
        let layout: &Layout = <$ty as SharedLayout>::LAYOUT;
        let expected: &[(&str, usize, usize, usize)] = &[$(
            (stringify!($field).trim_start_matches("r#"), $offset, size_of::<$field_ty>(), align_of::<$field_ty>())
        ),*];
        $(assert_eq!(offset_of!($ty, $field), $offset, "offset_of!({}, {})", stringify!($ty), stringify!($field));)*
        let actual: Vec<(&str, usize, usize, usize)> = layout
            .fields()
            .iter()
            .map(|field| (field.name(), field.offset(), field.size(), field.align()))
            .collect();
        assert_eq!(actual, expected, "fields of {}", stringify!($ty));
        for field in layout.fields() {
            assert_eq!(field.ty().size(), field.size());
            assert_eq!(field.ty().align(), field.align());
        }
        assert_eq!(layout.size(), size_of::<$ty>());
        assert_eq!(layout.align(), align_of::<$ty>());
        layout
    }};
}

/// `packed` and `align` of a struct descriptor.
fn struct_repr(layout: &Layout) -> (Option<usize>, Option<usize>) {
    match layout.kind() {
        Kind::Struct { packed, align, .. } => (*packed, *align),
        other => panic!("{} is not a struct: {other:?}", layout.name()),
    }
}

#[repr(C)]
#[derive(SharedLayout, Clone, Copy)]
#[shm(size = 16, align = 8)]
struct Point {
    x: f64,
    y: f64,
}

#[test]
fn point_has_two_doubles() {
    let layout = assert_fields!(Point {
        x: f64 = 0,
        y: f64 = 8
    });
    assert_eq!(layout.name(), "Point");
    assert_eq!((layout.size(), layout.align()), (16, 8));
    assert_eq!(struct_repr(layout), (None, None));
    for field in layout.fields() {
        assert_eq!(*field.ty().kind(), Kind::Primitive(Primitive::F64));
        assert_eq!(field.ty().name(), "f64");
    }
}

#[repr(C)]
#[derive(SharedLayout)]
struct Mixed {
    a: u8,
    b: u16,
    c: u32,
    d: u64,
    e: f32,
    f: f64,
    g: u8,
}

#[test]
fn mixed_numbers_get_c_padding() {
    // 1 byte of padding after `a`, 4 after `e`, 7 at the end.
    let layout = assert_fields!(Mixed {
        a: u8 = 0,
        b: u16 = 2,
        c: u32 = 4,
        d: u64 = 8,
        e: f32 = 16,
        f: f64 = 24,
        g: u8 = 32,
    });
    assert_eq!((layout.size(), layout.align()), (40, 8));
    let kinds: Vec<&Kind> = layout
        .fields()
        .iter()
        .map(|field| field.ty().kind())
        .collect();
    assert_eq!(
        kinds,
        [
            &Kind::Primitive(Primitive::U8),
            &Kind::Primitive(Primitive::U16),
            &Kind::Primitive(Primitive::U32),
            &Kind::Primitive(Primitive::U64),
            &Kind::Primitive(Primitive::F32),
            &Kind::Primitive(Primitive::F64),
            &Kind::Primitive(Primitive::U8),
        ]
    );
}

#[repr(C)]
#[derive(SharedLayout)]
struct Line {
    start: Point,
    end: Point,
    tag: u8,
}

#[test]
fn nested_structs_point_at_their_descriptor() {
    let layout = assert_fields!(Line {
        start: Point = 0,
        end: Point = 16,
        tag: u8 = 32
    });
    assert_eq!((layout.size(), layout.align()), (40, 8));
    let start = &layout.fields()[0];
    assert_eq!(start.ty().name(), "Point");
    assert_eq!(start.ty(), Point::LAYOUT);
    assert_eq!(start.ty().fields()[1].name(), "y");
    assert_eq!(start.ty().fields()[1].offset(), 8);
}

#[repr(C)]
#[derive(SharedLayout)]
struct Polygon {
    corners: u32,
    points: [Point; 4],
}

#[test]
fn arrays_of_structs() {
    let layout = assert_fields!(Polygon {
        corners: u32 = 0,
        points: [Point; 4] = 8
    });
    assert_eq!((layout.size(), layout.align()), (72, 8));
    let points = &layout.fields()[1];
    assert_eq!(points.ty().name(), "[Point; 4]");
    let Kind::Array { element, len } = points.ty().kind() else {
        panic!("not an array: {:?}", points.ty())
    };
    assert_eq!(*len, 4);
    assert_eq!(**element, *Point::LAYOUT);
}

#[repr(C)]
#[derive(SharedLayout)]
struct Named {
    id: u16,
    name: ByteString<16>,
    score: f32,
}

#[test]
fn byte_strings() {
    // `name` needs no alignment; `score` is rounded up from 18 to 20.
    let layout = assert_fields!(Named {
        id: u16 = 0,
        name: ByteString<16> = 2,
        score: f32 = 20,
    });
    assert_eq!((layout.size(), layout.align()), (24, 4));
    let name = &layout.fields()[1];
    assert_eq!(name.ty().name(), "ByteString<16>");
    assert_eq!(*name.ty().kind(), Kind::Bytes { capacity: 16 });
}

#[repr(C, align(16))]
#[derive(SharedLayout)]
#[shm(size = 16, align = 16)]
struct Aligned {
    a: u32,
    b: u8,
}

#[test]
fn align_is_recorded() {
    let layout = assert_fields!(Aligned {
        a: u32 = 0,
        b: u8 = 4
    });
    assert_eq!((layout.size(), layout.align()), (16, 16));
    assert_eq!(struct_repr(layout), (None, Some(16)));
}

#[repr(C, packed)]
#[derive(SharedLayout)]
#[shm(size = 7, align = 1)]
struct Packed {
    a: u8,
    b: u32,
    c: u16,
}

#[repr(C, packed(2))]
#[derive(SharedLayout)]
struct Packed2 {
    a: u8,
    b: u32,
    c: u16,
}

#[test]
fn packed_is_recorded() {
    let layout = assert_fields!(Packed {
        a: u8 = 0,
        b: u32 = 1,
        c: u16 = 5
    });
    assert_eq!((layout.size(), layout.align()), (7, 1));
    assert_eq!(struct_repr(layout), (Some(1), None));
    // The field keeps its type's alignment; the struct places it at 1.
    assert_eq!(layout.fields()[1].align(), 4);

    let layout = assert_fields!(Packed2 {
        a: u8 = 0,
        b: u32 = 2,
        c: u16 = 6
    });
    assert_eq!((layout.size(), layout.align()), (8, 2));
    assert_eq!(struct_repr(layout), (Some(2), None));
}

#[repr(C)]
#[derive(SharedLayout)]
struct Demo {
    n: i32,
    x: f64,
    s: ByteString<16>,
    a: [Point; 3],
}

#[test]
fn demo() {
    let layout = assert_fields!(Demo {
        n: i32 = 0,
        x: f64 = 8,
        s: ByteString<16> = 16,
        a: [Point; 3] = 32,
    });
    assert_eq!(layout.name(), "Demo");
    assert_eq!((layout.size(), layout.align()), (80, 8));
    let names: Vec<_> = layout
        .fields()
        .iter()
        .map(|field| field.ty().name())
        .collect();
    assert_eq!(names, ["i32", "f64", "ByteString<16>", "[Point; 3]"]);
}

#[repr(C)]
#[derive(SharedLayout)]
struct Counters {
    hits: std::sync::atomic::AtomicU64,
    r#type: u8,
}

#[test]
fn atomics_and_raw_identifiers() {
    let layout = assert_fields!(Counters {
        hits: std::sync::atomic::AtomicU64 = 0,
        r#type: u8 = 8,
    });
    assert_eq!(layout.fields()[1].name(), "type");
    assert_eq!(
        *layout.fields()[0].ty().kind(),
        Kind::Atomic(Primitive::U64)
    );
}

#[repr(C)]
#[derive(SharedLayout)]
struct Empty {}

#[test]
fn empty_struct() {
    assert!(Empty::LAYOUT.fields().is_empty());
    assert_eq!((Empty::LAYOUT.size(), Empty::LAYOUT.align()), (0, 1));
}

/// A crate that re-exports shmstruct under another path.
mod reexport {
    pub use shmstruct as shm;
}

#[repr(C)]
#[derive(reexport::shm::SharedLayout)]
#[shm(crate = "reexport::shm")]
struct ThroughReexport {
    v: u32,
}

#[test]
fn crate_path_override() {
    let layout = assert_fields!(ThroughReexport { v: u32 = 0 });
    assert_eq!(layout.name(), "ThroughReexport");
}

#[test]
fn values_still_work() {
    // The derive adds nothing a program would notice besides the trait.
    let p = Point { x: 1.5, y: -2.0 };
    let copy = p;
    assert_eq!((copy.x, copy.y), (1.5, -2.0));
}
