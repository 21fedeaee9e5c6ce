//! Rendering a [`Layout`] for people and for Python.
//!
//! - `{}` ([`Display`](fmt::Display)): the ctypes `_fields_` form, one line.
//! - `{:#}`: a table in the manner of `pahole`, with offsets, sizes,
//!   alignments and the padding holes.
//! - [`Layout::to_ctypes`]: Python source defining the matching
//!   `ctypes.Structure` classes, which checks itself when it runs.
//!
//! ctypes has no atomic types: an `Atomic*` field renders as its integer
//! type (`AtomicU32` as `c_uint32`), which has the same size and alignment.

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};

use super::{Kind, Layout};

/// Shows the layout as ctypes would declare it; `{:#}` shows a table.
///
/// A struct prints as its name and its `_fields_`, with `_pack_` and
/// `_align_` first when the struct is `#[repr(C, packed(N))]` or
/// `#[repr(C, align(N))]`:
///
/// ```text
/// Point: _fields_ = [('x', c_double), ('y', c_double)]
/// Packed: _pack_ = 1, _fields_ = [('a', c_uint8), ('b', c_uint32)]
/// Line: _align_ = 64, _fields_ = [('hits', c_uint64)]
/// ```
///
/// Any other layout prints as its ctypes type expression: `c_double`,
/// `c_double * 3`, `(c_int32 * 2) * 3`, `c_char * 16` for a
/// [`ByteString<16>`](crate::ByteString), `Point * 3` for an array of
/// structs. Atomics print as their integer type, since ctypes has none.
///
/// The alternate form `{:#}` prints one line per field with its offset,
/// size, alignment and ctypes type, the holes between fields and the
/// trailing padding, like `pahole` does for C:
///
/// ```text
/// #[repr(C)]
/// struct Demo {           // offset  size  align  ctypes
///     n: i32,             //      0     4      4  c_int32
///     /* 4-byte hole */   //      4     4
///     x: f64,             //      8     8      8  c_double
///     s: ByteString<16>,  //     16    16      1  c_char * 16
///     a: [Point; 3],      //     32    48      8  Point * 3
/// }                       // size 80, align 8
/// ```
///
/// Nested structs appear by name; print their own layout to see inside
/// them. In a packed struct the alignment column is the alignment the
/// field actually gets, `min(N, its type's alignment)`.
///
/// # Examples
///
/// ```
/// use shmstruct::{ByteString, SharedLayout};
///
/// assert_eq!(f64::LAYOUT.to_string(), "c_double");
/// assert_eq!(<[[i32; 2]; 3]>::LAYOUT.to_string(), "(c_int32 * 2) * 3");
/// assert_eq!(ByteString::<16>::LAYOUT.to_string(), "c_char * 16");
/// assert_eq!(format!("{:#}", <[u16; 4]>::LAYOUT), "[u16; 4]: c_uint16 * 4  // size 8, align 2");
/// ```
///
/// A derived struct:
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
/// assert_eq!(
///     Point::LAYOUT.to_string(),
///     "Point: _fields_ = [('x', c_double), ('y', c_double)]"
/// );
/// assert_eq!(
///     format!("{:#}", Point::LAYOUT),
///     "#[repr(C)]\n\
///      struct Point {  // offset  size  align  ctypes\n    \
///          x: f64,     //      0     8      8  c_double\n    \
///          y: f64,     //      8     8      8  c_double\n\
///      }               // size 16, align 8"
/// );
/// ```
impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            write_table(self, f)
        } else {
            write_fields(self, f)
        }
    }
}

