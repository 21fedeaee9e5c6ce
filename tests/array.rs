//! `Array`, `RawArray` and `SharedBytes` across real processes: a child
//! opens what the parent created (type-checked, length read from the
//! segment), changes it, and the parent sees the change; errors for wrong
//! element types, out-of-range indices, slices of the wrong length and byte
//! strings that are too long.
//!
//! Each test is one function with a parent part and child roles (the test
//! binary re-executed, see `support`). Segments live in `/dev/shm` under
//! unique names guarded by `RemoveOnDrop`, so nothing is left behind even
//! when a test fails.

mod support;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use shmstruct::{
    Array, ByteString, Error, RawArray, RawBytes, RawValue, SharedBytes, SharedLayout, Value,
};
use support::{ChildGuard, RemoveOnDrop};

#[repr(C)]
#[derive(SharedLayout, Clone, Copy, Debug, PartialEq)]
struct Point {
    x: f64,
    y: f64,
}

/// `Point` with `y` narrowed: the same type name, another layout.
mod retyped {
    #[repr(C)]
    #[derive(shmstruct::SharedLayout, Clone, Copy, Debug, PartialEq)]
    pub struct Point {
        pub x: f64,
        pub y: f32,
    }
}

const POINTS: [Point; 3] = [
    Point { x: 1.875, y: -6.25 },
    Point { x: -5.75, y: 2.0 },
    Point { x: 2.375, y: 9.5 },
];

/// Waits for a child and says how it ended, for assertion messages.
fn finish(child: &mut ChildGuard) -> Result<(), String> {
    let status = child.wait_timeout(Duration::from_secs(60));
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (_, Some(signal)) => Err(format!("child killed by signal {signal}")),
        (code, _) => Err(format!("child exited with {code:?}")),
    }
}

/// Runs `test`'s child `role` on the segment `name` and waits for it.
fn run_child(test: &str, role: &str, name: &str) {
    let mut child = support::spawn_role(test, role, &[("NAME", name)]);
    finish(&mut child).unwrap_or_else(|why| panic!("child {role}: {why}"));
}

#[test]
fn a_child_squares_every_point() {
    if let Some(role) = support::role() {
        assert_eq!(role, "square");
        let points = Array::<Point>::open(&support::arg("NAME")).expect("opening the array");
        assert!(!points.is_creator());
        assert_eq!(points.len(), 3, "the length comes from the segment");
        // Under one acquisition, through the guard's slice: lazy, in place.
        let mut guard = points.lock().expect("locking");
        for p in guard.iter_mut() {
            *p = Point {
                x: p.x * p.x,
                y: p.y * p.y,
            };
        }
        assert_eq!(guard[1].x, 33.0625, "Index through the guard");
        return;
    }
    let name = support::unique_name("square");
    let _guard = RemoveOnDrop::shm(&name);
    let points = Array::builder(&name)
        .from_iter(POINTS)
        .expect("creating the array");
    assert_eq!(points.to_vec().expect("copying"), POINTS);
    run_child("a_child_squares_every_point", "square", &name);
    assert_eq!(
        points.to_vec().expect("copying"),
        [
            Point {
                x: 3.515625,
                y: 39.0625
            },
            Point { x: 33.0625, y: 4.0 },
            Point {
                x: 5.640625,
                y: 90.25
            },
        ]
    );
    points.unlink().expect("unlinking");
    assert!(!points.path().exists());
}

