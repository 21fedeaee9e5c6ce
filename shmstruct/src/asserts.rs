//! Compile-time assertions for `#[shm(size = N, align = M)]`, used by the
//! derive's expansion through `__private`.
//!
//! A const panic cannot format numbers, so a mismatch is a trait bound that
//! fails instead: `(): SizeIs<T, ACTUAL, EXPECTED>` holds only when both
//! numbers are equal, and its `on_unimplemented` message shows the struct and
//! both numbers.

/// Holds when `ACTUAL == EXPECTED`, where `ACTUAL` is `size_of::<T>()`.
#[diagnostic::on_unimplemented(
    message = "`{T}` is not {EXPECTED} bytes as #[shm(size = {EXPECTED})] asserts: it is {ACTUAL} bytes",
    label = "size_of::<{T}>() is {ACTUAL}, not {EXPECTED}",
    note = "fix the fields, or the number in #[shm(size = ...)]"
)]
pub trait SizeIs<T, const ACTUAL: usize, const EXPECTED: usize> {}

impl<T, const N: usize> SizeIs<T, N, N> for () {}

/// Holds when `ACTUAL == EXPECTED`, where `ACTUAL` is `align_of::<T>()`.
#[diagnostic::on_unimplemented(
    message = "`{T}` is not aligned to {EXPECTED} bytes as #[shm(align = {EXPECTED})] asserts: \
               its alignment is {ACTUAL}",
    label = "align_of::<{T}>() is {ACTUAL}, not {EXPECTED}",
    note = "fix the fields or the repr (e.g. #[repr(C, align(N))]), or the number in \
            #[shm(align = ...)]"
)]
pub trait AlignIs<T, const ACTUAL: usize, const EXPECTED: usize> {}

impl<T, const N: usize> AlignIs<T, N, N> for () {}

/// Compiles only when `ACTUAL` (`size_of::<T>()`) equals `EXPECTED`.
pub const fn assert_size<T, const ACTUAL: usize, const EXPECTED: usize>()
where
    (): SizeIs<T, ACTUAL, EXPECTED>,
{
}

/// Compiles only when `ACTUAL` (`align_of::<T>()`) equals `EXPECTED`.
pub const fn assert_align<T, const ACTUAL: usize, const EXPECTED: usize>()
where
    (): AlignIs<T, ACTUAL, EXPECTED>,
{
}