impl Layout {
    /// Python source that defines `ctypes.Structure` classes for this
    /// layout: one class for the struct and one for every struct nested in
    /// it (through fields or arrays), each once, nested ones first.
    ///
    /// For a layout that is not a struct, the source defines the classes
    /// of any structs inside it and then a module-level alias for the type
    /// itself, named after it: `f64 = c_double`, `AtomicU32 = c_uint32`,
    /// `ByteString_16 = c_char * 16`, `Point_Array_3 = Point * 3`.
    ///
    /// The classes are ordinary `Structure` subclasses, so
    /// `Demo.from_buffer(mapping)` views shared memory in place.
    ///
    /// - `#[repr(C, packed(N))]` becomes `_pack_ = N`, with `_layout_ = 'ms'`
    ///   (Python 3.14 applies `_pack_` only with that layout and warns
    ///   without it; for structs without bitfields it is GCC's layout too;
    ///   older Pythons ignore it). Works on every Python 3.
    /// - `#[repr(C, align(N))]` becomes `_align_ = N`, which ctypes honours
    ///   from Python 3.13. For older Pythons, when `N` is 2, 4, 8 or 16 the
    ///   class also gets a zero-length field of an `N`-aligned type
    ///   (`('_shmstruct_align_', c_longdouble * 0)` for 16), which gives the
    ///   same size, alignment and offsets. Python before 3.13 has no type
    ///   aligned to more than 16 bytes, so there the code for `align(32)`
    ///   and above raises `ImportError`, saying so.
    ///
    /// The generated code checks itself: right after each class it compares
    /// ctypes' `sizeof`, `alignment` and every field's `.offset` and `.size`
    /// with this descriptor, and raises `ImportError` naming the class and
    /// the differences if any does not match. It is never silently wrong.
    ///
    /// Names: a class takes its struct's name. A name that is not a plain
    /// ASCII Python identifier, is a Python keyword, or would shadow a name
    /// the code uses (`Structure`, `sizeof`, `c_double`, ...) is adjusted
    /// (`class` becomes `class_`). Two different structs with the same name
    /// (`a::Inner` and `b::Inner`) get two classes, `Inner` and `Inner_2`,
    /// with a comment on the renamed one; the outermost struct always keeps
    /// its name when it can.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmstruct::SharedLayout;
    ///
    /// let source = <[u32; 4]>::LAYOUT.to_ctypes();
    /// assert!(source.contains("u32_Array_4 = c_uint32 * 4\n"));
    /// ```
    ///
    /// For a struct `Point { x: f64, y: f64 }` the classes read:
    ///
    /// ```python
    /// class Point(Structure):
    ///     _fields_ = [
    ///         ('x', c_double),
    ///         ('y', c_double),
    ///     ]
    /// _shmstruct_check(Point, 16, 8, [('x', 0, 8), ('y', 8, 8)])
    /// ```
    #[must_use]
    pub fn to_ctypes(&self) -> String {
        Module::new(self).source()
    }
}

/// The `{}` form: `Name: _fields_ = [...]`, or a ctypes type expression.
fn write_fields(layout: &Layout, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let Kind::Struct {
        fields,
        packed,
        align,
    } = layout.kind()
    else {
        return f.write_str(&ctypes_type(layout, &|s| s.name().into_owned()));
    };
    write!(f, "{}: ", layout.name())?;
    if let Some(pack) = packed {
        write!(f, "_pack_ = {pack}, ")?;
    }
    if let Some(align) = align {
        write!(f, "_align_ = {align}, ")?;
    }
    f.write_str("_fields_ = [")?;
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        let ty = ctypes_type(field.ty(), &|s| s.name().into_owned());
        write!(f, "({}, {ty})", python_str(field.name()))?;
    }
    f.write_str("]")
}

/// One line of the `{:#}` table.
enum Row {
    Field {
        decl: String,
        offset: usize,
        size: usize,
        align: usize,
        ctypes: String,
    },
    Padding {
        decl: String,
        offset: usize,
        size: usize,
    },
}

/// The `{:#}` form: a pahole-like table of the fields and the padding.
fn write_table(layout: &Layout, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let struct_name = |s: &Layout| s.name().into_owned();
    let Kind::Struct {
        fields,
        packed,
        align,
    } = layout.kind()
    else {
        return write!(
            f,
            "{}: {}  // size {}, align {}",
            layout.name(),
            ctypes_type(layout, &struct_name),
            layout.size(),
            layout.align()
        );
    };

    let mut rows = Vec::with_capacity(fields.len() + 1);
    let mut end = 0;
    for field in fields.iter() {
        if field.offset() > end {
            let size = field.offset() - end;
            rows.push(Row::Padding {
                decl: format!("    /* {size}-byte hole */"),
                offset: end,
                size,
            });
        }
        rows.push(Row::Field {
            decl: format!("    {}: {},", field.name(), field.ty().name()),
            offset: field.offset(),
            size: field.size(),
            align: packed.map_or(field.align(), |pack| field.align().min(pack)),
            ctypes: ctypes_type(field.ty(), &struct_name),
        });
        end = end.max(field.offset().saturating_add(field.size()));
    }
    if layout.size() > end {
        let size = layout.size() - end;
        let bytes = if size == 1 { "byte" } else { "bytes" };
        rows.push(Row::Padding {
            decl: format!("    /* {size} {bytes} of trailing padding */"),
            offset: end,
            size,
        });
    }

    let open = format!("struct {} {{", layout.name());
    let decl_width = rows
        .iter()
        .map(|row| match row {
            Row::Field { decl, .. } | Row::Padding { decl, .. } => decl.chars().count(),
        })
        .chain([open.chars().count()])
        .max()
        .unwrap_or(0);
    let digits = |n: usize| n.to_string().len();
    let (mut w_offset, mut w_size, mut w_align) = ("offset".len(), "size".len(), "align".len());
    for row in &rows {
        let (offset, size, align) = match row {
            Row::Field {
                offset,
                size,
                align,
                ..
            } => (*offset, *size, *align),
            Row::Padding { offset, size, .. } => (*offset, *size, 0),
        };
        w_offset = w_offset.max(digits(offset));
        w_size = w_size.max(digits(size));
        w_align = w_align.max(digits(align));
    }

    let repr = match (packed, align) {
        (Some(1), _) => "#[repr(C, packed)]".to_owned(),
        (Some(pack), _) => format!("#[repr(C, packed({pack}))]"),
        (None, Some(align)) => format!("#[repr(C, align({align}))]"),
        (None, None) => "#[repr(C)]".to_owned(),
    };
    writeln!(f, "{repr}")?;
    writeln!(
        f,
        "{open:<decl_width$}  // {:>w_offset$}  {:>w_size$}  {:>w_align$}  ctypes",
        "offset", "size", "align"
    )?;
    for row in &rows {
        match row {
            Row::Field {
                decl,
                offset,
                size,
                align,
                ctypes,
            } => writeln!(
                f,
                "{decl:<decl_width$}  // {offset:>w_offset$}  {size:>w_size$}  {align:>w_align$}  {ctypes}"
            )?,
            Row::Padding { decl, offset, size } => writeln!(
                f,
                "{decl:<decl_width$}  // {offset:>w_offset$}  {size:>w_size$}"
            )?,
        }
    }
    write!(
        f,
        "{:<decl_width$}  // size {}, align {}",
        "}",
        layout.size(),
        layout.align()
    )
}

