"""The `shmstruct` Python package beside Python's own `multiprocessing`, in
the same run: each figure is the median of several runs, printed with its
baseline and the ratio (shmstruct's time / multiprocessing's; below 1 is
faster).

    python3 bench/python_package.py [--repeats N] [--quick] [--rust-peer PATH]

Needs the package (`pip install ./shmstruct-py`). Segments are created in
/dev/shm (or $SHMSTRUCT_DIR) under names with this process's pid, and
removed when the run ends. `--quick` only checks that every figure runs.

Figures:
  with lock:                 ns per `with lock: pass`
  locked increment           ns per `with v.get_lock(): v.value += 1`
  array element read         ns per `a[i]` (locked, as multiprocessing's)
  array bulk copy            us per `a[:]` of 100,000 doubles
  two processes, increments  total ops/s of two Python processes doing
                             locked increments on one value (for this
                             figure the ratio is shmstruct's rate / theirs)
  Rust + Python, increments  the same with a Rust process as one of the two
                             (examples/bench_python_peer.rs, built with
                             `cargo build --release` unless --rust-peer
                             names the executable), beside two Python
                             processes with multiprocessing
"""

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import time

import shmstruct

ARRAY_LEN = 100_000


class Sizes:
    def __init__(self, quick):
        scale = 100 if quick else 1
        self.locks = 200_000 // scale
        self.increments = 100_000 // scale
        self.reads = 200_000 // scale
        self.copies = 200 // scale or 1
        self.two_process = 50_000 // scale


def name(tag):
    return f"bench-{os.getpid()}-{tag}"


def per_op_ns(loop, count):
    start = time.perf_counter_ns()
    loop(count)
    return (time.perf_counter_ns() - start) / count


def lock_loop(lock):
    def loop(count):
        for _ in range(count):
            with lock:
                pass

    return loop


def increment_loop(value):
    def loop(count):
        for _ in range(count):
            with value.get_lock():
                value.value += 1

    return loop


def read_loop(array):
    def loop(count):
        n = len(array)
        for i in range(count):
            array[i % n]

    return loop


def copy_loop(array):
    def loop(count):
        for _ in range(count):
            array[:]

    return loop


def _incrementer(make, ready, go, count):
    value = make()
    ready.set()
    go.wait()
    for _ in range(count):
        with value.get_lock():
            value.value += 1


def two_process_ops(value, make_in_child, count):
    ready, go = mp.Event(), mp.Event()
    child = mp.Process(target=_incrementer, args=(make_in_child, ready, go, count))
    child.start()
    ready.wait()
    start = time.perf_counter()
    go.set()
    for _ in range(count):
        with value.get_lock():
            value.value += 1
    child.join()
    elapsed = time.perf_counter() - start
    assert value.value == 2 * count, value.value
    return 2 * count / elapsed


def rust_peer_ops(peer, count):
    """Total ops/s of this process and the Rust peer, each doing `count`
    locked increments of one shmstruct value."""
    counter = shmstruct.Value.create(name("rust-counter"), "q", 0)
    start_line = shmstruct.Barrier.create(name("rust-start"), 2)
    child = subprocess.Popen([peer, counter.name, start_line.name, str(count)])
    try:
        start_line.wait(timeout=60)
        start = time.perf_counter()
        for _ in range(count):
            with counter.get_lock():
                counter.value += 1
        assert child.wait(timeout=600) == 0, "the Rust peer failed"
        elapsed = time.perf_counter() - start
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert counter.value == 2 * count, counter.value
    return 2 * count / elapsed


def build_rust_peer():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run(
        ["cargo", "build", "--quiet", "--release", "--example", "bench_python_peer"],
        cwd=root,
        check=True,
    )
    return os.path.join(root, "target", "release", "examples", "bench_python_peer")


class _Inherited:
    """A multiprocessing object handed to the child by inheritance."""

    def __init__(self, value):
        self.value = value

    def __call__(self):
        return self.value


class _Opened:
    """A shmstruct value the child opens by name."""

    def __init__(self, segment):
        self.segment = segment

    def __call__(self):
        return shmstruct.Value.open(self.segment)


def median(measure, repeats):
    return statistics.median(measure() for _ in range(repeats))


def report(figure, ours, theirs, unit, higher_is_better=False):
    ratio = (ours / theirs) if theirs else float("nan")
    which = "rate" if higher_is_better else "time"
    print(
        f"{figure:<28} shmstruct {ours:>12.1f} {unit:<6} multiprocessing {theirs:>12.1f} {unit:<6}"
        f" ratio ({which}) {ratio:.2f}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rust-peer", help="the built examples/bench_python_peer")
    args = parser.parse_args()
    peer = args.rust_peer or build_rust_peer()
    sizes = Sizes(args.quick)
    mp.set_start_method("fork")

    lock = shmstruct.Lock.create(name("lock"))
    mp_lock = mp.Lock()
    report(
        "with lock:",
        median(lambda: per_op_ns(lock_loop(lock), sizes.locks), args.repeats),
        median(lambda: per_op_ns(lock_loop(mp_lock), sizes.locks), args.repeats),
        "ns",
    )

    value = shmstruct.Value.create(name("value"), "i", 0)
    mp_value = mp.Value("i", 0)
    report(
        "locked increment",
        median(lambda: per_op_ns(increment_loop(value), sizes.increments), args.repeats),
        median(lambda: per_op_ns(increment_loop(mp_value), sizes.increments), args.repeats),
        "ns",
    )

    data = [float(i) for i in range(ARRAY_LEN)]
    array = shmstruct.Array.create(name("array"), "d", data)
    mp_array = mp.Array("d", data)
    report(
        "array element read",
        median(lambda: per_op_ns(read_loop(array), sizes.reads), args.repeats),
        median(lambda: per_op_ns(read_loop(mp_array), sizes.reads), args.repeats),
        "ns",
    )
    report(
        "array bulk copy",
        median(lambda: per_op_ns(copy_loop(array), sizes.copies), args.repeats) / 1000,
        median(lambda: per_op_ns(copy_loop(mp_array), sizes.copies), args.repeats) / 1000,
        "us",
    )

    def ours():
        counter = shmstruct.Value.create(name("counter"), "q", 0)
        try:
            return two_process_ops(counter, _Opened(counter.name), sizes.two_process)
        finally:
            counter.unlink()

    def theirs():
        counter = mp.Value("q", 0)
        return two_process_ops(counter, _Inherited(counter), sizes.two_process)

    python_pair = median(theirs, args.repeats)
    report(
        "two processes, increments",
        median(ours, args.repeats),
        python_pair,
        "ops/s",
        higher_is_better=True,
    )
    report(
        "Rust + Python, increments",
        median(lambda: rust_peer_ops(peer, sizes.two_process), args.repeats),
        python_pair,
        "ops/s",
        higher_is_better=True,
    )


if __name__ == "__main__":
    main()
