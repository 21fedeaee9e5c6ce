"""Value, Array and byte strings: typecodes and ctypes types, ctypes views in
place, layouts both ways, errors, lifetime; and segments shared with Rust
processes in both directions."""

import ctypes
import os
import unittest
from ctypes import Structure, c_char, c_double, c_float, c_int32, c_longdouble, c_uint8, c_uint16, c_uint32

import shmstruct
from support import WAIT, ProcessTestCase, names, needs_rust, unique_name

SEGMENTS = os.environ.get("SHMSTRUCT_DIR", "/dev/shm")


class Point(Structure):
    _fields_ = [("x", c_double), ("y", c_double)]


class Sample(Structure):
    _fields_ = [("id", c_uint16), ("at", Point), ("tags", c_int32 * 3), ("label", c_char * 6)]


class Packed(Structure):
    _pack_ = 1
    _fields_ = [("a", c_uint8), ("b", c_uint32)]


class Aligned(Structure):
    # `#[repr(C, align(16))]`, written as Layout::to_ctypes writes it for
    # Python before 3.13.
    _align_ = 16
    _fields_ = [("a", c_uint8), ("_shmstruct_align_", c_longdouble * 0)]


def exists(name):
    return os.path.exists(os.path.join(SEGMENTS, name))


class ValueTest(unittest.TestCase):
    def test_typecodes_lock_and_open_by_name(self):
        name = unique_name("n")
        n = shmstruct.Value.create(name, "i", 7)
        with n.get_lock():
            n.value += 1
        other = shmstruct.Value.open(name)
        self.assertEqual(other.value, 8)
        with self.assertRaises(AttributeError):
            del other.value
        self.assertIs(type(other.get_obj()), ctypes.c_int32)
        self.assertEqual(shmstruct.Value.open(name, "i").value, 8)
        with self.assertRaises(shmstruct.LayoutMismatch) as caught:
            shmstruct.Value.open(name, c_float)
        self.assertIn("holds `i32` (4 bytes) but `f32` (4 bytes) was expected", str(caught.exception))
        self.assertIsInstance(caught.exception, ValueError)
        with self.assertRaises(FileExistsError):
            shmstruct.Value.create(name, "i", 1)
        with self.assertRaises(FileNotFoundError):
            shmstruct.Value.open(unique_name("missing"))

    def test_structures_and_their_layout(self):
        p = shmstruct.Value.create(unique_name("p"), Point, (1.0, 2.0))
        q = shmstruct.Value.create(unique_name("q"), Point, 3.0, 4.0)
        self.assertEqual((p.x, p.y, q.value.x, q.value.y), (1.0, 2.0, 3.0, 4.0))
        self.assertEqual(shmstruct.layout(p), "Point: _fields_ = [('x', c_double), ('y', c_double)]")
        self.assertEqual(shmstruct.layout(Point), shmstruct.layout(p))
        p.value = (5.0, 6.0)
        self.assertEqual(shmstruct.Value.open(p.name, Point).get_obj().y, 6.0)

        class Other(Structure):
            _fields_ = [("x", c_double), ("y", c_float)]

        Other.__name__ = "Point"
        with self.assertRaises(shmstruct.LayoutMismatch) as caught:
            shmstruct.Value.open(p.name, Other)
        self.assertIn("field `y`: expected f32 at offset 8, found f64 at offset 8", str(caught.exception))

    def test_descriptors_round_trip(self):
        for ctype in (Point, Sample, Packed, Aligned, c_int32 * 4, c_char * 5):
            descriptor = shmstruct.descriptor(ctype)
            rebuilt = shmstruct._layout.ctype_of(descriptor)
            self.assertEqual(shmstruct.descriptor(rebuilt), descriptor, ctype)
            self.assertEqual(ctypes.sizeof(rebuilt), ctypes.sizeof(ctype))
        self.assertEqual(
            shmstruct.layout(Sample),
            "Sample: _fields_ = [('id', c_uint16), ('at', Point), ('tags', c_int32 * 3), "
            "('label', c_char * 6)]",
        )
        self.assertEqual(shmstruct.layout(Packed), "Packed: _pack_ = 1, _fields_ = [('a', c_uint8), ('b', c_uint32)]")

    def test_types_that_cannot_be_shared_are_refused(self):
        class Flag(Structure):
            _fields_ = [("on", ctypes.c_bool)]

        with self.assertRaises(TypeError) as caught:
            shmstruct.Value.create(unique_name("bool"), Flag)
        self.assertIn("c_uint8", str(caught.exception))
        with self.assertRaises(TypeError):
            shmstruct.Value.create(unique_name("ptr"), ctypes.c_void_p)

    def test_views_are_in_place_and_keep_the_mapping(self):
        name = unique_name("view")
        a = shmstruct.Value.create(name, "q", 1)
        b = shmstruct.Value.open(name)
        a.get_obj().value = 41
        self.assertEqual(b.get_obj().value, 41)
        obj = a.get_obj()
        del a, b
        self.assertFalse(exists(name), "the creator removes the name")
        obj.value += 1
        self.assertEqual(obj.value, 42, "the view keeps the mapping")

    def test_creator_unlinks_unless_kept_and_openers_never(self):
        name = unique_name("life")
        v = shmstruct.Value.create(name, "i", 1)
        opener = shmstruct.Value.open(name)
        del opener
        self.assertTrue(exists(name))
        v.keep()
        del v
        self.assertTrue(exists(name))
        shmstruct.unlink(name)
        self.assertFalse(exists(name))

    def test_a_forked_child_does_not_unlink_what_its_parent_created(self):
        name = unique_name("fork")
        v = shmstruct.Value.create(name, "i", 1)
        pid = os.fork()
        if pid == 0:
            # The child's copy of the creating handle, dropped: no unlink.
            try:
                v.value = 2
                del v
            finally:
                os._exit(0)
        self.assertEqual(os.waitpid(pid, 0)[1], 0)
        self.assertTrue(exists(name))
        self.assertEqual(v.value, 2)

    def test_lock_false_and_shared_locks(self):
        raw = shmstruct.Value.create(unique_name("raw"), c_double, 1.0 / 3.0, lock=False)
        raw.value **= 2
        self.assertEqual(raw.value, 0.1111111111111111)
        with self.assertRaises(AttributeError):
            raw.get_lock()
        lock = shmstruct.Lock.create(unique_name("lock"))
        s = shmstruct.Array.create(unique_name("s"), "c", b"hello", lock=lock)
        opened = shmstruct.Array.open(s.name)
        self.assertEqual(opened.get_lock().name, lock.name)
        with lock:
            opened.value = opened.value.upper()
        self.assertEqual(s.value, b"HELLO")
        rlock = shmstruct.RLock.create(unique_name("rl"))
        with self.assertRaises(TypeError):
            shmstruct.Value.create(unique_name("r"), "i", 1, lock=rlock)
        with self.assertRaises(shmstruct.LayoutMismatch):
            shmstruct.Value.open(rlock.name)


