//! The C oracle: compiles `Layout::to_c_header()` with the machine's `cc`
//! (`-std=c11 -Wall -Werror`) together with a program that prints the
//! `offsetof`, `sizeof` and `_Alignof` of every field, nested fields and
//! array elements included, and checks that they equal the descriptor's.
//!
//! The structs are those of the ctypes oracle (`tests/ctypes_render.rs`),
//! declared with `#[derive(SharedLayout)]`. None of their names needs
//! adjusting for C, so the program names fields as Rust does.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use shmstruct::{Kind, Layout, SharedLayout};

#[path = "support/layouts.rs"]
mod layouts;

use layouts::*;

/// A scratch directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("shmstruct-c-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating the scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `command`, killing it if it takes more than a minute.
fn run(command: &mut Command) -> Output {
    let mut child = match command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
            "`cc` is not installed: the C oracle compiles the generated header with it \
             (CI installs it; `apt-get install gcc`)"
        ),
        Err(error) => panic!("cannot start {command:?}: {error}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("waiting for a child").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} took more than a minute");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("the child's output")
}

/// One line the C program prints: a member path, its offset from the start
/// of the root, its size and its type's alignment.
type Row = (String, usize, usize, usize);

/// Every field of `layout` (nested fields, and the last element of every
/// array) with the offsets the descriptor gives, below `path` at `offset`.
fn expected_rows(layout: &Layout, path: &str, offset: usize, rows: &mut Vec<Row>) {
    match layout.kind() {
        Kind::Struct { .. } => {
            for field in layout.fields() {
                let path = if path.is_empty() {
                    field.name().to_owned()
                } else {
                    format!("{path}.{}", field.name())
                };
                let offset = offset + field.offset();
                rows.push((path.clone(), offset, field.size(), field.align()));
                expected_rows(field.ty(), &path, offset, rows);
            }
        }
        Kind::Array { element, len } if *len > 0 => {
            let path = format!("{path}[{}]", len - 1);
            let offset = offset + (len - 1) * element.size();
            rows.push((path.clone(), offset, element.size(), element.align()));
            expected_rows(element, &path, offset, rows);
        }
        _ => {}
    }
}

/// Compiles `header` with a `main` that prints `rows` for the type `root`,
/// runs it and returns what it printed, or the compiler's output on failure.
fn compile_and_run(test: &str, header: &str, root: &str, rows: &[Row]) -> Result<String, String> {
    let scratch = Scratch::new(test);
    std::fs::write(scratch.0.join("layout.h"), header).expect("writing the header");
    let mut program =
        String::from("#include <stdio.h>\n#include \"layout.h\"\n\nint main(void) {\n");
    let _ = writeln!(
        program,
        "    printf(\"%s %zu %zu %zu\\n\", \"{root}\", (size_t)0, sizeof({root}), _Alignof({root}));"
    );
    for (path, ..) in rows {
        let _ = writeln!(
            program,
            "    printf(\"%s %zu %zu %zu\\n\", \"{path}\", offsetof({root}, {path}), \
             sizeof((({root} *)0)->{path}), _Alignof(__typeof__((({root} *)0)->{path})));"
        );
    }
    program.push_str("    return 0;\n}\n");
    let source = scratch.0.join("main.c");
    std::fs::write(&source, &program).expect("writing the program");
    let binary = scratch.0.join("main");
    let compiled = run(Command::new("cc")
        .args(["-std=c11", "-Wall", "-Werror", "-o"])
        .arg(&binary)
        .arg(&source));
    if !compiled.status.success() {
        return Err(String::from_utf8_lossy(&compiled.stderr).into_owned());
    }
    let ran = run(&mut Command::new(&binary));
    assert!(ran.status.success(), "the C program failed: {ran:?}");
    Ok(String::from_utf8(ran.stdout).expect("ASCII output"))
}

/// Checks that `cc` lays out the root struct `layout` as the descriptor says.
fn assert_c_matches(test: &str, layout: &Layout) {
    let root = layout.name().into_owned();
    let mut rows = vec![(root.clone(), 0, layout.size(), layout.align())];
    expected_rows(layout, "", 0, &mut rows);
    let header = layout.to_c_header();
    let printed = compile_and_run(test, &header, &root, &rows[1..]).unwrap_or_else(|error| {
        panic!("cc refused the header of {root}:\n{error}\n--- header ---\n{header}")
    });
    let expected: String = rows
        .iter()
        .map(|(path, offset, size, align)| format!("{path} {offset} {size} {align}\n"))
        .collect();
    assert_eq!(printed, expected, "--- header ---\n{header}");
}

#[test]
fn plain_padded_and_nested_structs_match_c() {
    assert_c_matches("point", Point::LAYOUT);
    assert_c_matches("mixed", Mixed::LAYOUT);
    assert_c_matches("outer", Outer::LAYOUT);
    assert_c_matches("demo", Demo::LAYOUT);
}

#[test]
fn arrays_byte_strings_and_atomics_match_c() {
    assert_c_matches("grid", Grid::LAYOUT);
    assert_c_matches("counters", Counters::LAYOUT);
    let header = Counters::LAYOUT.to_c_header();
    assert!(header.contains("    _Atomic uint64_t hits;\n"), "{header}");
    let header = Grid::LAYOUT.to_c_header();
    assert!(
        header.contains(
            "    int32_t cells[3][2];\n    Point corners[2][2];\n    char names[3][5];\n"
        ),
        "{header}"
    );
}

#[test]
fn aligned_structs_match_c() {
    assert_c_matches("aligned8", Aligned8::LAYOUT);
    assert_c_matches("aligned16", Aligned16::LAYOUT);
    assert_c_matches("holds16", HoldsAligned16::LAYOUT);
    assert_c_matches("aligned64", Aligned64::LAYOUT);
    assert_c_matches("holds64", HoldsAligned64::LAYOUT);
}

#[test]
fn packed_structs_match_c() {
    assert_c_matches("packed", Packed::LAYOUT);
    assert_c_matches("packed2", Packed2::LAYOUT);
    assert_c_matches("holdspacked", HoldsPacked::LAYOUT);
}

#[test]
fn empty_and_same_named_structs_match_c() {
    assert_c_matches("empty", Empty::LAYOUT);
    assert_c_matches("both", Both::LAYOUT);
    let header = Both::LAYOUT.to_c_header();
    assert!(
        header.contains("} Inner;\n") && header.contains("} Inner_2;\n"),
        "{header}"
    );
}

#[test]
fn non_struct_layouts_get_a_typedef() {
    for (layout, alias) in NON_STRUCTS {
        let header = layout.to_c_header();
        let rows = [];
        let printed = compile_and_run(alias, &header, alias, &rows)
            .unwrap_or_else(|error| panic!("cc refused {alias}:\n{error}\n{header}"));
        assert_eq!(
            printed,
            format!("{alias} 0 {} {}\n", layout.size(), layout.align()),
            "{header}"
        );
    }
}

#[test]
fn the_compiler_refuses_a_layout_c_does_not_give() {
    // A descriptor that no Rust type has: `x` claimed at offset 4.
    use shmstruct::__private::{field, structure};

    static LIE: Layout = structure("Lie", 16, 8, None, None, {
        const FIELDS: &[shmstruct::Field] = &[field("x", 4, f64::LAYOUT)];
        FIELDS
    });
    let error = compile_and_run("lie", &LIE.to_c_header(), "Lie", &[])
        .expect_err("the static asserts must refuse it");
    assert!(error.contains("Lie: size 16"), "{error}");
    assert!(error.contains("Lie.x: offset 4"), "{error}");
}
