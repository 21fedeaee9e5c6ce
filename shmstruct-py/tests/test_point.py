"""The seed program both ways: examples/point_parent.py with the Rust
`point` example as its child, and `point --python-child` with
examples/point_child.py as its child. Each prints exactly the four lines
of Python's original."""

import os
import subprocess
import sys
import unittest

from support import WAIT

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
POINT = os.environ.get("SHMSTRUCT_POINT")
EXPECTED = (
    "49\n"
    "0.1111111111111111\n"
    "b'HELLO WORLD'\n"
    "[(3.515625, 39.0625), (33.0625, 4.0), (5.640625, 90.25)]\n"
)


@unittest.skipUnless(POINT, "needs the built `point` example (SHMSTRUCT_POINT)")
class PointTest(unittest.TestCase):
    def run_program(self, argv, env=None):
        run = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=WAIT,
            env=env,
        )
        self.assertEqual(run.returncode, 0, run.stderr)
        return run.stdout

    def test_python_parent_with_a_rust_child(self):
        parent = os.path.join(ROOT, "examples", "point_parent.py")
        self.assertEqual(self.run_program([sys.executable, "-B", parent, POINT]), EXPECTED)

    def test_rust_parent_with_a_python_child(self):
        env = dict(os.environ, PYTHON=sys.executable, PYTHONDONTWRITEBYTECODE="1")
        self.assertEqual(self.run_program([POINT, "--python-child"], env=env), EXPECTED)


if __name__ == "__main__":
    unittest.main()
