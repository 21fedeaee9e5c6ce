//! The Python package (`shmstruct-py/`), tested from Python against Rust
//! processes: this test builds the native module with cargo (no maturin),
//! puts the package on a private `PYTHONPATH`, and runs
//! `python3 -m unittest` on `shmstruct-py/tests/`, printing Python's output
//! and failing if any Python test fails.
//!
//! The Python tests start Rust processes that are this test binary again
//! (its path is in `SHMSTRUCT_RUST_CHILD`), in one of the roles of
//! [`rust_role`], and the `point` example, built alongside. Every segment
//! lives in a private directory (`SHMSTRUCT_DIR`), which must be empty at
//! the end; the Python run is killed if it outlives its bound.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use shmstruct::{
    Array, Barrier, Condition, Error, Event, Lock, RLock, RawValue, Semaphore, SharedBytes,
    SharedLayout, Value,
};

/// A bound on any one wait of a child, and on the whole Python run.
const WAIT: Duration = Duration::from_secs(60);
const RUN_LIMIT: Duration = Duration::from_secs(900);

/// The workspace's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate is in the workspace")
        .to_owned()
}

#[derive(SharedLayout, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}

#[derive(SharedLayout, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Sample {
    id: u16,
    at: Point,
    tags: [i32; 3],
    label: shmstruct::ByteString<6>,
}

#[derive(SharedLayout, Clone, Copy, Debug, PartialEq)]
#[repr(C, packed(1))]
struct Packed {
    a: u8,
    b: u32,
}

#[derive(SharedLayout, Clone, Copy, Debug, PartialEq)]
#[repr(C, align(16))]
struct Aligned {
    a: u8,
}

/// What a Rust child does, by role; every argument comes from the Python
/// test through `SHMSTRUCT_TEST_ARG_<KEY>` (`support::arg`).
fn rust_role(role: &str) -> shmstruct::Result<()> {
    let name = |object: &str| format!("{}-{object}", support::arg("NAME"));
    match role {
        // Opens what Python created, with Rust's own types, and doubles it.
        "open_python_segments" => {
            let p = Value::<Point>::open(&name("p"))?;
            assert_eq!(p.get()?, Point { x: 1.5, y: -2.5 });
            p.set(Point { x: 3.0, y: -5.0 })?;
            let a = Array::<Point>::open(&name("a"))?;
            for p in a.lock()?.iter_mut() {
                *p = Point {
                    x: p.x * 2.0,
                    y: p.y * 2.0,
                };
            }
            let s = SharedBytes::open(&name("s"))?;
            let upper = s.value()?.to_ascii_uppercase();
            s.set_value(&upper)?;
            let fingerprint: u64 = support::arg("FINGERPRINT").parse().expect("a number");
            assert_eq!(fingerprint, Sample::LAYOUT.fingerprint(), "Python's Sample");
            let sample = Value::<Sample>::open(&name("sample"))?;
            let mut guard = sample.lock()?;
            assert_eq!(guard.label.raw(), b"abc\0\0\0");
            guard.id += 1;
            guard.tags[2] = 30;
            drop(guard);
            let raw = RawValue::<f64>::open(&name("raw"))?;
            raw.set(raw.get() * raw.get());
            let _packed = Value::<Packed>::open(&name("packed"))?;
            let _aligned = Value::<Aligned>::open(&name("aligned"))?;
        }
        // Creates segments for Python to open, and keeps them until told.
        "create_for_python" => {
            let _p = Value::create(&name("p"), Point { x: 3.0, y: 4.0 })?;
            let _a = Array::create(&name("a"), &[1u32, 2, 3])?;
            let _s = SharedBytes::create(&name("s"), b"rust\0\0\0\0")?;
            let _sample = Value::create(
                &name("sample"),
                Sample {
                    id: 7,
                    at: Point { x: 0.5, y: 0.25 },
                    tags: [1, 2, 3],
                    label: shmstruct::ByteString::new(b"xyz")?,
                },
            )?;
            Event::open(&name("ready"))?.set();
            Event::open(&name("done"))?.wait_timeout(WAIT)?;
        }
        // Locked increments of a shared counter.
        "increment" => {
            let counter = Value::<i64>::open(&name("counter"))?;
            let times: u32 = support::arg("TIMES").parse().expect("a count");
            Barrier::open(&name("start"))?.wait_timeout(WAIT)?;
            for _ in 0..times {
                *counter.lock_timeout(WAIT)? += 1;
            }
        }
        // Takes the counter's lock, half-updates it, and waits to be killed.
        "hold_and_die" => {
            let counter = Value::<i64>::open(&name("counter"))?;
            let mut guard = counter.lock_timeout(WAIT)?;
            *guard = -1;
            Event::open(&name("held"))?.set();
            std::thread::sleep(WAIT);
            drop(guard);
            panic!("not killed within {WAIT:?}");
        }
        // Sees the poison a killed holder left, repairs and clears it.
        "repair" => {
            let counter = Value::<i64>::open(&name("counter"))?;
            let error = counter.get().expect_err("poisoned");
            assert!(matches!(error, Error::Poisoned { .. }), "{error:?}");
            let mut guard = counter.lock_poisoned_timeout(WAIT)?;
            assert!(guard.is_poisoned());
            *guard = 100;
            guard.clear_poison();
        }
        // Holds a Lock and an RLock until told to let go.
        "hold_locks" => {
            let lock = Lock::open(&name("lock"))?;
            let rlock = RLock::open(&name("rlock"))?;
            let guard = lock.lock_timeout(WAIT)?;
            let outer = rlock.lock()?;
            let inner = rlock.lock()?;
            Event::open(&name("held"))?.set();
            Event::open(&name("release"))?.wait_timeout(WAIT)?;
            drop((inner, outer, guard));
        }
        // The Rust half of the primitives' round: barrier, semaphore,
        // event, condition, barrier.
        "primitives" => {
            let barrier = Barrier::open(&name("barrier"))?;
            let semaphore = Semaphore::open(&name("semaphore"))?;
            let event = Event::open(&name("event"))?;
            let condition = Condition::open(&name("condition"))?;
            let state = RawValue::<i64>::open(&name("state"))?;
            barrier.wait_timeout(WAIT)?;
            semaphore.release()?;
            event.wait_timeout(WAIT)?;
            {
                let guard = condition.lock()?;
                state.set(1);
                condition.notify_all(&guard)?;
            }
            semaphore.acquire_timeout(WAIT)?.forget()?;
            barrier.wait_timeout(WAIT)?;
        }
        other => panic!("unknown role {other}"),
    }
    Ok(())
}

