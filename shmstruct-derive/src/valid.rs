//! Rejects what cannot live in shared memory and can be seen in the syntax:
//! generic parameters, and field types such as `bool`, `usize`, `String` or
//! references (also inside arrays). Any other type that is not
//! `SharedLayout` is caught by the trait bound in the expansion, whose
//! `on_unimplemented` message explains it.

use syn::{Data, DeriveInput, GenericArgument, PathArguments, Type, TypePath};

use crate::ctxt::Ctxt;

/// Records an error for every generic parameter list and every forbidden field type.
pub fn check(cx: &Ctxt, input: &DeriveInput) {
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            "`#[derive(SharedLayout)]` cannot be used on a generic struct: the layout in shared \
             memory must be one fixed type that every process agrees on; remove the parameters \
             (e.g. write `[u8; 16]`, not `[u8; N]`)",
        );
    }
    if let Data::Struct(data) = &input.data {
        for field in &data.fields {
            field_type(cx, &field.ty);
        }
    }
}

/// Records an error if `ty` is a type that never fits shared memory.
fn field_type(cx: &Ctxt, ty: &Type) {
    match ty {
        Type::Array(array) => field_type(cx, &array.elem),
        Type::Paren(paren) => field_type(cx, &paren.elem),
        Type::Group(group) => field_type(cx, &group.elem),
        Type::Reference(_) => cx.error_spanned_by(
            ty,
            "a reference cannot live in shared memory: it points into one process's address \
             space; store the data itself (a number, `[T; N]`, `ByteString<N>` or a struct)",
        ),
        Type::Ptr(_) => cx.error_spanned_by(
            ty,
            "a raw pointer cannot live in shared memory: an address in one process means \
             nothing in another; store the data itself, or an offset as `u64`",
        ),
        Type::BareFn(_) => cx.error_spanned_by(
            ty,
            "a function pointer cannot live in shared memory: an address in one process means \
             nothing in another; store a number that says which function to call",
        ),
        Type::Tuple(_) => cx.error_spanned_by(
            ty,
            "a tuple cannot live in shared memory: Rust does not fix its layout; use a \
             `#[repr(C)]` struct with `#[derive(SharedLayout)]`, or an array `[T; N]`",
        ),
        Type::Slice(_) => cx.error_spanned_by(
            ty,
            "a slice cannot live in shared memory: its length is not fixed; use an array `[T; N]`",
        ),
        Type::TraitObject(_) => cx.error_spanned_by(
            ty,
            "a trait object cannot live in shared memory: it has no fixed size or layout; use a \
             concrete type",
        ),
        Type::Path(path) => {
            if let Some(message) = forbidden_path(path) {
                cx.error_spanned_by(ty, message);
            }
        }
        _ => {}
    }
}

/// The message for a type path that never fits shared memory.
fn forbidden_path(ty: &TypePath) -> Option<&'static str> {
    if ty.qself.is_some() {
        return None;
    }
    let path = &ty.path;
    let last = path.segments.last()?;
    let prefix: Vec<String> = path
        .segments
        .iter()
        .take(path.segments.len() - 1)
        .map(|segment| segment.ident.to_string())
        .collect();
    let prefix: Vec<&str> = prefix.iter().map(String::as_str).collect();
    let bare = prefix.is_empty() && path.leading_colon.is_none();
    let has_args = !matches!(last.arguments, PathArguments::None);
    let name = last.ident.to_string();

    // Primitives: written bare, or as `core::primitive::bool`, `std::primitive::bool`.
    let primitive =
        !has_args && (bare || matches!(prefix.as_slice(), ["core" | "std", "primitive"]));
    if primitive {
        let message = match name.as_str() {
            "bool" => Some(
                "`bool` cannot live in shared memory: only 0 and 1 are valid, and another \
                 process may write any byte; use `u8` (0 or 1)",
            ),
            "char" => Some(
                "`char` cannot live in shared memory: not every `u32` is a valid `char`, and \
                 another process may write any value; use `u32` (with `char::from_u32`) or \
                 `ByteString<N>` for text",
            ),
            "usize" => Some(
                "`usize` cannot live in shared memory: its width differs between targets (4 \
                 bytes on 32-bit, 8 on 64-bit), so processes could disagree on the layout; use \
                 `u64`",
            ),
            "isize" => Some(
                "`isize` cannot live in shared memory: its width differs between targets (4 \
                 bytes on 32-bit, 8 on 64-bit), so processes could disagree on the layout; use \
                 `i64`",
            ),
            "str" => Some(
                "`str` cannot live in shared memory: its length is not fixed; use \
                 `ByteString<N>`",
            ),
            _ => None,
        };
        if message.is_some() {
            return message;
        }
    }

    // Heap types: written bare, or through std/alloc.
    let std_path = bare
        || matches!(
            prefix.as_slice(),
            ["std" | "alloc", "string"] | ["std" | "alloc", "vec"] | ["std" | "alloc", "boxed"]
        );
    if !std_path {
        return None;
    }
    match name.as_str() {
        "String" if !has_args => Some(
            "`String` cannot live in shared memory: it points into one process's heap; use \
             `ByteString<N>`, a byte string of fixed capacity",
        ),
        "Vec" if one_type_argument(&last.arguments) => Some(
            "`Vec` cannot live in shared memory: it points into one process's heap; use a fixed \
             array `[T; N]`",
        ),
        "Box" if one_type_argument(&last.arguments) => Some(
            "`Box` cannot live in shared memory: it points into one process's heap; store the \
             value itself",
        ),
        _ => None,
    }
}

/// `<T>`: the argument list of `Vec<T>` and `Box<T>`.
fn one_type_argument(arguments: &PathArguments) -> bool {
    match arguments {
        PathArguments::AngleBracketed(args) => {
            matches!(args.args.first(), Some(GenericArgument::Type(_)))
        }
        _ => false,
    }
}
