//! Benchmarks of the Python-style objects, each figure beside its baseline
//! measured in the same run, with the ratio (DESIGN.md §7).
//!
//! ```text
//! cargo run --release --example bench_objects
//! ```
//!
//! The Python baselines come from `bench/python_objects.py`, run with the
//! machine's `python3`; without it, only the Rust figures and their Rust
//! baselines are printed. Every figure is the median of several repeats.
//! Segments are created in `/dev/shm` (or `$SHMSTRUCT_DIR`) under names
//! with this process's id, and removed again.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use shmstruct::{Array, SegmentOptions, SharedLayout};

/// How many times each measurement is repeated; the median is reported.
const REPEATS: usize = 9;
/// The bulk copy's size: 64 MiB of f64.
const BULK_BYTES: usize = 64 << 20;
/// Create/open/unlink cycles per repeat, as the Python script does.
const CYCLES: usize = 200;
/// Points in the element-by-element array, as the Python script has.
const POINTS: usize = 1000;
/// Passes over the points per repeat (each a write and a read per element).
const POINT_PASSES: usize = 200;

#[repr(C)]
#[derive(SharedLayout, Clone, Copy, Debug, PartialEq)]
struct Point {
    x: f64,
    y: f64,
}

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let python = python_baselines();
    println!("shmstruct object benchmarks: medians of {REPEATS} repeats, baselines from this run");
    println!();
    bulk_copy()?;
    println!();
    segment_cycle(python.as_ref())?;
    println!();
    points_element_by_element(python.as_ref())?;
    if let Err(why) = &python {
        println!();
        println!("Python baselines missing: {why}");
    }
    Ok(())
}

/// The median of `samples`.
fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    let mid = samples.len() / 2;
    if samples.len() % 2 == 1 {
        samples[mid]
    } else {
        (samples[mid - 1] + samples[mid]) / 2.0
    }
}

fn gb_per_s(bytes: usize, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64() / 1e9
}

/// A segment name unique to this process.
fn name(tag: &str) -> String {
    format!("bench-{}-{tag}", std::process::id())
}

/// Bulk copies of a 64 MiB `Array<f64>` in and out, against `memcpy`
/// between two `Vec`s of the same size. The three copies take turns in
/// every repeat, so that a busy machine slows them alike.
fn bulk_copy() -> Result<(), BoxError> {
    let len = BULK_BYTES / size_of::<f64>();
    let options = SegmentOptions::new().unlink_on_drop(true);
    let array = Array::<f64>::create_zeroed_with(&name("bulk"), len, &options)?;
    let source: Vec<f64> = (0..len).map(|i| i as f64).collect();
    let mut destination = vec![0.0f64; len];
    // Fault every page in once, so that no repeat pays for it.
    array.copy_from_slice(&source)?;
    array.copy_to_slice(&mut destination)?;
    destination.copy_from_slice(&source);

    let (mut memcpy, mut copy_in, mut copy_out) = (vec![], vec![], vec![]);
    for _ in 0..REPEATS {
        let start = Instant::now();
        destination.copy_from_slice(black_box(&source));
        black_box(&mut destination);
        memcpy.push(gb_per_s(BULK_BYTES, start.elapsed()));

        let start = Instant::now();
        array.copy_from_slice(black_box(&source))?;
        copy_in.push(gb_per_s(BULK_BYTES, start.elapsed()));

        let start = Instant::now();
        array.copy_to_slice(black_box(&mut destination))?;
        black_box(&mut destination);
        copy_out.push(gb_per_s(BULK_BYTES, start.elapsed()));
    }
    assert_eq!(destination, source, "the round trip kept every value");
    let memcpy = median(memcpy);
    println!("bulk copy of a 64 MiB Array<f64>, against memcpy (Vec::copy_from_slice) of 64 MiB");
    for (what, rate) in [
        ("copy_from_slice (into the segment)", median(copy_in)),
        ("copy_to_slice (out of the segment)", median(copy_out)),
    ] {
        println!(
            "  {what:<36} {rate:>6.2} GB/s   memcpy {memcpy:>6.2} GB/s   ratio {:.2}x (target >= 0.9x)",
            rate / memcpy
        );
    }
    Ok(())
}

