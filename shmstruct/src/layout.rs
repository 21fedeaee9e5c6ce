//! Layout descriptors: the `_fields_` of a type that lives in shared memory.
//!
//! Every [`SharedLayout`] type has a [`Layout`]: its name, size, alignment and
//! what it is made of (a primitive, an atomic, an array, a byte string, or a
//! struct with named [`Field`]s at fixed offsets). Descriptors of Rust types
//! are `'static` constants built at compile time; a descriptor decoded from a
//! segment header is owned. Both are the same [`Layout`] type, so they compare,
//! render and fingerprint alike.

use std::borrow::Cow;
use std::ops::Deref;
use std::sync::atomic::{AtomicI16, AtomicI32, AtomicI64, AtomicI8};
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8};

use crate::bytes::ByteString;

mod c_header;
mod codec;
mod data;
mod diff;
mod fingerprint;
#[cfg(test)]
mod fixtures;
mod render;
mod rust_source;

pub use codec::DecodeError;
pub(crate) use codec::StoredRoot;
pub use data::{python_bytes_repr, python_float_repr, DataTooShort, DataValue};
pub use diff::{Difference, LayoutDiff, Placement};

/// The layout of a type that can live in shared memory.
///
/// Build it with `#[derive(SharedLayout)]` on a `#[repr(C)]` struct; read it
/// through [`SharedLayout::LAYOUT`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub(crate) name: Cow<'static, str>,
    pub(crate) size: usize,
    pub(crate) align: usize,
    pub(crate) kind: Kind,
}

/// What a [`Layout`] is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A plain number.
    Primitive(Primitive),
    /// An `Atomic*` integer, for lock-free counters.
    Atomic(Primitive),
    /// A fixed array `[element; len]`.
    Array {
        /// The type of every element.
        element: LayoutRef,
        /// The number of elements.
        len: usize,
    },
    /// A fixed-capacity byte string ([`ByteString`]), Python's `'c'` array.
    Bytes {
        /// The number of bytes it holds, NUL terminator included when there is one.
        capacity: usize,
    },
    /// A `#[repr(C)]` struct with named fields.
    Struct {
        /// The fields, in declaration order (and so in offset order).
        fields: Cow<'static, [Field]>,
        /// `Some(n)` for `#[repr(C, packed(n))]`: ctypes' `_pack_`.
        packed: Option<usize>,
        /// `Some(n)` for `#[repr(C, align(n))]`: ctypes' `_align_`.
        align: Option<usize>,
    },
}

/// The numeric types a field can have, with the names ctypes gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Primitive {
    /// `u8`, ctypes `c_uint8`.
    U8,
    /// `u16`, ctypes `c_uint16`.
    U16,
    /// `u32`, ctypes `c_uint32`.
    U32,
    /// `u64`, ctypes `c_uint64`.
    U64,
    /// `i8`, ctypes `c_int8`.
    I8,
    /// `i16`, ctypes `c_int16`.
    I16,
    /// `i32`, ctypes `c_int32`.
    I32,
    /// `i64`, ctypes `c_int64`.
    I64,
    /// `f32`, ctypes `c_float`.
    F32,
    /// `f64`, ctypes `c_double`.
    F64,
}

impl Primitive {
    /// Every primitive, in a fixed order (also their wire codes, from 0).
    pub const ALL: [Primitive; 10] = [
        Primitive::U8,
        Primitive::U16,
        Primitive::U32,
        Primitive::U64,
        Primitive::I8,
        Primitive::I16,
        Primitive::I32,
        Primitive::I64,
        Primitive::F32,
        Primitive::F64,
    ];