/// The ctypes type expression of a layout; `struct_name` names structs.
fn ctypes_type(layout: &Layout, struct_name: &dyn Fn(&Layout) -> String) -> String {
    match layout.kind() {
        Kind::Primitive(primitive) | Kind::Atomic(primitive) => primitive.ctypes_name().to_owned(),
        Kind::Bytes { capacity } => format!("c_char * {capacity}"),
        Kind::Array { element, len } => {
            let element_type = ctypes_type(element, struct_name);
            match element.kind() {
                Kind::Array { .. } | Kind::Bytes { .. } => format!("({element_type}) * {len}"),
                _ => format!("{element_type} * {len}"),
            }
        }
        Kind::Struct { .. } => struct_name(layout),
    }
}

/// A Python string literal (single-quoted) holding `text`, with everything
/// outside printable ASCII escaped, so that any name is safe in source.
pub(super) fn python_str(text: &str) -> String {
    let mut literal = String::with_capacity(text.len() + 2);
    literal.push('\'');
    for c in text.chars() {
        match c {
            '\\' => literal.push_str("\\\\"),
            '\'' => literal.push_str("\\'"),
            ' '..='~' => literal.push(c),
            '\n' => literal.push_str("\\n"),
            '\t' => literal.push_str("\\t"),
            '\r' => literal.push_str("\\r"),
            c if u32::from(c) <= 0xff => {
                let _ = write!(literal, "\\x{:02x}", u32::from(c));
            }
            c if u32::from(c) <= 0xffff => {
                let _ = write!(literal, "\\u{:04x}", u32::from(c));
            }
            c => {
                let _ = write!(literal, "\\U{:08x}", u32::from(c));
            }
        }
    }
    literal.push('\'');
    literal
}

/// Python's keywords, which cannot name a class.
const PYTHON_KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Module-level names the generated code uses; a class must not shadow them.
const RESERVED_NAMES: [&str; 19] = [
    "Structure",
    "alignment",
    "sizeof",
    "getattr",
    "ImportError",
    "c_char",
    "c_longdouble",
    "c_uint8",
    "c_uint16",
    "c_uint32",
    "c_uint64",
    "c_int8",
    "c_int16",
    "c_int32",
    "c_int64",
    "c_float",
    "c_double",
    CHECK_FUNCTION,
    ALIGN_FIELD,
];

/// The self-check the generated module defines, calls and deletes.
const CHECK_FUNCTION: &str = "_shmstruct_check";

/// The zero-length field that aligns a class before Python 3.13.
const ALIGN_FIELD: &str = "_shmstruct_align_";

/// The checking function, placed right after the imports.
const CHECK_SOURCE: &str = r#"

def _shmstruct_check(cls, size, align, fields):
    """Raise ImportError unless ctypes lays `cls` out as the Rust type is."""
    wrong = []
    if sizeof(cls) != size:
        wrong.append(f'sizeof is {sizeof(cls)}, not {size}')
    if alignment(cls) != align:
        wrong.append(f'alignment is {alignment(cls)}, not {align}')
    for name, offset, field_size in fields:
        field = getattr(cls, name)
        if (field.offset, field.size) != (offset, field_size):
            wrong.append(
                f'field {name!r} is at offset {field.offset} with size {field.size}, '
                f'not at {offset} with size {field_size}'
            )
    if wrong:
        import sys
        hint = ''
        if alignment(cls) < align and sys.version_info < (3, 13):
            hint = (
                f'; ctypes honours _align_ only from Python 3.13 (this is '
                f'{sys.version_info[0]}.{sys.version_info[1]}), and before that no '
                f'ctypes type is aligned to {align} bytes'
            )
        raise ImportError(
            f'ctypes cannot lay out {cls.__name__} as the Rust type is: '
            + '; '.join(wrong) + hint
        )
