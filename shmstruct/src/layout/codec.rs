//! The binary encoding of a [`Layout`], stored in segment headers.
//!
//! An encoding is a version byte, an endianness byte, then one node: the
//! layout tree written depth first. Integers are little-endian; sizes,
//! offsets, lengths and alignments are `u64`, counts and name lengths `u32`,
//! so the bytes do not depend on the writer's pointer width.
//!
//! | bytes | content                                                          |
//! |-------|------------------------------------------------------------------|
//! | 1     | format version, [`VERSION`]                                      |
//! | 1     | the writer's byte order: 1 little-endian, 2 big-endian           |
//! | ...   | the root node                                                    |
//!
//! A node:
//!
//! | bytes | content                                                          |
//! |-------|------------------------------------------------------------------|
//! | 1     | tag: 1 primitive, 2 atomic, 3 array, 4 byte string, 5 struct     |
//! | 8     | size                                                             |
//! | 8     | alignment                                                        |
//! | 1     | primitive, atomic: the number's code, its index in [`Primitive::ALL`] |
//! | 8 + … | array: length, then the element's node                           |
//! | 8     | byte string: capacity                                            |
//! | …     | struct: name, `packed` (0 for none), `align` (0 for none), field count (`u32`), then per field: name, offset (`u64`), the field type's node |
//!
//! A name is its length in bytes (`u32`) then that many bytes of UTF-8.
//! Primitives, atomics, arrays and byte strings carry no name: theirs follow
//! from their kind. Nested structs are written out in full wherever they
//! occur (no back references), so decoding never builds more than its input
//! describes.
//!
//! Every valid encoding is canonical: [`Layout::decode`] accepts exactly the
//! bytes that [`Layout::encode`] would write for the layout it returns.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::atomic::{AtomicI16, AtomicI32, AtomicI64, AtomicI8};
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8};

use super::{Field, Kind, Layout, LayoutRef, Primitive, SharedLayout};

/// The format version written as the first byte.
const VERSION: u8 = 1;

/// The byte-order byte of a little-endian writer.
const LITTLE_ENDIAN: u8 = 1;
/// The byte-order byte of a big-endian writer.
const BIG_ENDIAN: u8 = 2;
/// The byte-order byte this process writes and accepts.
const NATIVE_ENDIAN: u8 = if cfg!(target_endian = "big") {
    BIG_ENDIAN
} else {
    LITTLE_ENDIAN
};

/// The first byte of a node: what kind of type it describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Primitive = 1,
    Atomic = 2,
    Array = 3,
    Bytes = 4,
    Struct = 5,
}

impl Tag {
    fn of(kind: &Kind) -> Tag {
        match kind {
            Kind::Primitive(_) => Tag::Primitive,
            Kind::Atomic(_) => Tag::Atomic,
            Kind::Array { .. } => Tag::Array,
            Kind::Bytes { .. } => Tag::Bytes,
            Kind::Struct { .. } => Tag::Struct,
        }
    }

    fn from_byte(byte: u8) -> Option<Tag> {
        [
            Tag::Primitive,
            Tag::Atomic,
            Tag::Array,
            Tag::Bytes,
            Tag::Struct,
        ]
        .into_iter()
        .find(|&tag| tag as u8 == byte)
    }
}

/// The largest size, offset or length a descriptor may hold: no Rust object
/// is larger than `isize::MAX` bytes.
const MAX_SIZE: u64 = isize::MAX as u64;

impl Layout {
    /// The longest encoding [`decode`](Layout::decode) accepts, in bytes.
    pub const MAX_ENCODED_LEN: usize = 64 * 1024;
    /// The deepest nesting [`decode`](Layout::decode) accepts: the root counts
    /// as 1, each array element or struct field type one more.
    pub const MAX_DEPTH: usize = 32;
    /// The most fields one struct may have in a decoded descriptor.
    pub const MAX_FIELDS: usize = 1024;
    /// The longest struct or field name, in bytes of UTF-8.
    pub const MAX_NAME_LEN: usize = 255;

    /// The descriptor's binary encoding, for a segment header.
    ///
    /// The bytes record this process's byte order, so a process of the other
    /// byte order refuses them and gets another [`fingerprint`](Layout::fingerprint).
    /// A layout beyond the decoding limits ([`MAX_ENCODED_LEN`](Layout::MAX_ENCODED_LEN),
    /// [`MAX_DEPTH`](Layout::MAX_DEPTH), [`MAX_FIELDS`](Layout::MAX_FIELDS),
    /// [`MAX_NAME_LEN`](Layout::MAX_NAME_LEN)) still encodes, but
    /// [`decode`](Layout::decode) refuses the result.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmstruct::{Layout, SharedLayout};
    ///
    /// let bytes = <[u32; 4]>::LAYOUT.encode();
    /// assert_eq!(Layout::decode(&bytes).unwrap(), *<[u32; 4]>::LAYOUT);
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_encoding(self, &mut out);
        out
    }

    /// Reads a descriptor back from [`encode`](Layout::encode)'s bytes.
    ///
    /// The input is treated as hostile: its length, nesting depth, field
    /// counts and names are bounded, and every size, offset and alignment is
    /// checked against its container. Nested layouts of the result are
    /// [`LayoutRef::Owned`].
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] saying what is wrong and at which byte, when the
    /// bytes are not exactly the encoding of a consistent layout written by a
    /// process of this byte order.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmstruct::layout::DecodeError;
    /// use shmstruct::Layout;
    ///
    /// let error = Layout::decode(&[1]).unwrap_err();
    /// assert!(matches!(error, DecodeError::Truncated { at: 1, .. }));
    /// ```
    pub fn decode(bytes: &[u8]) -> Result<Layout, DecodeError> {
        if bytes.len() > Layout::MAX_ENCODED_LEN {
            return Err(DecodeError::TooLong {
                len: bytes.len(),
                max: Layout::MAX_ENCODED_LEN,
            });
        }
        let mut reader = Reader { bytes, at: 0 };
        let version = reader.u8("the format version")?;
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion {
                found: version,
                supported: VERSION,
            });
        }
        let at = reader.at;
        let order = reader.u8("the byte order")?;
        if order != NATIVE_ENDIAN {
            return Err(if order == LITTLE_ENDIAN || order == BIG_ENDIAN {
                DecodeError::ForeignByteOrder {
                    at,
                    writer: byte_order_name(order),
                    reader: byte_order_name(NATIVE_ENDIAN),
                }
            } else {
                DecodeError::BadByteOrder { at, byte: order }
            });
        }
        let layout = reader.node(1)?;
        if reader.at != bytes.len() {
            return Err(DecodeError::TrailingBytes {
                at: reader.at,
                count: bytes.len() - reader.at,
            });
        }
        Ok(layout)
    }
}

