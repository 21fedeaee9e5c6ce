//! What an object holds — a `T`, a `[T]` or a byte string — and how that is
//! described in the segment's header and checked on open. The header format
//! is the one the CLI and the C and Python readers know: a value's
//! descriptor is `T`'s, an array's `[T; len]`, a byte string's
//! `ByteString<capacity>` (`c_char * capacity`).

use std::borrow::Cow;
use std::marker::PhantomData;
use std::ptr::NonNull;

use crate::error::{Error, Result};
use crate::layout::{Layout, SharedLayout, StoredRoot};
use crate::segment::{Segment, SegmentOptions};

use super::data::check_describes;

/// The shape of an object's data: [`One<T>`] (a value), `[T]` (an array)
/// or [`Bytes`] (a byte string). Sealed: these three are all there is.
pub trait Shape: sealed::Sealed {
    /// What the data is in place, through a guard: `T`, `[T]`, or `[u8]`
    /// for a byte string.
    type Target: ?Sized;
    /// What the copies move one at a time: `T`, or `u8`.
    type Element: SharedLayout;
    /// The data as a `Target`: `len` elements from `first`.
    #[doc(hidden)]
    fn target(first: NonNull<Self::Element>, len: usize) -> NonNull<Self::Target>;
}

/// The shape of a value: one `T` ([`Value`](crate::Value) and
/// [`RawValue`](crate::RawValue)). Only a type argument: it has no values.
pub struct One<T> {
    _never: std::convert::Infallible,
    _type: PhantomData<T>,
}

/// The shape of a byte string with a capacity chosen when it is created:
/// [`SharedBytes`](crate::SharedBytes) and [`RawBytes`](crate::RawBytes).
/// Only a type argument: it has no values.
#[derive(Debug)]
pub enum Bytes {}

pub(crate) mod sealed {
    /// The kinds of data, for the code that describes and checks them.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum Form {
        /// One element.
        Value,
        /// A number of elements chosen at creation.
        Array,
        /// A byte string of a capacity chosen at creation.
        Bytes,
    }

    pub trait Sealed {
        const FORM: Form;
    }
}

use sealed::Form;

impl<T: SharedLayout> sealed::Sealed for One<T> {
    const FORM: Form = Form::Value;
}

impl<T: SharedLayout> Shape for One<T> {
    type Target = T;
    type Element = T;

    fn target(first: NonNull<T>, _len: usize) -> NonNull<T> {
        first
    }
}

impl<T: SharedLayout> sealed::Sealed for [T] {
    const FORM: Form = Form::Array;
}

impl<T: SharedLayout> Shape for [T] {
    type Target = [T];
    type Element = T;

    fn target(first: NonNull<T>, len: usize) -> NonNull<[T]> {
        NonNull::slice_from_raw_parts(first, len)
    }
}

impl sealed::Sealed for Bytes {
    const FORM: Form = Form::Bytes;
}

impl Shape for Bytes {
    type Target = [u8];
    type Element = u8;

    fn target(first: NonNull<u8>, len: usize) -> NonNull<[u8]> {
        NonNull::slice_from_raw_parts(first, len)
    }
}

/// The face of shape `D` with or without a lock: its name (`Value`,
/// `RawArray`, ...), and how an error names it when a segment's lock mode
/// does not fit it.
pub(super) fn face<D: Shape + ?Sized>(locked: bool) -> (&'static str, &'static str) {
    match (D::FORM, locked) {
        (Form::Value, true) => ("Value", "a `Value` (which needs a lock)"),
        (Form::Value, false) => ("RawValue", "a `RawValue` (which has no lock)"),
        (Form::Array, true) => ("Array", "an `Array` (which needs a lock)"),
        (Form::Array, false) => ("RawArray", "a `RawArray` (which has no lock)"),
        (Form::Bytes, true) => ("SharedBytes", "`SharedBytes` (which needs a lock)"),
        (Form::Bytes, false) => ("RawBytes", "`RawBytes` (which has no lock)"),
    }
}

/// Whether an object of shape `D` has a length of its own (an array's, a
/// byte string's capacity), chosen when it is created.
pub(super) fn has_length<D: Shape + ?Sized>() -> bool {
    D::FORM != Form::Value
}

/// What the data of an object of shape `D` is called in errors.
pub(super) fn noun<D: Shape + ?Sized>() -> &'static str {
    match D::FORM {
        Form::Value => "value",
        Form::Array => "array",
        Form::Bytes => "byte string",
    }
}

/// The descriptor of `len` elements of shape `D` (`len` is 1 for a value).
///
/// # Errors
///
/// [`Error::InvalidInput`] for data too large to describe.
pub(super) fn describe<D: Shape + ?Sized>(name: &str, len: usize) -> Result<Cow<'static, Layout>> {
    let element = D::Element::LAYOUT;
    let layout = match D::FORM {
        Form::Value => Some(Cow::Borrowed(element)),
        Form::Array => array_layout::<D::Element>(len).map(Cow::Owned),
        Form::Bytes => Some(Cow::Owned(Layout::bytes(len))),
    };
    layout.ok_or_else(|| Error::InvalidInput {
        reason: format!(
            "segment \"{name}\" for {len} elements of `{}` ({} bytes each) would be larger \
             than this process can map",
            element.name(),
            element.size()
        ),
    })
}