"#;

/// The classes `to_ctypes` emits and their Python names.
struct Module<'a> {
    root: &'a Layout,
    /// Every struct in the layout, each once, nested ones first.
    structs: Vec<&'a Layout>,
    /// The class name of `structs[i]`.
    classes: Vec<String>,
    /// The alias for a root that is not a struct.
    alias: Option<String>,
}

impl<'a> Module<'a> {
    fn new(root: &'a Layout) -> Module<'a> {
        let taken = PYTHON_KEYWORDS.iter().chain(&RESERVED_NAMES);
        let names = Names::new(root, taken, python_identifier);
        Module {
            root,
            structs: names.structs,
            classes: names.names,
            alias: names.alias,
        }
    }

    /// The class name of a struct in `structs`.
    fn class_of(&self, layout: &Layout) -> String {
        let i = position(&self.structs, layout).expect("every nested struct was collected");
        self.classes[i].clone()
    }

    fn ctypes_type(&self, layout: &Layout) -> String {
        ctypes_type(layout, &|s| self.class_of(s))
    }

    fn source(&self) -> String {
        let mut imports: BTreeSet<&'static str> = ["alignment", "sizeof"].into();
        used_ctypes_names(self.root, &mut imports);
        if !self.structs.is_empty() {
            imports.insert("Structure");
        }
        let aligners: Vec<Option<(usize, &'static str)>> =
            self.structs.iter().map(|s| aligner(s)).collect();
        imports.extend(aligners.iter().flatten().map(|(_, ty)| *ty));

        let mut out = String::new();
        let _ = writeln!(
            out,
            "# ctypes classes for the Rust type {}, generated by shmstruct.",
            python_str(&self.root.name())
        );
        out.push_str(
            "# Each class checks, right after it is defined, that ctypes gives it the\n\
             # size, alignment and field offsets of the Rust type, and raises\n\
             # ImportError if not.\n",
        );
        let imports: Vec<&str> = imports.into_iter().collect();
        let _ = writeln!(out, "from ctypes import {}", imports.join(", "));
        out.push_str(CHECK_SOURCE);

        for (i, layout) in self.structs.iter().enumerate() {
            out.push_str("\n\n");
            self.write_class(&mut out, layout, &self.classes[i], aligners[i]);
        }
        if let Some(alias) = &self.alias {
            out.push_str("\n\n");
            let _ = writeln!(out, "# The Rust type {}.", python_str(&self.root.name()));
            let _ = writeln!(out, "{alias} = {}", self.ctypes_type(self.root));
            let _ = writeln!(
                out,
                "{CHECK_FUNCTION}({alias}, {}, {}, [])",
                self.root.size(),
                self.root.align()
            );
        }
        let _ = write!(out, "\ndel {CHECK_FUNCTION}\n");
        out
    }

    fn write_class(
        &self,
        out: &mut String,
        layout: &Layout,
        class: &str,
        aligner: Option<(usize, &str)>,
    ) {
        let Kind::Struct { fields, packed, .. } = layout.kind() else {
            unreachable!("only structs are collected")
        };
        let name = layout.name();
        if class != name {
            let why = if python_identifier(&name) != name {
                "its name is not a usable Python name"
            } else {
                "another class already has its name"
            };
            let _ = writeln!(
                out,
                "# The Rust struct {}, renamed: {why}.",
                python_str(&name)
            );
        }
        let _ = writeln!(out, "class {class}(Structure):");
        if let Some(pack) = packed {
            out.push_str(
                "    # Python 3.14 applies _pack_ only with the MSVC layout, which is\n    \
                 # GCC's too for structs without bitfields; older Pythons ignore _layout_.\n",
            );
            let _ = writeln!(out, "    _layout_ = 'ms'\n    _pack_ = {pack}");
        }
        if needs_align(layout) {
            let _ = writeln!(
                out,
                "    _align_ = {}  # honoured by ctypes from Python 3.13",
                layout.align()
            );
        }
        if fields.is_empty() && aligner.is_none() {
            out.push_str("    _fields_ = []\n");
        } else {
            out.push_str("    _fields_ = [\n");
            for field in fields.iter() {
                let _ = writeln!(
                    out,
                    "        ({}, {}),",
                    python_str(field.name()),
                    self.ctypes_type(field.ty())
                );
            }
            if let Some((align, ty)) = aligner {
                let mut name = ALIGN_FIELD.to_owned();
                while fields.iter().any(|field| field.name() == name) {
                    name.push('_');
                }
                let _ = writeln!(
                    out,
                    "        ('{name}', {ty} * 0),  # alignment {align} before Python 3.13"
                );
            }
            out.push_str("    ]\n");
        }
        let checks: Vec<String> = fields
            .iter()
            .map(|field| {
                format!(
                    "({}, {}, {})",
                    python_str(field.name()),
                    field.offset(),
                    field.size()
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "{CHECK_FUNCTION}({class}, {}, {}, [{}])",
            layout.size(),
            layout.align(),
            checks.join(", ")
        );
    }
}

/// The structs of a layout and the names generated code gives them.
pub(super) struct Names<'a> {
    /// Every struct in the layout, each once, nested ones first.
    pub structs: Vec<&'a Layout>,
    /// The name of `structs[i]`: unique, a legal identifier.
    pub names: Vec<String>,
    /// The name of a root that is not a struct: `f64`, `ByteString_16`,
    /// `Point_Array_3`.
    pub alias: Option<String>,
}

impl<'a> Names<'a> {
    /// Names every struct in `root` with `identifier` applied to its name,
    /// avoiding `reserved` and each other (`Inner`, `Inner_2`). The
    /// outermost struct names itself first, so that it keeps its name.
    pub(super) fn new<'r>(
        root: &'a Layout,
        reserved: impl Iterator<Item = &'r &'r str>,
        identifier: fn(&str) -> String,
    ) -> Names<'a> {
        let mut structs = Vec::new();
        collect_structs(root, &mut structs);
        let mut taken: BTreeSet<String> = reserved.map(|name| (*name).to_owned()).collect();
        let mut names = vec![String::new(); structs.len()];
        let root_is_struct = matches!(root.kind(), Kind::Struct { .. });
        let order: Vec<usize> = match structs.len().checked_sub(1) {
            Some(last) if root_is_struct => std::iter::once(last).chain(0..last).collect(),
            _ => (0..structs.len()).collect(),
        };
        for i in order {
            names[i] = unique_name(identifier(&structs[i].name()), &mut taken);
        }
        let mut result = Names {
            structs,
            names,
            alias: None,
        };
        if !root_is_struct {
            let base = identifier(&result.alias_base(root));
            result.alias = Some(unique_name(base, &mut taken));
        }
        result
    }

    /// The alias of a non-struct type, before making it unique.
    fn alias_base(&self, layout: &Layout) -> String {
        match layout.kind() {
            Kind::Primitive(_) | Kind::Atomic(_) => layout.name().into_owned(),
            Kind::Bytes { capacity } => format!("ByteString_{capacity}"),
            Kind::Array { element, len } => format!("{}_Array_{len}", self.alias_base(element)),
            Kind::Struct { .. } => {
                let i = position(&self.structs, layout).expect("every struct was collected");
                self.names[i].clone()
            }
        }
    }
}

/// Pushes every struct in `layout` onto `out` once, nested ones first.
fn collect_structs<'a>(layout: &'a Layout, out: &mut Vec<&'a Layout>) {
    match layout.kind() {
        Kind::Array { element, .. } => collect_structs(element, out),
        Kind::Struct { fields, .. } => {
            for field in fields.iter() {
                collect_structs(field.ty(), out);
            }
            if position(out, layout).is_none() {
                out.push(layout);
            }
        }
        Kind::Primitive(_) | Kind::Atomic(_) | Kind::Bytes { .. } => {}
    }
}