/// Why [`Layout::decode`] refused its input. Every case says at which byte of
/// the encoding the problem starts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input is longer than any descriptor may be.
    #[error("layout descriptor of {len} bytes is longer than the limit of {max} bytes")]
    TooLong {
        /// The input's length.
        len: usize,
        /// [`Layout::MAX_ENCODED_LEN`].
        max: usize,
    },
    /// The input ends in the middle of an item.
    #[error(
        "layout descriptor truncated at byte {at}: {what} needs {needed} bytes, \
         only {available} left"
    )]
    Truncated {
        /// Where the item starts.
        at: usize,
        /// What was being read.
        what: &'static str,
        /// The bytes it needs.
        needed: usize,
        /// The bytes left.
        available: usize,
    },
    /// The first byte is not a format version this build reads.
    #[error("layout descriptor format version {found} at byte 0 is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        /// The version found.
        found: u8,
        /// The version this build reads and writes.
        supported: u8,
    },
    /// The byte-order byte is neither little- nor big-endian.
    #[error(
        "byte {at} of the layout descriptor should give the byte order (1 or 2) but is {byte}"
    )]
    BadByteOrder {
        /// Where the byte is.
        at: usize,
        /// Its value.
        byte: u8,
    },
    /// The descriptor was written by a process of the other byte order.
    #[error(
        "the layout descriptor was written by a {writer} process (byte {at}) \
         but this process is {reader}: the data would be unreadable"
    )]
    ForeignByteOrder {
        /// Where the byte-order byte is.
        at: usize,
        /// The writer's byte order.
        writer: &'static str,
        /// This process's byte order.
        reader: &'static str,
    },
    /// A node starts with an unknown tag.
    #[error("byte {at} of the layout descriptor should be a type tag (1 to 5) but is {tag}")]
    BadTag {
        /// Where the tag is.
        at: usize,
        /// Its value.
        tag: u8,
    },
    /// A primitive or atomic names an unknown number type.
    #[error("byte {at} of the layout descriptor should be a number type (0 to 9) but is {code}")]
    BadPrimitive {
        /// Where the code is.
        at: usize,
        /// Its value.
        code: u8,
    },
    /// An atomic of a number type that has no atomic (a float).
    #[error(
        "byte {at} of the layout descriptor describes an atomic {primitive}, which does not exist"
    )]
    NoSuchAtomic {
        /// Where the number type's code is.
        at: usize,
        /// The number type.
        primitive: &'static str,
    },
    /// A name is longer than [`Layout::MAX_NAME_LEN`].
    #[error("the name at byte {at} of the layout descriptor is {len} bytes long, more than the limit of {max}")]
    NameTooLong {
        /// Where the name's length is.
        at: usize,
        /// The length it gives.
        len: u64,
        /// [`Layout::MAX_NAME_LEN`].
        max: usize,
    },
    /// A name is not UTF-8.
    #[error("the name at byte {at} of the layout descriptor is not UTF-8 (invalid from its byte {valid_up_to})")]
    NameNotUtf8 {
        /// Where the name's bytes start.
        at: usize,
        /// How many of its bytes are valid UTF-8.
        valid_up_to: usize,
    },
    /// A name is not an identifier (letters, digits and `_`, not starting
    /// with a digit).
    #[error("the name {name:?} at byte {at} of the layout descriptor is not an identifier")]
    NotAnIdentifier {
        /// Where the name's bytes start.
        at: usize,
        /// The name.
        name: String,
    },
    /// Nodes nest deeper than [`Layout::MAX_DEPTH`].
    #[error("the layout descriptor nests deeper than {max} levels at byte {at}")]
    TooDeep {
        /// Where the node that is too deep starts.
        at: usize,
        /// [`Layout::MAX_DEPTH`].
        max: usize,
    },
    /// A struct has more than [`Layout::MAX_FIELDS`] fields.
    #[error("the struct at byte {at} of the layout descriptor has {count} fields, more than the limit of {max}")]
    TooManyFields {
        /// Where the field count is.
        at: usize,
        /// The count.
        count: u32,
        /// [`Layout::MAX_FIELDS`].
        max: usize,
    },
    /// A struct has two fields of the same name.
    #[error("field `{name}` at byte {at} of the layout descriptor appears twice in its struct")]
    DuplicateField {
        /// Where the second field starts.
        at: usize,
        /// Its name.
        name: String,
    },
    /// A size, offset or length is larger than any object can be.
    #[error(
        "the {what} {value} at byte {at} of the layout descriptor is larger than any object can be"
    )]
    TooLarge {
        /// Where the number is.
        at: usize,
        /// What it is.
        what: &'static str,
        /// Its value.
        value: u64,
    },
    /// An alignment (or `packed`/`align` argument) is not a power of two.
    #[error("the {what} {value} at byte {at} of the layout descriptor is not a power of two")]
    NotPowerOfTwo {
        /// Where the number is.
        at: usize,
        /// What it is.
        what: &'static str,
        /// Its value.
        value: u64,
    },
    /// An array's size, `len` times the element's size, overflows.
    #[error("the array at byte {at} of the layout descriptor, {len} elements of {element_size} bytes, is larger than any object can be")]
    ArrayTooLarge {
        /// Where the array's node starts.
        at: usize,
        /// Its length.
        len: usize,
        /// Its element's size.
        element_size: usize,
    },
    /// A node's size is not the one its kind implies.
    #[error("`{ty}` at byte {at} of the layout descriptor is {expected} bytes, but the descriptor says {found}")]
    WrongSize {
        /// Where the node starts.
        at: usize,
        /// The type.
        ty: String,
        /// The size its kind implies.
        expected: usize,
        /// The size the descriptor gives.
        found: usize,
    },
    /// A node's alignment is not the one its kind implies.
    #[error("`{ty}` at byte {at} of the layout descriptor is aligned to {expected} bytes, but the descriptor says {found}")]
    WrongAlign {
        /// Where the node starts.
        at: usize,
        /// The type.
        ty: String,
        /// The alignment its kind implies.
        expected: usize,
        /// The alignment the descriptor gives.
        found: usize,
    },
    /// A field ends past the end of its struct.
    #[error(
        "field `{field}` at byte {at} of the layout descriptor, {size} bytes at offset \
         {offset}, ends past the end of its {struct_size}-byte struct"
    )]
    FieldPastEnd {
        /// Where the field starts.
        at: usize,
        /// Its name.
        field: String,
        /// Its offset.
        offset: usize,
        /// Its size.
        size: usize,
        /// The struct's size.
        struct_size: usize,
    },
    /// A field starts before the previous one ends.
    #[error(
        "field `{field}` at byte {at} of the layout descriptor starts at offset {offset}, \
         before the previous field ends at {previous_end}"
    )]
    FieldOverlap {
        /// Where the field starts.
        at: usize,
        /// Its name.
        field: String,
        /// Its offset.
        offset: usize,
        /// Where the previous field ends.
        previous_end: usize,
    },
    /// A field's offset is not a multiple of its alignment in the struct.
    #[error(
        "field `{field}` at byte {at} of the layout descriptor is at offset {offset}, \
         which is not a multiple of its alignment {align}"
    )]
    FieldMisaligned {
        /// Where the field starts.
        at: usize,
        /// Its name.
        field: String,
        /// Its offset.
        offset: usize,
        /// Its alignment in the struct (capped by `packed`).
        align: usize,
    },
    /// A struct is less aligned than a field or its `align` argument requires.
    #[error(
        "struct `{name}` at byte {at} of the layout descriptor is aligned to {align} bytes, \
         less than the {required} its fields or `align` require"
    )]
    StructUnderaligned {
        /// Where the struct's node starts.
        at: usize,
        /// Its name.
        name: String,
        /// Its alignment.
        align: usize,
        /// The alignment required.
        required: usize,
    },
    /// A struct's size is not a multiple of its alignment.
    #[error(
        "struct `{name}` at byte {at} of the layout descriptor is {size} bytes, \
         not a multiple of its alignment {align}"
    )]
    SizeNotMultipleOfAlign {
        /// Where the struct's node starts.
        at: usize,
        /// Its name.
        name: String,
        /// Its size.
        size: usize,
        /// Its alignment.
        align: usize,
    },
    /// Bytes follow the complete descriptor.
    #[error("the layout descriptor ends at byte {at} but {count} more bytes follow")]
    TrailingBytes {
        /// Where the descriptor ends.
        at: usize,
        /// How many bytes follow.
        count: usize,
    },
}

