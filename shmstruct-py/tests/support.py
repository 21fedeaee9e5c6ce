"""Helpers for the package's tests: unique segment names, and Rust child
processes, which are the Rust test binary `tests/python_package.rs` run
again in a role (its path in SHMSTRUCT_RUST_CHILD, set by that test)."""

import itertools
import os
import signal
import subprocess
import sys
import unittest

# A bound on every wait (never reached when things work).
WAIT = 60.0

_counter = itertools.count()


def unique_name(tag):
    """A segment name used by no other test or run (at most 30 bytes)."""
    return f"p{os.getpid()}-{next(_counter)}-{tag}"[:30]


def names(tag):
    """A unique prefix for one test's segments, and a function that names
    each of them: ``name("lock")`` is ``<prefix>-lock``."""
    prefix = unique_name(tag)
    return prefix, lambda obj: f"{prefix}-{obj}"


RUST_CHILD = os.environ.get("SHMSTRUCT_RUST_CHILD")
needs_rust = unittest.skipUnless(
    RUST_CHILD, "needs the Rust test binary (run through `cargo test --test python_package`)"
)


class ProcessTestCase(unittest.TestCase):
    """A test case whose child processes are killed and reaped at its end,
    whatever happens."""

    def spawn(self, argv, **kwargs):
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, **kwargs)

        def reap():
            if child.poll() is None:
                child.kill()
            child.wait()

        self.addCleanup(reap)
        return child

    def rust(self, role, **args):
        """Starts a Rust child in `role`, with `args` as its arguments."""
        env = dict(os.environ, SHMSTRUCT_TEST_ROLE=role)
        for key, value in args.items():
            env[f"SHMSTRUCT_TEST_ARG_{key.upper()}"] = str(value)
        # The child is a whole test binary; its own harness lines would only
        # clutter the output: failures go to stderr.
        return self.spawn(
            [RUST_CHILD, "python_package", "--exact", "--nocapture", "--test-threads=1"],
            env=env,
            stdout=subprocess.DEVNULL,
        )

    def python(self, source, *args):
        """Starts a Python child running `source` with `args` in sys.argv."""
        return self.spawn([sys.executable, "-B", "-c", source, *map(str, args)])

    def assert_exits_ok(self, child):
        self.assertEqual(child.wait(timeout=WAIT), 0, f"child {child.args} failed")

    def kill(self, child):
        child.send_signal(signal.SIGKILL)
        self.assertEqual(child.wait(timeout=WAIT), -signal.SIGKILL)
