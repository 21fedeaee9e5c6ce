//! The Python side of the mission, end to end: a Python program that has
//! only the standard library and the source `Layout::to_ctypes()` renders
//! attaches to segments a Rust process created, finds the data from the
//! header, reads a derived struct and an array of structs through
//! `ctypes.Structure.from_buffer`, writes new values the same way, and
//! leaves the segments in place; Rust then sees exactly what Python wrote.
//!
//! The Python program is what a Python tool would do: it knows the header
//! layout documented in `shmstruct::segment::header` (magic at 0, version
//! at 8, state at 12, fingerprint at 40, data offset and size at 80 and 88,
//! lock mode at 104, all native-endian) and the fingerprint the Rust side
//! expects, and nothing else; the data's size and the array's length come
//! from the header.

mod support;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use shmstruct::segment::header;
use shmstruct::{ByteString, RawArray, RawValue, SegmentInfo, SegmentOptions, SharedLayout};
use support::RemoveOnDrop;

#[derive(SharedLayout, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}

#[derive(SharedLayout, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Demo {
    n: i32,
    x: f64,
    s: ByteString<16>,
    a: [Point; 3],
}

/// A generous bound on the Python run (it takes well under a second).
const TIMEOUT: Duration = Duration::from_secs(60);

/// The glue after the generated classes and the header's constants.
/// Arguments: the `Demo` segment's name and expected fingerprint, then the
/// `Point` array's.
///
/// Floats are printed as `repr` strings: `repr` is the shortest text that
/// reads back as the same double, and Rust's `str::parse::<f64>` rounds
/// correctly, so the comparison is exact (JSON numbers would go through
/// serde_json's faster, not always correctly rounded, parser).
///
/// The ctypes objects live only inside the functions that use them: every
/// one of them (and every `memoryview` slice) holds an export of the
/// mapping, and `SharedMemory.close()` raises `BufferError` while any is
/// alive.
const GLUE: &str = r#"
import json, struct, sys
from ctypes import c_char, sizeof
from multiprocessing import resource_tracker, shared_memory


def attach(name):
    """Attaches without letting the resource tracker unlink at exit."""
    try:
        return shared_memory.SharedMemory(name=name, track=False)  # 3.13+
    except TypeError:
        shm = shared_memory.SharedMemory(name=name)
        resource_tracker.unregister(shm._name, "shared_memory")
        return shm


def data_area(shm, fingerprint):
    """(offset, size) of the data, after checking the header."""
    buf = shm.buf
    magic, version, state = struct.unpack_from("=8sII", buf, 0)
    (total_size, stored_fingerprint) = struct.unpack_from("=QQ", buf, 32)
    (data_offset, data_size) = struct.unpack_from("=QQ", buf, 80)
    (lock_mode,) = struct.unpack_from("=I", buf, 104)
    problems = []
    if magic != MAGIC:
        problems.append(f"magic {magic!r}")
    if version != VERSION:
        problems.append(f"version {version}")
    if state != STATE_READY:
        problems.append(f"state {state}")
    if stored_fingerprint != fingerprint:
        problems.append(f"fingerprint {stored_fingerprint:#x}, expected {fingerprint:#x}")
    if lock_mode != LOCK_NONE:
        problems.append(f"lock mode {lock_mode}")
    if not (data_offset + data_size <= total_size <= shm.size):
        problems.append(f"data [{data_offset}, +{data_size}) in {total_size} of {shm.size} bytes")
    if problems:
        raise SystemExit(f"{shm.name}: " + "; ".join(problems))
    return data_offset, data_size


def points_json(points):
    return [[repr(p.x), repr(p.y)] for p in points]


