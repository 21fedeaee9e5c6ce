//! Decoding a segment's data by its descriptor, without knowing its Rust
//! type: what tools need to show the values another process wrote.

use std::fmt::{self, Write as _};

use super::render::python_str;
use super::{Kind, Layout, Primitive};

/// A value read from bytes by its [`Layout`] ([`Layout::decode_data`]).
///
/// Its `Display` is what Python shows for the same value through ctypes:
/// integers, floats with `repr`'s digits (`0.1`, `1e+16`, `inf`), byte
/// strings as `b'hello'` (up to the first NUL, as ctypes' `.value`), lists
/// as `[1, 2]` and structs as `{'x': 1.0, 'y': 2.0}`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum DataValue {
    /// An unsigned integer (atomics included).
    Unsigned(u64),
    /// A signed integer (atomics included).
    Signed(i64),
    /// A float; an `f32` is widened exactly, as Python does.
    Float(f64),
    /// A byte string's value: its bytes up to the first NUL.
    Bytes(Vec<u8>),
    /// An array's elements.
    List(Vec<DataValue>),
    /// A struct's fields, in declaration order.
    Struct(Vec<(String, DataValue)>),
}

/// The bytes given to [`Layout::decode_data`] are fewer than the layout's
/// size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{got} bytes of data are too few for a layout of {needed} bytes")]
pub struct DataTooShort {
    /// The layout's size.
    pub needed: usize,
    /// The bytes given.
    pub got: usize,
}

impl Layout {
    /// Reads a value of this layout from `bytes` (native byte order), field
    /// by field and element by element.
    ///
    /// # Errors
    ///
    /// [`DataTooShort`] if `bytes` is shorter than [`Layout::size`].
    ///
    /// # Examples
    ///
    /// ```
    /// use shmstruct::layout::DataValue;
    /// use shmstruct::SharedLayout;
    ///
    /// let bytes = [1.5f64.to_ne_bytes(), 0.1f64.to_ne_bytes()].concat();
    /// let value = <[f64; 2]>::LAYOUT.decode_data(&bytes).unwrap();
    /// assert_eq!(value, DataValue::List(vec![DataValue::Float(1.5), DataValue::Float(0.1)]));
    /// assert_eq!(value.to_string(), "[1.5, 0.1]");
    /// ```
    pub fn decode_data(&self, bytes: &[u8]) -> Result<DataValue, DataTooShort> {
        let short = DataTooShort {
            needed: self.size(),
            got: bytes.len(),
        };
        decode(self, bytes).ok_or(short)
    }
}

/// `N` bytes at the start of `bytes`, if there are that many.
fn take<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    bytes.get(..N)?.try_into().ok()
}

fn decode(layout: &Layout, bytes: &[u8]) -> Option<DataValue> {
    let bytes = bytes.get(..layout.size())?;
    Some(match layout.kind() {
        Kind::Primitive(primitive) | Kind::Atomic(primitive) => number(*primitive, bytes)?,
        Kind::Bytes { .. } => {
            let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
            DataValue::Bytes(bytes[..end].to_vec())
        }
        Kind::Array { element, len } => {
            let size = element.size();
            let mut items = Vec::with_capacity((*len).min(bytes.len()));
            for i in 0..*len {
                items.push(decode(element, bytes.get(i.checked_mul(size)?..)?)?);
            }
            DataValue::List(items)
        }
        Kind::Struct { fields, .. } => {
            let mut values = Vec::with_capacity(fields.len());
            for field in fields.iter() {
                let value = decode(field.ty(), bytes.get(field.offset()..)?)?;
                values.push((field.name().to_owned(), value));
            }
            DataValue::Struct(values)
        }
    })
}

