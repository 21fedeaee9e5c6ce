//! Two processes share a value and an array: the crate docs' example, run
//! by `tests/examples.rs`.
use std::error::Error;
use std::process::Command;

use shmstruct::{Array, SharedLayout, Value};

// A `_fields_`-style layout, checked against the compiler.
#[derive(SharedLayout, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}

fn main() -> Result<(), Box<dyn Error>> {
    if let [role, prefix] = &std::env::args().skip(1).collect::<Vec<_>>()[..] {
        if role == "child" {
            // The child opens them by name: each open checks the segment's
            // layout before reading a byte, and the lock comes with it.
            let n = Value::<i32>::open(&format!("{prefix}-n"))?;
            let a = Array::<Point>::open(&format!("{prefix}-a"))?;
            *n.lock()? *= 7;
            for p in a.lock()?.iter_mut() {
                *p = Point {
                    x: p.x * p.x,
                    y: p.y * p.y,
                };
            }
            return Ok(());
        }
    }

    // The parent creates a value and an array, each with its own lock, in
    // named segments (/dev/shm/parent_child-<pid>-n, ...): the names are
    // unlinked when these creating handles drop, however `main` ends.
    let prefix = format!("parent_child-{}", std::process::id());
    let n = Value::create(&format!("{prefix}-n"), 7i32)?;
    let points = [Point { x: 1.875, y: -6.25 }, Point { x: -5.75, y: 2.0 }];
    let a = Array::create(&format!("{prefix}-a"), &points)?;

    // It runs this program again as the child, and reads what it wrote.
    let status = Command::new(std::env::current_exe()?)
        .args(["child", &prefix])
        .status()?;
    if !status.success() {
        return Err(format!("the child failed: {status}").into());
    }
    assert_eq!(n.get()?, 49);
    assert_eq!(
        a.to_vec()?,
        [
            Point {
                x: 3.515625,
                y: 39.0625
            },
            Point { x: 33.0625, y: 4.0 }
        ]
    );

    // A program that expects another type is refused, field by field.
    let error = Value::<f32>::open(&format!("{prefix}-n")).unwrap_err();
    println!("{error}");
    Ok(())
}
