//! The ctypes oracle: runs the machine's `python3` on `Layout::to_ctypes()`
//! and checks that ctypes' `sizeof`, `alignment`, and every field's
//! `.offset`, `.size` and type agree with the descriptor, recursively for
//! nested structs and arrays.
//!
//! The structs are declared with `#[derive(SharedLayout)]`, so the test
//! checks the descriptors the derive produces.

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::{Map, Value};
use shmstruct::{Kind, Layout, SharedLayout};

#[path = "support/layouts.rs"]
mod layouts;

use layouts::*;

/// Reads the generated module from stdin, runs it, and prints as JSON every
/// type it defines: size, alignment, what it is, and each field's offset,
/// size and type. An `ImportError` from the module's self-check is printed
/// as `{"import_error": ...}`.
const ORACLE: &str = r#"
import ctypes, json, sys

source = sys.stdin.read()
namespace = {'__name__': 'generated'}
report = {'python': list(sys.version_info[:2])}
try:
    exec(compile(source, 'generated.py', 'exec'), namespace)
except ImportError as error:
    report['import_error'] = str(error)
    print(json.dumps(report))
    sys.exit(0)

SIMPLE = {getattr(ctypes, name): name for name in [
    'c_uint8', 'c_uint16', 'c_uint32', 'c_uint64', 'c_int8', 'c_int16', 'c_int32',
    'c_int64', 'c_float', 'c_double', 'c_char', 'c_longdouble']}

def describe(t):
    if issubclass(t, ctypes.Structure):
        return {'struct': t.__name__}
    if issubclass(t, ctypes.Array):
        return {'array': describe(t._type_), 'len': t._length_}
    return {'simple': SIMPLE[t]}

types = {}
for name, value in namespace.items():
    if not isinstance(value, type) or getattr(ctypes, name, None) is value:
        continue
    entry = {'size': ctypes.sizeof(value), 'align': ctypes.alignment(value), 'type': describe(value)}
    if issubclass(value, ctypes.Structure):
        entry['class_name'] = value.__name__
        entry['fields'] = [
            {'name': field_name, 'offset': getattr(value, field_name).offset,
             'size': getattr(value, field_name).size, 'type': describe(field_type)}
            for field_name, field_type in value._fields_
        ]
    types[name] = entry
report['types'] = types
print(json.dumps(report))
"#;

/// What `python3` made of `layout.to_ctypes()`.
struct Oracle {
    python: (u64, u64),
    import_error: Option<String>,
    types: Map<String, Value>,
}

