//! The classic `multiprocessing` program, ported line by line.
//!
//! ```python
//! from multiprocessing import Process, Lock
//! from multiprocessing.sharedctypes import Value, Array
//! from ctypes import Structure, c_double
//!
//! class Point(Structure):
//!     _fields_ = [('x', c_double), ('y', c_double)]
//!
//! def modify(n, x, s, A):
//!     n.value **= 2
//!     x.value **= 2
//!     s.value = s.value.upper()
//!     for a in A:
//!         a.x **= 2
//!         a.y **= 2
//!
//! if __name__ == '__main__':
//!     lock = Lock()
//!     n = Value('i', 7)
//!     x = Value(c_double, 1.0/3.0, lock=False)
//!     s = Array('c', b'hello world', lock=lock)
//!     A = Array(Point, [(1.875, -6.25), (-5.75, 2.0), (2.375, 9.5)], lock=lock)
//!     p = Process(target=modify, args=(n, x, s, A))
//!     p.start()
//!     p.join()
//!     print(n.value)
//!     print(x.value)
//!     print(s.value)
//!     print([(a.x, a.y) for a in A])
//! ```
//!
//! The parent creates the objects in named shared-memory segments and runs
//! this same program again as a separate child process
//! (`point child <prefix>`), which opens every object by name — each open
//! checks that the segment holds the type asked for — and modifies them.
//! The parent then prints what Python prints:
//!
//! ```text
//! 49
//! 0.1111111111111111
//! b'HELLO WORLD'
//! [(3.515625, 39.0625), (33.0625, 4.0), (5.640625, 90.25)]
//! ```
//!
//! Run it with:
//!
//! ```text
//! cargo run --example point
//! ```
//!
//! `cargo run --example point -- --python-child` runs the child in Python
//! instead (`examples/point_child.py`, on the `shmstruct` package; `$PYTHON`
//! if set, else `python3`), and `examples/point_parent.py` is the parent in
//! Python with this program as its child: the same four lines either way.
//!
//! `cargo run --example point -- --child-panics` makes the child panic
//! while it holds the shared lock: the parent reports the failure, exits
//! with status 1, and still leaves nothing behind in `/dev/shm`.

use std::error::Error;
use std::process::{Command, ExitCode};

use shmstruct::{Array, Lock, RawValue, SharedBytes, SharedLayout, Value};

/// `class Point(Structure): _fields_ = [('x', c_double), ('y', c_double)]`.
///
/// The derive records the layout (names, types, offsets) in every segment
/// that holds points, so the child's `Array::<Point>::open` can check it.
#[derive(SharedLayout, Clone, Copy)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [] => parent(Child::Rust),
        [flag] if flag == "--child-panics" => parent(Child::Panicking),
        [flag] if flag == "--python-child" => parent(Child::Python),
        [role, prefix] if role == "child" => modify(prefix, false),
        [role, prefix, flag] if role == "child" && flag == "--panic" => modify(prefix, true),
        _ => Err("usage: point [--child-panics | --python-child]".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("point: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Which child the parent runs.
#[derive(Clone, Copy, PartialEq)]
enum Child {
    Rust,
    Panicking,
    Python,
}

/// The parent: creates the objects, runs the child, prints the results.
fn parent(kind: Child) -> Result<(), Box<dyn Error>> {
    // Segment names are unique to this run (two runs at once do not
    // collide): `point-<pid>-n`, `point-<pid>-x`, ...
    let prefix = format!("point-{}", std::process::id());
    let name = |object: &str| format!("{prefix}-{object}");

    // The parent creates the segments, so it removes them: each creating
    // handle unlinks its segment when it drops, whichever way this function
    // returns — also when the child failed, or this process panics (not
    // when it is killed by a signal: nothing runs then).

    // lock = Lock()
    let lock = Lock::create(&name("lock"))?;
    // n = Value('i', 7)                        -- with its own lock
    let n = Value::create(&name("n"), 7i32)?;
    // x = Value(c_double, 1.0/3.0, lock=False) -- no lock: a RawValue
    let x = RawValue::create(&name("x"), 1.0f64 / 3.0)?;
    // s = Array('c', b'hello world', lock=lock)
    let s = SharedBytes::builder(&name("s"))
        .lock(&lock)
        .create(b"hello world")?;
    // A = Array(Point, [...], lock=lock)
    let points = [
        Point { x: 1.875, y: -6.25 },
        Point { x: -5.75, y: 2.0 },
        Point { x: 2.375, y: 9.5 },
    ];
    let a = Array::builder(&name("A")).lock(&lock).create(&points)?;

    // p = Process(target=modify, ...); p.start(); p.join()
    //
    // The child is this program again, told which segments to open.
    let mut child = if kind == Child::Python {
        let python = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
        let mut child = Command::new(python);
        child.arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/point_child.py"
        ));
        child
    } else {
        let mut child = Command::new(std::env::current_exe()?);
        child.arg("child");
        child
    };
    child.arg(&prefix);
    if kind == Child::Panicking {
        child.arg("--panic");
    }
    let status = child.status()?;
    if !status.success() {
        return Err(format!("the child process failed ({status}); nothing to print").into());
    }

    // print(n.value): `get` copies the value out under its lock.
    println!("{}", n.get()?);
    // print(x.value): `{:?}` prints floats as Python does (4.0, not 4).
    println!("{:?}", x.get());
    // print(s.value): Python's repr of a byte string (`escape_ascii`
    // escapes as Python does, but for `"`, which Python leaves alone).
    println!("b'{}'", s.value()?.escape_ascii());
    // print([(a.x, a.y) for a in A])
    let points: Vec<String> = a
        .to_vec()?
        .iter()
        .map(|point| format!("({:?}, {:?})", point.x, point.y))
        .collect();
    println!("[{}]", points.join(", "));
    Ok(())
}

/// The child: `modify(n, x, s, A)`, on objects opened by name.
fn modify(prefix: &str, panic: bool) -> Result<(), Box<dyn Error>> {
    let name = |object: &str| format!("{prefix}-{object}");

    // Opening checks each segment's type: `Value::<f64>::open` on `n`, say,
    // would fail with an error naming both types.
    let n = Value::<i32>::open(&name("n"))?;
    let x = RawValue::<f64>::open(&name("x"))?;
    let lock = Lock::open(&name("lock"))?;
    let s = SharedBytes::open(&name("s"))?;
    let a = Array::<Point>::open(&name("A"))?;

    // n.value **= 2: the guard holds n's own lock and reads and writes the
    // value in place until it drops.
    {
        let mut n = n.lock()?;
        *n *= *n;
    }

    // x.value **= 2: no lock, so copies in and out only.
    x.set(x.get() * x.get());

    // s and A share one lock: take it once, and hand the guard to each
    // access. An object given the guard of another lock refuses it.
    let mut guard = lock.lock()?;
    // s.value = s.value.upper()
    let upper = s.value_locked(&guard)?.to_ascii_uppercase();
    s.set_value_locked(&guard, &upper)?;
    if panic {
        panic!("the child panics on purpose (--child-panics), holding the lock");
    }
    // for a in A: a.x **= 2; a.y **= 2 -- in place: the points borrow the
    // guard mutably, so nothing else goes through it until the loop ends.
    for point in a.get_mut_locked(&mut guard)? {
        point.x *= point.x;
        point.y *= point.y;
    }
    Ok(())
}