fn number(primitive: Primitive, bytes: &[u8]) -> Option<DataValue> {
    use DataValue::{Float, Signed, Unsigned};
    Some(match primitive {
        Primitive::U8 => Unsigned(u8::from_ne_bytes(take(bytes)?).into()),
        Primitive::U16 => Unsigned(u16::from_ne_bytes(take(bytes)?).into()),
        Primitive::U32 => Unsigned(u32::from_ne_bytes(take(bytes)?).into()),
        Primitive::U64 => Unsigned(u64::from_ne_bytes(take(bytes)?)),
        Primitive::I8 => Signed(i8::from_ne_bytes(take(bytes)?).into()),
        Primitive::I16 => Signed(i16::from_ne_bytes(take(bytes)?).into()),
        Primitive::I32 => Signed(i32::from_ne_bytes(take(bytes)?).into()),
        Primitive::I64 => Signed(i64::from_ne_bytes(take(bytes)?)),
        Primitive::F32 => Float(f32::from_ne_bytes(take(bytes)?).into()),
        Primitive::F64 => Float(f64::from_ne_bytes(take(bytes)?)),
    })
}

/// `x` as Python's `repr(float)` writes it: the shortest digits that read
/// back to `x`, in fixed notation for exponents -4..16 (`0.0001`,
/// `1000000000000000.0`) and scientific otherwise (`1e-05`, `1e+16`,
/// `1.5e+300`); `inf`, `-inf`, `nan`.
pub fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // `{:e}` gives the shortest round-tripping digits: `-1.5e16`, `1e-5`.
    let scientific = format!("{x:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` always writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes a decimal exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        let fixed = if point <= 0 {
            let zeros = "0".repeat(usize::try_from(-point).unwrap_or(0));
            format!("0.{zeros}{digits}")
        } else {
            let point = usize::try_from(point).unwrap_or(0);
            if digits.len() <= point {
                format!("{digits}{}.0", "0".repeat(point - digits.len()))
            } else {
                format!("{}.{}", &digits[..point], &digits[point..])
            }
        };
        format!("{sign}{fixed}")
    } else {
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exponent.abs())
    }
}

/// `bytes` as a Python bytes literal: `b'it\'s\x00'`.
pub fn python_bytes_repr(bytes: &[u8]) -> String {
    // Python uses double quotes when the bytes hold a `'` and no `"`.
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = format!("b{quote}");
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ if char::from(b) == quote => {
                out.push('\\');
                out.push(quote);
            }
            b' '..=b'~' => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push(quote);
    out
}

impl fmt::Display for DataValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataValue::Unsigned(n) => write!(f, "{n}"),
            DataValue::Signed(n) => write!(f, "{n}"),
            DataValue::Float(x) => f.write_str(&python_float_repr(*x)),
            DataValue::Bytes(bytes) => f.write_str(&python_bytes_repr(bytes)),
            DataValue::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            DataValue::Struct(fields) => {
                f.write_str("{")?;
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: {value}", python_str(name))?;
                }
                f.write_str("}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::ByteString;
    use crate::layout::SharedLayout;

    #[test]
    fn floats_read_as_python_writes_them() {
        let cases = [
            (0.1, "0.1"),
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-300, "1.5e-300"),
            (-2.5e300, "-2.5e+300"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (f64::from(0.1f32), "0.10000000149011612"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ];
        for (x, python) in cases {
            assert_eq!(python_float_repr(x), python, "{x:?}");
        }
    }

    #[test]
    fn bytes_read_as_python_writes_them() {
        assert_eq!(python_bytes_repr(b"hello"), "b'hello'");
        assert_eq!(python_bytes_repr(b"it's"), "b\"it's\"");
        assert_eq!(python_bytes_repr(b"'\""), "b'\\'\"'");
        assert_eq!(python_bytes_repr(b"a\0\xff\n\\"), "b'a\\x00\\xff\\n\\\\'");
    }

    #[test]
    fn nested_data_decodes() {
        let layout = <[ByteString<6>; 2]>::LAYOUT;
        let value = layout.decode_data(b"hello\0hi\0\0\0\0").expect("decodes");
        assert_eq!(value.to_string(), "[b'hello', b'hi']");
        let short = <[u32; 2]>::LAYOUT
            .decode_data(&[0; 7])
            .expect_err("too short");
        assert_eq!(short, DataTooShort { needed: 8, got: 7 });
        let value = <[i16; 2]>::LAYOUT
            .decode_data(&[(-3i16).to_ne_bytes(), 7i16.to_ne_bytes()].concat())
            .expect("decodes");
        assert_eq!(
            value,
            DataValue::List(vec![DataValue::Signed(-3), DataValue::Signed(7)])
        );
    }
}