    /// The Rust name: `"f64"`.
    pub const fn rust_name(self) -> &'static str {
        match self {
            Primitive::U8 => "u8",
            Primitive::U16 => "u16",
            Primitive::U32 => "u32",
            Primitive::U64 => "u64",
            Primitive::I8 => "i8",
            Primitive::I16 => "i16",
            Primitive::I32 => "i32",
            Primitive::I64 => "i64",
            Primitive::F32 => "f32",
            Primitive::F64 => "f64",
        }
    }

    /// The ctypes name: `"c_double"`.
    pub const fn ctypes_name(self) -> &'static str {
        match self {
            Primitive::U8 => "c_uint8",
            Primitive::U16 => "c_uint16",
            Primitive::U32 => "c_uint32",
            Primitive::U64 => "c_uint64",
            Primitive::I8 => "c_int8",
            Primitive::I16 => "c_int16",
            Primitive::I32 => "c_int32",
            Primitive::I64 => "c_int64",
            Primitive::F32 => "c_float",
            Primitive::F64 => "c_double",
        }
    }

    /// The size in bytes, which is also the alignment on every supported target.
    pub const fn size(self) -> usize {
        match self {
            Primitive::U8 | Primitive::I8 => 1,
            Primitive::U16 | Primitive::I16 => 2,
            Primitive::U32 | Primitive::I32 | Primitive::F32 => 4,
            Primitive::U64 | Primitive::I64 | Primitive::F64 => 8,
        }
    }
}

/// A reference to a nested [`Layout`]: `'static` for Rust types, owned for
/// descriptors decoded from a segment. Dereferences to the [`Layout`].
#[derive(Clone, Debug)]
pub enum LayoutRef {
    /// The descriptor of a Rust type, a compile-time constant.
    Static(&'static Layout),
    /// A descriptor decoded at run time.
    Owned(Box<Layout>),
}

impl Deref for LayoutRef {
    type Target = Layout;

    fn deref(&self) -> &Layout {
        match self {
            LayoutRef::Static(layout) => layout,
            LayoutRef::Owned(layout) => layout,
        }
    }
}

impl PartialEq for LayoutRef {
    fn eq(&self, other: &LayoutRef) -> bool {
        **self == **other
    }
}

impl Eq for LayoutRef {}

/// One named field of a struct [`Layout`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub(crate) name: Cow<'static, str>,
    pub(crate) offset: usize,
    pub(crate) ty: LayoutRef,
}

impl Field {
    /// The field's name, as declared.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its offset in bytes from the start of the struct.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Its size in bytes.
    pub fn size(&self) -> usize {
        self.ty.size
    }

    /// Its alignment in bytes, as the type declares it (a packed struct may
    /// place the field at an offset that is not a multiple of this).
    pub fn align(&self) -> usize {
        self.ty.align
    }

    /// The layout of the field's type.
    pub fn ty(&self) -> &Layout {
        &self.ty
    }
}

/// Whether every byte of a compile-time descriptor that holds data belongs
/// to an `Atomic*` integer: then a shared `&T` to memory that other
/// processes change is sound, since atomics are interior-mutable and every
/// access to them is atomic (padding is never read). Run-time (owned)
/// descriptors never reach here and count as not atomic.
pub(crate) const fn is_all_atomic(layout: &Layout) -> bool {
    match &layout.kind {
        Kind::Atomic(_) => true,
        Kind::Primitive(_) | Kind::Bytes { .. } => false,
        Kind::Array { element, len } => *len == 0 || is_all_atomic_ref(element),
        Kind::Struct { fields, .. } => match fields {
            Cow::Borrowed(fields) => {
                let mut i = 0;
                while i < fields.len() {
                    if !is_all_atomic_ref(&fields[i].ty) {
                        return false;
                    }
                    i += 1;
                }
                true
            }
            Cow::Owned(_) => false,
        },
    }
}

/// Whether any byte of a compile-time descriptor belongs to an `Atomic*`
/// integer: then a `&T` may change under a reader (atomics are
/// interior-mutable), and copies of `T` go field by field
/// (`crate::atomic_copy`). Run-time (owned) descriptors never reach here.
pub(crate) const fn has_atomic(layout: &Layout) -> bool {
    match &layout.kind {
        Kind::Atomic(_) => true,
        Kind::Primitive(_) | Kind::Bytes { .. } => false,
        Kind::Array { element, len } => *len != 0 && has_atomic_ref(element),
        Kind::Struct { fields, .. } => match fields {
            Cow::Borrowed(fields) => {
                let mut i = 0;
                while i < fields.len() {
                    if has_atomic_ref(&fields[i].ty) {
                        return true;
                    }
                    i += 1;
                }
                false
            }
            Cow::Owned(_) => false,
        },
    }
}

