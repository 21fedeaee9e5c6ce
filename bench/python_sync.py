"""Python's multiprocessing figures for examples/bench_sync.rs.

Prints one `name value` line per figure (medians of REPEATS runs):
  python_lock_ns       Lock acquire+release, uncontended, ns per pair
  python_incr_ops      two processes doing `with v.get_lock(): v.value += 1`, ops/s
  python_event_rtt_us  Event ping-pong round trip between two processes, us
"""

import multiprocessing as mp
import statistics
import sys
import time

REPEATS = 5
LOCK_ITERS = 200_000
INCREMENTS = 50_000
ROUND_TRIPS = 2_000


def lock_ns():
    lock = mp.Lock()
    start = time.perf_counter_ns()
    for _ in range(LOCK_ITERS):
        lock.acquire()
        lock.release()
    return (time.perf_counter_ns() - start) / LOCK_ITERS


def _incrementer(value, ready, go):
    ready.set()
    go.wait()
    for _ in range(INCREMENTS):
        with value.get_lock():
            value.value += 1


def incr_ops():
    value = mp.Value("i", 0)
    ready, go = mp.Event(), mp.Event()
    child = mp.Process(target=_incrementer, args=(value, ready, go))
    child.start()
    ready.wait()
    start = time.perf_counter()
    go.set()
    for _ in range(INCREMENTS):
        with value.get_lock():
            value.value += 1
    child.join()
    elapsed = time.perf_counter() - start
    assert value.value == 2 * INCREMENTS, value.value
    return 2 * INCREMENTS / elapsed


def _ponger(ping, pong):
    for _ in range(ROUND_TRIPS):
        ping.wait()
        ping.clear()
        pong.set()


def event_rtt_us():
    ping, pong = mp.Event(), mp.Event()
    child = mp.Process(target=_ponger, args=(ping, pong))
    child.start()
    # One warm-up round trip, so that process start-up is not measured.
    start = None
    for i in range(ROUND_TRIPS):
        if i == 1:
            start = time.perf_counter()
        ping.set()
        pong.wait()
        pong.clear()
    elapsed = time.perf_counter() - start
    child.join()
    return elapsed / (ROUND_TRIPS - 1) * 1e6


def median(f):
    return statistics.median(f() for _ in range(REPEATS))


def main():
    mp.set_start_method("fork")
    print(f"python_lock_ns {median(lock_ns):.1f}")
    print(f"python_incr_ops {median(incr_ops):.0f}")
    print(f"python_event_rtt_us {median(event_rtt_us):.2f}")
    print(f"python_version {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