class IssueExampleTest(unittest.TestCase):
    def test_the_example_of_the_package_docs(self):
        # The segments the example opens, made first (by Rust, in practice).
        prefix, name = names("demo")
        made = [
            shmstruct.Value.create(name("n"), "q", 41),
            shmstruct.Array.create(name("a"), Point, [(1.0, 2.0), (3.0, 4.0)]),
            shmstruct.Array.create(name("s"), "c", b"hello"),
            shmstruct.Lock.create(name("lock")),
        ]
        n = shmstruct.Value.open(name("n"))
        a = shmstruct.Array.open(name("a"), Point)
        with n.get_lock():
            n.value += 1
        self.assertEqual((a[0].x, len(a), [(p.x, p.y) for p in a]), (1.0, 2, [(1.0, 2.0), (3.0, 4.0)]))
        s = shmstruct.Array.open(name("s"))
        s.value = b"HELLO"
        self.assertEqual((s.value, s.raw, n.value), (b"HELLO", b"HELLO", 42))
        lock = shmstruct.Lock.open(name("lock"))
        v = shmstruct.Value.create(name("v"), "i", 7)
        p = shmstruct.Value.create(name("p"), Point, (1.0, 2.0))
        self.assertEqual((v.value, p.x, p.y), (7, 1.0, 2.0))
        self.assertEqual(shmstruct.layout(p), "Point: _fields_ = [('x', c_double), ('y', c_double)]")
        self.assertEqual(lock.name, made[3].name)