#[test]
fn a_wrong_element_type_is_refused_field_by_field() {
    if let Some(role) = support::role() {
        let name = support::arg("NAME");
        match role.as_str() {
            "retyped" => {
                let error = Array::<retyped::Point>::open(&name).expect_err("a narrower y");
                assert!(matches!(error, Error::LayoutMismatch { .. }), "{error:?}");
                assert_eq!(
                    error.to_string(),
                    format!(
                        "segment \"{name}\" holds `[Point; 3]` (48 bytes) but `[Point; 3]` \
                         (48 bytes) was expected: field `[].y`: expected f32 at offset 8, \
                         found f64 at offset 8"
                    )
                );
            }
            "numbers" => {
                let error = RawArray::<f64>::open(&name).expect_err("f64 elements");
                assert_eq!(
                    error.to_string(),
                    format!(
                        "segment \"{name}\" holds `[Point; 3]` (48 bytes) but `[f64; 3]` \
                         (24 bytes) was expected: element type: expected f64, found Point"
                    )
                );
                let error = SharedBytes::open(&name).expect_err("not a byte string");
                assert!(matches!(error, Error::LayoutMismatch { .. }), "{error:?}");
            }
            "same" => {
                // The same struct, and the same array through Value<[T; N]>.
                let points = Array::<Point>::open(&name).expect("the same element type");
                assert_eq!(points.to_vec().expect("copying"), POINTS);
                let fixed = Value::<[Point; 3]>::open(&name).expect("as a fixed array");
                assert_eq!(fixed.get().expect("copying"), POINTS);
                let error = Value::<[Point; 2]>::open(&name).expect_err("another length");
                assert!(
                    error.to_string().contains("length: expected 2, found 3"),
                    "{error}"
                );
            }
            other => panic!("unknown role {other}"),
        }
        return;
    }
    let name = support::unique_name("wrongtype");
    let _guard = RemoveOnDrop::shm(&name);
    let points = Array::create(&name, &POINTS).expect("creating the array");
    for role in ["retyped", "numbers", "same"] {
        run_child(
            "a_wrong_element_type_is_refused_field_by_field",
            role,
            &name,
        );
    }
    // A single value is not an array of one.
    let single = support::unique_name("single");
    let _single_guard = RemoveOnDrop::shm(&single);
    let value = Value::create(&single, POINTS[0]).expect("creating a value");
    let error = Array::<Point>::open(&single).expect_err("a value is no array");
    assert!(
        error
            .to_string()
            .contains("holds `Point` (16 bytes) but `[Point; 1]` (16 bytes) was expected"),
        "{error}"
    );
    assert_eq!(
        points.to_vec().expect("copying"),
        POINTS,
        "refused openers changed nothing"
    );
    value.unlink().expect("unlinking");
    points.unlink().expect("unlinking");
}