/// The root node of an encoded descriptor, read without decoding the rest:
/// what an opener whose expected layout depends on the stored one (an
/// array's length, a byte string's capacity) needs before it compares the
/// whole encoding with the one it expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StoredRoot {
    /// An array of `len` elements, `size` bytes in all.
    Array { size: usize, len: usize },
    /// A byte string of `capacity` bytes.
    Bytes { capacity: usize },
    /// Anything else, `size` bytes.
    Other { size: usize },
}

impl StoredRoot {
    /// The size of the stored type, in bytes.
    pub(crate) fn size(self) -> usize {
        match self {
            StoredRoot::Array { size, .. } | StoredRoot::Other { size } => size,
            StoredRoot::Bytes { capacity } => capacity,
        }
    }

    /// The root of a decoded layout.
    pub(crate) fn of(layout: &Layout) -> StoredRoot {
        match layout.kind {
            Kind::Array { len, .. } => StoredRoot::Array {
                size: layout.size,
                len,
            },
            Kind::Bytes { capacity } => StoredRoot::Bytes { capacity },
            _ => StoredRoot::Other { size: layout.size },
        }
    }

    /// Reads the root from the fixed places of an encoding: the format
    /// version and byte order, the root's tag and size, and an array's
    /// length or a byte string's capacity. `None` when these are not what
    /// [`Layout::decode`] would accept (decode the bytes to learn why).
    ///
    /// Nothing beyond the root is looked at: the caller compares the whole
    /// encoding with the one it expects, byte for byte.
    pub(crate) fn peek(bytes: &[u8]) -> Option<StoredRoot> {
        if bytes.len() > Layout::MAX_ENCODED_LEN
            || bytes.first() != Some(&VERSION)
            || bytes.get(1) != Some(&NATIVE_ENDIAN)
        {
            return None;
        }
        let word = |at: usize| -> Option<usize> {
            let value = u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?);
            usize::try_from(value).ok().filter(|_| value <= MAX_SIZE)
        };
        // Tag at 2, size at 3, alignment at 11, then the kind's fields.
        let size = word(3)?;
        match Tag::from_byte(*bytes.get(2)?)? {
            Tag::Array => Some(StoredRoot::Array {
                size,
                len: word(19)?,
            }),
            Tag::Bytes => {
                let capacity = word(19)?;
                (capacity == size).then_some(StoredRoot::Bytes { capacity })
            }
            Tag::Primitive | Tag::Atomic | Tag::Struct => Some(StoredRoot::Other { size }),
        }
    }
}

/// Where encoded bytes go: a buffer, or a hasher for the fingerprint.
pub(super) trait Sink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Writes the encoding of `layout`, header included, to `out`.
pub(super) fn write_encoding(layout: &Layout, out: &mut impl Sink) {
    out.put(&[VERSION, NATIVE_ENDIAN]);
    write_node(layout, out);
}

fn write_node(layout: &Layout, out: &mut impl Sink) {
    out.put(&[Tag::of(&layout.kind) as u8]);
    put_usize(out, layout.size);
    put_usize(out, layout.align);
    match &layout.kind {
        Kind::Primitive(primitive) | Kind::Atomic(primitive) => {
            out.put(&[primitive_code(*primitive)]);
        }
        Kind::Array { element, len } => {
            put_usize(out, *len);
            write_node(element, out);
        }
        Kind::Bytes { capacity } => put_usize(out, *capacity),
        Kind::Struct {
            fields,
            packed,
            align,
        } => {
            put_name(out, &layout.name);
            put_usize(out, packed.unwrap_or(0));
            put_usize(out, align.unwrap_or(0));
            put_u32(out, fields.len());
            for field in fields.iter() {
                put_name(out, &field.name);
                put_usize(out, field.offset);
                write_node(&field.ty, out);
            }
        }
    }
}

fn put_usize(out: &mut impl Sink, value: usize) {
    // Lossless: `usize` is at most 64 bits wide on every Rust target.
    out.put(&(value as u64).to_le_bytes());
}

/// Writes a count or length as `u32`; one that does not fit (it cannot
/// occur in a real type) saturates, and decoding then refuses it.
fn put_u32(out: &mut impl Sink, value: usize) {
    out.put(&u32::try_from(value).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_name(out: &mut impl Sink, name: &str) {
    put_u32(out, name.len());
    out.put(name.as_bytes());
}

fn primitive_code(primitive: Primitive) -> u8 {
    match primitive {
        Primitive::U8 => 0,
        Primitive::U16 => 1,
        Primitive::U32 => 2,
        Primitive::U64 => 3,
        Primitive::I8 => 4,
        Primitive::I16 => 5,
        Primitive::I32 => 6,
        Primitive::I64 => 7,
        Primitive::F32 => 8,
        Primitive::F64 => 9,
    }
}

/// The `'static` descriptor of a number, which a decoded one equals.
fn primitive_layout(primitive: Primitive) -> &'static Layout {
    match primitive {
        Primitive::U8 => u8::LAYOUT,
        Primitive::U16 => u16::LAYOUT,
        Primitive::U32 => u32::LAYOUT,
        Primitive::U64 => u64::LAYOUT,
        Primitive::I8 => i8::LAYOUT,
        Primitive::I16 => i16::LAYOUT,
        Primitive::I32 => i32::LAYOUT,
        Primitive::I64 => i64::LAYOUT,
        Primitive::F32 => f32::LAYOUT,
        Primitive::F64 => f64::LAYOUT,
    }
}

/// The `'static` descriptor of an atomic integer; floats have none.
fn atomic_layout(primitive: Primitive) -> Option<&'static Layout> {
    match primitive {
        Primitive::U8 => Some(AtomicU8::LAYOUT),
        Primitive::U16 => Some(AtomicU16::LAYOUT),
        Primitive::U32 => Some(AtomicU32::LAYOUT),
        Primitive::U64 => Some(AtomicU64::LAYOUT),
        Primitive::I8 => Some(AtomicI8::LAYOUT),
        Primitive::I16 => Some(AtomicI16::LAYOUT),
        Primitive::I32 => Some(AtomicI32::LAYOUT),
        Primitive::I64 => Some(AtomicI64::LAYOUT),
        Primitive::F32 | Primitive::F64 => None,
    }
}

fn byte_order_name(byte: u8) -> &'static str {
    if byte == BIG_ENDIAN {
        "big-endian"
    } else {
        "little-endian"
    }
}