class ArrayTest(unittest.TestCase):
    def test_numbers(self):
        a = shmstruct.Array.create(unique_name("a"), "d", [1.0, 2.0, 3.0])
        b = shmstruct.Array.open(a.name)
        self.assertEqual((len(b), b[1], b[-1], b[:], list(b)), (3, 2.0, 3.0, [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]))
        b[0:2] = [7.0, 8.0]
        self.assertEqual(a[:], [7.0, 8.0, 3.0])
        zeros = shmstruct.Array.create(unique_name("z"), c_int32, 4)
        self.assertEqual(zeros[:], [0, 0, 0, 0])
        with self.assertRaises(shmstruct.LayoutMismatch):
            shmstruct.Array.open(a.name, c_float)
        with self.assertRaises(shmstruct.LayoutMismatch):
            v = shmstruct.Value.create(unique_name("v"), "i", 1)
            shmstruct.Array.open(v.name)

    def test_structures_in_place(self):
        a = shmstruct.Array.create(unique_name("pts"), Point, [(1.875, -6.25), (-5.75, 2.0)])
        b = shmstruct.Array.open(a.name, Point)
        b[0].x = 9.0
        self.assertEqual(a[0].x, 9.0)
        self.assertEqual([(p.x, p.y) for p in a], [(9.0, -6.25), (-5.75, 2.0)])
        self.assertEqual(shmstruct.layout(a), shmstruct.layout(b))
        self.assertEqual(shmstruct.layout(a), "Point * 2")

    def test_byte_strings(self):
        s = shmstruct.Array.create(unique_name("s"), "c", b"hello world")
        t = shmstruct.Array.open(s.name)
        self.assertEqual((t.value, t.raw, len(t)), (b"hello world", b"hello world", 11))
        t.value = b"HI"
        self.assertEqual((s.value, s.raw), (b"HI", b"HI\x00lo world"))
        with self.assertRaises(ValueError):
            s.value = b"x" * 12


class RustTest(ProcessTestCase):
    @needs_rust
    def test_python_segments_open_in_rust(self):
        prefix, name = names("py")
        p = shmstruct.Value.create(name("p"), Point, (1.5, -2.5))
        a = shmstruct.Array.create(name("a"), Point, [(1.0, 2.0), (3.0, 4.0)])
        s = shmstruct.Array.create(name("s"), "c", b"hello")
        sample = shmstruct.Value.create(name("sample"), Sample, 7, Point(0.5, 0.25), (1, 2, 3), b"abc")
        raw = shmstruct.Value.create(name("raw"), c_double, 1.5, lock=False)
        packed = shmstruct.Value.create(name("packed"), Packed, 1, 2)
        aligned = shmstruct.Value.create(name("aligned"), Aligned, 3)
        fingerprint = shmstruct.fingerprint(Sample)
        self.assert_exits_ok(self.rust("open_python_segments", name=prefix, fingerprint=fingerprint))
        self.assertEqual((p.x, p.y), (3.0, -5.0))
        self.assertEqual([(q.x, q.y) for q in a], [(2.0, 4.0), (6.0, 8.0)])
        self.assertEqual(s.value, b"HELLO")
        self.assertEqual((sample.id, list(sample.tags), sample.at.x), (8, [1, 2, 30], 0.5))
        self.assertEqual(raw.value, 2.25)
        self.assertEqual((packed.b, aligned.a), (2, 3))

    @needs_rust
    def test_rust_segments_open_in_python(self):
        prefix, name = names("rs")
        ready = shmstruct.Event.create(name("ready"))
        done = shmstruct.Event.create(name("done"))
        child = self.rust("create_for_python", name=prefix)
        self.assertTrue(ready.wait(timeout=WAIT))
        try:
            p = shmstruct.Value.open(name("p"))
            self.assertEqual((type(p.get_obj()).__name__, p.x, p.y), ("Point", 3.0, 4.0))
            self.assertEqual(shmstruct.Value.open(name("p"), Point).value.y, 4.0)
            self.assertEqual(shmstruct.Array.open(name("a"))[:], [1, 2, 3])
            self.assertEqual(shmstruct.Array.open(name("a"), c_uint32)[:], [1, 2, 3])
            self.assertEqual(shmstruct.Array.open(name("s")).value, b"rust")
            sample = shmstruct.Value.open(name("sample"), Sample)
            self.assertEqual((sample.id, sample.at.y, list(sample.tags), sample.label), (7, 0.25, [1, 2, 3], b"xyz"))

            class Sample2(Structure):
                _fields_ = [("id", c_uint16), ("at", Point), ("tags", c_int32 * 2), ("label", c_char * 6)]

            Sample2.__name__ = "Sample"
            with self.assertRaises(shmstruct.LayoutMismatch) as caught:
                shmstruct.Value.open(name("sample"), Sample2)
            self.assertIn("tags", str(caught.exception))
        finally:
            done.set()
        self.assert_exits_ok(child)
        self.assertFalse(exists(name("p")), "the Rust creator removed its segments")


if __name__ == "__main__":
    unittest.main()
