"""Where the Python package's time goes, beside `multiprocessing` in the
same run: the cost of one trivial native call, of acquire+release, of the
`with` statement, and of a locked read, each the median of 7 repeats.

    python3 bench/python_breakdown.py

Needs the package (`pip install ./shmstruct-py`). Its segments are removed
when the run ends (the creating handles unlink them).
"""

import multiprocessing as mp
import os
import statistics
import timeit

import shmstruct

NUMBER = 200_000


def per_op_ns(stmt, names):
    runs = timeit.repeat(stmt, globals=names, number=NUMBER, repeat=7)
    return statistics.median(runs) / NUMBER * 1e9


def main():
    name = f"bench-breakdown-{os.getpid()}"
    names = {
        "lock": shmstruct.Lock.create(name + "-lock"),
        "mpl": mp.Lock(),
        "v": shmstruct.Value.create(name + "-v", "q", 0),
        "mv": mp.Value("q", 0),
    }
    rows = [
        ("one trivial native call", "lock.locked()", "mpl._semlock._count()"),
        ("acquire(); release()", "lock.acquire(); lock.release()", "mpl.acquire(); mpl.release()"),
        ("with lock: pass", "with lock: pass", "with mpl: pass"),
        ("get_lock()", "v.get_lock()", "mv.get_lock()"),
        ("v.value (a locked read)", "v.value", "mv.value"),
        (
            "with v.get_lock(): v.value += 1",
            "with v.get_lock(): v.value += 1",
            "with mv.get_lock(): mv.value += 1",
        ),
    ]
    for label, ours, theirs in rows:
        mine, base = per_op_ns(ours, names), per_op_ns(theirs, names)
        print(
            f"{label:34s} shmstruct {mine:7.1f} ns   "
            f"multiprocessing {base:7.1f} ns   ratio (time) {mine / base:.2f}"
        )


if __name__ == "__main__":
    main()