/// Opens the segment `name` and checks it against shape `D` (not the lock
/// mode): the layout a value's type describes, or the stored length of an
/// array's or byte string's elements. Returns the segment and its number
/// of elements.
pub(super) fn open<D: Shape + ?Sized>(
    name: &str,
    options: &SegmentOptions,
) -> Result<(Segment, usize)> {
    if D::FORM == Form::Value {
        let segment = Segment::open(name, D::Element::LAYOUT, options)?;
        return Ok((segment, 1));
    }
    let mut len = 0;
    let segment = Segment::open_matching(name, options, |stored| {
        let (layout, count) = match D::FORM {
            Form::Bytes => expected_bytes(stored),
            _ => expected_array::<D::Element>(stored),
        };
        check_describes::<D::Element>(&layout, count);
        len = count;
        layout
    })?;
    Ok((segment, len))
}

/// The descriptor of `len` elements of `T`, `[T; len]`; `None` if its size
/// overflows.
fn array_layout<T: SharedLayout>(len: usize) -> Option<Layout> {
    let size = T::LAYOUT.size().checked_mul(len)?;
    isize::try_from(size).ok()?;
    Some(Layout::array(T::LAYOUT, len))
}

/// The layout an opener of a segment holding `stored` expects: `[T; len]`
/// with the stored array's length, so that only the element type is
/// checked. A segment that holds something else is compared with as many
/// `T`s as fit in it, which the layout check then refuses with a message
/// that names both types.
fn expected_array<T: SharedLayout>(stored: StoredRoot) -> (Layout, usize) {
    let fitting = || stored.size().checked_div(T::LAYOUT.size()).unwrap_or(0);
    let len = match stored {
        StoredRoot::Array { len, .. } => len,
        _ => fitting(),
    };
    if let Some(layout) = array_layout::<T>(len) {
        return (layout, len);
    }
    // The stored length of smaller elements overflows in `T`s: the element
    // types differ, and any length shows it.
    let len = fitting();
    let layout = array_layout::<T>(len).expect("as many T as fit in a stored size");
    (layout, len)
}

/// The layout an opener of a byte string expects: one of the stored
/// capacity, or, for a segment that holds something else, one of the same
/// size, which the layout check refuses, naming both types.
fn expected_bytes(stored: StoredRoot) -> (Layout, usize) {
    let capacity = match stored {
        StoredRoot::Bytes { capacity } => capacity,
        _ => stored.size(),
    };
    (Layout::bytes(capacity), capacity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_layouts_describe_len_elements() {
        let layout = array_layout::<f64>(3).expect("small");
        assert_eq!(layout, *<[f64; 3]>::LAYOUT);
        assert_eq!(layout.name(), "[f64; 3]");
        assert_eq!(layout.encode(), <[f64; 3]>::LAYOUT.encode());
        assert!(array_layout::<u64>(usize::MAX / 4).is_none());
        assert_eq!(array_layout::<u32>(0).expect("empty").size(), 0);
    }

    #[test]
    fn too_large_arrays_are_an_error() {
        let error = describe::<[u64]>("big", usize::MAX / 4).unwrap_err();
        assert!(error
            .to_string()
            .contains("larger than this process can map"));
        assert_eq!(*describe::<One<u32>>("v", 1).unwrap(), *u32::LAYOUT);
        assert_eq!(*describe::<Bytes>("s", 5).unwrap(), Layout::bytes(5));
    }

    #[test]
    fn faces_are_named_as_users_know_them() {
        assert_eq!(face::<One<f64>>(true).0, "Value");
        assert_eq!(face::<[f64]>(false).0, "RawArray");
        assert_eq!(face::<Bytes>(true).1, "`SharedBytes` (which needs a lock)");
    }

    #[test]
    fn handles_can_move_between_threads_like_values() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<crate::RawArray<f64>>();
        send_sync::<crate::Array<f64>>();
        send_sync::<crate::Value<f64>>();
        send_sync::<crate::SharedBytes>();
    }

    #[test]
    fn openers_expect_the_stored_length() {
        let (layout, len) = expected_array::<u32>(StoredRoot::of(<[u32; 5]>::LAYOUT));
        assert_eq!((layout.size(), len), (20, 5));
        // Another element type: the stored length, so the diff is about
        // the elements only.
        let (layout, len) = expected_array::<u64>(StoredRoot::of(<[u32; 5]>::LAYOUT));
        assert_eq!(
            (layout.name().into_owned(), len),
            ("[u64; 5]".to_owned(), 5)
        );
        // Not an array: as many as fit.
        let (layout, len) = expected_array::<u32>(StoredRoot::of(u64::LAYOUT));
        assert_eq!(
            (layout.name().into_owned(), len),
            ("[u32; 2]".to_owned(), 2)
        );
        // A length that overflows in the expected elements.
        let huge = Layout::array(u8::LAYOUT, usize::MAX / 2);
        let (layout, len) = expected_array::<u64>(StoredRoot::of(&huge));
        assert_eq!(len, usize::MAX / 2 / 8);
        assert_eq!(layout.size(), len * 8);
    }
}