/// Whether every byte of a compile-time descriptor belongs to a field: no
/// padding anywhere, so a copy may read it word by word (padding bytes may
/// be uninitialised, which no integer read may meet). Run-time (owned)
/// descriptors never reach here and count as padded.
pub(crate) const fn is_dense(layout: &Layout) -> bool {
    match &layout.kind {
        Kind::Primitive(_) | Kind::Atomic(_) | Kind::Bytes { .. } => true,
        Kind::Array { element, len } => *len == 0 || is_dense_ref(element),
        Kind::Struct { fields, .. } => match fields {
            Cow::Borrowed(fields) => {
                let mut covered = 0;
                let mut i = 0;
                while i < fields.len() {
                    if !is_dense_ref(&fields[i].ty) {
                        return false;
                    }
                    covered += size_of_ref(&fields[i].ty);
                    i += 1;
                }
                covered == layout.size
            }
            Cow::Owned(_) => false,
        },
    }
}

const fn is_dense_ref(layout: &LayoutRef) -> bool {
    match layout {
        LayoutRef::Static(layout) => is_dense(layout),
        LayoutRef::Owned(_) => false,
    }
}

const fn size_of_ref(layout: &LayoutRef) -> usize {
    match layout {
        LayoutRef::Static(layout) => layout.size,
        LayoutRef::Owned(layout) => layout.size,
    }
}

const fn has_atomic_ref(layout: &LayoutRef) -> bool {
    match layout {
        LayoutRef::Static(layout) => has_atomic(layout),
        LayoutRef::Owned(_) => false,
    }
}

const fn is_all_atomic_ref(layout: &LayoutRef) -> bool {
    match layout {
        LayoutRef::Static(layout) => is_all_atomic(layout),
        LayoutRef::Owned(_) => false,
    }
}

impl Layout {
    /// The type's name: the struct's name as declared, `"f64"` for a number,
    /// `"AtomicU32"` for an atomic, `"[Point; 3]"` for an array and
    /// `"ByteString<16>"` for a byte string.
    pub fn name(&self) -> Cow<'_, str> {
        match &self.kind {
            Kind::Array { element, len } => Cow::Owned(format!("[{}; {len}]", element.name())),
            Kind::Bytes { capacity } => Cow::Owned(format!("ByteString<{capacity}>")),
            _ => Cow::Borrowed(&self.name),
        }
    }

    /// The size in bytes, trailing padding included (`size_of`).
    pub fn size(&self) -> usize {
        self.size
    }

    /// The alignment in bytes (`align_of`).
    pub fn align(&self) -> usize {
        self.align
    }

    /// What the type is made of.
    pub fn kind(&self) -> &Kind {
        &self.kind
    }

    /// The fields of a struct, in declaration order; empty for any other type.
    pub fn fields(&self) -> &[Field] {
        match &self.kind {
            Kind::Struct { fields, .. } => fields,
            _ => &[],
        }
    }

    /// The descriptor of a number. For the `SharedLayout` impls.
    const fn primitive(primitive: Primitive) -> Layout {
        Layout {
            name: Cow::Borrowed(primitive.rust_name()),
            size: primitive.size(),
            align: primitive.size(),
            kind: Kind::Primitive(primitive),
        }
    }

    /// The descriptor of an atomic integer.
    const fn atomic(name: &'static str, primitive: Primitive) -> Layout {
        Layout {
            name: Cow::Borrowed(name),
            size: primitive.size(),
            align: primitive.size(),
            kind: Kind::Atomic(primitive),
        }
    }

    /// The descriptor of `[element; len]`; `element.size * len` must not
    /// overflow. Also for arrays whose length is only known at run time.
    pub(crate) const fn array(element: &'static Layout, len: usize) -> Layout {
        Layout {
            name: Cow::Borrowed(""),
            size: element.size * len,
            align: element.align,
            kind: Kind::Array {
                element: LayoutRef::Static(element),
                len,
            },
        }
    }

    /// The descriptor of a byte string of `capacity` bytes.
    pub(crate) const fn bytes(capacity: usize) -> Layout {
        Layout {
            name: Cow::Borrowed(""),
            size: capacity,
            align: 1,
            kind: Kind::Bytes { capacity },
        }
    }
}

