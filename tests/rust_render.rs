//! The Rust round trip: `Layout::to_rust()` of a struct that nests every
//! kind of field, compiled (`tests/rust_render/generated.rs` is its output,
//! checked below to be exactly that), derives the same fingerprint.

#[path = "support/layouts.rs"]
mod layouts;

use layouts::*;
use shmstruct::SharedLayout;

#[derive(SharedLayout)]
#[repr(C)]
struct Everything {
    demo: Demo,
    aligned: HoldsAligned16,
    packed: HoldsPacked,
    counters: Counters,
    grid: Grid,
    far: HoldsAligned64,
}

mod generated {
    include!("rust_render/generated.rs");
}

#[test]
fn generated_source_is_the_renderers_output() {
    let source = Everything::LAYOUT.to_rust();
    let file = include_str!("rust_render/generated.rs");
    if source != file && std::env::var_os("SHMSTRUCT_BLESS").is_some() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/rust_render/generated.rs"
        );
        std::fs::write(path, &source).expect("writing the generated source");
    }
    assert_eq!(
        source, file,
        "regenerate tests/rust_render/generated.rs with SHMSTRUCT_BLESS=1"
    );
}

#[test]
fn generated_source_derives_the_same_fingerprint() {
    let original = Everything::LAYOUT;
    let compiled = generated::Everything::LAYOUT;
    assert_eq!(compiled, original);
    assert_eq!(compiled.fingerprint(), original.fingerprint());
}
