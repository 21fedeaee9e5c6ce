//! Compile tests. Every file in `tests/ui` (the derive's mistakes) must
//! fail to build with exactly the errors in its `.stderr` (regenerate them
//! with `TRYBUILD=overwrite` and read every one). Every file in
//! `tests/pass` (`?` on `lock()`, `get()`, `to_vec()` and `open()` in
//! `main` functions returning `anyhow::Result` and boxed errors) must build
//! and run successfully; they remove their segments when they return.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("../tests/ui/*.rs");
    t.pass("../tests/pass/*.rs");
}