/// A type that can live in shared memory, with its layout descriptor.
///
/// Derive it: `#[derive(SharedLayout)]` on a `#[repr(C)]` struct whose fields
/// are all `SharedLayout`. The numbers `u8..u64`, `i8..i64`, `f32`, `f64`, the
/// `Atomic*` integers, [`ByteString`] and arrays `[T; N]` of these implement
/// it already.
///
/// # Safety
///
/// An implementation promises that:
/// - every bit pattern of `size_of::<Self>()` bytes — whatever another process
///   may have written — is a valid value of `Self`;
/// - `Self` holds no pointer or reference, has no `Drop` glue, and its layout
///   is fixed (`#[repr(C)]` or a primitive), the same in every process built
///   for the same target;
/// - [`LAYOUT`](Self::LAYOUT) describes exactly that layout: `size_of`,
///   `align_of`, and every field's offset and type.
///
/// The derive checks all of this at compile time; implement it by hand only
/// with the same care.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot live in shared memory",
    label = "`{Self}` does not implement `SharedLayout`",
    note = "shared memory holds numbers (u8..u64, i8..i64, f32, f64), Atomic* integers, \
            ByteString<N>, arrays [T; N] of these, and #[repr(C)] structs with \
            #[derive(SharedLayout)]",
    note = "an enum, `bool`, `char` or `Option` is not valid for every byte another process \
            may write: store an integer (e.g. u8) and convert it when reading"
)]
pub unsafe trait SharedLayout: Sized + 'static {
    /// The layout descriptor: name, size, alignment and fields.
    const LAYOUT: &'static Layout;
}

macro_rules! primitive_layouts {
    ($($ty:ty => $primitive:ident),* $(,)?) => {$(
        // SAFETY: every bit pattern is a valid number, a number holds no
        // pointer and has no drop glue, and `Primitive::size` is its size and
        // alignment on the targets this crate builds for (checked below).
        // (`do_not_recommend`: a missing-impl error should not list every number.)
        #[diagnostic::do_not_recommend]
        unsafe impl SharedLayout for $ty {
            const LAYOUT: &'static Layout = &Layout::primitive(Primitive::$primitive);
        }
        static_assertions::const_assert_eq!(
            ::core::mem::size_of::<$ty>(),
            Primitive::$primitive.size()
        );
        static_assertions::const_assert_eq!(
            ::core::mem::align_of::<$ty>(),
            Primitive::$primitive.size()
        );
    )*};
}

primitive_layouts! {
    u8 => U8, u16 => U16, u32 => U32, u64 => U64,
    i8 => I8, i16 => I16, i32 => I32, i64 => I64,
    f32 => F32, f64 => F64,
}

macro_rules! atomic_layouts {
    ($($ty:ident => $primitive:ident),* $(,)?) => {$(
        // SAFETY: an atomic integer has the size, alignment and bit validity
        // of its integer (std documents this for every `Atomic*`, checked
        // below), holds no pointer and has no drop glue.
        #[diagnostic::do_not_recommend]
        unsafe impl SharedLayout for $ty {
            const LAYOUT: &'static Layout = &Layout::atomic(stringify!($ty), Primitive::$primitive);
        }
        static_assertions::const_assert_eq!(
            ::core::mem::size_of::<$ty>(),
            Primitive::$primitive.size()
        );
        static_assertions::const_assert_eq!(
            ::core::mem::align_of::<$ty>(),
            Primitive::$primitive.size()
        );
    )*};
}

atomic_layouts! {
    AtomicU8 => U8, AtomicU16 => U16, AtomicU32 => U32, AtomicU64 => U64,
    AtomicI8 => I8, AtomicI16 => I16, AtomicI32 => I32, AtomicI64 => I64,
}

// SAFETY: `[T; N]` is `N` values of `T` laid out back to back with no padding
// between them (the Rust reference, "Type layout: array layout"), so it is
// valid for every bit pattern, pointer-free and drop-free exactly when `T` is,
// which `T: SharedLayout` promises; its size is `N * size_of::<T>()` and its
// alignment `align_of::<T>()`, as `Layout::array` records.
#[diagnostic::do_not_recommend]
unsafe impl<T: SharedLayout, const N: usize> SharedLayout for [T; N] {
    const LAYOUT: &'static Layout = &Layout::array(T::LAYOUT, N);
}

// SAFETY: `ByteString<N>` is `#[repr(transparent)]` over `[u8; N]`: every bit
// pattern is valid, it holds no pointer and has no drop glue; size `N`,
// alignment 1.
#[diagnostic::do_not_recommend]
unsafe impl<const N: usize> SharedLayout for ByteString<N> {
    const LAYOUT: &'static Layout = &Layout::bytes(N);
}

