//! Field-by-field comparison of two descriptors: what an opener is told when a
//! segment holds another layout than the one it expected.
//!
//! Fields are matched by name, so swapped fields show up as two fields at
//! other offsets, a changed type as one field with two types, and an added or
//! removed field as missing or extra. Nested structs and arrays of structs
//! whose type names agree are compared recursively (`field `p.y``).

use std::fmt;

use super::{Kind, Layout};

/// The differences between the layout a process expected and the one a
/// segment holds, with both types' names and sizes.
///
/// Its `Display` lists the differences, separated by `; `:
/// ``field `y`: expected f64 at offset 8, found f32 at offset 4``.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutDiff {
    expected: (String, usize),
    found: (String, usize),
    differences: Vec<Difference>,
}

/// One way in which two layouts differ.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Difference {
    /// A field both sides have, at different offsets or with different types.
    Field {
        /// The field's name; `outer.inner` for a field of a nested struct.
        path: String,
        /// Where and what the expected layout has.
        expected: Placement,
        /// Where and what the segment's layout has.
        found: Placement,
    },
    /// A field the expected layout has and the segment's does not.
    Missing {
        /// The field's name.
        path: String,
        /// Where and what the expected layout has.
        expected: Placement,
    },
    /// A field the segment's layout has and the expected one does not.
    Extra {
        /// The field's name.
        path: String,
        /// Where and what the segment's layout has.
        found: Placement,
    },
    /// A property of a type (its name, size, alignment, `packed`, array
    /// length...) that differs.
    Property {
        /// The field whose type differs; empty for the top-level type.
        path: String,
        /// Which property: `"alignment"`, `"type name"`, ...
        what: &'static str,
        /// The expected value, rendered.
        expected: String,
        /// The segment's value, rendered.
        found: String,
    },
}

/// A field's type and offset on one side of a [`Difference`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The type's name, with its size in bytes when both sides' types share
    /// a name but differ (`Point (16 bytes)`).
    pub ty: String,
    /// The offset in bytes from the start of the enclosing struct.
    pub offset: usize,
}

impl LayoutDiff {
    /// Compares `expected` (what the caller's type says) with `found` (what
    /// the segment holds).
    pub fn new(expected: &Layout, found: &Layout) -> LayoutDiff {
        let mut differences = Vec::new();
        compare("", expected, found, &mut differences);
        if differences.is_empty() {
            push_property(&mut differences, "", "size", expected.size, found.size);
            push_property(
                &mut differences,
                "",
                "alignment",
                expected.align,
                found.align,
            );
        }
        LayoutDiff {
            expected: (expected.name().into_owned(), expected.size),
            found: (found.name().into_owned(), found.size),
            differences,
        }
    }

    /// Whether the layouts are the same.
    pub fn is_empty(&self) -> bool {
        self.differences.is_empty()
    }

    /// Every difference, the expected type's fields first, in declaration
    /// order, then the segment's extra fields.
    pub fn differences(&self) -> &[Difference] {
        &self.differences
    }

    /// The expected type's name and size.
    pub fn expected(&self) -> (&str, usize) {
        (&self.expected.0, self.expected.1)
    }

    /// The segment's type's name and size.
    pub fn found(&self) -> (&str, usize) {
        (&self.found.0, self.found.1)
    }
}

fn push_property<V: PartialEq + fmt::Display>(
    out: &mut Vec<Difference>,
    path: &str,
    what: &'static str,
    expected: V,
    found: V,
) {
    if expected != found {
        out.push(Difference::Property {
            path: path.to_owned(),
            what,
            expected: expected.to_string(),
            found: found.to_string(),
        });
    }
}

fn render_repr(value: Option<usize>) -> String {
    value.map_or_else(|| "none".to_owned(), |n| n.to_string())
}