#[test]
fn out_of_range_indices_are_errors_with_the_index_and_length() {
    let name = support::unique_name("range");
    let _guard = RemoveOnDrop::shm(&name);
    let points = Array::create(&name, &POINTS).expect("creating the array");
    let error = points.get(3).expect_err("one past the end");
    assert!(
        matches!(error, Error::IndexOutOfRange { index: 3, len: 3 }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "index 3 is out of range for an array of length 3"
    );
    let error = points
        .set(usize::MAX, Point { x: 0.0, y: 0.0 })
        .expect_err("far past the end");
    assert_eq!(
        error.to_string(),
        format!(
            "index {} is out of range for an array of length 3",
            usize::MAX
        )
    );
    assert_eq!(points.get(2).expect("the last one"), POINTS[2]);
    assert_eq!(
        points.to_vec().expect("copying"),
        POINTS,
        "nothing was written"
    );
    let guard = points.lock().expect("locking");
    assert_eq!(guard.iter().next_back(), Some(&POINTS[2]));
    assert_eq!((guard.iter().len(), guard[2]), (3, POINTS[2]));
    drop(guard);
    points.unlink().expect("unlinking");
}

#[test]
fn bulk_copies_need_slices_of_the_same_length() {
    let name = support::unique_name("length");
    let _guard = RemoveOnDrop::shm(&name);
    let points = RawArray::create(&name, &POINTS).expect("creating the array");
    let error = points
        .copy_from_slice(&POINTS[..2])
        .expect_err("a shorter slice");
    assert!(
        matches!(
            error,
            Error::LengthMismatch {
                len: 3,
                slice_len: 2
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "a slice of 2 elements cannot be copied to or from an array of length 3: \
         the lengths must be equal"
    );
    let zero = Point { x: 0.0, y: 0.0 };
    let mut longer = [zero; 4];
    let error = points
        .copy_to_slice(&mut longer)
        .expect_err("a longer slice");
    assert!(
        matches!(
            error,
            Error::LengthMismatch {
                len: 3,
                slice_len: 4
            }
        ),
        "{error:?}"
    );
    assert_eq!(longer, [zero; 4], "the slice is unchanged");
    assert_eq!(points.to_vec(), POINTS, "the array is unchanged");
    let mut exact = [zero; 3];
    points.copy_to_slice(&mut exact).expect("the same length");
    assert_eq!(exact, POINTS);
    points.unlink().expect("unlinking");
}

/// The `i`-th value of the bulk test: distinct, exact, not all small.
fn bulk_value(i: usize) -> f64 {
    i as f64 * 0.5 - 1e6
}

#[test]
fn a_million_f64_round_trip_in_bulk() {
    const LEN: usize = 1 << 20;
    if let Some(role) = support::role() {
        assert_eq!(role, "negate");
        let array = Array::<f64>::open(&support::arg("NAME")).expect("opening");
        assert_eq!(array.len(), LEN);
        let mut values = array.to_vec().expect("copying");
        assert!(values
            .iter()
            .enumerate()
            .all(|(i, &value)| value == bulk_value(i)));
        values.iter_mut().for_each(|value| *value = -*value);
        array.copy_from_slice(&values).expect("the same length");
        return;
    }
    let name = support::unique_name("bulk");
    let _guard = RemoveOnDrop::shm(&name);
    let array = Array::<f64>::builder(&name)
        .zeroed(LEN)
        .expect("creating 8 MiB");
    assert!(
        array
            .lock()
            .expect("locking")
            .iter()
            .all(|&value| value == 0.0),
        "zeroed"
    );
    let values: Vec<f64> = (0..LEN).map(bulk_value).collect();
    array.copy_from_slice(&values).expect("the same length");
    run_child("a_million_f64_round_trip_in_bulk", "negate", &name);
    let mut back = vec![0.0; LEN];
    array.copy_to_slice(&mut back).expect("the same length");
    assert!(back
        .iter()
        .enumerate()
        .all(|(i, &value)| value == -bulk_value(i)));
    array.unlink().expect("unlinking");
}

#[test]
fn byte_strings_across_processes() {
    if let Some(role) = support::role() {
        assert_eq!(role, "upper");
        let s = SharedBytes::open(&support::arg("NAME")).expect("opening");
        assert_eq!(s.capacity(), 11);
        assert_eq!(s.value().expect("copying"), b"hello world");
        let error = s.set_value(b"hello world!").expect_err("one byte too many");
        assert!(
            matches!(
                error,
                Error::TooLong {
                    len: 12,
                    capacity: 11
                }
            ),
            "{error:?}"
        );
        assert!(s.set_raw(&[b'x'; 12]).is_err());
        assert_eq!(
            s.raw().expect("copying"),
            b"hello world",
            "refused writes change nothing"
        );
        s.set_value(&s.value().expect("copying").to_ascii_uppercase())
            .expect("the same length");
        return;
    }
    let name = support::unique_name("bytes");
    let _guard = RemoveOnDrop::shm(&name);
    let s = SharedBytes::create(&name, b"hello world").expect("creating");
    run_child("byte_strings_across_processes", "upper", &name);
    assert_eq!(s.value().expect("copying"), b"HELLO WORLD");

    // Python's semantics: a shorter value writes one NUL and leaves the rest.
    s.set_value(b"hi").expect("shorter");
    assert_eq!(s.value().expect("copying"), b"hi");
    assert_eq!(s.raw().expect("copying"), b"hi\0LO WORLD");
    // Raw writes copy exactly what they are given.
    s.set_raw(b"abc").expect("shorter raw");
    assert_eq!(s.raw().expect("copying"), b"abcLO WORLD");
    assert_eq!(
        s.value().expect("copying"),
        b"abcLO WORLD",
        "no NUL: the whole buffer"
    );
    s.set_raw(b"no\0").expect("shorter raw");
    assert_eq!(s.raw().expect("copying"), b"no\0LO WORLD");
    assert_eq!(s.value().expect("copying"), b"no");
    s.set_raw(b"no nul here").expect("the whole buffer");

    // The same segment as a compile-time capacity.
    let fixed = Value::<ByteString<11>>::open(&name).expect("ByteString<11>");
    assert_eq!(fixed.get().expect("copying").value(), b"no nul here");
    let error = Value::<ByteString<12>>::open(&name).expect_err("another capacity");
    assert!(matches!(error, Error::LayoutMismatch { .. }), "{error:?}");
    s.unlink().expect("unlinking");
}

#[test]
fn byte_strings_with_a_capacity() {
    let name = support::unique_name("capacity");
    let _guard = RemoveOnDrop::shm(&name);
    let error = SharedBytes::builder(&name)
        .capacity(2)
        .create(b"abc")
        .expect_err("too long");
    assert!(
        matches!(
            error,
            Error::TooLong {
                len: 3,
                capacity: 2
            }
        ),
        "{error:?}"
    );
    assert!(
        !std::path::Path::new("/dev/shm").join(&name).exists(),
        "nothing was created"
    );
    let s = SharedBytes::builder(&name)
        .capacity(8)
        .create(b"abc")
        .expect("creating");
    assert_eq!(
        (s.capacity(), s.value().expect("copying")),
        (8, b"abc".to_vec())
    );
    assert_eq!(s.raw().expect("copying"), b"abc\0\0\0\0\0");
    let opened = SharedBytes::open(&name).expect("opening");
    assert_eq!(opened.capacity(), 8);
    // A byte string is not an array of bytes.
    let error = Array::<u8>::open(&name).expect_err("not an array");
    assert!(
        error
            .to_string()
            .contains("holds `ByteString<8>` (8 bytes) but `[u8; 8]` (8 bytes) was expected"),
        "{error}"
    );
    s.unlink().expect("unlinking");
}

#[test]
fn byte_strings_without_a_lock() {
    let name = support::unique_name("rawbytes");
    let _guard = RemoveOnDrop::shm(&name);
    let s = RawBytes::builder(&name)
        .capacity(8)
        .create(b"abc")
        .expect("creating");
    let opened = RawBytes::open(&name).expect("opening");
    opened.set_value(b"xy").expect("setting");
    assert_eq!(s.value(), b"xy");
    assert_eq!(s.raw(), b"xy\0\0\0\0\0\0");
    // A raw byte string cannot be opened as one with a lock: its lock area
    // holds no mutex.
    let error = SharedBytes::open(&name).expect_err("no lock to take");
    assert!(matches!(error, Error::LockModeMismatch { .. }), "{error:?}");
    s.unlink().expect("unlinking");

    // Nor the other way round.
    let locked = SharedBytes::create(&name, b"abc").expect("creating");
    let error = RawBytes::open(&name).expect_err("it has a lock");
    assert!(matches!(error, Error::LockModeMismatch { .. }), "{error:?}");
    locked.unlink().expect("unlinking");
}

#[test]
fn a_zero_length_array() {
    if let Some(role) = support::role() {
        assert_eq!(role, "empty");
        let array = Array::<Point>::open(&support::arg("NAME")).expect("opening");
        assert!(array.is_empty());
        assert_eq!(array.to_vec().expect("copying"), []);
        assert!(matches!(
            array.get(0),
            Err(Error::IndexOutOfRange { index: 0, len: 0 })
        ));
        return;
    }
    let name = support::unique_name("empty");
    let _guard = RemoveOnDrop::shm(&name);
    let array = Array::<Point>::create(&name, &[]).expect("creating");
    assert_eq!((array.len(), array.is_empty()), (0, true));
    assert_eq!(array.lock().expect("locking").iter().next(), None);
    array.copy_from_slice(&[]).expect("an empty slice fits");
    array.copy_to_slice(&mut []).expect("an empty slice fits");
    assert!(array.copy_from_slice(&POINTS[..1]).is_err());
    run_child("a_zero_length_array", "empty", &name);
    let bytes_name = support::unique_name("nobytes");
    let _bytes_guard = RemoveOnDrop::shm(&bytes_name);
    let bytes = SharedBytes::create(&bytes_name, b"").expect("an empty byte string");
    assert_eq!(
        (bytes.capacity(), bytes.value().expect("copying")),
        (0, vec![])
    );
    assert!(bytes.set_value(b"x").is_err());
    bytes.set_value(b"").expect("nothing fits");
    bytes.unlink().expect("unlinking");
    array.unlink().expect("unlinking");
}

/// An iterator that says it has more elements than it yields.
struct Shortfall(std::ops::Range<u32>, usize);

impl Iterator for Shortfall {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        self.0.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.1, Some(self.1))
    }
}

impl ExactSizeIterator for Shortfall {}

#[test]
fn iterators_that_misreport_their_length_are_contained() {
    let name = support::unique_name("iter");
    let _guard = RemoveOnDrop::shm(&name);
    let short = RawArray::builder(&name)
        .from_iter(Shortfall(1..3, 4))
        .expect("creating");
    assert_eq!(short.to_vec(), [1, 2, 0, 0], "the rest is zero");
    short.unlink().expect("unlinking");
    let long = RawArray::builder(&name)
        .from_iter(Shortfall(1..9, 2))
        .expect("creating");
    assert_eq!(long.to_vec(), [1, 2], "cut at the stated length");
    long.unlink().expect("unlinking");
}

#[test]
fn raw_values_share_like_values() {
    if let Some(role) = support::role() {
        assert_eq!(role, "square");
        let x = RawValue::<f64>::open(&support::arg("NAME")).expect("opening");
        x.set(x.get() * x.get());
        return;
    }
    let name = support::unique_name("rawvalue");
    let _guard = RemoveOnDrop::shm(&name);
    let x = RawValue::create(&name, 1.0f64 / 3.0).expect("creating");
    run_child("raw_values_share_like_values", "square", &name);
    assert_eq!(x.get().to_string(), "0.1111111111111111");
    x.unlink().expect("unlinking");
}
