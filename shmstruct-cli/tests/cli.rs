//! The `shmstruct` command against real segments: made by this test binary
//! re-executed as another process (which then exits, leaving them stale),
//! changed by another process, next to a foreign file and a corrupt header.

use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::{json, Value as Json};
use shmstruct::{Array, Barrier, ByteString, Condition, Event, Lock, RLock, RawArray, RawValue};
use shmstruct::{SegmentOptions, Semaphore, SharedBytes, SharedLayout, Value};

#[derive(SharedLayout, Clone, Copy)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}

#[derive(SharedLayout, Clone, Copy)]
#[repr(C)]
struct Demo {
    n: i32,
    x: f64,
    s: ByteString<16>,
    a: [Point; 2],
}

fn demo(n: i32) -> Demo {
    Demo {
        n,
        x: 1.0 / 3.0,
        s: ByteString::new(b"hello world").expect("fits"),
        a: [Point { x: 1.875, y: -6.25 }, Point { x: 1e16, y: 0.1 }],
    }
}

#[path = "../../tests/support/layouts.rs"]
mod layouts;

/// The environment variable that makes this binary play a role.
const ROLE: &str = "SHMSTRUCT_CLI_TEST_ROLE";

/// A directory of segments for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("shmstruct-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating a temporary directory");
        TempDir(dir)
    }

    fn options(&self) -> SegmentOptions {
        SegmentOptions::new().dir(&self.0)
    }

    fn cli(&self, args: &[&str]) -> Command {
        let mut command = Command::cargo_bin("shmstruct").expect("the shmstruct binary");
        command
            .args(args)
            .arg("--dir")
            .arg(&self.0)
            .env("NO_COLOR", "1")
            .timeout(Duration::from_secs(30));
        command
    }

    /// Adds a file that is not a segment, `foreign` (mode 0644), and
    /// `corrupt`: a copy of the made segment `value` whose header says it is
    /// bigger than its file.
    fn add_foreign_and_corrupt(&self) {
        std::fs::write(self.0.join("foreign"), b"not a segment at all").expect("foreign");
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o644);
        std::fs::set_permissions(self.0.join("foreign"), mode).expect("chmod");
        std::fs::copy(self.0.join("value"), self.0.join("corrupt")).expect("copy");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(self.0.join("corrupt"))
            .expect("open");
        file.write_all_at(&u64::MAX.to_ne_bytes(), 32)
            .expect("corrupting");
    }

    /// Runs the command, expects success and returns its standard output.
    fn text(&self, args: &[&str]) -> String {
        let output = self.cli(args).assert().success().get_output().clone();
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }

    fn json(&self, args: &[&str]) -> Json {
        let output = self
            .cli(args)
            .arg("--json")
            .assert()
            .success()
            .get_output()
            .clone();
        serde_json::from_slice(&output.stdout).expect("JSON output")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs this test binary as `role` for `test` with `dir`, and waits (at
/// most a minute) for it to succeed; kills it on failure or timeout.
fn run_role(test: &str, role: &str, dir: &Path) {
    let mut child: Child = StdCommand::new(std::env::current_exe().expect("own path"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env("SHMSTRUCT_CLI_TEST_DIR", dir)
        .spawn()
        .expect("spawning a child");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("waiting") {
            assert!(status.success(), "role {role} failed: {status}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("role {role} took more than a minute");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs this test binary as `role`, as `run_role` does, without waiting:
/// the child is killed when dropped.
struct RoleChild(Child);

impl RoleChild {
    fn spawn(test: &str, role: &str, dir: &Path) -> RoleChild {
        let child = StdCommand::new(std::env::current_exe().expect("own path"))
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(ROLE, role)
            .env("SHMSTRUCT_CLI_TEST_DIR", dir)
            .spawn()
            .expect("spawning a child");
        RoleChild(child)
    }
}

impl RoleChild {
    /// A child holding the lock of the segment `live` in `dir` (it says so
    /// with the file `held`), until it is killed.
    fn hold_lock(test: &str, dir: &Path) -> RoleChild {
        let holder = RoleChild::spawn(test, "holder", dir);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !dir.join("held").exists() {
            assert!(Instant::now() < deadline, "the holder never took the lock");
            std::thread::sleep(Duration::from_millis(10));
        }
        holder
    }
}

impl Drop for RoleChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// In a child, plays its role and returns `None`; in the test itself, a
/// fresh directory, where a `maker` child has left a segment of every kind
/// if `made` is set.
fn setup(test: &str, made: bool) -> Option<TempDir> {
    if play_role() {
        return None;
    }
    let dir = TempDir::new(test);
    if made {
        run_role(test, "maker", &dir.0);
    }
    Some(dir)
}

/// In a child, does the part of `role`; returns whether this is a child.
fn play_role() -> bool {
    let Ok(role) = std::env::var(ROLE) else {
        return false;
    };
    let dir = std::env::var("SHMSTRUCT_CLI_TEST_DIR").expect("the directory");
    let options = SegmentOptions::new().dir(dir);
    match role.as_str() {
        // Makes a segment of every kind, keeps them, then exits: they are
        // left stale.
        "maker" => {
            let options = options.clone().unlink_on_drop(false);
            drop(
                Value::builder("value")
                    .options(&options)
                    .create(demo(7))
                    .expect("value"),
            );
            drop(
                RawValue::builder("raw-value")
                    .options(&options)
                    .create(2.5f32)
                    .expect("raw value"),
            );
            drop(
                Array::builder("array")
                    .options(&options)
                    .create(&[1i16, -2, 3])
                    .expect("array"),
            );
            drop(
                RawArray::builder("raw-array")
                    .options(&options)
                    .create(&[9u64; 20])
                    .expect("raw array"),
            );
            drop(
                SharedBytes::builder("bytes")
                    .options(&options)
                    .create(b"hi\xff")
                    .expect("bytes"),
            );
            Lock::create_with("lock", &options).expect("lock");
            RLock::create_with("rlock", &options).expect("rlock");
            Semaphore::create_with("semaphore", 2, &options).expect("semaphore");
            Event::create_with("event", &options).expect("event");
            Condition::create_with("condition", &options).expect("condition");
            Barrier::create_with("barrier", 2, &options).expect("barrier");
        }
        // Changes the live value that the parent made.
        "changer" => {
            let value = Value::<Demo>::builder("live")
                .options(&options)
                .open()
                .expect("open");
            value.set(demo(49)).expect("set");
        }
        // Takes the live value's lock, says so with a file, and holds it
        // until it is killed (at most a minute).
        "holder" => {
            let value = Value::<Demo>::builder("live")
                .options(&options)
                .open()
                .expect("open");
            let _guard = value.lock().expect("lock");
            std::fs::write(options.get_dir().join("held"), b"").expect("marker");
            std::thread::sleep(Duration::from_secs(60));
        }
        other => panic!("unknown role {other}"),
    }
    true
}

fn entry<'a>(list: &'a Json, name: &str) -> &'a Json {
    list.as_array()
        .expect("an array")
        .iter()
        .find(|entry| entry["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

#[test]
fn list_shows_every_kind_state_and_foreign_file() {
    let Some(dir) = setup("list_shows_every_kind_state_and_foreign_file", true) else {
        return;
    };
    let live = Value::builder("live")
        .options(&dir.options())
        .create(demo(1))
        .expect("live");
    dir.add_foreign_and_corrupt();

    let list = dir.json(&["list"]);
    let kinds = [
        ("value", "Value"),
        ("raw-value", "RawValue"),
        ("array", "Array"),
        ("raw-array", "RawArray"),
        ("bytes", "Bytes"),
        ("lock", "Lock"),
        ("rlock", "RLock"),
        ("semaphore", "Semaphore"),
        ("event", "Event"),
        ("condition", "Condition"),
        ("barrier", "Barrier"),
    ];
    for (name, kind) in kinds {
        let entry = entry(&list, name);
        assert_eq!(entry["kind"], kind, "{entry}");
        assert_eq!(entry["state"], "stale", "{entry}");
        for key in ["type", "size", "owner", "mode", "creator_pid", "lock"] {
            assert!(entry.get(key).is_some(), "{key} missing in {entry}");
        }
    }
    assert_eq!(entry(&list, "value")["type"], "Demo");
    assert_eq!(entry(&list, "value")["lock"], "free");
    assert_eq!(entry(&list, "value")["mode"], "0600");
    assert_eq!(entry(&list, "live")["state"], "alive");
    assert_eq!(entry(&list, "live")["creator_pid"], std::process::id());
    assert_eq!(entry(&list, "foreign")["state"], "not a shmstruct segment");
    let corrupt = entry(&list, "corrupt")["state"]
        .as_str()
        .expect("a state")
        .to_owned();
    assert!(corrupt.starts_with("corrupt: "), "{corrupt}");

    let table = dir.text(&["list"]);
    let header = table.lines().next().expect("a header");
    assert!(
        header.starts_with("NAME  ") && header.ends_with("LOCK"),
        "{table}"
    );
    assert!(
        !table.contains('\x1b'),
        "coloured despite NO_COLOR: {table}"
    );
    let state_column = header.find("STATE").expect("STATE column");
    let foreign = table
        .lines()
        .find(|l| l.starts_with("foreign"))
        .expect("foreign row");
    assert_eq!(&foreign[state_column..state_column + 3], "not", "{table}");
    drop(live);
}

#[test]
fn show_prints_values_another_process_wrote() {
    let Some(dir) = setup("show_prints_values_another_process_wrote", false) else {
        return;
    };
    let live = Value::builder("live")
        .options(&dir.options())
        .create(demo(7))
        .expect("live");
    run_role(
        "show_prints_values_another_process_wrote",
        "changer",
        &dir.0,
    );

    let shown = dir.json(&["show", "live"]);
    assert_eq!(shown["name"], "live");
    assert_eq!(shown["kind"], "Value");
    assert_eq!(shown["layout"]["name"], "Demo");
    assert_eq!(
        shown["value"],
        json!({"n": 49, "x": 1.0 / 3.0, "s": "hello world",
               "a": [{"x": 1.875, "y": -6.25}, {"x": 1e16, "y": 0.1}]})
    );
    let text = dir.text(&["show", "live"]);
    assert!(text.contains("values (read without the lock):"), "{text}");
    assert!(
        text.contains("  n = 49\n  x = 0.3333333333333333\n  s = b'hello world'\n"),
        "{text}"
    );
    assert!(text.contains("      x = 1e+16\n      y = 0.1\n"), "{text}");
    assert!(text.contains("struct Demo {"), "{text}");
    drop(live);
}

#[test]
fn show_truncates_arrays_and_encodes_bytes() {
    let Some(dir) = setup("show_truncates_arrays_and_encodes_bytes", true) else {
        return;
    };
    let text = dir.text(&["show", "raw-array"]);
    assert!(text.contains("(4 more; --all shows them)"), "{text}");
    let all = dir.json(&["show", "raw-array", "--all"]);
    assert_eq!(all["value"], json!(vec![9; 20]));
    assert_eq!(
        dir.json(&["show", "bytes"])["value"],
        json!([104, 105, 255])
    );
    assert_eq!(dir.json(&["show", "raw-value"])["value"], json!(2.5));
}

#[test]
fn layout_exports_and_reads_descriptor_files() {
    let Some(dir) = setup("layout_exports_and_reads_descriptor_files", false) else {
        return;
    };
    let live = Value::builder("live")
        .options(&dir.options())
        .create(demo(1))
        .expect("live");
    let c = dir.text(&["layout", "live", "--format", "c"]);
    assert_eq!(c, Demo::LAYOUT.to_c_header());
    let py = dir.text(&["layout", "live"]);
    assert_eq!(py, Demo::LAYOUT.to_ctypes());
    let rust = dir.text(&["layout", "live", "--format", "rust"]);
    assert_eq!(rust, Demo::LAYOUT.to_rust());
    let file = dir.0.join("descriptor.bin");
    std::fs::write(&file, Demo::LAYOUT.encode()).expect("write");
    let from_file = dir.json(&[
        "layout",
        "--from-file",
        file.to_str().expect("UTF-8"),
        "--format",
        "json",
    ]);
    assert_eq!(from_file, dir.json(&["layout", "live", "--format", "json"]));
    assert_eq!(from_file["fields"][3]["type"]["len"], 2);
    drop(live);
}

#[test]
fn rm_and_gc_clean_up() {
    let Some(dir) = setup("rm_and_gc_clean_up", true) else {
        return;
    };
    let live = Value::builder("live")
        .options(&dir.options())
        .create(demo(1))
        .expect("live");
    std::fs::write(dir.0.join("foreign"), b"x").expect("foreign");

    dir.cli(&["rm", "foreign"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("--force"));
    assert!(dir.0.join("foreign").exists());
    dir.cli(&["rm", "foreign", "--force"]).assert().success();
    assert!(!dir.0.join("foreign").exists());
    dir.cli(&["rm", "missing"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("does not exist"));

    let would = dir.json(&["gc", "--dry-run"]);
    assert_eq!(would.as_array().expect("names").len(), 11, "{would}");
    assert!(dir.0.join("lock").exists());
    let removed = dir.json(&["gc"]);
    assert_eq!(removed, would);
    dir.cli(&["rm", "value"]).assert().code(1);
    let left: Vec<String> = std::fs::read_dir(&dir.0)
        .expect("read")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["live"]);
    dir.cli(&["rm", "live"]).assert().success();
    drop(live);
}

#[test]
fn usage_errors_exit_with_2() {
    let Some(dir) = setup("usage_errors_exit_with_2", false) else {
        return;
    };
    dir.cli(&["frobnicate"]).assert().code(2);
    dir.cli(&["layout", "x", "--format", "yaml"])
        .assert()
        .code(2);
    dir.cli(&["show", "no-such"])
        .assert()
        .code(1)
        .stderr(predicates::str::starts_with("shmstruct: error: "));
}

/// A `shmstruct watch` process whose output lines arrive on a channel;
/// killed on drop if still running.
struct Watcher {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Watcher {
    fn start(dir: &TempDir, name: &str) -> Watcher {
        let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("shmstruct"))
            .args(["watch", name, "--interval", "20", "--dir"])
            .arg(&dir.0)
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawning watch");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stdout).lines() {
                if sender.send(line.expect("UTF-8 output")).is_err() {
                    return;
                }
            }
        });
        Watcher { child, lines }
    }

    /// Waits (at most 30 s) for a line equal to `wanted`.
    fn expect_line(&self, wanted: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line == wanted => return,
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        panic!("no line {wanted:?} from watch; saw {seen:#?}");
    }

    /// Waits (at most 30 s) for the process to exit, and returns its code.
    fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("waiting") {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("watch did not exit within 30 s");
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_follows_changes_and_stops_when_unlinked() {
    let test = "watch_follows_changes_and_stops_when_unlinked";
    let Some(dir) = setup(test, false) else {
        return;
    };
    let live = Value::builder("live")
        .options(&dir.options())
        .create(demo(7))
        .expect("live");
    let mut watcher = Watcher::start(&dir, "live");
    watcher.expect_line("  n = 7");
    run_role(test, "changer", &dir.0);
    watcher.expect_line("  n = 49");
    shmstruct::SegmentInfo::open_with("live", &dir.options())
        .expect("info")
        .unlink()
        .expect("unlink");
    watcher.expect_line("segment `live` was unlinked");
    assert_eq!(watcher.exit_code(), Some(0));
    drop(live);
}

#[test]
fn watch_stops_on_sigint() {
    let Some(dir) = setup("watch_stops_on_sigint", false) else {
        return;
    };
    let live = Value::builder("live")
        .options(&dir.options())
        .create(demo(7))
        .expect("live");
    let mut watcher = Watcher::start(&dir, "live");
    watcher.expect_line("  n = 7");
    let status = StdCommand::new("kill")
        .args(["-INT", &watcher.child.id().to_string()])
        .status()
        .expect("running kill");
    assert!(status.success());
    assert_eq!(watcher.exit_code(), Some(0));
    drop(live);
}

#[test]
fn show_lock_times_out_and_recovers_a_dead_holder() {
    let test = "show_lock_times_out_and_recovers_a_dead_holder";
    let Some(dir) = setup(test, false) else {
        return;
    };
    let live = Value::builder("live")
        .options(&dir.options())
        .create(demo(7))
        .expect("live");
    let text = dir.text(&["show", "live", "--lock"]);
    assert!(
        text.contains("values (read under the lock):\n  n = 7\n"),
        "{text}"
    );

    let holder = RoleChild::hold_lock(test, &dir.0);
    dir.cli(&["show", "live", "--lock", "--timeout", "0.2"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("timed out"));
    assert!(entry(&dir.json(&["list"]), "live")["lock"]
        .as_str()
        .expect("a lock state")
        .starts_with("held by pid"));

    // Killed holding the lock: show --lock reads the data, reports it
    // poisoned, and leaves the lock usable and the data poisoned for the
    // programs that share it, until they repair it.
    drop(holder);
    let text = dir.text(&["show", "live", "--lock"]);
    assert!(text.contains("but poisoned"), "{text}");
    assert_eq!(
        entry(&dir.json(&["list"]), "live")["lock"],
        "free, poisoned"
    );
    let shown = dir.json(&["show", "live", "--lock"]);
    assert!(shown["read"].as_str().expect("read").contains("poisoned"));
    assert_eq!(shown["value"]["n"], 7);
    assert!(
        matches!(live.get(), Err(error) if error.is_poisoned()),
        "the data is poisoned"
    );
    let mut guard = live
        .lock_poisoned_timeout(Duration::from_secs(5))
        .expect("the lock is usable");
    guard.clear_poison();
    drop(guard);
    assert_eq!(entry(&dir.json(&["list"]), "live")["lock"], "free");
    assert_eq!(live.get().expect("repaired").n, 7);

    dir.cli(&["show", "live", "--timeout", "1"])
        .assert()
        .code(2);
    let raw = RawValue::builder("raw")
        .options(&dir.options())
        .create(1u8)
        .expect("raw");
    dir.cli(&["show", "raw", "--lock"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("no lock"));
    drop(raw);
}

#[test]
fn json_layouts_read_back_to_the_same_descriptor() {
    let Some(dir) = setup("json_layouts_read_back_to_the_same_descriptor", false) else {
        return;
    };
    use layouts::*;
    let structs = [
        Point::LAYOUT,
        Mixed::LAYOUT,
        Outer::LAYOUT,
        layouts::Demo::LAYOUT,
        Grid::LAYOUT,
        Counters::LAYOUT,
        Aligned16::LAYOUT,
        HoldsAligned16::LAYOUT,
        Aligned8::LAYOUT,
        Aligned64::LAYOUT,
        HoldsAligned64::LAYOUT,
        Packed::LAYOUT,
        Packed2::LAYOUT,
        HoldsPacked::LAYOUT,
        Empty::LAYOUT,
        one::Inner::LAYOUT,
        two::Inner::LAYOUT,
        Both::LAYOUT,
    ];
    let others = NON_STRUCTS.map(|(layout, _)| layout);
    let (binary, json_file) = (dir.0.join("descriptor.bin"), dir.0.join("layout.json"));
    let (binary, json_file) = (
        binary.to_str().expect("UTF-8"),
        json_file.to_str().expect("UTF-8"),
    );
    for layout in structs.iter().chain(&others) {
        std::fs::write(binary, layout.encode()).expect("write");
        let json = dir.json(&["layout", "--from-file", binary, "--format", "json"]);
        assert_eq!(
            json["fingerprint"],
            format!("{:016x}", layout.fingerprint()),
            "{json}"
        );
        std::fs::write(json_file, json.to_string()).expect("write");
        let again = dir.json(&["layout", "--from-file", json_file, "--format", "json"]);
        assert_eq!(again, json);
        let c = dir.text(&["layout", "--from-file", json_file, "--format", "c"]);
        assert_eq!(c, layout.to_c_header());
    }

    // A JSON layout that no type has is refused with the decoder's reason,
    // and so is one whose fingerprint does not match.
    let mut json = dir.json(&["layout", "--from-file", binary, "--format", "json"]);
    json["size"] = json!(12345);
    std::fs::write(json_file, json.to_string()).expect("write");
    dir.cli(&["layout", "--from-file", json_file])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("holds no JSON layout"));
    std::fs::write(binary, Point::LAYOUT.encode()).expect("write");
    let mut json = dir.json(&["layout", "--from-file", binary, "--format", "json"]);
    json["fingerprint"] = json!("0000000000000000");
    std::fs::write(json_file, json.to_string()).expect("write");
    dir.cli(&["layout", "--from-file", json_file])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("fingerprint"));
}

/// Compiles `examples/c_reader.c` with the header `layout --format c` prints
/// for the segment `name`, and returns the path of the program.
fn compile_c_reader(dir: &TempDir, name: &str) -> PathBuf {
    let header = dir.text(&["layout", name, "--format", "c"]);
    let build = dir.0.join("c-build");
    std::fs::create_dir_all(&build).expect("build directory");
    std::fs::write(build.join("layout.h"), header).expect("layout.h");
    let program = build.join("c_reader");
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/c_reader.c");
    Command::new("cc")
        .args(["-std=c11", "-Wall", "-Werror", "-pthread", "-I"])
        .arg(&build)
        .arg("-o")
        .arg(&program)
        .arg(source)
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
    program
}

#[test]
fn a_c_program_reads_what_show_shows_under_the_robust_mutex() {
    let test = "a_c_program_reads_what_show_shows_under_the_robust_mutex";
    let Some(dir) = setup(test, false) else {
        return;
    };
    let live = Value::builder("live")
        .options(&dir.options())
        .create(demo(7))
        .expect("live");
    run_role(test, "changer", &dir.0);
    let program = compile_c_reader(&dir, "live");
    let read = |stderr: &str| -> Json {
        let output = Command::new(&program)
            .arg(dir.0.join("live"))
            .timeout(Duration::from_secs(30))
            .assert()
            .success()
            .stderr(predicates::str::diff(stderr.to_owned()))
            .get_output()
            .clone();
        serde_json::from_slice(&output.stdout).expect("JSON from the C reader")
    };
    let shown = dir.json(&["show", "live"])["value"].clone();
    assert_eq!(shown["n"], 49);
    assert_eq!(read(""), shown);

    // A holder killed while holding the lock: the C reader gets EOWNERDEAD,
    // marks the data poisoned and the mutex consistent, as Rust does, and
    // Rust sees the poison and can take the lock to repair.
    let holder = RoleChild::hold_lock(test, &dir.0);
    drop(holder);
    assert_eq!(
        read("c_reader: the lock's holder died; data marked poisoned, lock consistent\n"),
        shown
    );
    assert_eq!(
        entry(&dir.json(&["list"]), "live")["lock"],
        "free, poisoned"
    );
    assert!(matches!(live.get(), Err(error) if error.is_poisoned()));
    let mut guard = live
        .lock_poisoned_timeout(Duration::from_secs(5))
        .expect("the lock is usable");
    assert_eq!(guard.n, 49);
    guard.clear_poison();
}

/// The `list` table with what changes from run to run redacted: the owner
/// and pid columns, and the column widths they decide (cells are joined by
/// two spaces).
fn redacted_list(table: &str) -> String {
    let mut out = String::new();
    for line in table.lines() {
        let mut cells: Vec<&str> = line
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        if !line.starts_with("NAME") {
            for column in [4, 6] {
                if cells
                    .get(column)
                    .is_some_and(|cell| cell.parse::<u32>().is_ok())
                {
                    cells[column] = if column == 4 { "[uid]" } else { "[pid]" };
                }
            }
        }
        out.push_str(&cells.join("  "));
        out.push('\n');
    }
    out
}

#[test]
fn human_output_snapshots() {
    let Some(dir) = setup("human_output_snapshots", true) else {
        return;
    };
    dir.add_foreign_and_corrupt();
    let live = Value::builder("live")
        .options(&dir.options())
        .create(demo(7))
        .expect("live");

    insta::assert_snapshot!("list", redacted_list(&dir.text(&["list"])));
    let show = |name: &str| {
        let text = dir.text(&["show", name]);
        let redacted: Vec<String> = text
            .lines()
            .map(|line| match line.starts_with("creator ") {
                true => "creator      pid [pid]".to_owned(),
                false => line.replace(dir.0.to_str().expect("UTF-8"), "[dir]"),
            })
            .collect();
        redacted.join("\n")
    };
    insta::assert_snapshot!("show", show("live"));
    insta::assert_snapshot!("show_raw_array", show("raw-array"));
    drop(live);
}

#[test]
fn another_users_segment_is_listed_and_left_by_gc() {
    let Some(dir) = setup("another_users_segment_is_listed_and_left_by_gc", true) else {
        return;
    };
    let own = std::fs::metadata(&dir.0).expect("metadata");
    if std::os::unix::fs::MetadataExt::uid(&own) != 0 {
        eprintln!("skipped: only root can give a segment to another user");
        assert!(dir.0.join("value").exists());
        return;
    }
    let nobody = 65534;
    std::os::unix::fs::chown(dir.0.join("value"), Some(nobody), Some(nobody)).expect("chown");
    let list = dir.json(&["list"]);
    assert_eq!(entry(&list, "value")["owner"], nobody, "{list}");
    let state = entry(&list, "value")["state"].as_str().expect("a state");
    assert!(state.starts_with("untrusted: "), "{list}");
    let removed = dir.json(&["gc"]);
    assert_eq!(removed.as_array().expect("names").len(), 10, "{removed}");
    assert!(!removed.as_array().expect("names").contains(&json!("value")));
    assert!(dir.0.join("value").exists());
}