/// Appends how `found` differs from `expected`; `path` names the field whose
/// type they are (empty at the top).
fn compare(path: &str, expected: &Layout, found: &Layout, out: &mut Vec<Difference>) {
    if expected == found {
        return;
    }
    match (&expected.kind, &found.kind) {
        (
            Kind::Struct {
                fields: expected_fields,
                packed: expected_packed,
                align: expected_align,
            },
            Kind::Struct {
                fields: found_fields,
                packed: found_packed,
                align: found_align,
            },
        ) => {
            push_property(out, path, "type name", expected.name(), found.name());
            push_property(out, path, "alignment", expected.align, found.align);
            push_property(
                out,
                path,
                "packed",
                render_repr(*expected_packed),
                render_repr(*found_packed),
            );
            push_property(
                out,
                path,
                "repr align",
                render_repr(*expected_align),
                render_repr(*found_align),
            );
            let child = |name: &str| {
                if path.is_empty() {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                }
            };
            for field in expected_fields.iter() {
                let path = child(&field.name);
                let Some(other) = found_fields.iter().find(|f| f.name == field.name) else {
                    out.push(Difference::Missing {
                        path,
                        expected: Placement {
                            ty: field.ty.name().into_owned(),
                            offset: field.offset,
                        },
                    });
                    continue;
                };
                compare_field(path, field, other, out);
            }
            for other in found_fields.iter() {
                if !expected_fields.iter().any(|f| f.name == other.name) {
                    out.push(Difference::Extra {
                        path: child(&other.name),
                        found: Placement {
                            ty: other.ty.name().into_owned(),
                            offset: other.offset,
                        },
                    });
                }
            }
        }
        (
            Kind::Array {
                element: expected_element,
                len: expected_len,
            },
            Kind::Array {
                element: found_element,
                len: found_len,
            },
        ) => {
            push_property(out, path, "length", expected_len, found_len);
            if expected_element.name() == found_element.name() {
                compare(&format!("{path}[]"), expected_element, found_element, out);
            } else {
                push_property(
                    out,
                    path,
                    "element type",
                    expected_element.name(),
                    found_element.name(),
                );
            }
        }
        _ => {
            push_property(out, path, "type", expected.name(), found.name());
            push_property(out, path, "size", expected.size, found.size);
        }
    }
}

/// Compares two fields of the same name.
fn compare_field(
    path: String,
    expected: &super::Field,
    found: &super::Field,
    out: &mut Vec<Difference>,
) {
    let same_name = expected.ty.name() == found.ty.name();
    let same_type = *expected.ty == *found.ty;
    let composite =
        |layout: &Layout| matches!(layout.kind, Kind::Struct { .. } | Kind::Array { .. });
    // Types of the same name that differ are nested structs (or arrays of
    // them) that changed: say which inner fields differ instead of only
    // that the type did.
    let recurse = same_name && !same_type && composite(&expected.ty) && composite(&found.ty);
    if expected.offset != found.offset || !same_name || (!same_type && !recurse) {
        let render = |layout: &Layout| {
            if same_name && !same_type {
                format!("{} ({} bytes)", layout.name(), layout.size)
            } else {
                layout.name().into_owned()
            }
        };
        out.push(Difference::Field {
            path: path.clone(),
            expected: Placement {
                ty: render(&expected.ty),
                offset: expected.offset,
            },
            found: Placement {
                ty: render(&found.ty),
                offset: found.offset,
            },
        });
    }
    if recurse {
        compare(&path, &expected.ty, &found.ty, out);
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.ty, self.offset)
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Field {
                path,
                expected,
                found,
            } => write!(f, "field `{path}`: expected {expected}, found {found}"),
            Difference::Missing { path, expected } => {
                write!(
                    f,
                    "field `{path}`: expected {expected}, missing from the segment"
                )
            }
            Difference::Extra { path, found } => {
                write!(f, "field `{path}`: not expected, found {found}")
            }
            Difference::Property {
                path,
                what,
                expected,
                found,
            } => {
                if !path.is_empty() {
                    write!(f, "field `{path}`: ")?;
                }
                write!(f, "{what}: expected {expected}, found {found}")
            }
        }
    }
}