/// Where `layout` is in `structs`: the same descriptor, or an equal one.
pub(super) fn position(structs: &[&Layout], layout: &Layout) -> Option<usize> {
    structs
        .iter()
        .position(|s| std::ptr::eq(*s, layout))
        .or_else(|| structs.iter().position(|s| **s == *layout))
}

/// Adds the ctypes names the fields of `layout` use to `names`.
fn used_ctypes_names(layout: &Layout, names: &mut BTreeSet<&'static str>) {
    match layout.kind() {
        Kind::Primitive(primitive) | Kind::Atomic(primitive) => {
            names.insert(primitive.ctypes_name());
        }
        Kind::Bytes { .. } => {
            names.insert("c_char");
        }
        Kind::Array { element, .. } => used_ctypes_names(element, names),
        Kind::Struct { fields, .. } => {
            for field in fields.iter() {
                used_ctypes_names(field.ty(), names);
            }
        }
    }
}

/// The alignment ctypes gives a struct from its fields alone (and `_pack_`).
pub(super) fn natural_align(layout: &Layout) -> usize {
    let Kind::Struct { fields, packed, .. } = layout.kind() else {
        return layout.align();
    };
    fields
        .iter()
        .map(|field| packed.map_or(field.align(), |pack| field.align().min(pack)))
        .max()
        .unwrap_or(1)
}

/// Whether a struct needs `_align_`: `#[repr(align(N))]`, or an alignment
/// its fields do not give it.
fn needs_align(layout: &Layout) -> bool {
    let Kind::Struct { align, .. } = layout.kind() else {
        return false;
    };
    align.is_some() || layout.align() > natural_align(layout)
}

