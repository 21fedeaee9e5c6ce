"""Python baselines for the shared-object benchmark (examples/bench_objects.rs).

Measures, with CPython's multiprocessing, what the Rust benchmark measures
with shmstruct, and prints one JSON object of medians on stdout:

- value_incr_ops_per_s: two processes each doing `with v.get_lock(): v.value += 1`
- array_points_ns_per_element: write then read every Point of an Array(Point, 1000)
  one element at a time under its lock
- shm_cycle_us: SharedMemory create(4096) + attach + close both + unlink, as
  users get it (the resource tracker registers and unregisters the name)
- shm_cycle_untracked_us: the same cycle with the resource tracker's register
  and unregister replaced by no-ops (a reference: the bare CPython cost)

Usage: python3 bench/python_objects.py [--repeats N] [--increments N]
"""

import argparse
import json
import multiprocessing as mp
import statistics
import time
from ctypes import Structure, c_double
from multiprocessing import shared_memory


class Point(Structure):
    _fields_ = [("x", c_double), ("y", c_double)]


def _increment(v, n, ready, start):
    ready.set()
    start.wait()
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def value_increments(increments):
    """Two processes, `increments` each; returns operations per second."""
    v = mp.Value("i", 0)
    start = mp.Event()
    ready = [mp.Event() for _ in range(2)]
    workers = [
        mp.Process(target=_increment, args=(v, increments, ready[i], start)) for i in range(2)
    ]
    for w in workers:
        w.start()
    # Process start-up stays outside the timed window.
    for r in ready:
        r.wait()
    t0 = time.perf_counter()
    start.set()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - t0
    assert v.value == 2 * increments, v.value
    return 2 * increments / elapsed


def array_points(n=1000):
    """Element-by-element write then read of n Points under the array's lock;
    returns nanoseconds per element (one write plus one read)."""
    a = mp.Array(Point, n)
    t0 = time.perf_counter()
    with a.get_lock():
        for i in range(n):
            a[i] = Point(i * 0.5, -i * 0.25)
        total = 0.0
        for i in range(n):
            p = a[i]
            total += p.x + p.y
    elapsed = time.perf_counter() - t0
    expected = sum(i * 0.5 - i * 0.25 for i in range(n))
    assert abs(total - expected) < 1e-6
    return elapsed / n * 1e9


def shm_cycle(cycles=200, tracked=True):
    """Create + attach + close + unlink of a 4 KiB segment; microseconds per cycle.

    With tracked=False the resource tracker's register/unregister are no-ops
    for the duration (what `track=False` gives on Python 3.13)."""
    tracker = shared_memory.resource_tracker
    saved = tracker.register, tracker.unregister
    if not tracked:
        tracker.register = tracker.unregister = lambda name, rtype: None
    try:
        return _shm_cycles(cycles)
    finally:
        tracker.register, tracker.unregister = saved


def _shm_cycles(cycles):
    t0 = time.perf_counter()
    for i in range(cycles):
        created = shared_memory.SharedMemory(create=True, size=4096)
        attached = shared_memory.SharedMemory(name=created.name)
        attached.buf[0] = 1
        attached.close()
        created.close()
        created.unlink()
    return (time.perf_counter() - t0) / cycles * 1e6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--increments", type=int, default=50_000)
    args = parser.parse_args()
    results = {
        "value_incr_ops_per_s": statistics.median(
            value_increments(args.increments) for _ in range(args.repeats)
        ),
        "array_points_ns_per_element": statistics.median(
            array_points() for _ in range(args.repeats)
        ),
        "shm_cycle_us": statistics.median(shm_cycle() for _ in range(args.repeats)),
        "shm_cycle_untracked_us": statistics.median(
            shm_cycle(tracked=False) for _ in range(args.repeats)
        ),
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