def exchange_demo(shm, fingerprint):
    offset, size = data_area(shm, fingerprint)
    if size != sizeof(Demo):
        raise SystemExit(f"Demo: the header says {size} bytes, ctypes {sizeof(Demo)}")
    demo = Demo.from_buffer(shm.buf, offset)
    # A c_char array field reads as bytes up to the first NUL (Python's
    # `.value`); the whole buffer is a c_char array at the field's offset.
    raw = (c_char * Demo.s.size).from_buffer(demo, Demo.s.offset).raw
    seen = {
        "offset": offset,
        "n": demo.n,
        "x": repr(demo.x),
        "s": demo.s.decode("ascii"),
        "s_raw": raw.hex(),
        "a": points_json(demo.a),
    }
    demo.n = demo.n * demo.n
    demo.x = demo.x * demo.x
    # Shorter than before: ctypes writes the bytes and one NUL, and leaves
    # the rest, as ByteString::set_value does.
    demo.s = demo.s.upper().split()[0]
    for p in demo.a:
        p.x, p.y = p.x * p.x, p.y * p.y
    return seen


def exchange_points(shm, fingerprint):
    offset, size = data_area(shm, fingerprint)
    if size % sizeof(Point):
        raise SystemExit(f"Point array: {size} bytes is not a whole number of Points")
    points = (Point * (size // sizeof(Point))).from_buffer(shm.buf, offset)
    seen = {"offset": offset, "points": points_json(points)}
    for p in points:
        p.x, p.y = p.x * p.x, p.y * p.y
    return seen


def run(name, fingerprint, exchange):
    shm = attach(name)
    seen = exchange(shm, int(fingerprint))
    shm.close()  # every view into the mapping died with `exchange`'s frame
    return seen


report = {
    "demo": run(sys.argv[1], sys.argv[2], exchange_demo),
    "points": run(sys.argv[3], sys.argv[4], exchange_points),
}
print(json.dumps(report))
# Where the tracker exists (before 3.13), let it finish before exiting, so
# that nothing runs on after this process; it has nothing left to unlink.
tracker = getattr(resource_tracker, "_resource_tracker", None)
if tracker is not None and hasattr(tracker, "_stop"):
    tracker._stop()
"#;

fn initial_points() -> [Point; 3] {
    [
        Point { x: 1.875, y: -6.25 },
        Point { x: -5.75, y: 2.0 },
        Point { x: 2.375, y: 9.5 },
    ]
}

fn squared(p: Point) -> Point {
    Point {
        x: p.x * p.x,
        y: p.y * p.y,
    }
}

fn float(json: &Json) -> f64 {
    json.as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("not a float's repr: {json}"))
}

fn points_of(json: &Json) -> Vec<Point> {
    json.as_array()
        .unwrap_or_else(|| panic!("not a list of points: {json}"))
        .iter()
        .map(|p| Point {
            x: float(&p[0]),
            y: float(&p[1]),
        })
        .collect()
}

/// The Python program: the generated classes, then the glue.
fn script() -> String {
    // `Demo`'s source defines `Point` too (nested classes come first).
    let classes = Demo::LAYOUT.to_ctypes();
    assert!(
        classes.contains("class Point(Structure):"),
        "Demo's ctypes source does not define Point:\n{classes}"
    );
    let constants = format!(
        "MAGIC, VERSION, STATE_READY, LOCK_NONE = {:?}.encode(), {}, {}, {}",
        String::from_utf8_lossy(&header::MAGIC),
        header::VERSION,
        header::STATE_READY,
        header::LOCK_NONE
    );
    format!("{classes}\n{constants}\n{GLUE}")
}

/// Runs `python3 -c script args`, killing it past [`TIMEOUT`]; its stdout
/// on success, a panic with its stderr otherwise.
fn run_python(script: &str, args: &[&str]) -> String {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| {
            panic!(
                "this test needs `python3` on PATH (CI installs it), and starting it failed: {err}"
            )
        });
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).map(|_| text)
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for python3") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("python3 did not exit within {TIMEOUT:?}; killed it");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = out.join().expect("stdout reader").expect("reading stdout");
    let err = err.join().expect("stderr reader").expect("reading stderr");
    assert!(
        status.success(),
        "python3 failed ({status}):\n{err}\n--- script ---\n{script}"
    );
    out
}

