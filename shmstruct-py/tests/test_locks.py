"""Lock and RLock: per-thread ownership, timeouts, Ctrl-C, and robustness
across languages: exact counts under one lock shared by a Rust and a
Python process, and SIGKILLed holders on either side poisoning the data
until it is repaired."""

import os
import signal
import threading
import unittest

import shmstruct
from support import WAIT, ProcessTestCase, names, needs_rust, unique_name


def in_thread(function):
    """Runs `function` in another thread and returns its result."""
    result = []
    thread = threading.Thread(target=lambda: result.append(function()))
    thread.start()
    thread.join(WAIT)
    return result[0]


class LockTest(unittest.TestCase):
    def test_acquire_release_per_thread(self):
        lock = shmstruct.Lock.create(unique_name("lock"))
        other = shmstruct.Lock.open(lock.name)
        self.assertTrue(lock.acquire())
        self.assertTrue(other.locked())
        self.assertTrue(other.is_held(), "every handle of one lock in a thread agrees")
        self.assertFalse(in_thread(lambda: other.acquire(False)))
        self.assertFalse(in_thread(lambda: other.acquire(timeout=0.01)))
        with self.assertRaises(RuntimeError):
            lock.acquire()
        other.release()
        with self.assertRaises(RuntimeError):
            lock.release()
        self.assertFalse(lock.locked())
        with lock:
            self.assertTrue(lock.is_held())
        self.assertTrue(in_thread(lambda: other.acquire(False)))

    def test_release_from_another_thread_is_refused(self):
        lock = shmstruct.Lock.create(unique_name("lock"))
        lock.acquire()
        error = in_thread(lambda: self._release_error(lock))
        self.assertIsInstance(error, RuntimeError)
        lock.release()

    @staticmethod
    def _release_error(lock):
        try:
            lock.release()
        except RuntimeError as error:
            return error
        return None

    def test_a_forked_child_does_not_hold_its_parents_locks(self):
        counter = shmstruct.Value.create(unique_name("fork"), "q", 0)
        lock = counter.get_lock()
        lock.acquire()
        pid = os.fork()
        if pid == 0:
            # The child: the parent's guard is not its own, so it neither
            # skips the lock nor releases it.
            code = 0
            try:
                if lock.is_held() or lock.acquire(timeout=0.05):
                    code = 1
                try:
                    lock.release()
                    code = 2
                except RuntimeError:
                    pass
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        self.assertTrue(lock.is_held(), "the parent still holds its lock")
        counter.value += 1
        lock.release()
        self.assertEqual(counter.value, 1)

    def test_a_lock_created_again_under_a_held_name_is_another_lock(self):
        name = unique_name("again")
        old = shmstruct.Lock.create(name)
        old.acquire()
        old.unlink()
        new = shmstruct.Lock.create(name)
        self.assertFalse(new.is_held(), "the held guard is the old lock's")
        self.assertTrue(new.acquire(False))
        new.release()
        self.assertTrue(old.is_held())
        old.release()

    def test_rlock_recursion(self):
        rlock = shmstruct.RLock.create(unique_name("rlock"))
        with rlock:
            with rlock:
                self.assertFalse(in_thread(lambda: rlock.acquire(False)))
            self.assertFalse(in_thread(lambda: rlock.acquire(False)))
        self.assertFalse(rlock.locked())
        with self.assertRaises(RuntimeError):
            rlock.release()

    def test_ctrl_c_interrupts_a_blocked_acquire(self):
        lock = shmstruct.Lock.create(unique_name("lock"))
        held = threading.Event()
        done = threading.Event()

        def holder():
            with lock:
                held.set()
                done.wait(WAIT)

        thread = threading.Thread(target=holder)
        thread.start()
        try:
            held.wait(WAIT)
            timer = threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT))
            timer.start()
            with self.assertRaises(KeyboardInterrupt):
                lock.acquire(timeout=WAIT)
            timer.join()
        finally:
            done.set()
            thread.join(WAIT)


