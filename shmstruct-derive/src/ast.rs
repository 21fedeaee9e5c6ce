//! The derive input, parsed: the struct's name, its `#[shm]` settings, and —
//! when it is a struct with named fields and a supported repr — its body.

use syn::{Data, DeriveInput, Fields, Ident, Type};

use crate::attr::{self, Attrs};
use crate::ctxt::Ctxt;
use crate::repr::{self, Repr};

/// A derive input, parsed as far as it could be.
pub struct Input<'a> {
    pub ident: &'a Ident,
    pub attrs: Attrs,
    /// `None` when the input is not a struct with named fields or its repr is
    /// not supported; an error has been recorded then.
    pub body: Option<Body<'a>>,
}

/// A `#[repr(C)]` struct with named fields.
pub struct Body<'a> {
    pub repr: Repr,
    pub fields: Vec<Field<'a>>,
}

/// One named field.
pub struct Field<'a> {
    pub ident: &'a Ident,
    pub ty: &'a Type,
}

impl<'a> Input<'a> {
    /// Parses `input`, recording every problem in `cx`.
    pub fn from_syn(cx: &Ctxt, input: &'a DeriveInput) -> Input<'a> {
        let attrs = attr::parse(cx, &input.attrs);
        let body = match &input.data {
            Data::Struct(data) => {
                let fields = named_fields(cx, input, &data.fields);
                let repr = repr::parse(cx, &input.attrs, &input.ident);
                for field in &data.fields {
                    no_shm_attribute(cx, &field.attrs);
                }
                repr.zip(fields).map(|(repr, fields)| Body { repr, fields })
            }
            Data::Enum(data) => {
                cx.error_spanned_by(
                    data.enum_token,
                    "`#[derive(SharedLayout)]` cannot be used on an enum: another process may \
                     write a value that is no valid variant; store the variant in an integer \
                     field (e.g. `u8`) of a `#[repr(C)]` struct and convert it when reading",
                );
                None
            }
            Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "`#[derive(SharedLayout)]` cannot be used on a union: the descriptor could \
                     not say which field holds the data; use a `#[repr(C)]` struct, or a byte \
                     array `[u8; N]` that you decode yourself",
                );
                None
            }
        };
        Input {
            ident: &input.ident,
            attrs,
            body,
        }
    }
}

/// The fields of a struct with named fields; an error for tuple and unit structs.
fn named_fields<'a>(
    cx: &Ctxt,
    input: &'a DeriveInput,
    fields: &'a Fields,
) -> Option<Vec<Field<'a>>> {
    match fields {
        Fields::Named(named) => Some(
            named
                .named
                .iter()
                .map(|field| Field {
                    ident: field.ident.as_ref().expect("named fields have names"),
                    ty: &field.ty,
                })
                .collect(),
        ),
        Fields::Unnamed(unnamed) => {
            cx.error_spanned_by(
                unnamed,
                format!(
                    "`#[derive(SharedLayout)]` needs named fields, as ctypes' `_fields_` does: \
                     write `struct {} {{ name: Type, ... }}` instead of a tuple struct",
                    input.ident
                ),
            );
            None
        }
        Fields::Unit => {
            cx.error_spanned_by(
                &input.ident,
                format!(
                    "`#[derive(SharedLayout)]` needs a struct with named fields; `{}` is a unit \
                     struct with nothing to share: write `struct {} {{ name: Type, ... }}`",
                    input.ident, input.ident
                ),
            );
            None
        }
    }
}

/// `#[shm(...)]` belongs on the struct; on a field it would be ignored.
fn no_shm_attribute(cx: &Ctxt, attrs: &[syn::Attribute]) {
    for attr in attrs.iter().filter(|attr| attr.path().is_ident(attr::SHM)) {
        cx.error_spanned_by(attr, "#[shm(...)] goes on the struct, not on a field");
    }
}
