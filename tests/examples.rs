//! Runs the examples as real processes and checks what they print, how they
//! exit, and that they leave nothing behind in `/dev/shm`.
//!
//! The examples are built once per test process by the cargo that builds
//! the tests (`cargo build --example ... --message-format=json`: a quick
//! up-to-date check when they are built already, under `cargo test` and
//! nextest alike) and then run directly, so that each run's pid is known:
//! every example names its segments `<example>-<pid>-<object>`. Whatever
//! happens, a run's process is killed and reaped and its segments removed
//! when the test ends.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const EXAMPLES: [&str; 4] = ["parent_child", "point", "ring", "workers"];
/// A generous bound on one run (each takes well under a second).
const TIMEOUT: Duration = Duration::from_secs(120);

/// The path of the built example `name`.
fn example(name: &str) -> &'static Path {
    static BUILT: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    BUILT
        .get_or_init(build_examples)
        .get(name)
        .unwrap_or_else(|| panic!("cargo reported no executable for example {name}"))
}

/// Builds the examples and reads their executables' paths from cargo's
/// JSON messages.
fn build_examples() -> HashMap<String, PathBuf> {
    let mut command = Command::new(env!("CARGO"));
    command.args([
        "build",
        "--quiet",
        "--message-format=json-render-diagnostics",
        "--manifest-path",
        concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
    ]);
    for name in EXAMPLES {
        command.args(["--example", name]);
    }
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("running cargo build");
    assert!(output.status.success(), "building the examples failed");
    let mut built = HashMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let is_example = message["target"]["kind"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|kind| kind == "example"));
        if let (true, Some(name), Some(executable)) = (
            is_example,
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) {
            built.insert(name.to_owned(), PathBuf::from(executable));
        }
    }
    built
}

/// The segments of one run, `<example>-<pid>-*` in `/dev/shm`, removed
/// when dropped so that a failing test leaves nothing behind.
struct Segments {
    prefix: String,
}

impl Segments {
    /// The names of the run's segments still in `/dev/shm`.
    fn left(&self) -> Vec<String> {
        let entries = std::fs::read_dir("/dev/shm").expect("listing /dev/shm");
        entries
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.starts_with(&self.prefix))
            .collect()
    }
}

impl Drop for Segments {
    fn drop(&mut self) {
        for name in self.left() {
            let _ = std::fs::remove_file(Path::new("/dev/shm").join(name));
        }
    }
}

/// A running example, killed and reaped when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        // Both do nothing once the child has been waited for.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What one run of an example did.
#[derive(Debug)]
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs the example `name` with `args` (at most [`TIMEOUT`]), and checks
/// that once it has exited none of its segments is left in `/dev/shm`.
fn run(name: &str, args: &[&str]) -> Run {
    let child = Command::new(example(name))
        .args(args)
        // Segments in /dev/shm, where the check looks for them.
        .env_remove(shmstruct::segment::DIR_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("starting example {name}: {error}"));
    let segments = Segments {
        prefix: format!("{name}-{}-", child.id()),
    };
    let mut running = Running(child);
    let stdout = read_in_background(running.0.stdout.take());
    let stderr = read_in_background(running.0.stderr.take());

    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = running.0.try_wait().expect("waiting for the example") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "example {name} did not finish within {TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let run = Run {
        status,
        stdout: stdout.join().expect("reading stdout"),
        stderr: stderr.join().expect("reading stderr"),
    };
    let left = segments.left();
    assert!(
        left.is_empty(),
        "example {name} left {left:?} in /dev/shm; {run:#?}"
    );
    run
}

/// Reads a pipe to its end on another thread.
fn read_in_background(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    let mut pipe = pipe.expect("a piped stream");
    std::thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text)
            .expect("reading the example's output");
        text
    })
}

#[test]
fn point_prints_what_python_prints() {
    let run = run("point", &[]);
    assert!(run.status.success(), "{run:#?}");
    assert_eq!(
        run.stdout,
        "49\n\
         0.1111111111111111\n\
         b'HELLO WORLD'\n\
         [(3.515625, 39.0625), (33.0625, 4.0), (5.640625, 90.25)]\n"
    );
}

#[test]
fn the_crate_docs_parent_and_child_share_a_value_and_an_array() {
    let run = run("parent_child", &[]);
    assert!(run.status.success(), "{run:#?}");
    assert!(
        run.stdout
            .contains("holds `i32` (4 bytes) but `f32` (4 bytes) was expected"),
        "{run:#?}"
    );
}

#[test]
fn point_reports_a_failed_child_and_leaves_nothing_behind() {
    let run = run("point", &["--child-panics"]);
    assert_eq!(run.status.code(), Some(1), "{run:#?}");
    assert_eq!(run.stdout, "", "nothing is printed after a failed child");
    assert!(
        run.stderr.contains("the child panics on purpose"),
        "{run:#?}"
    );
    assert!(
        run.stderr
            .contains("point: the child process failed (exit status: 101)"),
        "{run:#?}"
    );
}

#[test]
fn point_refuses_unknown_arguments() {
    let run = run("point", &["--no-such-flag"]);
    assert_eq!(run.status.code(), Some(1), "{run:#?}");
    assert!(run.stderr.contains("usage: point"), "{run:#?}");
}

#[test]
fn workers_totals_are_exact() {
    let run = run("workers", &[]);
    assert!(run.status.success(), "{run:#?}");
    assert_eq!(
        run.stdout,
        "4 workers added 1..=100000 into one shared array:\n\
         count          100000\n\
         sum            5000050000\n\
         sum of squares 333338333350000\n\
         all three totals are exact\n"
    );
}

#[test]
fn ring_passes_every_point_in_order() {
    let run = run("ring", &[]);
    assert!(run.status.success(), "{run:#?}");
    assert_eq!(
        run.stdout,
        "received 10000 points in order through 8 slots; sum (49995000.0, -24997500.0)\n"
    );
}
