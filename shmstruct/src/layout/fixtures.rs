//! Structs the unit tests of several layout modules describe.

/// Two `f64`s: the smallest named struct, as Python's tour has it.
#[derive(crate::SharedLayout)]
#[repr(C)]
#[allow(dead_code)] // only its layout is used
pub(crate) struct Point {
    x: f64,
    y: f64,
}