fn run_oracle(layout: &Layout) -> Oracle {
    let source = layout.to_ctypes();
    let mut child = match Command::new("python3")
        .args(["-W", "error", "-c", ORACLE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
            "python3 is not installed: the ctypes oracle test runs the generated \
             code with it (CI installs it; `apt-get install python3`)"
        ),
        Err(error) => panic!("cannot start python3: {error}"),
    };
    child
        .stdin
        .take()
        .expect("python3's stdin")
        .write_all(source.as_bytes())
        .expect("writing the generated code to python3");
    let output = child.wait_with_output().expect("waiting for python3");
    assert!(
        output.status.success(),
        "python3 failed on the generated code ({}):\n{}\n--- generated code ---\n{source}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("the oracle's JSON");
    let python = &report["python"];
    Oracle {
        python: (
            python[0].as_u64().expect("major"),
            python[1].as_u64().expect("minor"),
        ),
        import_error: report["import_error"].as_str().map(str::to_owned),
        types: report["types"].as_object().cloned().unwrap_or_default(),
    }
}

/// Runs the oracle and checks that ctypes matches the descriptor.
fn assert_ctypes_matches(layout: &Layout) -> Oracle {
    let oracle = run_oracle(layout);
    if let Some(error) = &oracle.import_error {
        panic!(
            "the generated code refused to load: {error}\n--- generated code ---\n{}",
            layout.to_ctypes()
        );
    }
    match layout.kind() {
        Kind::Struct { .. } => {
            check_struct(&oracle.types, &layout.name(), layout, &layout.name());
        }
        _ => panic!("assert_ctypes_matches takes a struct"),
    }
    oracle
}

fn number(value: &Value, what: &str) -> usize {
    let n = value
        .as_u64()
        .unwrap_or_else(|| panic!("{what}: not a number: {value}"));
    usize::try_from(n).expect("fits usize")
}

/// Checks the class `class` against the struct `layout`; `path` names it in
/// failure messages.
fn check_struct(types: &Map<String, Value>, class: &str, layout: &Layout, path: &str) {
    let entry = types
        .get(class)
        .unwrap_or_else(|| panic!("{path}: no class {class} in {types:?}"));
    assert_eq!(
        number(&entry["size"], path),
        layout.size(),
        "{path}: sizeof"
    );
    assert_eq!(
        number(&entry["align"], path),
        layout.align(),
        "{path}: alignment"
    );
    let py_fields: Vec<&Value> = entry["fields"]
        .as_array()
        .expect("fields")
        .iter()
        // The zero-length field that aligns a class on Pythons before 3.13.
        .filter(|f| {
            !(f["name"].as_str().unwrap().starts_with("_shmstruct_align") && f["size"] == 0)
        })
        .collect();
    assert_eq!(
        py_fields.len(),
        layout.fields().len(),
        "{path}: field count: {py_fields:?}"
    );
    for (field, py) in layout.fields().iter().zip(py_fields) {
        let path = format!("{path}.{}", field.name());
        assert_eq!(py["name"], field.name(), "{path}: name");
        assert_eq!(
            number(&py["offset"], &path),
            field.offset(),
            "{path}: offset"
        );
        assert_eq!(number(&py["size"], &path), field.size(), "{path}: size");
        check_type(types, &py["type"], field.ty(), &path);
    }
}

/// Checks a ctypes type description against a layout, recursively.
fn check_type(types: &Map<String, Value>, desc: &Value, layout: &Layout, path: &str) {
    match layout.kind() {
        Kind::Primitive(primitive) | Kind::Atomic(primitive) => {
            assert_eq!(desc["simple"], primitive.ctypes_name(), "{path}: type")
        }
        Kind::Bytes { capacity } => {
            assert_eq!(desc["array"]["simple"], "c_char", "{path}: byte string");
            assert_eq!(number(&desc["len"], path), *capacity, "{path}: capacity");
        }
        Kind::Array { element, len } => {
            assert_eq!(number(&desc["len"], path), *len, "{path}: length");
            check_type(types, &desc["array"], element, &format!("{path}[]"));
        }
        Kind::Struct { .. } => {
            let class = desc["struct"]
                .as_str()
                .unwrap_or_else(|| panic!("{path}: not a struct: {desc}"));
            check_struct(types, class, layout, path);
        }
        other => panic!("{path}: a kind this test does not know: {other:?}"),
    }
}

#[test]
fn point_matches_ctypes() {
    assert_ctypes_matches(Point::LAYOUT);
}

#[test]
fn padded_struct_matches_ctypes() {
    assert_ctypes_matches(Mixed::LAYOUT);
}

#[test]
fn nested_structs_match_ctypes() {
    assert_ctypes_matches(Outer::LAYOUT);
}

#[test]
fn demo_matches_ctypes() {
    let oracle = assert_ctypes_matches(Demo::LAYOUT);
    assert_eq!(oracle.types["Demo"]["size"], 80);
}

#[test]
fn arrays_of_structs_and_2d_arrays_match_ctypes() {
    assert_ctypes_matches(Grid::LAYOUT);
}

#[test]
fn atomics_match_their_integer_ctypes() {
    assert_ctypes_matches(Counters::LAYOUT);
}

#[test]
fn align_up_to_16_matches_ctypes_on_every_python() {
    assert_ctypes_matches(Aligned8::LAYOUT);
    assert_ctypes_matches(Aligned16::LAYOUT);
    let oracle = assert_ctypes_matches(HoldsAligned16::LAYOUT);
    assert_eq!(oracle.types["HoldsAligned16"]["fields"][1]["offset"], 16);
}

#[test]
fn align_64_matches_ctypes_or_refuses_to_load() {
    for layout in [Aligned64::LAYOUT, HoldsAligned64::LAYOUT] {
        let oracle = run_oracle(layout);
        if oracle.python >= (3, 13) {
            assert_eq!(oracle.import_error, None);
            assert_ctypes_matches(layout);
        } else {
            let error = oracle
                .import_error
                .expect("before Python 3.13 the code must refuse align(64)");
            assert!(
                error.contains("Aligned64")
                    && error.contains("alignment is 8, not 64")
                    && error.contains("Python 3.13"),
                "unclear error: {error}"
            );
        }
    }
}

#[test]
fn packed_structs_match_ctypes() {
    assert_ctypes_matches(Packed::LAYOUT);
    assert_ctypes_matches(Packed2::LAYOUT);
    assert_ctypes_matches(HoldsPacked::LAYOUT);
}

#[test]
fn empty_struct_matches_ctypes() {
    assert_ctypes_matches(Empty::LAYOUT);
}

#[test]
fn same_named_structs_stay_distinct() {
    let oracle = assert_ctypes_matches(Both::LAYOUT);
    assert_eq!(oracle.types["Inner"]["size"], 1);
    assert_eq!(oracle.types["Inner_2"]["size"], 16);
}

#[test]
fn non_struct_layouts_define_an_alias() {
    for (layout, alias) in NON_STRUCTS {
        let oracle = run_oracle(layout);
        assert_eq!(oracle.import_error, None);
        let entry = &oracle.types[alias];
        assert_eq!(number(&entry["size"], alias), layout.size(), "{alias}");
        assert_eq!(number(&entry["align"], alias), layout.align(), "{alias}");
        check_type(&oracle.types, &entry["type"], layout, alias);
    }
}
#[test]
fn generated_code_refuses_a_layout_ctypes_does_not_give() {
    // A descriptor that no Rust type has: `x` claimed at offset 4.
    use shmstruct::__private::{field, structure};

    static LIE: Layout = structure("Lie", 16, 8, None, None, {
        const FIELDS: &[shmstruct::Field] = &[field("x", 4, f64::LAYOUT)];
        FIELDS
    });
    let oracle = run_oracle(&LIE);
    let error = oracle.import_error.expect("the self-check must refuse it");
    assert_eq!(
        error,
        "ctypes cannot lay out Lie as the Rust type is: sizeof is 8, not 16; \
         field 'x' is at offset 0 with size 8, not at 4 with size 8"
    );
}
