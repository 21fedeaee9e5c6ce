//! Rendering a [`Layout`] as Rust source ([`Layout::to_rust`]).

use std::fmt::Write as _;

use super::render::{position, Names};
use super::{Kind, Layout};

impl Layout {
    /// Rust source that declares this layout again: a `#[repr(C)]`
    /// `#[derive(SharedLayout)]` struct for the struct and for every struct
    /// nested in it, each once, nested ones first, with `packed(N)` and
    /// `align(N)` as stored. Compiled, it derives a descriptor with the same
    /// [`fingerprint`](Layout::fingerprint), unless a name had to be
    /// adjusted (names are part of the fingerprint).
    ///
    /// Names that are Rust keywords become raw identifiers (`r#type`); a
    /// second struct with the same name becomes `Inner_2`. A layout that is
    /// not a struct becomes a `type` alias named as in `to_ctypes`.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmstruct::SharedLayout;
    ///
    /// #[derive(SharedLayout)]
    /// #[repr(C)]
    /// struct Point {
    ///     x: f64,
    ///     y: f64,
    /// }
    ///
    /// assert!(Point::LAYOUT.to_rust().contains(
    ///     "#[derive(SharedLayout)]\n#[repr(C)]\npub struct Point {\n    pub x: f64,\n    pub y: f64,\n}\n"
    /// ));
    /// ```
    #[must_use]
    pub fn to_rust(&self) -> String {
        let names = Names::new(self, RUST_RESERVED.iter(), rust_identifier);
        let name_of = |layout: &Layout| {
            let i = position(&names.structs, layout).expect("every struct was collected");
            names.names[i].clone()
        };
        let mut out = String::from("use shmstruct::SharedLayout;\n");
        for (layout, name) in names.structs.iter().zip(&names.names) {
            let Kind::Struct {
                fields,
                packed,
                align,
            } = layout.kind()
            else {
                unreachable!("only structs are collected")
            };
            let repr = match (packed, align) {
                (Some(1), _) => "C, packed".to_owned(),
                (Some(pack), _) => format!("C, packed({pack})"),
                (None, Some(align)) => format!("C, align({align})"),
                (None, None) => "C".to_owned(),
            };
            out.push('\n');
            if name.contains('_') {
                out.push_str("#[allow(non_camel_case_types)]\n");
            }
            let _ = writeln!(
                out,
                "#[derive(SharedLayout)]\n#[repr({repr})]\npub struct {name} {{"
            );
            for field in fields.iter() {
                let ty = rust_type(field.ty(), &name_of);
                let _ = writeln!(out, "    pub {}: {ty},", rust_field(field.name()));
            }
            out.push_str("}\n");
        }
        if let Some(alias) = &names.alias {
            let _ = writeln!(
                out,
                "\n#[allow(non_camel_case_types)]\npub type {alias} = {};",
                rust_type(self, &name_of)
            );
        }
        out
    }
}

/// Rust's strict and reserved keywords, which need `r#` as field names;
/// as type names they get a `_` instead (`r#Self` is not allowed).
const RUST_RESERVED: [&str; 51] = [
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
];

/// `name` made into a plain ASCII Rust type name that is no keyword.
fn rust_identifier(name: &str) -> String {
    let mut id: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        id.insert(0, 'S');
    }
    if RUST_RESERVED.contains(&id.as_str()) || matches!(id.as_str(), "SharedLayout" | "ByteString")
    {
        id.push('_');
    }
    id
}

/// A field name: as declared when it is a plain identifier, `r#` for a
/// keyword that allows it.
fn rust_field(name: &str) -> String {
    let id = rust_identifier(name);
    match id.strip_suffix('_') {
        Some(keyword)
            if keyword == name && !matches!(name, "self" | "Self" | "super" | "crate") =>
        {
            format!("r#{name}")
        }
        _ => id,
    }
}

/// The Rust type of a layout; `name_of` names structs.
fn rust_type(layout: &Layout, name_of: &dyn Fn(&Layout) -> String) -> String {
    match layout.kind() {
        Kind::Primitive(primitive) => primitive.rust_name().to_owned(),
        Kind::Atomic(_) => format!("::std::sync::atomic::{}", layout.name()),
        Kind::Bytes { capacity } => format!("::shmstruct::ByteString<{capacity}>"),
        Kind::Array { element, len } => format!("[{}; {len}]", rust_type(element, name_of)),
        Kind::Struct { .. } => name_of(layout),
    }
}
