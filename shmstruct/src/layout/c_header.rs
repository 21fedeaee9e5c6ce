//! Rendering a [`Layout`] as a C11 header ([`Layout::to_c_header`]).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::render::{natural_align, position, unique_name, Names};
use super::{Kind, Layout, Primitive};

impl Layout {
    /// A C11 header that declares this layout: one `typedef struct` for the
    /// struct and for every struct nested in it (through fields or arrays),
    /// each once, nested ones first.
    ///
    /// Every struct is followed by `_Static_assert`s on its `sizeof`, its
    /// `_Alignof` and the `offsetof` of every field, so a C compiler refuses
    /// the header unless it lays the types out exactly as the descriptor
    /// says, as the self-check of [`to_ctypes`](Layout::to_ctypes) does for
    /// Python.
    ///
    /// - Numbers are `uint8_t`..`int64_t`, `float` and `double`; `Atomic*`
    ///   integers are `_Atomic` integers; a [`ByteString<N>`](crate::ByteString)
    ///   is `char name[N]`; `[[T; 2]; 3]` is `T name[3][2]`.
    /// - `#[repr(C, align(N))]` (or any alignment the fields do not give) is
    ///   `__attribute__((aligned(N)))` on the struct (GCC and Clang).
    /// - `#[repr(C, packed(N))]` is `#pragma pack(push, N)` around the
    ///   struct, which GCC, Clang and MSVC all honour, and which caps every
    ///   field's alignment at `N` as Rust does (`__attribute__((packed))`
    ///   would give only `packed(1)`).
    /// - A layout that is not a struct becomes a `typedef` named as in
    ///   `to_ctypes`: `typedef Point Point_Array_3[3];`.
    ///
    /// Names that are not plain C identifiers, are C keywords or reserved
    /// identifiers, or clash with another struct's are adjusted as in
    /// `to_ctypes` (`int` becomes `int_`, a second `Inner` becomes
    /// `Inner_2`), with a comment.
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
    /// let header = Point::LAYOUT.to_c_header();
    /// assert!(header.contains("typedef struct Point {\n    double x;\n    double y;\n} Point;\n"));
    /// assert!(header.contains("_Static_assert(offsetof(Point, y) == 8, \"Point.y: offset 8\");"));
    /// ```
    #[must_use]
    pub fn to_c_header(&self) -> String {
        Header::new(self).source()
    }
}

/// C11 keywords and the names the header itself uses, which no type or
/// field may take.
const C_RESERVED: [&str; 62] = [
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "asm",
    "typeof",
    "bool",
    "true",
    "false",
    "alignas",
    "alignof",
    "static_assert",
    "thread_local",
    "noreturn",
    "complex",
    "imaginary",
    "atomic_flag",
    "offsetof",
    "size_t",
    "ptrdiff_t",
    "max_align_t",
    "wchar_t",
    "NULL",
    "uint8_t",
    "uint16_t",
    "uint32_t",
    "uint64_t",
    "int8_t",
    "int16_t",
    "int32_t",
    "int64_t",
    "main",
];

/// The C type of a number.
fn c_number(primitive: Primitive) -> &'static str {
    match primitive {
        Primitive::U8 => "uint8_t",
        Primitive::U16 => "uint16_t",
        Primitive::U32 => "uint32_t",
        Primitive::U64 => "uint64_t",
        Primitive::I8 => "int8_t",
        Primitive::I16 => "int16_t",
        Primitive::I32 => "int32_t",
        Primitive::I64 => "int64_t",
        Primitive::F32 => "float",
        Primitive::F64 => "double",
    }
}

/// `name` made into a plain ASCII C identifier that is not reserved: no
/// keyword, no leading digit, no `_X` or `__` prefix (reserved to the
/// implementation), none of the header's own names.
fn c_identifier(name: &str) -> String {
    let mut id: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let reserved_prefix = id.starts_with("__")
        || id
            .strip_prefix('_')
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()));
    if id.is_empty() || id.starts_with(|c: char| c.is_ascii_digit()) || reserved_prefix {
        id.insert(0, 'S');
    }
    if C_RESERVED.contains(&id.as_str()) || id.starts_with("atomic_") {
        id.push('_');
    }
    id
}

/// The typedefs `to_c_header` emits and their C names.
struct Header<'a> {
    root: &'a Layout,
    /// Every struct in the layout, each once, nested ones first.
    structs: Vec<&'a Layout>,
    /// The C name of `structs[i]`.
    names: Vec<String>,
    /// The typedef name of a root that is not a struct.
    alias: Option<String>,
}

