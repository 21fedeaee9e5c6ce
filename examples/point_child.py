"""The child of the classic multiprocessing program, in Python, for the Rust
parent: `cargo run --example point -- --python-child` runs

    python3 examples/point_child.py <prefix>

which opens the parent's objects by name, each checked against its type,
and does what Python's `modify(n, x, s, A)` does. Needs the `shmstruct`
package (see the README); the parent runs `$PYTHON` if set.
"""

import sys
from ctypes import Structure, c_double

import shmstruct


class Point(Structure):
    _fields_ = [("x", c_double), ("y", c_double)]


def main(prefix):
    def name(obj):
        return f"{prefix}-{obj}"

    n = shmstruct.Value.open(name("n"), "i")
    x = shmstruct.Value.open(name("x"), c_double)
    lock = shmstruct.Lock.open(name("lock"))
    s = shmstruct.Array.open(name("s"), "c")
    A = shmstruct.Array.open(name("A"), Point)
    # n and x as Python's own objects do it; s and A share one lock, taken
    # once for both.
    with n.get_lock():
        n.value **= 2
    x.value **= 2
    with lock:
        s.value = s.value.upper()
        for a in A:
            a.x **= 2
            a.y **= 2


if __name__ == "__main__":
    main(sys.argv[1])