/// Constructors the derive's expansion calls; not a public API.
#[doc(hidden)]
pub mod construct {
    use super::{Field, Kind, Layout, LayoutRef};
    use std::borrow::Cow;

    /// A struct field at `offset` whose type is described by `ty`.
    pub const fn field(name: &'static str, offset: usize, ty: &'static Layout) -> Field {
        Field {
            name: Cow::Borrowed(name),
            offset,
            ty: LayoutRef::Static(ty),
        }
    }

    /// A `#[repr(C)]` struct; `packed` and `align` are the `repr` arguments.
    pub const fn structure(
        name: &'static str,
        size: usize,
        align: usize,
        packed: Option<usize>,
        repr_align: Option<usize>,
        fields: &'static [Field],
    ) -> Layout {
        Layout {
            name: Cow::Borrowed(name),
            size,
            align,
            kind: Kind::Struct {
                fields: Cow::Borrowed(fields),
                packed,
                align: repr_align,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_describe_themselves() {
        assert_eq!(f64::LAYOUT.name(), "f64");
        assert_eq!(f64::LAYOUT.size(), 8);
        assert_eq!(u16::LAYOUT.align(), 2);
        assert_eq!(AtomicU32::LAYOUT.name(), "AtomicU32");
        assert_eq!(*AtomicU32::LAYOUT.kind(), Kind::Atomic(Primitive::U32));
        assert!(i8::LAYOUT.fields().is_empty());
    }

    #[test]
    fn padding_anywhere_is_found() {
        #[derive(crate::SharedLayout)]
        #[repr(C)]
        #[allow(dead_code)] // only its layout is used
        struct Padded {
            a: u8,
            b: u32,
        }
        #[derive(crate::SharedLayout)]
        #[repr(C)]
        #[allow(dead_code)] // only its layout is used
        struct Dense {
            a: u32,
            b: [u8; 4],
        }
        assert!(is_dense(f64::LAYOUT));
        assert!(is_dense(Dense::LAYOUT));
        assert!(is_dense(<[Dense; 2]>::LAYOUT));
        assert!(!is_dense(Padded::LAYOUT));
        assert!(!is_dense(<[Padded; 2]>::LAYOUT));
    }

    #[test]
    fn an_atomic_anywhere_is_found() {
        assert!(has_atomic(AtomicU32::LAYOUT));
        assert!(has_atomic(<[[AtomicU8; 2]; 3]>::LAYOUT));
        assert!(!has_atomic(<[AtomicU8; 0]>::LAYOUT), "no bytes at all");
        assert!(!has_atomic(<[u32; 2]>::LAYOUT));
        assert!(!has_atomic(crate::ByteString::<4>::LAYOUT));
    }

    #[test]
    fn only_atomics_all_the_way_down_are_all_atomic() {
        assert!(is_all_atomic(AtomicU32::LAYOUT));
        assert!(is_all_atomic(<[[AtomicU8; 2]; 3]>::LAYOUT));
        assert!(is_all_atomic(<[u64; 0]>::LAYOUT), "no bytes at all");
        assert!(!is_all_atomic(u32::LAYOUT));
        assert!(!is_all_atomic(<[u32; 2]>::LAYOUT));
        assert!(!is_all_atomic(crate::ByteString::<4>::LAYOUT));
    }

    #[test]
    fn arrays_nest() {
        let layout = <[[u32; 2]; 3]>::LAYOUT;
        assert_eq!(layout.name(), "[[u32; 2]; 3]");
        assert_eq!(layout.size(), 24);
        assert_eq!(layout.align(), 4);
        let Kind::Array { element, len } = layout.kind() else {
            panic!("not an array: {layout:?}")
        };
        assert_eq!(*len, 3);
        assert_eq!(element.size(), 8);
    }

    #[test]
    fn byte_strings_have_capacity() {
        let layout = ByteString::<16>::LAYOUT;
        assert_eq!(layout.name(), "ByteString<16>");
        assert_eq!((layout.size(), layout.align()), (16, 1));
        assert_eq!(*layout.kind(), Kind::Bytes { capacity: 16 });
    }
}