impl<'a> Header<'a> {
    fn new(root: &'a Layout) -> Header<'a> {
        let names = Names::new(root, C_RESERVED.iter(), c_identifier);
        Header {
            root,
            structs: names.structs,
            names: names.names,
            alias: names.alias,
        }
    }

    /// The C name of a struct in `structs`.
    fn name_of(&self, layout: &Layout) -> &str {
        let i = position(&self.structs, layout).expect("every nested struct was collected");
        &self.names[i]
    }

    /// The C declaration of `declarator` with type `layout`: `double x`,
    /// `char s[16]`, `int32_t cells[3][2]`.
    fn declaration(&self, layout: &Layout, declarator: &str) -> String {
        match layout.kind() {
            Kind::Primitive(primitive) => format!("{} {declarator}", c_number(*primitive)),
            Kind::Atomic(primitive) => format!("_Atomic {} {declarator}", c_number(*primitive)),
            Kind::Bytes { capacity } => format!("char {declarator}[{capacity}]"),
            Kind::Array { element, len } => {
                self.declaration(element, &format!("{declarator}[{len}]"))
            }
            Kind::Struct { .. } => format!("{} {declarator}", self.name_of(layout)),
        }
    }

    fn source(&self) -> String {
        let root_name = self
            .alias
            .clone()
            .unwrap_or_else(|| self.name_of(self.root).to_owned());
        let guard = format!("SHMSTRUCT_{}_H", root_name.to_ascii_uppercase());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "/* C declarations for the Rust type `{}`, generated by shmstruct.\n \
             * The _Static_asserts make the compiler check that it lays every type\n \
             * out as the Rust type is. */",
            c_comment(&self.root.name())
        );
        let _ = writeln!(out, "#ifndef {guard}\n#define {guard}\n");
        out.push_str("#include <stddef.h>\n#include <stdint.h>\n");
        for (i, layout) in self.structs.iter().enumerate() {
            out.push('\n');
            self.write_struct(&mut out, layout, &self.names[i]);
        }
        if let Some(alias) = &self.alias {
            let _ = writeln!(
                out,
                "\n/* The Rust type `{}`. */",
                c_comment(&self.root.name())
            );
            let _ = writeln!(out, "typedef {};", self.declaration(self.root, alias));
            write_type_asserts(&mut out, alias, self.root);
        }
        let _ = writeln!(out, "\n#endif /* {guard} */");
        out
    }

    fn write_struct(&self, out: &mut String, layout: &Layout, name: &str) {
        let Kind::Struct { fields, packed, .. } = layout.kind() else {
            unreachable!("only structs are collected")
        };
        let rust_name = layout.name();
        if name != rust_name {
            let _ = writeln!(
                out,
                "/* The Rust struct `{}`, renamed to a unique C identifier. */",
                c_comment(&rust_name)
            );
        }
        if let Some(pack) = packed {
            let _ = writeln!(out, "#pragma pack(push, {pack})");
        }
        let attribute = if layout.align() > natural_align(layout) {
            format!("__attribute__((aligned({}))) ", layout.align())
        } else {
            String::new()
        };
        let _ = writeln!(out, "typedef struct {attribute}{name} {{");
        let mut field_names = BTreeSet::new();
        let mut c_fields = Vec::with_capacity(fields.len());
        for field in fields.iter() {
            let c_name = unique_name(c_identifier(field.name()), &mut field_names);
            let renamed = if c_name == field.name() {
                String::new()
            } else {
                format!("  /* Rust field `{}` */", c_comment(field.name()))
            };
            let _ = writeln!(
                out,
                "    {};{renamed}",
                self.declaration(field.ty(), &c_name)
            );
            c_fields.push((c_name, field.offset()));
        }
        let _ = writeln!(out, "}} {name};");
        if packed.is_some() {
            out.push_str("#pragma pack(pop)\n");
        }
        write_type_asserts(out, name, layout);
        for (c_name, offset) in c_fields {
            let _ = writeln!(
                out,
                "_Static_assert(offsetof({name}, {c_name}) == {offset}, \"{name}.{c_name}: offset {offset}\");"
            );
        }
    }
}

/// The `_Static_assert`s on the size and alignment of the type `name`.
fn write_type_asserts(out: &mut String, name: &str, layout: &Layout) {
    let (size, align) = (layout.size(), layout.align());
    let _ = writeln!(
        out,
        "_Static_assert(sizeof({name}) == {size}, \"{name}: size {size}\");"
    );
    let _ = writeln!(
        out,
        "_Static_assert(_Alignof({name}) == {align}, \"{name}: alignment {align}\");"
    );
}

/// `text` safe inside a C comment: printable ASCII, no `*/`.
fn c_comment(text: &str) -> String {
    text.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect::<String>()
        .replace("*/", "*?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_made_legal_c() {
        assert_eq!(c_identifier("int"), "int_");
        assert_eq!(c_identifier("9lives"), "S9lives");
        assert_eq!(c_identifier("_Bool"), "S_Bool");
        assert_eq!(c_identifier("__x"), "S__x");
        assert_eq!(c_identifier("_ok"), "_ok");
        assert_eq!(c_identifier("Caf\u{e9}"), "Caf_");
        assert_eq!(c_identifier("uint8_t"), "uint8_t_");
        assert_eq!(c_identifier(""), "S");
    }

    #[test]
    fn comments_cannot_be_closed_early() {
        assert_eq!(c_comment("a*/b\u{e9}"), "a*?b?");
    }
}