/// Create + type-checked open + one write + unlink of a 4 KiB segment,
/// against Python's `SharedMemory` create/attach/write/close/unlink.
fn segment_cycle(python: Result<&Python, &String>) -> Result<(), BoxError> {
    let name = name("cycle");
    let _cleanup = RemoveOnDrop(SegmentOptions::new().get_dir().join(&name));
    let mut samples = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        let start = Instant::now();
        for _ in 0..CYCLES {
            let created = Array::<u8>::create_zeroed(&name, 4096)?;
            let opened = Array::<u8>::open(&name)?;
            opened.set(0, 1)?;
            drop(opened);
            created.unlink()?;
        }
        samples.push(start.elapsed().as_secs_f64() * 1e6 / CYCLES as f64);
    }
    let rust = median(samples);
    println!("create + type-checked open + unlink of a 4 KiB segment");
    match python {
        Ok(python) => println!(
            "  shmstruct {rust:>8.1} us   Python SharedMemory {:>8.1} us   {:.1}x faster (target >= 5x)",
            python.shm_cycle_us,
            python.shm_cycle_us / rust
        ),
        Err(_) => println!("  shmstruct {rust:>8.1} us   (Python baseline missing)"),
    }
    Ok(())
}

/// Writing then reading every `Point` of a 1000-element `Array`, one
/// element at a time, against Python's `Array(Point, 1000)` under its lock.
fn points_element_by_element(python: Result<&Python, &String>) -> Result<(), BoxError> {
    let options = SegmentOptions::new().unlink_on_drop(true);
    let points = Array::<Point>::create_zeroed_with(&name("points"), POINTS, &options)?;
    let mut samples = Vec::with_capacity(REPEATS);
    let mut total = 0.0;
    for _ in 0..REPEATS {
        let start = Instant::now();
        for _ in 0..POINT_PASSES {
            total += write_then_read(&points)?;
        }
        samples.push(start.elapsed().as_nanos() as f64 / (POINT_PASSES * POINTS) as f64);
    }
    black_box(total);
    let rust = median(samples);
    println!(
        "write then read each Point of an Array of {POINTS}, one element at a time \
         (per element: one write and one read)"
    );
    // Without a lock until the process-shared locks land; then this line
    // measures the same loop under `points.lock()`.
    let label = "shmstruct (no lock yet)";
    match python {
        Ok(python) => println!(
            "  {label} {rust:>7.1} ns   Python Array(Point) under its lock {:>7.1} ns   {:.0}x faster",
            python.array_points_ns_per_element,
            python.array_points_ns_per_element / rust
        ),
        Err(_) => println!("  {label} {rust:>7.1} ns   (Python baseline missing)"),
    }
    Ok(())
}

/// One pass of the element-by-element loop: the Python script's values,
/// and the sum it checks.
fn write_then_read(points: &Array<Point>) -> Result<f64, BoxError> {
    for i in 0..points.len() {
        let i_f = i as f64;
        points.set(
            i,
            Point {
                x: i_f * 0.5,
                y: -i_f * 0.25,
            },
        )?;
    }
    let mut total = 0.0;
    for i in 0..points.len() {
        let p = points.get(black_box(i))?;
        total += p.x + p.y;
    }
    Ok(total)
}

/// The medians `bench/python_objects.py` prints.
struct Python {
    array_points_ns_per_element: f64,
    shm_cycle_us: f64,
}

/// Runs the Python baselines, or says why they are missing.
fn python_baselines() -> Result<Python, String> {
    let script: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "bench",
        "python_objects.py",
    ]
    .iter()
    .collect();
    // The increment baseline is not compared here yet (it needs the
    // locks): a short run of it is enough.
    let output = Command::new("python3")
        .arg(&script)
        .args(["--repeats", "5", "--increments", "2000"])
        .output()
        .map_err(|error| format!("could not run python3: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|error| format!("{} printed no JSON: {error}", script.display()))?;
    let number = |key: &str| {
        json.get(key)
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| format!("{} printed no `{key}`", script.display()))
    };
    Ok(Python {
        array_points_ns_per_element: number("array_points_ns_per_element")?,
        shm_cycle_us: number("shm_cycle_us")?,
    })
}

/// Removes a segment file left behind if the benchmark stops early.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
