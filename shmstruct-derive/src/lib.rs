//! `#[derive(SharedLayout)]` for shmstruct.
#![forbid(unsafe_code)]

use proc_macro::TokenStream;

/// Derives `shmstruct::SharedLayout` for a `#[repr(C)]` struct.
#[proc_macro_derive(SharedLayout, attributes(shm))]
pub fn derive_shared_layout(input: TokenStream) -> TokenStream {
    let _ = input;
    TokenStream::new()
}
