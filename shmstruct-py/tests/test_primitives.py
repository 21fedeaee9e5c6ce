"""Semaphore, BoundedSemaphore, Event, Condition and Barrier: as Python's,
and across a Python and a Rust process."""

import threading
import unittest

import shmstruct
from support import WAIT, ProcessTestCase, names, needs_rust, unique_name


class PrimitivesTest(unittest.TestCase):
    def test_semaphores(self):
        semaphore = shmstruct.Semaphore.create(unique_name("sem"), 2)
        other = shmstruct.Semaphore.open(semaphore.name)
        self.assertTrue(semaphore.acquire())
        self.assertTrue(other.acquire(timeout=WAIT))
        self.assertFalse(other.acquire(False))
        self.assertFalse(other.acquire(timeout=0.01))
        other.release()
        self.assertEqual(semaphore.get_value(), 1)
        bounded = shmstruct.BoundedSemaphore.create(unique_name("bsem"), 1)
        with bounded:
            pass
        with self.assertRaises(ValueError):
            bounded.release()
        with self.assertRaises(ValueError):
            semaphore.acquire(False, 1.0)

    def test_event(self):
        event = shmstruct.Event.create(unique_name("event"))
        self.assertFalse(event.wait(timeout=0.01))
        shmstruct.Event.open(event.name).set()
        self.assertTrue(event.is_set())
        self.assertTrue(event.wait())
        event.clear()
        self.assertFalse(event.is_set())

    def test_condition(self):
        condition = shmstruct.Condition.create(unique_name("cond"))
        with self.assertRaises(RuntimeError):
            condition.notify()
        items = []

        def producer():
            other = shmstruct.Condition.open(condition.name)
            with other:
                items.append(1)
                other.notify()

        with condition:
            thread = threading.Thread(target=producer)
            thread.start()
            self.assertTrue(condition.wait_for(lambda: items, timeout=WAIT))
            self.assertFalse(condition.wait(timeout=0.01))
        thread.join(WAIT)

    def test_barrier(self):
        barrier = shmstruct.Barrier.create(unique_name("barrier"), 2)
        self.assertEqual((barrier.parties, barrier.n_waiting, barrier.broken), (2, 0, False))
        other = threading.Thread(target=lambda: shmstruct.Barrier.open(barrier.name).wait(WAIT))
        other.start()
        self.assertIn(barrier.wait(WAIT), (0, 1))
        other.join(WAIT)
        with self.assertRaises(threading.BrokenBarrierError):
            barrier.wait(timeout=0.01)
        self.assertTrue(barrier.broken)
        barrier.reset()
        self.assertFalse(barrier.broken)

    def test_wrong_kind_is_a_layout_mismatch(self):
        event = shmstruct.Event.create(unique_name("event"))
        with self.assertRaises(shmstruct.LayoutMismatch) as caught:
            shmstruct.Semaphore.open(event.name)
        self.assertIn("Event", str(caught.exception))


class WithRustTest(ProcessTestCase):
    @needs_rust
    def test_every_primitive_with_a_rust_process(self):
        prefix, name = names("prim")
        barrier = shmstruct.Barrier.create(name("barrier"), 2)
        semaphore = shmstruct.Semaphore.create(name("semaphore"), 0)
        event = shmstruct.Event.create(name("event"))
        condition = shmstruct.Condition.create(name("condition"))
        state = shmstruct.Value.create(name("state"), "q", 0, lock=False)
        child = self.rust("primitives", name=prefix)
        self.assertIn(barrier.wait(timeout=WAIT), (0, 1))
        self.assertTrue(semaphore.acquire(timeout=WAIT), "the Rust process released a permit")
        event.set()
        with condition:
            self.assertTrue(condition.wait_for(lambda: state.value == 1, timeout=WAIT))
        semaphore.release()
        self.assertIn(barrier.wait(timeout=WAIT), (0, 1))
        self.assert_exits_ok(child)


if __name__ == "__main__":
    unittest.main()