class AcrossLanguagesTest(ProcessTestCase):
    def hold_locks_in_rust(self, tag):
        """A Lock and an RLock, held by a Rust child until `release` is set;
        returns them, `release` and the child."""
        prefix, name = names(tag)
        lock = shmstruct.Lock.create(name("lock"))
        rlock = shmstruct.RLock.create(name("rlock"))
        held = shmstruct.Event.create(name("held"))
        release = shmstruct.Event.create(name("release"))
        child = self.rust("hold_locks", name=prefix)
        self.assertTrue(held.wait(WAIT))
        return lock, rlock, release, child

    @needs_rust
    def test_locks_held_by_rust(self):
        lock, rlock, release, child = self.hold_locks_in_rust("held")
        self.assertTrue(lock.locked())
        self.assertFalse(lock.acquire(False))
        self.assertFalse(rlock.acquire(blocking=False))
        release.set()
        self.assertTrue(lock.acquire(timeout=WAIT))
        self.assertTrue(rlock.acquire(timeout=WAIT))
        lock.release()
        rlock.release()
        self.assert_exits_ok(child)

    @needs_rust
    def test_killed_rust_holder_of_a_lock_and_an_rlock(self):
        lock, rlock, release, child = self.hold_locks_in_rust("lkill")
        self.kill(child)
        # Both poison until cleared, in every process.
        with self.assertRaises(shmstruct.Poisoned):
            lock.acquire(timeout=WAIT)
        self.assertTrue(lock.acquire_poisoned(timeout=WAIT))
        lock.clear_poison()
        lock.release()
        with lock:
            self.assertFalse(lock.is_poisoned())
        with self.assertRaises(shmstruct.Poisoned):
            rlock.acquire(timeout=WAIT)
        with self.assertRaises(shmstruct.Poisoned):
            rlock.acquire(timeout=WAIT)
        self.assertTrue(rlock.acquire_poisoned(timeout=WAIT))
        rlock.clear_poison()
        rlock.release()
        self.assertTrue(rlock.acquire(timeout=WAIT))
        rlock.release()
        self.assertFalse(rlock.locked() or release.is_set())

    @needs_rust
    def test_rust_and_python_increment_under_one_lock_exactly(self):
        times = 20000
        prefix, name = names("count")
        counter = shmstruct.Value.create(name("counter"), "q", 0)
        start = shmstruct.Barrier.create(name("start"), 2)
        child = self.rust("increment", name=prefix, times=times)
        start.wait(timeout=WAIT)
        for _ in range(times):
            with counter.get_lock():
                counter.value += 1
        self.assert_exits_ok(child)
        self.assertEqual(counter.value, 2 * times)

    @needs_rust
    def test_a_killed_rust_holder_poisons_and_python_repairs(self):
        prefix, name = names("rkill")
        counter = shmstruct.Value.create(name("counter"), "q", 5)
        held = shmstruct.Event.create(name("held"))
        child = self.rust("hold_and_die", name=prefix)
        self.assertTrue(held.wait(WAIT))
        self.kill(child)
        lock = counter.get_lock()
        for _ in range(2):
            with self.assertRaises(shmstruct.Poisoned):
                counter.value
        with self.assertRaises(shmstruct.Poisoned):
            lock.acquire(timeout=WAIT)
        self.assertFalse(lock.is_held(), "a refused acquire leaves the lock free")
        self.assertTrue(lock.acquire_poisoned(timeout=WAIT))
        self.assertTrue(lock.is_poisoned())
        self.assertEqual(counter.get_obj().value, -1, "the killed holder's half update")
        counter.get_obj().value = 42
        lock.clear_poison()
        lock.release()
        self.assertEqual(counter.value, 42)

    @needs_rust
    def test_a_killed_python_holder_poisons_and_rust_repairs(self):
        prefix, name = names("pkill")
        counter = shmstruct.Value.create(name("counter"), "q", 5)
        held = shmstruct.Event.create(name("held"))
        holder = self.python(
            "import sys, time, shmstruct\n"
            "counter = shmstruct.Value.open(sys.argv[1])\n"
            "counter.get_lock().acquire()\n"
            "counter.get_obj().value = -1\n"
            "shmstruct.Event.open(sys.argv[2]).set()\n"
            "time.sleep(600)\n",
            name("counter"),
            name("held"),
        )
        self.assertTrue(held.wait(WAIT))
        self.kill(holder)
        self.assert_exits_ok(self.rust("repair", name=prefix))
        self.assertEqual(counter.value, 100)


if __name__ == "__main__":
    unittest.main()