/// For a struct aligned beyond what its fields give it, the ctypes type
/// whose zero-length array gives that alignment on Pythons without
/// `_align_` (x86-64 and AArch64 Linux: `long double` is 16-aligned). `None`
/// when none is needed or none exists (above 16).
fn aligner(layout: &Layout) -> Option<(usize, &'static str)> {
    if layout.align() <= natural_align(layout) {
        return None;
    }
    let ty = match layout.align() {
        2 => "c_uint16",
        4 => "c_uint32",
        8 => "c_uint64",
        16 => "c_longdouble",
        _ => return None,
    };
    Some((layout.align(), ty))
}

/// `name` made into a plain ASCII Python identifier that is no keyword and
/// shadows nothing the generated code uses.
fn python_identifier(name: &str) -> String {
    let mut id: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    // A letter first, or one underscore and a letter: no dunder names such
    // as `__builtins__`, which would change how the module runs.
    let starts_well = |s: &str| s.starts_with(|c: char| c.is_ascii_alphabetic());
    if !(starts_well(&id) || id.strip_prefix('_').is_some_and(starts_well)) {
        id.insert(0, 'S');
    }
    if PYTHON_KEYWORDS.contains(&id.as_str()) || RESERVED_NAMES.contains(&id.as_str()) {
        id.push('_');
    }
    id
}

