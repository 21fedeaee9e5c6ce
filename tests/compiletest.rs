//! Compile-fail tests of `#[derive(SharedLayout)]`: every file in `tests/ui`
//! must fail to build with exactly the errors in its `.stderr` (regenerate
//! them with `TRYBUILD=overwrite` and read every one).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("../tests/ui/*.rs");
}
