//! A producer process passes 10,000 `Point`s to a consumer through a ring
//! of 8 slots in shared memory, with a pair of semaphores.
//!
//! ```python
//! slots = RawArray(Point, 8)
//! empty = Semaphore(8)    # slots the producer may fill
//! full = Semaphore(0)     # slots the consumer may read
//!
//! def produce(slots, empty, full):          # in the child
//!     for i in range(COUNT):
//!         empty.acquire()
//!         slots[i % 8] = point(i)
//!         full.release()
//!
//! for i in range(COUNT):                    # in the parent
//!     full.acquire()
//!     p = slots[i % 8]
//!     empty.release()
//! ```
//!
//! The ring itself needs no lock: the semaphores hand each slot to one
//! side at a time, and each side keeps its own index. The permits move
//! between processes (acquired by one, released by the other), so each
//! acquired permit is `forget`-ed, as Python's `acquire()` without a
//! matching `release()` in the same process.
//!
//! The parent is the consumer; it runs this program again as the producer
//! (`ring producer <prefix>`), checks that every point arrives in order and
//! prints a summary. Either side gives up after `PATIENCE` if the other
//! stops.
//!
//! Run it with `cargo run --example ring`.

use std::error::Error;
use std::process::{Command, ExitCode};
use std::time::Duration;

use shmstruct::{RawArray, Semaphore, SharedLayout};

/// A point, as in Python's `class Point(Structure)`.
#[derive(SharedLayout, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}

/// How many slots the ring has.
const SLOTS: usize = 8;
/// How many points pass through it.
const COUNT: usize = 10_000;
/// How long one side waits for the other before giving up.
const PATIENCE: Duration = Duration::from_secs(20);

/// The `i`th point sent: distinct, and exact in f64.
fn point(i: usize) -> Point {
    Point {
        x: i as f64,
        y: -0.5 * i as f64,
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [] => consumer(),
        [role, prefix] if role == "producer" => produce(prefix),
        _ => Err("usage: ring".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ring: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The parent: creates the ring, starts the producer, consumes and checks.
fn consumer() -> Result<(), Box<dyn Error>> {
    let prefix = format!("ring-{}", std::process::id());
    let name = |object: &str| format!("{prefix}-{object}");
    // All removed when their creating handles drop, whatever happens.
    let slots = RawArray::<Point>::builder(&name("slots")).zeroed(SLOTS)?;
    let empty = Semaphore::create(&name("empty"), SLOTS as u32)?;
    let full = Semaphore::create(&name("full"), 0)?;

    let mut producer = Command::new(std::env::current_exe()?)
        .args(["producer", &prefix])
        .spawn()?;
    let received = consume(&slots, &empty, &full);
    if received.is_err() {
        // Do not leave the producer waiting for a consumer that gave up.
        let _ = producer.kill();
    }
    let status = producer.wait()?;
    let sum = received?;
    if !status.success() {
        return Err(format!("the producer failed ({status})").into());
    }
    println!(
        "received {COUNT} points in order through {SLOTS} slots; sum ({:?}, {:?})",
        sum.x, sum.y
    );
    Ok(())
}

/// Takes `COUNT` points out of the ring, checking each; returns their sum.
fn consume(
    slots: &RawArray<Point>,
    empty: &Semaphore,
    full: &Semaphore,
) -> Result<Point, Box<dyn Error>> {
    let mut sum = Point { x: 0.0, y: 0.0 };
    for i in 0..COUNT {
        // Wait for a filled slot; the producer gives the permit back.
        full.acquire_timeout(PATIENCE)?.forget()?;
        let received = slots.get(i % SLOTS)?;
        empty.release()?;
        if received != point(i) {
            return Err(format!("point {i} is {received:?}, not {:?}", point(i)).into());
        }
        sum.x += received.x;
        sum.y += received.y;
    }
    // Every point arrived in order, so the sum is known; check it anyway.
    let n = (COUNT * (COUNT - 1) / 2) as f64;
    if sum != (Point { x: n, y: -0.5 * n }) {
        return Err(format!("the sum {sum:?} is wrong").into());
    }
    Ok(sum)
}

/// The child: puts `COUNT` points into the ring, in order.
fn produce(prefix: &str) -> Result<(), Box<dyn Error>> {
    let name = |object: &str| format!("{prefix}-{object}");
    let slots = RawArray::<Point>::open(&name("slots"))?;
    let empty = Semaphore::open(&name("empty"))?;
    let full = Semaphore::open(&name("full"))?;
    for i in 0..COUNT {
        // Wait for an empty slot; the consumer gives the permit back.
        empty.acquire_timeout(PATIENCE)?.forget()?;
        slots.set(i % SLOTS, point(i))?;
        full.release()?;
    }
    Ok(())
}