/// Letters, digits and `_`, not empty and not starting with a digit: what
/// Rust and Python both accept as a name, and nothing that could break out
/// of generated source.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first == '_' || first.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// A cursor over untrusted bytes. `at <= bytes.len()` always holds.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn truncated(&self, what: &'static str, needed: usize) -> DecodeError {
        DecodeError::Truncated {
            at: self.at,
            what,
            needed,
            available: self.bytes.len() - self.at,
        }
    }

    fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.at..).unwrap_or_default()
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let Some((head, _)) = self.rest().split_first_chunk::<N>() else {
            return Err(self.truncated(what, N));
        };
        self.at += N;
        Ok(*head)
    }

    fn slice(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let Some(head) = self.rest().get(..len) else {
            return Err(self.truncated(what, len));
        };
        self.at += len;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        let [byte] = self.array(what)?;
        Ok(byte)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        self.array(what).map(u32::from_le_bytes)
    }

    /// A size, offset or length: a `u64` no larger than any object can be.
    fn size(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let at = self.at;
        let value = u64::from_le_bytes(self.array(what)?);
        match usize::try_from(value) {
            Ok(size) if value <= MAX_SIZE => Ok(size),
            _ => Err(DecodeError::TooLarge { at, what, value }),
        }
    }

    /// An alignment: a power of two.
    fn align(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let at = self.at;
        let align = self.size(what)?;
        if !align.is_power_of_two() {
            return Err(DecodeError::NotPowerOfTwo {
                at,
                what,
                value: align as u64,
            });
        }
        Ok(align)
    }

    /// A `packed(n)` or `align(n)` argument: 0 for none, else a power of two.
    fn repr_argument(&mut self, what: &'static str) -> Result<Option<usize>, DecodeError> {
        let at = self.at;
        match self.size(what)? {
            0 => Ok(None),
            n if n.is_power_of_two() => Ok(Some(n)),
            n => Err(DecodeError::NotPowerOfTwo {
                at,
                what,
                value: n as u64,
            }),
        }
    }

    fn name(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let len_at = self.at;
        let len = self.u32(what)?;
        let len = match usize::try_from(len) {
            Ok(len) if len <= Layout::MAX_NAME_LEN => len,
            _ => {
                return Err(DecodeError::NameTooLong {
                    at: len_at,
                    len: len.into(),
                    max: Layout::MAX_NAME_LEN,
                })
            }
        };
        let at = self.at;
        let bytes = self.slice(len, what)?;
        let name = std::str::from_utf8(bytes).map_err(|error| DecodeError::NameNotUtf8 {
            at,
            valid_up_to: error.valid_up_to(),
        })?;
        if !is_identifier(name) {
            return Err(DecodeError::NotAnIdentifier {
                at,
                name: name.to_owned(),
            });
        }
        Ok(name.to_owned())
    }

    fn primitive(&mut self) -> Result<Primitive, DecodeError> {
        let at = self.at;
        let code = self.u8("a number type")?;
        Primitive::ALL
            .get(usize::from(code))
            .copied()
            .ok_or(DecodeError::BadPrimitive { at, code })
    }

    /// One node at nesting level `depth` (the root is 1). Recursion is
    /// bounded by [`Layout::MAX_DEPTH`].
    fn node(&mut self, depth: usize) -> Result<Layout, DecodeError> {
        let at = self.at;
        if depth > Layout::MAX_DEPTH {
            return Err(DecodeError::TooDeep {
                at,
                max: Layout::MAX_DEPTH,
            });
        }
        let byte = self.u8("a type tag")?;
        let node_tag = Tag::from_byte(byte).ok_or(DecodeError::BadTag { at, tag: byte })?;
        let size = self.size("size")?;
        let align = self.align("alignment")?;
        let implied = match node_tag {
            Tag::Primitive => primitive_layout(self.primitive()?).clone(),
            Tag::Atomic => {
                let code_at = self.at;
                let primitive = self.primitive()?;
                atomic_layout(primitive)
                    .ok_or(DecodeError::NoSuchAtomic {
                        at: code_at,
                        primitive: primitive.rust_name(),
                    })?
                    .clone()
            }
            Tag::Array => {
                let len = self.size("array length")?;
                let element = self.node(depth + 1)?;
                let Some(array_size) = element
                    .size
                    .checked_mul(len)
                    .filter(|&total| total as u64 <= MAX_SIZE)
                else {
                    return Err(DecodeError::ArrayTooLarge {
                        at,
                        len,
                        element_size: element.size,
                    });
                };
                Layout {
                    name: Cow::Borrowed(""),
                    size: array_size,
                    align: element.align,
                    kind: Kind::Array {
                        element: LayoutRef::Owned(Box::new(element)),
                        len,
                    },
                }
            }
            Tag::Bytes => {
                let capacity = self.size("byte string capacity")?;
                Layout {
                    name: Cow::Borrowed(""),
                    size: capacity,
                    align: 1,
                    kind: Kind::Bytes { capacity },
                }
            }
            Tag::Struct => return self.structure(at, size, align, depth),
        };
        if implied.size != size {
            return Err(DecodeError::WrongSize {
                at,
                ty: implied.name().into_owned(),
                expected: implied.size,
                found: size,
            });
        }
        if implied.align != align {
            return Err(DecodeError::WrongAlign {
                at,
                ty: implied.name().into_owned(),
                expected: implied.align,
                found: align,
            });
        }
        Ok(implied)
    }

    /// The rest of a struct node that starts at `at`, after its size and
    /// alignment.
    fn structure(
        &mut self,
        at: usize,
        size: usize,
        align: usize,
        depth: usize,
    ) -> Result<Layout, DecodeError> {
        let name = self.name("the struct name")?;
        let packed = self.repr_argument("packed argument")?;
        let repr_align = self.repr_argument("align argument")?;
        let count_at = self.at;
        let count = self.u32("the field count")?;
        let count = match usize::try_from(count) {
            Ok(count) if count <= Layout::MAX_FIELDS => count,
            _ => {
                return Err(DecodeError::TooManyFields {
                    at: count_at,
                    count,
                    max: Layout::MAX_FIELDS,
                })
            }
        };
        let underaligned = |required: usize| DecodeError::StructUnderaligned {
            at,
            name: name.clone(),
            align,
            required,
        };
        let mut fields = Vec::with_capacity(count);
        let mut names = HashSet::with_capacity(count);
        let mut previous_end = 0;
        for _ in 0..count {
            let field_at = self.at;
            let field = self.name("a field name")?;
            let offset = self.size("field offset")?;
            let ty = self.node(depth + 1)?;
            if !names.insert(field.clone()) {
                return Err(DecodeError::DuplicateField {
                    at: field_at,
                    name: field,
                });
            }
            if offset < previous_end {
                return Err(DecodeError::FieldOverlap {
                    at: field_at,
                    field,
                    offset,
                    previous_end,
                });
            }
            let Some(end) = offset.checked_add(ty.size).filter(|&end| end <= size) else {
                return Err(DecodeError::FieldPastEnd {
                    at: field_at,
                    field,
                    offset,
                    size: ty.size,
                    struct_size: size,
                });
            };
            // `packed(n)` caps every field's alignment at `n`.
            let field_align = packed.map_or(ty.align, |packed| packed.min(ty.align));
            if offset % field_align != 0 {
                return Err(DecodeError::FieldMisaligned {
                    at: field_at,
                    field,
                    offset,
                    align: field_align,
                });
            }
            if field_align > align {
                return Err(underaligned(field_align));
            }
            previous_end = end;
            fields.push(Field {
                name: Cow::Owned(field),
                offset,
                ty: LayoutRef::Owned(Box::new(ty)),
            });
        }
        if let Some(required) = repr_align.filter(|&required| required > align) {
            return Err(underaligned(required));
        }
        if size % align != 0 {
            return Err(DecodeError::SizeNotMultipleOfAlign {
                at,
                name,
                size,
                align,
            });
        }
        Ok(Layout {
            name: Cow::Owned(name),
            size,
            align,
            kind: Kind::Struct {
                fields: Cow::Owned(fields),
                packed,
                align: repr_align,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::layout::fixtures::Point;
    use crate::ByteString;

    #[derive(crate::SharedLayout)]
    #[repr(C)]
    #[allow(dead_code)] // only its layout is used
    struct Outer {
        tag: u8,
        at: Point,
        trail: [Point; 2],
        label: ByteString<5>,
        hits: AtomicU32,
        grid: [[i16; 3]; 2],
        bytes: [ByteString<3>; 2],
    }
    #[derive(crate::SharedLayout)]
    #[repr(C, packed(2))]
    #[allow(dead_code)] // only its layout is used
    struct Packed {
        a: u8,
        b: u32,
        c: u16,
        p: Point,
    }
    #[derive(crate::SharedLayout)]
    #[repr(C, packed)]
    #[allow(dead_code)] // only its layout is used
    struct Packed1 {
        a: u8,
        b: u64,
    }
    #[derive(crate::SharedLayout)]
    #[repr(C, align(16))]
    #[allow(dead_code)] // only its layout is used
    struct Aligned {
        a: u8,
        b: u16,
    }
    #[derive(crate::SharedLayout)]
    #[repr(C)]
    #[allow(dead_code)] // only its layout is used
    struct Empty {}
    #[derive(crate::SharedLayout)]
    #[repr(C)]
    #[allow(dead_code)] // only its layout is used
    struct Nested {
        n: u8,
        aligned: Aligned,
        packed: [Packed; 3],
        empty: Empty,
        last: i64,
        ünï: u8,
    }

    #[test]
    fn the_root_is_read_without_decoding() {
        let cases: [(&Layout, StoredRoot); 5] = [
            (u16::LAYOUT, StoredRoot::Other { size: 2 }),
            (Point::LAYOUT, StoredRoot::Other { size: 16 }),
            (<[Point; 3]>::LAYOUT, StoredRoot::Array { size: 48, len: 3 }),
            (<ByteString<5>>::LAYOUT, StoredRoot::Bytes { capacity: 5 }),
            (Outer::LAYOUT, StoredRoot::of(Outer::LAYOUT)),
        ];
        for (layout, root) in cases {
            let bytes = layout.encode();
            assert_eq!(StoredRoot::peek(&bytes), Some(root), "{layout:?}");
            // A prefix that stops inside the root, a foreign byte order, or
            // another format version is left to `decode` to explain.
            assert_eq!(StoredRoot::peek(&bytes[..bytes.len().min(10)]), None);
            let mut foreign = bytes.clone();
            foreign[1] = if NATIVE_ENDIAN == LITTLE_ENDIAN {
                BIG_ENDIAN
            } else {
                LITTLE_ENDIAN
            };
            assert_eq!(StoredRoot::peek(&foreign), None);
            let mut future = bytes;
            future[0] = VERSION + 1;
            assert_eq!(StoredRoot::peek(&future), None);
        }
        // A byte string whose capacity disagrees with its size.
        let mut bytes = <ByteString<5>>::LAYOUT.encode();
        bytes[19] = 6;
        assert_eq!(StoredRoot::peek(&bytes), None);
    }

    /// Asserts that `layout` survives encoding exactly, and that what
    /// decoding builds is owned all the way down.
    fn assert_round_trip(layout: &Layout) {
        let bytes = layout.encode();
        let decoded = Layout::decode(&bytes)
            .unwrap_or_else(|error| panic!("{layout:?} does not decode: {error}"));
        assert_eq!(decoded, *layout);
        assert_eq!(decoded.name(), layout.name());
        assert_eq!(decoded.encode(), bytes);
        assert_owned(&decoded);
    }

    fn assert_owned(layout: &Layout) {
        match layout.kind() {
            Kind::Array { element, .. } => {
                assert!(matches!(element, LayoutRef::Owned(_)));
                assert_owned(element);
            }
            Kind::Struct { fields, .. } => {
                assert!(matches!(fields, Cow::Owned(_)));
                for field in fields.iter() {
                    assert!(matches!(field.ty, LayoutRef::Owned(_)));
                    assert_owned(&field.ty);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn primitives_and_atomics_round_trip() {
        for primitive in Primitive::ALL {
            assert_eq!(
                Primitive::ALL[usize::from(primitive_code(primitive))],
                primitive
            );
            assert_round_trip(primitive_layout(primitive));
            if let Some(atomic) = atomic_layout(primitive) {
                assert_round_trip(atomic);
            }
        }
    }

    #[test]
    fn arrays_and_byte_strings_round_trip() {
        assert_round_trip(<[u8; 0]>::LAYOUT);
        assert_round_trip(<[[[u32; 2]; 3]; 4]>::LAYOUT);
        assert_round_trip(<[AtomicI64; 2]>::LAYOUT);
        assert_round_trip(ByteString::<0>::LAYOUT);
        assert_round_trip(ByteString::<16>::LAYOUT);
        assert_round_trip(<[ByteString<7>; 3]>::LAYOUT);
        assert_round_trip(<[Point; 3]>::LAYOUT);
    }

    #[test]
    fn structs_round_trip() {
        for layout in [
            Point::LAYOUT,
            Outer::LAYOUT,
            Packed::LAYOUT,
            Packed1::LAYOUT,
            Aligned::LAYOUT,
            Empty::LAYOUT,
            Nested::LAYOUT,
        ] {
            assert_round_trip(layout);
        }
        assert_eq!(Packed::LAYOUT.fields()[1].offset(), 2);
        assert_eq!(Aligned::LAYOUT.size(), 16);
    }

    /// Hand-assembled encodings, to say what the format is and to break it.
    #[derive(Clone)]
    struct Bytes(Vec<u8>);

    impl Bytes {
        fn header() -> Bytes {
            Bytes(vec![VERSION, NATIVE_ENDIAN])
        }

        fn u8(mut self, value: u8) -> Bytes {
            self.0.push(value);
            self
        }

        fn u32(mut self, value: u32) -> Bytes {
            self.0.extend_from_slice(&value.to_le_bytes());
            self
        }

        fn u64(mut self, value: u64) -> Bytes {
            self.0.extend_from_slice(&value.to_le_bytes());
            self
        }

        fn name(mut self, name: &[u8]) -> Bytes {
            self = self.u32(name.len() as u32);
            self.0.extend_from_slice(name);
            self
        }

        fn node(self, tag: Tag, size: u64, align: u64) -> Bytes {
            self.u8(tag as u8).u64(size).u64(align)
        }

        fn primitive(self, primitive: Primitive) -> Bytes {
            let size = primitive.size() as u64;
            self.node(Tag::Primitive, size, size)
                .u8(primitive_code(primitive))
        }

        #[allow(clippy::too_many_arguments)]
        fn structure(
            self,
            name: &str,
            size: u64,
            align: u64,
            packed: u64,
            repr_align: u64,
            fields: u32,
        ) -> Bytes {
            self.node(Tag::Struct, size, align)
                .name(name.as_bytes())
                .u64(packed)
                .u64(repr_align)
                .u32(fields)
        }

        fn field(self, name: &str, offset: u64) -> Bytes {
            self.name(name.as_bytes()).u64(offset)
        }

        fn decode(&self) -> Result<Layout, DecodeError> {
            Layout::decode(&self.0)
        }

        fn error(&self) -> DecodeError {
            match self.decode() {
                Ok(layout) => panic!("{:?} decoded to {layout:?}", self.0),
                Err(error) => error,
            }
        }
    }

    /// `struct Point { x: f64, y: f64 }`: 2 + 17 + 4 + 5 + 8 + 8 + 4 = 48
    /// bytes of head, then per field 4 + 1 + 8 + 18.
    fn point() -> Bytes {
        Bytes::header()
            .structure("Point", 16, 8, 0, 0, 2)
            .field("x", 0)
            .primitive(Primitive::F64)
            .field("y", 8)
            .primitive(Primitive::F64)
    }

    #[test]
    fn the_format_is_as_documented() {
        assert_eq!(Point::LAYOUT.encode(), point().0);
        assert_eq!(Point::LAYOUT.encode().len(), 48 + 2 * 31);
        assert_eq!(
            u16::LAYOUT.encode(),
            [
                VERSION,
                NATIVE_ENDIAN,
                1,
                2,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                2,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                1
            ]
        );
        assert_eq!(
            ByteString::<3>::LAYOUT.encode(),
            Bytes::header().node(Tag::Bytes, 3, 1).u64(3).0
        );
        assert_eq!(
            <[AtomicU8; 2]>::LAYOUT.encode(),
            Bytes::header()
                .node(Tag::Array, 2, 1)
                .u64(2)
                .node(Tag::Atomic, 1, 1)
                .u8(0)
                .0
        );
    }

    #[test]
    fn limits_are_reachable() {
        let name = "n".repeat(Layout::MAX_NAME_LEN);
        let long_name = Bytes::header().structure(&name, 0, 1, 0, 0, 0);
        assert_eq!(long_name.decode().unwrap().name(), name);

        let count = Layout::MAX_FIELDS as u32;
        let mut many = Bytes::header().structure("Many", count.into(), 1, 0, 0, count);
        for i in 0..count {
            many = many
                .field(&format!("f{i}"), i.into())
                .primitive(Primitive::U8);
        }
        assert!(many.0.len() <= Layout::MAX_ENCODED_LEN);
        assert_eq!(many.decode().unwrap().fields().len(), Layout::MAX_FIELDS);

        assert_eq!(
            nested_arrays(Layout::MAX_DEPTH - 1)
                .decode()
                .unwrap()
                .size(),
            1
        );
    }

    /// `depth` arrays of one element around a `u8`.
    fn nested_arrays(depth: usize) -> Bytes {
        let mut bytes = Bytes::header();
        for _ in 0..depth {
            bytes = bytes.node(Tag::Array, 1, 1).u64(1);
        }
        bytes.primitive(Primitive::U8)
    }

    #[test]
    fn refuses_what_is_too_long() {
        let mut bytes = point();
        bytes.0.resize(Layout::MAX_ENCODED_LEN + 1, 0);
        assert_eq!(
            bytes.error(),
            DecodeError::TooLong {
                len: Layout::MAX_ENCODED_LEN + 1,
                max: Layout::MAX_ENCODED_LEN
            }
        );
    }

    #[test]
    fn refuses_every_truncation() {
        let bytes = Outer::LAYOUT.encode();
        for len in 0..bytes.len() {
            match Layout::decode(&bytes[..len]) {
                Err(DecodeError::Truncated {
                    at,
                    needed,
                    available,
                    ..
                }) => {
                    assert_eq!(at + available, len);
                    assert!(needed > available);
                }
                other => panic!("{len} bytes of {}: {other:?}", bytes.len()),
            }
        }
        let message = Layout::decode(&bytes[..3]).unwrap_err().to_string();
        assert_eq!(
            message,
            "layout descriptor truncated at byte 3: size needs 8 bytes, only 0 left"
        );
    }

    #[test]
    fn refuses_bad_headers() {
        let rest = &point().0[2..];
        let with_header = |version: u8, order: u8| {
            let mut bytes = vec![version, order];
            bytes.extend_from_slice(rest);
            Layout::decode(&bytes).unwrap_err()
        };
        assert!(matches!(
            with_header(2, NATIVE_ENDIAN),
            DecodeError::UnsupportedVersion {
                found: 2,
                supported: 1
            }
        ));
        assert!(matches!(
            with_header(0, NATIVE_ENDIAN),
            DecodeError::UnsupportedVersion { found: 0, .. }
        ));
        for order in [0, 3, 255] {
            assert_eq!(
                with_header(VERSION, order),
                DecodeError::BadByteOrder { at: 1, byte: order }
            );
        }
        let foreign = with_header(VERSION, NATIVE_ENDIAN ^ LITTLE_ENDIAN ^ BIG_ENDIAN);
        assert!(matches!(
            foreign,
            DecodeError::ForeignByteOrder { at: 1, .. }
        ));
        assert!(foreign.to_string().contains("this process is"), "{foreign}");
    }

    #[test]
    fn refuses_bad_tags_and_numbers() {
        for tag in [0, 6, 255] {
            assert_eq!(
                Bytes::header().u8(tag).error(),
                DecodeError::BadTag { at: 2, tag }
            );
        }
        let bad_number = Bytes::header().node(Tag::Primitive, 1, 1).u8(10);
        assert_eq!(
            bad_number.error(),
            DecodeError::BadPrimitive { at: 19, code: 10 }
        );
        for float in [Primitive::F32, Primitive::F64] {
            let size = float.size() as u64;
            let atomic_float = Bytes::header()
                .node(Tag::Atomic, size, size)
                .u8(primitive_code(float));
            assert_eq!(
                atomic_float.error(),
                DecodeError::NoSuchAtomic {
                    at: 19,
                    primitive: float.rust_name()
                }
            );
        }
    }

    #[test]
    fn refuses_bad_names() {
        let with_name = |name: &[u8]| {
            Bytes::header()
                .node(Tag::Struct, 0, 1)
                .name(name)
                .u64(0)
                .u64(0)
                .u32(0)
                .error()
        };
        assert_eq!(
            with_name(b"P\xffoint"),
            DecodeError::NameNotUtf8 {
                at: 23,
                valid_up_to: 1
            }
        );
        let too_long = "n".repeat(Layout::MAX_NAME_LEN + 1);
        assert_eq!(
            with_name(too_long.as_bytes()),
            DecodeError::NameTooLong {
                at: 19,
                len: 256,
                max: Layout::MAX_NAME_LEN
            }
        );
        let huge = Bytes::header().node(Tag::Struct, 0, 1).u32(u32::MAX);
        assert!(matches!(
            huge.error(),
            DecodeError::NameTooLong { at: 19, len, .. } if len == u64::from(u32::MAX)
        ));
        for name in ["", "1x", "a b", "x')", "r#type", "a-b", "é\u{0}"] {
            assert_eq!(
                with_name(name.as_bytes()),
                DecodeError::NotAnIdentifier {
                    at: 23,
                    name: name.to_owned()
                }
            );
        }
        let bad_field = Bytes::header()
            .structure("S", 1, 1, 0, 0, 1)
            .field("not ok", 0)
            .primitive(Primitive::U8);
        assert!(matches!(
            bad_field.error(),
            DecodeError::NotAnIdentifier { at: 48, .. }
        ));
    }

    #[test]
    fn refuses_too_deep_and_too_many() {
        let depth = Layout::MAX_DEPTH;
        assert_eq!(
            nested_arrays(depth).error(),
            DecodeError::TooDeep {
                at: 2 + 25 * depth,
                max: depth
            }
        );
        // A deep input far beyond the limit is refused at the limit, without
        // reading (or recursing into) the rest.
        let mut deep = Bytes::header();
        while deep.0.len() + 25 <= Layout::MAX_ENCODED_LEN {
            deep = deep.node(Tag::Array, 1, 1).u64(1);
        }
        assert!(matches!(deep.error(), DecodeError::TooDeep { .. }));

        let count = Layout::MAX_FIELDS as u32 + 1;
        assert_eq!(
            Bytes::header().structure("S", 0, 1, 0, 0, count).error(),
            DecodeError::TooManyFields {
                at: 40,
                count,
                max: Layout::MAX_FIELDS
            }
        );
        assert!(matches!(
            Bytes::header().structure("S", 0, 1, 0, 0, u32::MAX).error(),
            DecodeError::TooManyFields { .. }
        ));
    }

    #[test]
    fn refuses_numbers_out_of_range() {
        let too_large = isize::MAX as u64 + 1;
        for size in [too_large, u64::MAX] {
            assert_eq!(
                Bytes::header().node(Tag::Bytes, size, 1).error(),
                DecodeError::TooLarge {
                    at: 3,
                    what: "size",
                    value: size
                }
            );
        }
        let far_field = Bytes::header()
            .structure("S", 8, 8, 0, 0, 1)
            .field("x", u64::MAX);
        assert!(matches!(
            far_field.error(),
            DecodeError::TooLarge {
                what: "field offset",
                ..
            }
        ));
        for align in [0, 3, 6, 1 << 40 | 1] {
            assert_eq!(
                Bytes::header().node(Tag::Bytes, 1, align).error(),
                DecodeError::NotPowerOfTwo {
                    at: 11,
                    what: "alignment",
                    value: align
                }
            );
        }
        let packed = Bytes::header().structure("S", 0, 1, 3, 0, 0);
        assert!(matches!(
            packed.error(),
            DecodeError::NotPowerOfTwo {
                at: 24,
                what: "packed argument",
                value: 3
            }
        ));
        let align = Bytes::header().structure("S", 0, 1, 0, 12, 0);
        assert!(matches!(
            align.error(),
            DecodeError::NotPowerOfTwo {
                at: 32,
                what: "align argument",
                value: 12
            }
        ));
        let huge_array = Bytes::header()
            .node(Tag::Array, 8, 8)
            .u64(isize::MAX as u64)
            .primitive(Primitive::U64);
        assert_eq!(
            huge_array.error(),
            DecodeError::ArrayTooLarge {
                at: 2,
                len: isize::MAX as usize,
                element_size: 8
            }
        );
    }

    #[test]
    fn refuses_sizes_that_do_not_match_the_kind() {
        let wide_u32 = Bytes::header().node(Tag::Primitive, 8, 4).u8(2);
        assert_eq!(
            wide_u32.error(),
            DecodeError::WrongSize {
                at: 2,
                ty: "u32".into(),
                expected: 4,
                found: 8
            }
        );
        let overaligned_u32 = Bytes::header().node(Tag::Primitive, 4, 8).u8(2);
        assert_eq!(
            overaligned_u32.error(),
            DecodeError::WrongAlign {
                at: 2,
                ty: "u32".into(),
                expected: 4,
                found: 8
            }
        );
        let narrow_atomic = Bytes::header().node(Tag::Atomic, 2, 4).u8(6);
        assert!(matches!(
            narrow_atomic.error(),
            DecodeError::WrongSize { ref ty, expected: 4, found: 2, .. } if ty == "AtomicI32"
        ));
        let short_bytes = Bytes::header().node(Tag::Bytes, 4, 1).u64(5);
        assert!(matches!(
            short_bytes.error(),
            DecodeError::WrongSize { ref ty, expected: 5, found: 4, .. } if ty == "ByteString<5>"
        ));
        let aligned_bytes = Bytes::header().node(Tag::Bytes, 4, 2).u64(4);
        assert!(matches!(
            aligned_bytes.error(),
            DecodeError::WrongAlign { .. }
        ));
        let long_array = Bytes::header()
            .node(Tag::Array, 4, 1)
            .u64(3)
            .primitive(Primitive::U8);
        assert!(matches!(
            long_array.error(),
            DecodeError::WrongSize { ref ty, expected: 3, found: 4, .. } if ty == "[u8; 3]"
        ));
        let message = wide_u32.error().to_string();
        assert_eq!(
            message,
            "`u32` at byte 2 of the layout descriptor is 4 bytes, but the descriptor says 8"
        );
    }

    #[test]
    fn refuses_inconsistent_fields() {
        let past_end = Bytes::header()
            .structure("S", 8, 8, 0, 0, 1)
            .field("x", 8)
            .primitive(Primitive::U64);
        assert_eq!(
            past_end.error(),
            DecodeError::FieldPastEnd {
                at: 44,
                field: "x".into(),
                offset: 8,
                size: 8,
                struct_size: 8
            }
        );
        let very_far = Bytes::header()
            .structure("S", 8, 8, 0, 0, 1)
            .field("x", isize::MAX as u64)
            .primitive(Primitive::U64);
        assert!(matches!(very_far.error(), DecodeError::FieldPastEnd { .. }));

        let duplicate = Bytes::header()
            .structure("S", 2, 1, 0, 0, 2)
            .field("x", 0)
            .primitive(Primitive::U8)
            .field("x", 1)
            .primitive(Primitive::U8);
        assert_eq!(
            duplicate.error(),
            DecodeError::DuplicateField {
                at: 44 + 31,
                name: "x".into()
            }
        );
        let overlap = Bytes::header()
            .structure("S", 8, 4, 0, 0, 2)
            .field("a", 0)
            .primitive(Primitive::U32)
            .field("b", 2)
            .primitive(Primitive::U16);
        assert!(matches!(
            overlap.error(),
            DecodeError::FieldOverlap {
                offset: 2,
                previous_end: 4,
                ..
            }
        ));

        let misaligned = |packed: u64| {
            Bytes::header()
                .structure("S", 8, 4, packed, 0, 2)
                .field("a", 0)
                .primitive(Primitive::U8)
                .field("b", 2)
                .primitive(Primitive::U32)
                .decode()
        };
        assert!(matches!(
            misaligned(0),
            Err(DecodeError::FieldMisaligned {
                offset: 2,
                align: 4,
                ..
            })
        ));
        // `packed(2)` caps the alignment of `b` at 2.
        assert!(misaligned(2).is_ok());
        assert!(Bytes::header()
            .structure("S", 6, 2, 2, 0, 2)
            .field("a", 0)
            .primitive(Primitive::U8)
            .field("b", 2)
            .primitive(Primitive::U32)
            .decode()
            .is_ok());
    }

    #[test]
    fn refuses_inconsistent_structs() {
        let underaligned = Bytes::header()
            .structure("S", 4, 2, 0, 0, 1)
            .field("a", 0)
            .primitive(Primitive::U32);
        assert_eq!(
            underaligned.error(),
            DecodeError::StructUnderaligned {
                at: 2,
                name: "S".into(),
                align: 2,
                required: 4
            }
        );
        let below_repr_align = Bytes::header().structure("S", 8, 8, 0, 16, 0);
        assert!(matches!(
            below_repr_align.error(),
            DecodeError::StructUnderaligned { required: 16, .. }
        ));
        let ragged = Bytes::header()
            .structure("S", 6, 4, 0, 0, 1)
            .field("a", 0)
            .primitive(Primitive::U32);
        assert_eq!(
            ragged.error(),
            DecodeError::SizeNotMultipleOfAlign {
                at: 2,
                name: "S".into(),
                size: 6,
                align: 4
            }
        );
        let trailing = point().u8(0);
        assert_eq!(
            trailing.error(),
            DecodeError::TrailingBytes {
                at: point().0.len(),
                count: 1
            }
        );
    }

    /// Random layouts that a Rust compiler could produce: `repr(C)` structs
    /// (plain, `packed(n)` or `align(n)`) of numbers, atomics, byte strings,
    /// arrays and nested structs.
    fn any_layout() -> impl Strategy<Value = Layout> {
        let leaf = prop_oneof![
            prop::sample::select(Primitive::ALL.to_vec())
                .prop_map(|primitive| primitive_layout(primitive).clone()),
            prop::sample::select(Primitive::ALL[..8].to_vec())
                .prop_filter_map("no atomic", atomic_layout)
                .prop_map(Layout::clone),
            (0usize..20).prop_map(|capacity| Layout {
                name: Cow::Borrowed(""),
                size: capacity,
                align: 1,
                kind: Kind::Bytes { capacity },
            }),
        ];
        leaf.prop_recursive(5, 48, 6, |inner| {
            prop_oneof![
                (inner.clone(), 0usize..4).prop_map(|(element, len)| Layout {
                    name: Cow::Borrowed(""),
                    size: element.size * len,
                    align: element.align,
                    kind: Kind::Array {
                        element: LayoutRef::Owned(Box::new(element)),
                        len,
                    },
                }),
                (
                    any_identifier(),
                    prop::collection::vec((any_identifier(), inner), 0..6),
                    prop_oneof![
                        Just((None, None)),
                        (0u32..4).prop_map(|log| (Some(1usize << log), None)),
                        (0u32..7).prop_map(|log| (None, Some(1usize << log))),
                    ],
                )
                    .prop_map(|(name, fields, (packed, align))| {
                        repr_c(name, fields, packed, align)
                    }),
            ]
        })
    }

    fn any_identifier() -> impl Strategy<Value = String> {
        "[a-zA-Zé_][a-zA-Z0-9é_]{0,8}"
    }

    /// Lays out a struct as `#[repr(C)]` does; field names get their index
    /// appended, so they are unique.
    fn repr_c(
        name: String,
        fields: Vec<(String, Layout)>,
        packed: Option<usize>,
        repr_align: Option<usize>,
    ) -> Layout {
        let mut align = repr_align.unwrap_or(1);
        let mut end = 0usize;
        let fields: Vec<Field> = fields
            .into_iter()
            .enumerate()
            .map(|(i, (field, ty))| {
                let field_align = packed.map_or(ty.align, |packed| packed.min(ty.align));
                align = align.max(field_align);
                let offset = end.next_multiple_of(field_align);
                end = offset + ty.size;
                Field {
                    name: Cow::Owned(format!("{field}{i}")),
                    offset,
                    ty: LayoutRef::Owned(Box::new(ty)),
                }
            })
            .collect();
        Layout {
            name: Cow::Owned(name),
            size: end.next_multiple_of(align),
            align,
            kind: Kind::Struct {
                fields: Cow::Owned(fields),
                packed,
                align: repr_align,
            },
        }
    }

    #[derive(Clone, Debug)]
    enum Mutation {
        FlipBit(prop::sample::Index, u8),
        Set(prop::sample::Index, u8),
        Insert(prop::sample::Index, u8),
        Delete(prop::sample::Index),
        Truncate(prop::sample::Index),
    }

    fn any_mutation() -> impl Strategy<Value = Mutation> {
        let byte = prop_oneof![0u8..8, any::<u8>()];
        prop_oneof![
            (any::<prop::sample::Index>(), 0u8..8).prop_map(|(i, bit)| Mutation::FlipBit(i, bit)),
            (any::<prop::sample::Index>(), byte.clone()).prop_map(|(i, b)| Mutation::Set(i, b)),
            (any::<prop::sample::Index>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
            any::<prop::sample::Index>().prop_map(Mutation::Delete),
            any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        ]
    }

    fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
        if bytes.is_empty() {
            return;
        }
        match *mutation {
            Mutation::FlipBit(ref i, bit) => {
                let i = i.index(bytes.len());
                bytes[i] ^= 1 << bit;
            }
            Mutation::Set(ref i, byte) => {
                let i = i.index(bytes.len());
                bytes[i] = byte;
            }
            Mutation::Insert(ref i, byte) => {
                let i = i.index(bytes.len() + 1);
                bytes.insert(i, byte);
            }
            Mutation::Delete(ref i) => {
                let i = i.index(bytes.len());
                bytes.remove(i);
            }
            Mutation::Truncate(ref i) => {
                let len = i.index(bytes.len());
                bytes.truncate(len);
            }
        }
    }

    /// Whatever decodes is canonical: it re-encodes to exactly the input, and
    /// that decodes to the same layout.
    fn assert_decodes_canonically_or_refuses(bytes: &[u8]) {
        match Layout::decode(bytes) {
            Ok(layout) => {
                let encoded = layout.encode();
                assert_eq!(encoded, bytes);
                assert_eq!(Layout::decode(&encoded).as_ref(), Ok(&layout));
            }
            Err(error) => assert!(!error.to_string().is_empty()),
        }
    }

    #[test]
    fn every_single_bit_flip_is_refused_or_canonical() {
        let bytes = Nested::LAYOUT.encode();
        let mut decoded = 0;
        for i in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[i / 8] ^= 1 << (i % 8);
            decoded += usize::from(Layout::decode(&flipped).is_ok());
            assert_decodes_canonically_or_refuses(&flipped);
        }
        // Flips inside names (`x` to `y`) still decode: the canonical check
        // above is not vacuous.
        assert!(decoded > 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_layouts_round_trip(layout in any_layout()) {
            let bytes = layout.encode();
            let decoded = Layout::decode(&bytes);
            prop_assert_eq!(decoded.as_ref(), Ok(&layout));
            prop_assert_eq!(decoded.unwrap().encode(), bytes);
        }

        #[test]
        fn the_root_is_read_as_decoding_reads_it(layout in any_layout()) {
            let bytes = layout.encode();
            prop_assert_eq!(StoredRoot::peek(&bytes), Some(StoredRoot::of(&layout)));
        }

        #[test]
        fn matching_agrees_with_encoding(a in any_layout(), b in any_layout()) {
            let stored = b.encode();
            let (fingerprint, same) = a.fingerprint_and_match(&stored);
            prop_assert_eq!(fingerprint, a.fingerprint());
            prop_assert_eq!(same, a.encode() == stored);
            prop_assert_eq!(a.fingerprint_and_match(&a.encode()), (a.fingerprint(), true));
        }

        #[test]
        fn random_bytes_never_panic(
            valid_header in any::<bool>(),
            bytes in prop::collection::vec(prop_oneof![0u8..8, any::<u8>()], 0..256),
        ) {
            let mut input = if valid_header { vec![VERSION, NATIVE_ENDIAN] } else { Vec::new() };
            input.extend_from_slice(&bytes);
            assert_decodes_canonically_or_refuses(&input);
        }

        #[test]
        fn mutated_encodings_never_panic(
            layout in any_layout(),
            mutations in prop::collection::vec(any_mutation(), 1..4),
        ) {
            let mut bytes = layout.encode();
            for mutation in &mutations {
                mutate(&mut bytes, mutation);
            }
            assert_decodes_canonically_or_refuses(&bytes);
        }
    }
}