/// `base`, or `base_2`, `base_3`, ... whichever is not taken yet; takes it.
pub(super) fn unique_name(base: String, taken: &mut BTreeSet<String>) -> String {
    let mut name = base.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}_{n}");
        n += 1;
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::ByteString;
    use crate::layout::fixtures::Point;
    use crate::layout::SharedLayout;
    use std::sync::atomic::{AtomicU64, AtomicU8};

    #[derive(crate::SharedLayout)]
    #[repr(C)]
    #[allow(dead_code)] // only its layout is used
    struct Mixed {
        a: u8,
        b: u16,
        c: u32,
        d: u64,
        e: f32,
        f: f64,
        g: u8,
    }

    #[derive(crate::SharedLayout)]
    #[repr(C)]
    #[allow(dead_code)] // only its layout is used
    struct Demo {
        n: i32,
        x: f64,
        s: ByteString<16>,
        a: [Point; 3],
    }

    #[derive(crate::SharedLayout)]
    #[repr(C)]
    #[allow(dead_code)] // only its layout is used
    struct Grid {
        cells: [[i32; 2]; 3],
        corners: [[Point; 2]; 2],
        names: [ByteString<4>; 2],
    }

    #[derive(crate::SharedLayout)]
    #[repr(C, align(16))]
    #[allow(dead_code)] // only its layout is used
    struct Aligned16 {
        a: u8,
    }

    #[derive(crate::SharedLayout)]
    #[repr(C, align(64))]
    #[allow(dead_code)] // only its layout is used
    struct Aligned64 {
        hits: AtomicU64,
        flag: AtomicU8,
    }

    #[derive(crate::SharedLayout)]
    #[repr(C, packed)]
    #[allow(dead_code)] // only its layout is used
    struct Packed {
        a: u8,
        b: u32,
        c: u16,
    }

    #[derive(crate::SharedLayout)]
    #[repr(C, packed(2))]
    #[allow(dead_code)] // only its layout is used
    struct Packed2 {
        a: u8,
        b: u64,
        p: Point,
    }

    mod one {
        #[derive(crate::SharedLayout)]
        #[repr(C)]
        #[allow(dead_code)] // only its layout is used
        pub(super) struct Inner {
            a: u8,
        }
    }

    mod two {
        #[derive(crate::SharedLayout)]
        #[repr(C)]
        #[allow(dead_code)] // only its layout is used
        pub(super) struct Inner {
            a: u64,
        }
    }

    #[derive(crate::SharedLayout)]
    #[repr(C)]
    #[allow(dead_code)] // only its layout is used
    struct Both {
        x: one::Inner,
        y: two::Inner,
        z: [one::Inner; 2],
    }

    #[derive(crate::SharedLayout)]
    #[repr(C)]
    #[allow(non_camel_case_types, non_snake_case)]
    #[allow(dead_code)] // only its layout is used
    struct class {
        Structure: u8,
        from: u8,
    }

    #[test]
    fn point_renders_as_fields() {
        assert_eq!(
            Point::LAYOUT.to_string(),
            "Point: _fields_ = [('x', c_double), ('y', c_double)]"
        );
    }

    #[test]
    fn point_table() {
        assert_eq!(
            format!("{:#}", Point::LAYOUT),
            "\
#[repr(C)]
struct Point {  // offset  size  align  ctypes
    x: f64,     //      0     8      8  c_double
    y: f64,     //      8     8      8  c_double
}               // size 16, align 8"
        );
    }

    #[test]
    fn mixed_struct_renders_with_holes() {
        assert_eq!(
            Mixed::LAYOUT.to_string(),
            "Mixed: _fields_ = [('a', c_uint8), ('b', c_uint16), ('c', c_uint32), \
             ('d', c_uint64), ('e', c_float), ('f', c_double), ('g', c_uint8)]"
        );
        assert_eq!(
            format!("{:#}", Mixed::LAYOUT),
            "\
#[repr(C)]
struct Mixed {                         // offset  size  align  ctypes
    a: u8,                             //      0     1      1  c_uint8
    /* 1-byte hole */                  //      1     1
    b: u16,                            //      2     2      2  c_uint16
    c: u32,                            //      4     4      4  c_uint32
    d: u64,                            //      8     8      8  c_uint64
    e: f32,                            //     16     4      4  c_float
    /* 4-byte hole */                  //     20     4
    f: f64,                            //     24     8      8  c_double
    g: u8,                             //     32     1      1  c_uint8
    /* 7 bytes of trailing padding */  //     33     7
}                                      // size 40, align 8"
        );
    }

    #[test]
    fn demo_renders() {
        assert_eq!(
            Demo::LAYOUT.to_string(),
            "Demo: _fields_ = [('n', c_int32), ('x', c_double), ('s', c_char * 16), ('a', Point * 3)]"
        );
        assert_eq!(
            format!("{:#}", Demo::LAYOUT),
            "\
#[repr(C)]
struct Demo {           // offset  size  align  ctypes
    n: i32,             //      0     4      4  c_int32
    /* 4-byte hole */   //      4     4
    x: f64,             //      8     8      8  c_double
    s: ByteString<16>,  //     16    16      1  c_char * 16
    a: [Point; 3],      //     32    48      8  Point * 3
}                       // size 80, align 8"
        );
    }

    #[test]
    fn arrays_render_as_ctypes_does() {
        assert_eq!(<[f64; 3]>::LAYOUT.to_string(), "c_double * 3");
        assert_eq!(<[Point; 3]>::LAYOUT.to_string(), "Point * 3");
        assert_eq!(<[[i32; 2]; 3]>::LAYOUT.to_string(), "(c_int32 * 2) * 3");
        assert_eq!(<[ByteString<8>; 2]>::LAYOUT.to_string(), "(c_char * 8) * 2");
        assert_eq!(
            Grid::LAYOUT.to_string(),
            "Grid: _fields_ = [('cells', (c_int32 * 2) * 3), \
             ('corners', (Point * 2) * 2), ('names', (c_char * 4) * 2)]"
        );
        assert_eq!(
            format!("{:#}", Grid::LAYOUT),
            "\
#[repr(C)]
struct Grid {                   // offset  size  align  ctypes
    cells: [[i32; 2]; 3],       //      0    24      4  (c_int32 * 2) * 3
    corners: [[Point; 2]; 2],   //     24    64      8  (Point * 2) * 2
    names: [ByteString<4>; 2],  //     88     8      1  (c_char * 4) * 2
}                               // size 96, align 8"
        );
    }

    #[test]
    fn scalars_render_as_their_ctypes_type() {
        assert_eq!(u8::LAYOUT.to_string(), "c_uint8");
        assert_eq!(i64::LAYOUT.to_string(), "c_int64");
        assert_eq!(f32::LAYOUT.to_string(), "c_float");
        // ctypes has no atomics: the integer type of the same size.
        assert_eq!(AtomicU64::LAYOUT.to_string(), "c_uint64");
        assert_eq!(ByteString::<16>::LAYOUT.to_string(), "c_char * 16");
        assert_eq!(
            format!("{:#}", ByteString::<16>::LAYOUT),
            "ByteString<16>: c_char * 16  // size 16, align 1"
        );
    }

    #[test]
    fn aligned_structs_show_align() {
        assert_eq!(
            Aligned16::LAYOUT.to_string(),
            "Aligned16: _align_ = 16, _fields_ = [('a', c_uint8)]"
        );
        assert_eq!(
            format!("{:#}", Aligned16::LAYOUT),
            "\
#[repr(C, align(16))]
struct Aligned16 {                      // offset  size  align  ctypes
    a: u8,                              //      0     1      1  c_uint8
    /* 15 bytes of trailing padding */  //      1    15
}                                       // size 16, align 16"
        );
        assert_eq!(
            Aligned64::LAYOUT.to_string(),
            "Aligned64: _align_ = 64, _fields_ = [('hits', c_uint64), ('flag', c_uint8)]"
        );
        assert!(format!("{:#}", Aligned64::LAYOUT).starts_with("#[repr(C, align(64))]\n"));
    }

    #[test]
    fn packed_structs_show_pack() {
        assert_eq!(
            Packed::LAYOUT.to_string(),
            "Packed: _pack_ = 1, _fields_ = [('a', c_uint8), ('b', c_uint32), ('c', c_uint16)]"
        );
        assert_eq!(
            format!("{:#}", Packed::LAYOUT),
            "\
#[repr(C, packed)]
struct Packed {  // offset  size  align  ctypes
    a: u8,       //      0     1      1  c_uint8
    b: u32,      //      1     4      1  c_uint32
    c: u16,      //      5     2      1  c_uint16
}                // size 7, align 1"
        );
        assert_eq!(
            format!("{:#}", Packed2::LAYOUT),
            "\
#[repr(C, packed(2))]
struct Packed2 {       // offset  size  align  ctypes
    a: u8,             //      0     1      1  c_uint8
    /* 1-byte hole */  //      1     1
    b: u64,            //      2     8      2  c_uint64
    p: Point,          //     10    16      2  Point
}                      // size 26, align 2"
        );
    }

    #[test]
    fn ctypes_source_defines_nested_classes_first() {
        let source = Demo::LAYOUT.to_ctypes();
        let point = source.find("class Point(Structure):").expect("Point class");
        let demo = source.find("class Demo(Structure):").expect("Demo class");
        assert!(point < demo, "{source}");
        assert_eq!(source.matches("class Point(").count(), 1, "{source}");
        assert!(source.contains(
            "from ctypes import Structure, alignment, c_char, c_double, c_int32, sizeof\n"
        ));
        assert!(source.contains(
            "class Demo(Structure):\n    _fields_ = [\n        ('n', c_int32),\n        \
             ('x', c_double),\n        ('s', c_char * 16),\n        ('a', Point * 3),\n    ]\n\
             _shmstruct_check(Demo, 80, 8, [('n', 0, 4), ('x', 8, 8), ('s', 16, 16), ('a', 32, 48)])\n"
        ));
        assert!(source.ends_with("\ndel _shmstruct_check\n"));
    }

    #[test]
    fn ctypes_source_for_align_and_pack() {
        let source = Aligned16::LAYOUT.to_ctypes();
        assert!(source.contains(
            "class Aligned16(Structure):\n    _align_ = 16  # honoured by ctypes from Python 3.13\n    \
             _fields_ = [\n        ('a', c_uint8),\n        \
             ('_shmstruct_align_', c_longdouble * 0),  # alignment 16 before Python 3.13\n    ]\n"
        ), "{source}");
        let source = Aligned64::LAYOUT.to_ctypes();
        assert!(source.contains("    _align_ = 64  # honoured by ctypes from Python 3.13\n"));
        assert!(
            !source.contains("* 0"),
            "no ctypes type is 64-aligned: {source}"
        );
        let source = Packed2::LAYOUT.to_ctypes();
        assert!(
            source.contains("    _layout_ = 'ms'\n    _pack_ = 2\n"),
            "{source}"
        );
        assert!(!Point::LAYOUT.to_ctypes().contains("_align_ ="));
    }

    #[test]
    fn same_named_structs_get_distinct_classes() {
        let source = Both::LAYOUT.to_ctypes();
        assert!(
            source.contains("class Inner(Structure):\n    _fields_ = [\n        ('a', c_uint8),")
        );
        assert!(
            source.contains(
                "# The Rust struct 'Inner', renamed: another class already has its name.\n\
             class Inner_2(Structure):\n    _fields_ = [\n        ('a', c_uint64),"
            ),
            "{source}"
        );
        assert!(source.contains(
            "        ('x', Inner),\n        ('y', Inner_2),\n        ('z', Inner * 2),\n"
        ));
        assert_eq!(source.matches("(Structure):").count(), 3);
    }

    #[test]
    fn names_python_cannot_use_are_adjusted() {
        let source = class::LAYOUT.to_ctypes();
        assert!(source.contains("class class_(Structure):"), "{source}");
        // Field names are strings in `_fields_`, so they stay as they are.
        assert!(source.contains("        ('Structure', c_uint8),\n        ('from', c_uint8),\n"));
        assert_eq!(python_identifier("__builtins__"), "S__builtins__");
        assert_eq!(python_identifier("_Ok"), "_Ok");
        assert_eq!(python_identifier("9lives"), "S9lives");
        assert_eq!(python_identifier("sizeof"), "sizeof_");
        assert_eq!(python_identifier("Caf\u{e9}\nx"), "Caf__x");
        assert_eq!(
            python_str("it's\n\\ \u{e9}\u{1f600}"),
            r"'it\'s\n\\ \xe9\U0001f600'"
        );
    }

    #[test]
    fn non_struct_layouts_get_an_alias() {
        let source = <[Point; 3]>::LAYOUT.to_ctypes();
        assert!(source.contains("# The Rust type '[Point; 3]'.\nPoint_Array_3 = Point * 3\n"));
        assert!(source.contains("_shmstruct_check(Point_Array_3, 48, 8, [])\n"));
        let source = AtomicU64::LAYOUT.to_ctypes();
        assert!(source.contains("AtomicU64 = c_uint64\n"));
        assert!(!source.contains("Structure"));
        let source = <[[ByteString<4>; 2]; 3]>::LAYOUT.to_ctypes();
        assert!(source.contains("ByteString_4_Array_2_Array_3 = ((c_char * 4) * 2) * 3\n"));
    }
}