#[test]
fn python_ctypes_reads_and_writes_rust_segments_in_place() {
    let options = SegmentOptions::new().dir("/dev/shm");
    let demo_name = support::unique_name("pydemo");
    let points_name = support::unique_name("pypoints");
    let _demo_guard = RemoveOnDrop::shm(&demo_name);
    let _points_guard = RemoveOnDrop::shm(&points_name);

    let initial = Demo {
        n: 7,
        x: 1.0 / 3.0,
        s: ByteString::new(b"hello world").expect("fits"),
        a: initial_points(),
    };
    let demo = RawValue::builder(&demo_name)
        .options(&options)
        .create(initial)
        .expect("create the Demo");
    let array = [
        Point { x: 0.5, y: -3.0 },
        Point {
            x: 0.1,
            y: f64::MAX.sqrt(),
        },
        Point {
            x: -1e-150,
            y: 7.25,
        },
        Point { x: 12.0, y: -0.0 },
    ];
    let points = RawArray::builder(&points_name)
        .options(&options)
        .create(&array)
        .expect("create the array");

    let output = run_python(
        &script(),
        &[
            &demo_name,
            &Demo::LAYOUT.fingerprint().to_string(),
            &points_name,
            &<[Point; 4]>::LAYOUT.fingerprint().to_string(),
        ],
    );
    let report: Json = serde_json::from_str(output.trim())
        .unwrap_or_else(|err| panic!("python3 printed no JSON ({err}): {output}"));

    // Python found the data where Rust's reading of the header does, and
    // read there what Rust wrote.
    for (key, name) in [("demo", &demo_name), ("points", &points_name)] {
        let info = SegmentInfo::open_with(name, &options).expect("segment info");
        let (data_offset, _) = info.data().expect("ready");
        assert_eq!(report[key]["offset"], data_offset, "{key}: {report}");
    }
    let seen = &report["demo"];
    assert_eq!(seen["n"], 7, "{report}");
    assert_eq!(float(&seen["x"]).to_bits(), (1.0f64 / 3.0).to_bits());
    assert_eq!(seen["s"], "hello world");
    let raw_hex: String = initial.s.raw().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(seen["s_raw"], raw_hex.as_str());
    assert_eq!(points_of(&seen["a"]), initial.a);
    let seen_array = points_of(&report["points"]["points"]);
    assert_eq!(seen_array.len(), array.len());
    for (seen, wrote) in seen_array.iter().zip(&array) {
        assert_eq!(
            (seen.x.to_bits(), seen.y.to_bits()),
            (wrote.x.to_bits(), wrote.y.to_bits())
        );
    }

    // What Python wrote is what Rust reads, through the creating handles
    // and through new ones; and Python left both segments in place.
    let mut s = initial.s;
    s.set_value(b"HELLO").expect("fits");
    let expected = Demo {
        n: 49,
        x: (1.0 / 3.0) * (1.0 / 3.0),
        s,
        a: initial.a.map(squared),
    };
    assert_eq!(s.raw(), b"HELLO\0world\0\0\0\0\0");
    let expected_array = array.map(squared);
    for name in [&demo_name, &points_name] {
        assert!(
            Path::new("/dev/shm").join(name).exists(),
            "python unlinked {name}"
        );
    }
    assert_eq!(demo.get(), expected);
    assert_eq!(demo.get().x.to_bits(), expected.x.to_bits());
    assert_eq!(demo.get().s.raw(), expected.s.raw());
    assert_eq!(points.to_vec(), expected_array);
    let reopened = RawValue::<Demo>::builder(&demo_name)
        .options(&options)
        .open()
        .expect("reopen the Demo");
    assert_eq!(reopened.get(), expected);
    let reopened = RawArray::<Point>::builder(&points_name)
        .options(&options)
        .open()
        .expect("reopen the array");
    let bits = |points: &[Point]| -> Vec<(u64, u64)> {
        points
            .iter()
            .map(|p| (p.x.to_bits(), p.y.to_bits()))
            .collect()
    };
    assert_eq!(bits(&reopened.to_vec()), bits(&expected_array));

    demo.unlink().expect("unlink the Demo");
    points.unlink().expect("unlink the array");
    for name in [&demo_name, &points_name] {
        assert!(
            !Path::new("/dev/shm").join(name).exists(),
            "{name} left behind"
        );
    }
}