/// Builds the native module and the `point` example into a target
/// directory of their own (the running `cargo test` may hold its own), and
/// returns their paths.
fn build() -> (PathBuf, PathBuf) {
    let target = root().join("target").join("python-package");
    let cargo = |args: &[&str]| {
        let status = Command::new(env!("CARGO"))
            .args(args)
            .args(["--quiet", "--target-dir"])
            .arg(&target)
            .arg("--manifest-path")
            .arg(root().join("Cargo.toml"))
            .env("PYO3_PYTHON", "python3")
            .stdin(Stdio::null())
            .status()
            .expect("running cargo");
        assert!(status.success(), "cargo {args:?} failed");
    };
    cargo(&[
        "build",
        "-p",
        "shmstruct-py",
        "--features",
        "pyo3/extension-module",
    ]);
    cargo(&["build", "-p", "shmstruct", "--example", "point"]);
    let debug = target.join("debug");
    (
        debug.join("lib_shmstruct.so"),
        debug.join("examples").join("point"),
    )
}

/// A directory removed with everything in it when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn python_package() {
    if let Some(role) = support::role() {
        if let Err(error) = rust_role(&role) {
            panic!("role {role}: {error}");
        }
        std::process::exit(0);
    }
    let (module, point) = build();

    // The package as it installs: python/shmstruct/ with the native module
    // inside, on a private PYTHONPATH.
    let temp = TempDir(std::env::temp_dir().join(format!("shmstruct-py-{}", std::process::id())));
    let package = temp.0.join("path").join("shmstruct");
    let segments = temp.0.join("shm");
    std::fs::create_dir_all(&package).expect("creating the package dir");
    std::fs::create_dir_all(&segments).expect("creating the segment dir");
    let source = root().join("shmstruct-py").join("python").join("shmstruct");
    for entry in std::fs::read_dir(&source).expect("the package's sources") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|ext| ext == "py") {
            std::fs::copy(&path, package.join(path.file_name().expect("a file")))
                .expect("copying a source");
        }
    }
    std::fs::copy(&module, package.join("_shmstruct.so")).expect("copying the native module");

    let output = temp.0.join("python-output.txt");
    let log = std::fs::File::create(&output).expect("creating the output file");
    let mut python = Command::new("python3")
        .args(["-B", "-m", "unittest", "discover", "-v", "-s"])
        .arg(root().join("shmstruct-py").join("tests"))
        .current_dir(root())
        .env("PYTHONPATH", temp.0.join("path"))
        .env("SHMSTRUCT_DIR", &segments)
        .env(
            "SHMSTRUCT_RUST_CHILD",
            std::env::current_exe().expect("this binary"),
        )
        .env("SHMSTRUCT_POINT", &point)
        .env("SHMSTRUCT_PYTHON_PATH", temp.0.join("path"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("the output file"))
        .stderr(log)
        .spawn()
        .expect("running python3");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = python.try_wait().expect("waiting for python3") {
            break Some(status);
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = python.kill();
            let _ = python.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let printed = std::fs::read_to_string(&output).unwrap_or_default();
    let status = status.unwrap_or_else(|| panic!("the Python tests ran over {RUN_LIMIT:?}"));
    assert!(
        status.success(),
        "the Python tests failed ({status}):\n{printed}"
    );
    assert!(printed.contains("\nOK"), "no unittest result:\n{printed}");
    // Here every test has what it needs: a skipped one is a broken setup.
    assert!(
        !printed.contains("skipped"),
        "Python tests were skipped:\n{printed}"
    );
    let left: Vec<_> = std::fs::read_dir(&segments)
        .expect("the segment dir")
        .map(|entry| entry.expect("an entry").file_name())
        .collect();
    assert!(left.is_empty(), "the Python tests left segments: {left:?}");
}
