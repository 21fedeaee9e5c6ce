"""The classic multiprocessing program, with a Rust child.

The parent is Python, on the `shmstruct` package: it creates the objects in
named shared-memory segments, runs the Rust example `point` as its child
(`point child <prefix>`, which opens every object by name, checks its type,
and modifies it), and prints what Python's original prints:

    49
    0.1111111111111111
    b'HELLO WORLD'
    [(3.515625, 39.0625), (33.0625, 4.0), (5.640625, 90.25)]

Run it from the repository, with the package installed:

    python3 examples/point_parent.py [PATH-OF-THE-POINT-EXAMPLE]

Without a path, the child is `cargo run --quiet --example point --`.
"""

import os
import subprocess
import sys
from ctypes import Structure, c_double

import shmstruct


class Point(Structure):
    _fields_ = [("x", c_double), ("y", c_double)]


def main():
    child = sys.argv[1:] or ["cargo", "run", "--quiet", "--example", "point", "--"]
    prefix = f"point-{os.getpid()}"

    def name(obj):
        return f"{prefix}-{obj}"

    # The creating handles remove their segments when they go.
    lock = shmstruct.Lock.create(name("lock"))
    n = shmstruct.Value.create(name("n"), "i", 7)
    x = shmstruct.Value.create(name("x"), c_double, 1.0 / 3.0, lock=False)
    s = shmstruct.Array.create(name("s"), "c", b"hello world", lock=lock)
    A = shmstruct.Array.create(name("A"), Point, [(1.875, -6.25), (-5.75, 2.0), (2.375, 9.5)], lock=lock)

    # p = Process(target=modify, args=(n, x, s, A)); p.start(); p.join()
    subprocess.run([*child, "child", prefix], check=True, stdin=subprocess.DEVNULL)

    print(n.value)
    print(x.value)
    print(s.value)
    print([(a.x, a.y) for a in A])


if __name__ == "__main__":
    main()