impl fmt::Display for LayoutDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.differences.is_empty() {
            return f.write_str("the descriptors differ only in their fingerprint");
        }
        for (i, difference) in self.differences.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{difference}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::construct::{field, structure};
    use crate::layout::Field;
    use crate::SharedLayout;

    /// A `'static` struct descriptor, as the derive builds one.
    macro_rules! layout {
        ($name:literal, $size:expr, $align:expr, [$(($field:literal, $offset:expr, $ty:expr)),*]) => {{
            const FIELDS: &[Field] = &[$(field($field, $offset, $ty)),*];
            const LAYOUT: &Layout = &structure($name, $size, $align, None, None, FIELDS);
            LAYOUT
        }};
    }

    const POINT: &Layout = layout!(
        "Point",
        16,
        8,
        [("x", 0, f64::LAYOUT), ("y", 8, f64::LAYOUT)]
    );

    #[test]
    fn equal_layouts_have_no_difference() {
        let diff = LayoutDiff::new(POINT, &POINT.clone());
        assert!(diff.is_empty(), "{diff}");
    }

    #[test]
    fn changed_type_names_the_field() {
        let narrow = layout!(
            "Point",
            12,
            8,
            [("x", 0, f64::LAYOUT), ("y", 8, f32::LAYOUT)]
        );
        let diff = LayoutDiff::new(POINT, narrow);
        assert_eq!(
            diff.to_string(),
            "field `y`: expected f64 at offset 8, found f32 at offset 8"
        );
        assert_eq!(diff.expected(), ("Point", 16));
        assert_eq!(diff.found(), ("Point", 12));
    }

    #[test]
    fn swapped_missing_and_extra_fields() {
        let other = layout!(
            "Point",
            24,
            8,
            [
                ("y", 0, f64::LAYOUT),
                ("w", 8, u32::LAYOUT),
                ("z", 16, f64::LAYOUT)
            ]
        );
        let diff = LayoutDiff::new(POINT, other);
        assert_eq!(
            diff.to_string(),
            "field `x`: expected f64 at offset 0, missing from the segment; \
             field `y`: expected f64 at offset 8, found f64 at offset 0; \
             field `w`: not expected, found u32 at offset 8; \
             field `z`: not expected, found f64 at offset 16"
        );
    }

    #[test]
    fn nested_structs_are_compared_inside() {
        const SMALL_POINT: &Layout = layout!(
            "Point",
            8,
            4,
            [("x", 0, f32::LAYOUT), ("y", 4, f32::LAYOUT)]
        );
        let expected = layout!("Line", 32, 8, [("a", 0, POINT), ("b", 16, POINT)]);
        let found = layout!(
            "Line",
            16,
            4,
            [("a", 0, SMALL_POINT), ("b", 8, SMALL_POINT)]
        );
        let text = LayoutDiff::new(expected, found).to_string();
        assert!(
            text.starts_with("alignment: expected 8, found 4; "),
            "{text}"
        );
        assert!(
            text.contains("field `a.x`: expected f64 at offset 0, found f32 at offset 0"),
            "{text}"
        );
        assert!(
            text.contains(
                "field `b`: expected Point (16 bytes) at offset 16, found Point (8 bytes) at offset 8"
            ),
            "{text}"
        );
        assert!(
            text.contains("field `b.y`: expected f64 at offset 8, found f32 at offset 4"),
            "{text}"
        );
    }

    #[test]
    fn numbers_differ_by_type() {
        let diff = LayoutDiff::new(f64::LAYOUT, u32::LAYOUT);
        assert_eq!(
            diff.to_string(),
            "type: expected f64, found u32; size: expected 8, found 4"
        );
    }
}
