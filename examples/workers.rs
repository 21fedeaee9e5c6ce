//! Several worker processes add into one shared `Array<f64>` under its
//! lock; the parent checks that nothing was lost.
//!
//! ```python
//! def work(totals, first, last):
//!     for k in range(first, last + 1):
//!         with totals.get_lock():
//!             totals[0] += 1
//!             totals[1] += k
//!             totals[2] += k * k
//!
//! totals = Array(c_double, 3)     # count, sum, sum of squares
//! workers = [Process(target=work, args=(totals, first, last)) for ...]
//! ```
//!
//! Each of 4 workers — this program run again as `workers worker <name>
//! <first> <last>` — takes its share of the numbers 1..=100000 and adds
//! each into the totals, taking the array's lock for every number. Without
//! the lock, two processes reading and writing the same total at once
//! would lose updates. Every partial sum is a whole number below 2^53, so
//! the f64 totals are exact whatever order the additions happen in, and
//! the parent compares them with the formulas exactly.
//!
//! Run it with `cargo run --example workers`.

use std::error::Error;
use std::process::{Command, ExitCode};

use shmstruct::Array;

/// How many worker processes.
const WORKERS: u64 = 4;
/// The numbers added are 1..=LAST.
const LAST: u64 = 100_000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [] => parent(),
        [role, name, first, last] if role == "worker" => work(name, first, last),
        _ => Err("usage: workers".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("workers: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The parent: creates the totals, runs the workers, checks the result.
fn parent() -> Result<(), Box<dyn Error>> {
    let name = format!("workers-{}-totals", std::process::id());
    // count, sum, sum of squares; all zero, with the array's own lock.
    // Removed when `totals` drops, whatever happens.
    let totals = Array::<f64>::builder(&name).zeroed(3)?;

    // Start every worker before waiting for any: they run at the same time.
    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let first = worker * LAST / WORKERS + 1;
        let last = (worker + 1) * LAST / WORKERS;
        let child = Command::new(std::env::current_exe()?)
            .args(["worker", &name, &first.to_string(), &last.to_string()])
            .spawn()?;
        workers.push(child);
    }
    let mut failed = 0;
    for mut worker in workers {
        if !worker.wait()?.success() {
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(format!("{failed} of {WORKERS} workers failed").into());
    }

    let [count, sum, squares] = <[f64; 3]>::try_from(totals.to_vec()?).expect("3 totals");
    // The same totals from the formulas, in integers.
    let expected = [
        LAST,
        LAST * (LAST + 1) / 2,
        LAST * (LAST + 1) * (2 * LAST + 1) / 6,
    ];
    println!("{WORKERS} workers added 1..={LAST} into one shared array:");
    println!("count          {count}");
    println!("sum            {sum}");
    println!("sum of squares {squares}");
    if [count, sum, squares] != expected.map(|total| total as f64) {
        return Err(format!("expected {expected:?}: updates were lost").into());
    }
    println!("all three totals are exact");
    Ok(())
}

/// A worker: adds `first..=last` into the totals, one number per lock.
fn work(name: &str, first: &str, last: &str) -> Result<(), Box<dyn Error>> {
    let totals = Array::<f64>::open(name)?;
    let (first, last): (u64, u64) = (first.parse()?, last.parse()?);
    for k in first..=last {
        let k = k as f64;
        // The guard is the three totals, as a `[f64]`, in place.
        let mut guard = totals.lock()?;
        guard[0] += 1.0;
        guard[1] += k;
        guard[2] += k * k;
    }
    Ok(())
}
