//! The Rust peer of `bench/python_package.py`: opens a `Value<i64>` and a
//! `Barrier` of two by name, waits at the barrier, then does `count` locked
//! increments of the value, as the Python process beside it does.
//!
//! ```text
//! bench_python_peer <value> <barrier> <count>
//! ```
//!
//! The benchmark builds and runs it (`cargo run --release --example
//! bench_python_peer -- ...`); it is not meant to be run alone.

use std::error::Error;
use std::time::Duration;

use shmstruct::{Barrier, Value};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [value, barrier, count] = args.as_slice() else {
        return Err("usage: bench_python_peer <value> <barrier> <count>".into());
    };
    let value = Value::<i64>::open(value)?;
    let count: u64 = count.parse()?;
    Barrier::open(barrier)?.wait_timeout(Duration::from_secs(60))?;
    for _ in 0..count {
        *value.lock()? += 1;
    }
    Ok(())
}
