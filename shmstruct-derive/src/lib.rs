//! `#[derive(SharedLayout)]` for shmstruct.
//!
//! The macro runs in three steps, each in its own file: `ast` parses the
//! input (with `repr` and `attr` for the attributes), `valid` rejects field
//! types that cannot live in shared memory, and `expand` writes the
//! `unsafe impl` with its descriptor and compile-time checks. Every mistake is
//! collected in a `ctxt::Ctxt` so that one build reports all of them.
#![forbid(unsafe_code)]

mod ast;
mod attr;
mod ctxt;
mod expand;
mod repr;
mod valid;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `shmstruct::SharedLayout` for a `#[repr(C)]` struct with named
/// fields, all of them `SharedLayout`.
///
/// Accepts `#[shm(size = N, align = M)]` to assert the layout at compile time,
/// and `#[shm(crate = "path")]` for crates that re-export shmstruct.
#[proc_macro_derive(SharedLayout, attributes(shm))]
pub fn derive_shared_layout(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
