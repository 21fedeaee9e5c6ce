//! Fixed-capacity byte strings: Python's `'c'` arrays.

use std::fmt;

use crate::error::{Error, Result};

/// A byte string of fixed capacity `N`, like Python's `Array('c', N)`.
///
/// [`value`](Self::value) is the bytes up to the first NUL (Python's
/// `.value`), [`raw`](Self::raw) the whole buffer (Python's `.raw`).
///
/// ```
/// use shmstruct::ByteString;
///
/// let mut s = ByteString::<11>::new(b"hello world")?;
/// assert_eq!(s.value(), b"hello world");
/// s.set_value(b"hi")?;
/// assert_eq!(s.value(), b"hi");
/// // As in Python, only the terminator is written after a shorter value.
/// assert_eq!(s.raw(), b"hi\0lo world");
/// assert!(s.set_value(b"far too long for it").is_err());
/// # Ok::<(), shmstruct::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct ByteString<const N: usize>([u8; N]);

impl<const N: usize> ByteString<N> {
    /// The capacity in bytes.
    pub const CAPACITY: usize = N;

    /// All zero bytes: the empty string.
    pub const fn zeroed() -> Self {
        ByteString([0; N])
    }

    /// A byte string holding `value`, zero-filled after it.
    ///
    /// # Errors
    ///
    /// [`Error::TooLong`] when `value` is longer than `N` bytes.
    pub fn new(value: &[u8]) -> Result<Self> {
        let mut string = Self::zeroed();
        string.set_value(value)?;
        Ok(string)
    }

    /// Wraps a whole buffer, NULs and all (Python's `.raw = ...`).
    pub const fn from_raw(raw: [u8; N]) -> Self {
        ByteString(raw)
    }

    /// The bytes up to the first NUL, or the whole buffer when there is none.
    pub fn value(&self) -> &[u8] {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(N);
        &self.0[..end]
    }

    /// The value as text, if it is UTF-8.
    ///
    /// ```
    /// use shmstruct::ByteString;
    ///
    /// let s = ByteString::<8>::try_from("héllo")?;
    /// assert_eq!(s.to_str(), Ok("héllo"));
    /// assert_eq!(s.to_string(), "héllo");
    /// assert!(ByteString::<2>::from_raw([0xff, 0]).to_str().is_err());
    /// # Ok::<(), shmstruct::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The [`Utf8Error`](std::str::Utf8Error) of a value that is not UTF-8.
    pub fn to_str(&self) -> std::result::Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(self.value())
    }

    /// The whole buffer.
    pub fn raw(&self) -> &[u8; N] {
        &self.0
    }

    /// Replaces the value: copies `value` and, when it is shorter than the
    /// capacity, writes one NUL after it. The bytes past the NUL are left as
    /// they were, as Python does.
    ///
    /// # Errors
    ///
    /// [`Error::TooLong`] when `value` is longer than `N` bytes; the string is
    /// then unchanged.
    pub fn set_value(&mut self, value: &[u8]) -> Result<()> {
        if value.len() > N {
            return Err(Error::TooLong {
                len: value.len(),
                capacity: N,
            });
        }
        self.0[..value.len()].copy_from_slice(value);
        if let Some(terminator) = self.0.get_mut(value.len()) {
            *terminator = 0;
        }
        Ok(())
    }
}

impl<const N: usize> Default for ByteString<N> {
    fn default() -> Self {
        Self::zeroed()
    }
}

impl<const N: usize> TryFrom<&[u8]> for ByteString<N> {
    type Error = Error;

    /// As [`ByteString::new`]: [`Error::TooLong`] past the capacity.
    fn try_from(value: &[u8]) -> Result<Self> {
        Self::new(value)
    }
}

impl<const N: usize> TryFrom<&str> for ByteString<N> {
    type Error = Error;

    /// The UTF-8 bytes of `value`; [`Error::TooLong`] past the capacity.
    fn try_from(value: &str) -> Result<Self> {
        Self::new(value.as_bytes())
    }
}

impl<const N: usize> fmt::Display for ByteString<N> {
    /// The value as text, with each byte that is not UTF-8 shown as U+FFFD
    /// (as [`String::from_utf8_lossy`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.value().utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{FFFD}")?;
            }
        }
        Ok(())
    }
}

impl<const N: usize> fmt::Debug for ByteString<N> {
    /// Python's `repr` of the value: `b'hello world'`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("b'")?;
        for &byte in self.value() {
            match byte {
                b'\\' => f.write_str("\\\\")?,
                b'\'' => f.write_str("\\'")?,
                b'\t' => f.write_str("\\t")?,
                b'\n' => f.write_str("\\n")?,
                b'\r' => f.write_str("\\r")?,
                0x20..=0x7e => write!(f, "{}", byte as char)?,
                _ => write!(f, "\\x{byte:02x}")?,
            }
        }
        f.write_str("'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_stops_at_the_first_nul() {
        let s = ByteString::from_raw(*b"ab\0cd");
        assert_eq!(s.value(), b"ab");
        assert_eq!(s.raw(), b"ab\0cd");
    }

    #[test]
    fn a_full_buffer_has_no_terminator() {
        let s = ByteString::<3>::new(b"abc").unwrap();
        assert_eq!(s.value(), b"abc");
    }

    #[test]
    fn too_long_is_an_error_and_changes_nothing() {
        let mut s = ByteString::<3>::new(b"ab").unwrap();
        let err = s.set_value(b"abcd").unwrap_err();
        assert!(matches!(
            err,
            Error::TooLong {
                len: 4,
                capacity: 3
            }
        ));
        assert_eq!(s.raw(), b"ab\0");
    }

    #[test]
    fn text_conversions() {
        let s = ByteString::<4>::try_from(&b"ab"[..]).unwrap();
        assert_eq!(s.to_str(), Ok("ab"));
        assert!(matches!(
            ByteString::<2>::try_from("abc"),
            Err(Error::TooLong {
                len: 3,
                capacity: 2
            })
        ));
        let invalid = ByteString::from_raw(*b"a\xffb\0");
        assert!(invalid.to_str().is_err());
        assert_eq!(invalid.to_string(), "a\u{FFFD}b");
    }

    #[test]
    fn debug_is_python_repr() {
        let s = ByteString::<8>::new(b"a'\\\x01").unwrap();
        assert_eq!(format!("{s:?}"), r"b'a\'\\\x01'");
    }
}
