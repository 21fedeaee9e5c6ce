"""Typed, fixed-layout data and robust locks shared between Python and Rust
processes through named shared memory: ``multiprocessing.Value``, ``Array``
and its locks, opened by name, type-checked, and crash-robust.

    import shmstruct
    from ctypes import Structure, c_double

    class Point(Structure):
        _fields_ = [('x', c_double), ('y', c_double)]

    n = shmstruct.Value.create("demo-n", 'i', 7)   # typecodes or ctypes types
    a = shmstruct.Array.create("demo-a", Point, [(1.0, 2.0), (3.0, 4.0)])
    m = shmstruct.Value.open("demo-n")          # the type from the segment's descriptor
    b = shmstruct.Array.open("demo-a", Point)   # or checked against your _fields_
    with m.get_lock():
        m.value += 1

Segments are the Rust crate's: a Rust process opens ``demo-a`` as
``Array::<Point>::open("demo-a")`` when its ``Point`` has the same layout,
and a Python process opens what Rust made. A different layout raises
``shmstruct.LayoutMismatch`` naming the fields.

Lifetime: the handle that created a segment removes its name when it is
garbage-collected, unless ``keep()`` was called; a handle that opened one
never does. Nothing is registered with ``multiprocessing.resource_tracker``.

Locks are robust: a holder that dies poisons the data it guarded, and every
later ``acquire()`` (in Rust: ``lock()``) raises ``shmstruct.Poisoned`` until
someone takes the lock with ``acquire_poisoned()``, repairs the data and calls
``clear_poison()``. Locks are held per thread: the thread that acquired one
releases it. Every blocking call releases the GIL, accepts ``timeout=`` in
seconds, and is interrupted by Ctrl-C (``Barrier.wait`` excepted).
"""

import ctypes
import os
from multiprocessing.sharedctypes import typecode_to_type as _TYPECODES

from . import _layout
from ._shmstruct import (
    Barrier,
    Condition,
    Event,
    LayoutMismatch,
    Lock,
    Poisoned,
    RLock,
    Semaphore,
    unlink,
)
from ._shmstruct import LockedAttribute as _LockedAttribute
from ._shmstruct import Segment as _Segment
from ._shmstruct import locked_call as _locked_call
from ._shmstruct import forget_inherited_locks as _forget_inherited_locks

# A child made by fork does not hold its parent's locks: forget the copies
# of their guards (without releasing them) in the thread that forked.
os.register_at_fork(after_in_child=_forget_inherited_locks)

__all__ = [
    "Array",
    "Barrier",
    "BoundedSemaphore",
    "Condition",
    "Event",
    "LayoutMismatch",
    "Lock",
    "Poisoned",
    "RLock",
    "Semaphore",
    "Value",
    "descriptor",
    "fingerprint",
    "layout",
    "unlink",
]


class BoundedSemaphore:
    """A semaphore that refuses (``ValueError``) to be released beyond its
    initial value: Python's ``multiprocessing.BoundedSemaphore``."""

    @staticmethod
    def create(name, value=1, *, mode=None):
        """Creates the bounded semaphore segment `name` with `value` permits."""
        return Semaphore.create(name, value, bounded=True, mode=mode)

    @staticmethod
    def open(name):
        """Opens the semaphore segment `name`."""
        return Semaphore.open(name)


def _ctype(typecode_or_type):
    if isinstance(typecode_or_type, str):
        return _TYPECODES[typecode_or_type]
    return typecode_or_type


def _lock_argument(lock):
    if lock is True or lock is False:
        return lock
    if isinstance(lock, Lock):
        return lock
    raise TypeError(
        f"lock must be True, False or a shmstruct.Lock, not {lock!r} "
        "(data can be guarded only by a non-recursive Lock, as in Rust)"
    )


class _Shared:
    """What Value and Array share: a segment, its ctypes view, its lock."""

    __slots__ = ("_segment", "_obj", "_lock")

    def __init__(self, segment, ctype, lock=None):
        self._segment = segment
        self._obj = ctype.from_buffer(segment)
        self._lock = lock if lock is not None else segment.lock

    def get_lock(self):
        """The lock that guards the data (a ``shmstruct.Lock``)."""
        if self._lock is None:
            raise AttributeError(f"segment {self.name!r} was created with lock=False")
        return self._lock

    def get_obj(self):
        """The ctypes object over the shared memory, in place, unlocked."""
        return self._obj

    @property
    def name(self):
        """The segment's name."""
        return self._segment.name

    def keep(self):
        """Keeps the segment when this (creating) handle is garbage-collected."""
        self._segment.keep()

    def unlink(self):
        """Removes the segment's name now."""
        self._segment.unlink()

    def __del__(self):
        # The creating handle removes the name when it goes, even while
        # views of the data (which keep the mapping) live on.
        segment = getattr(self, "_segment", None)
        if segment is not None and segment.unlinks_on_drop:
            segment.keep()
            try:
                segment.unlink()
            except OSError:
                pass

    def __reduce__(self):
        raise TypeError(
            f"{type(self).__name__} is shared by name: pass {self.name!r} to the "
            "other process and open it there"
        )

    def __repr__(self):
        kind = "Array" if isinstance(self, Array) else "Value"
        return f"<shmstruct.{kind} {self.name!r}: {self._segment.layout}>"


class Value(_Shared):
    """One number or ctypes Structure in a named segment, with a robust lock:
    ``multiprocessing.Value``, by name. ``.value`` reads and writes it under
    the lock (a copy for a Structure or an array); ``get_obj()`` is the
    ctypes object in place."""

    __slots__ = ()

    @classmethod
    def create(cls, name, typecode_or_type, *args, lock=True, mode=None):
        """Creates the segment `name` holding ``typecode_or_type(*args)``;
        `lock` is True (its own lock), False (none) or a shmstruct.Lock."""
        ctype = _ctype(typecode_or_type)
        if len(args) == 1 and isinstance(args[0], tuple) and issubclass(ctype, ctypes.Structure):
            args = args[0]
        init = ctype(*args)
        segment = _Segment.create(
            name, _layout.descriptor(ctype), bytes(init), _lock_argument(lock), mode=mode
        )
        return cls._for(ctype)(segment, ctype, lock if isinstance(lock, Lock) else None)

    @classmethod
    def open(cls, name, typecode_or_type=None):
        """Opens the segment `name`: its type from its own descriptor, or
        checked against `typecode_or_type` (``LayoutMismatch`` if different)."""
        segment = _Segment.open(name)
        if typecode_or_type is None:
            ctype = _layout.ctype_of(segment.descriptor)
        else:
            ctype = _ctype(typecode_or_type)
            segment.check(_layout.descriptor(ctype))
        return cls._for(ctype)(segment, ctype)

    # A number's value (for the other types, see `_for`).
    value = _LockedAttribute("value")

    @classmethod
    def _for(cls, ctype):
        """Value itself for a number; for any other type a subclass whose
        ``value`` is a copy made under the lock, with, for a Structure, one
        attribute per field read and written under the lock (as
        multiprocessing's synchronized Structures have)."""
        if issubclass(ctype, ctypes._SimpleCData):
            return cls
        subclass = _COPIED_VALUES.get(ctype)
        if subclass is None:
            fields = {}
            if issubclass(ctype, ctypes.Structure):
                fields = {
                    field[0]: _LockedAttribute(field[0])
                    for field in ctype._fields_
                    if field[0] != _layout._ALIGN_FIELD
                }
            value = property(_copy_value, _assign_value, doc="A copy of the value, made under the lock.")
            namespace = {"__slots__": (), "value": value, **fields}
            subclass = type(f"Value[{ctype.__name__}]", (cls,), namespace)
            _COPIED_VALUES[ctype] = subclass
        return subclass


# The Value subclass of each type that is not a number.
_COPIED_VALUES = {}


def _copy_value(self):
    """A copy of the whole value (a Structure, an array), made under the lock."""
    obj = self._obj
    return _locked_call(self._lock, type(obj).from_buffer_copy, obj)


def _assign_value(self, value):
    obj = self._obj
    if not isinstance(value, type(obj)):
        value = type(obj)(*value)
    _locked_call(self._lock, ctypes.memmove, ctypes.addressof(obj), ctypes.addressof(value), ctypes.sizeof(obj))


class Array(_Shared):
    """A fixed-length array of numbers or Structures, or a byte string
    (typecode ``'c'``), in a named segment with a robust lock:
    ``multiprocessing.Array``, by name. Indexing, slices, ``len`` and
    iteration read under the lock; a Structure element is a ctypes view in
    place. Byte strings have ``.value`` (up to the first NUL) and ``.raw``."""

    __slots__ = ()

    @classmethod
    def create(cls, name, typecode_or_type, size_or_initializer, *, lock=True, mode=None):
        """Creates the segment `name` holding an array of `size_or_initializer`
        zeroed elements, or of those given; `lock` as for ``Value.create``."""
        element = _ctype(typecode_or_type)
        if isinstance(size_or_initializer, int):
            ctype = element * size_or_initializer
            init = ctype()
        else:
            items = list(size_or_initializer)
            if issubclass(element, ctypes.Structure):
                items = [item if isinstance(item, element) else element(*item) for item in items]
            ctype = element * len(items)
            init = ctype(*items)
        segment = _Segment.create(
            name, _layout.descriptor(ctype), bytes(init), _lock_argument(lock), mode=mode
        )
        return cls(segment, ctype, lock if isinstance(lock, Lock) else None)

    @classmethod
    def open(cls, name, typecode_or_type=None):
        """Opens the array segment `name`: its element type from its own
        descriptor, or checked against `typecode_or_type` (``LayoutMismatch``
        naming the fields if different). The length is the segment's."""
        segment = _Segment.open(name)
        stored = _layout.ctype_of(segment.descriptor)
        if not issubclass(stored, ctypes.Array):
            raise LayoutMismatch(f"segment {name!r} holds {segment.layout}, not an array")
        if typecode_or_type is None:
            ctype = stored
        else:
            ctype = _ctype(typecode_or_type) * stored._length_
            segment.check(_layout.descriptor(ctype))
        return cls(segment, ctype)

    def __len__(self):
        return self._obj._length_

    def __getitem__(self, index):
        return _locked_call(self._lock, self._obj.__getitem__, index)

    def __setitem__(self, index, value):
        _locked_call(self._lock, self._obj.__setitem__, index, value)

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]

    # A byte string's bytes up to the first NUL, and its whole buffer.
    value = _LockedAttribute("value")
    raw = _LockedAttribute("raw")


def descriptor(ctype):
    """The layout descriptor (bytes) of a ctypes type, as a segment stores it."""
    return _layout.descriptor(_ctype(ctype))


def fingerprint(ctype):
    """The fingerprint of a ctypes type's layout: equal to the Rust
    ``Layout::fingerprint`` of a struct with the same layout."""
    from ._shmstruct import fingerprint as _fingerprint

    return _fingerprint(descriptor(ctype))


def layout(obj):
    """The layout of a Value, an Array, a ctypes type or a ctypes object, in
    ``_fields_`` form: ``Point: _fields_ = [('x', c_double), ('y', c_double)]``."""
    from ._shmstruct import describe

    if isinstance(obj, _Shared):
        return obj._segment.layout
    ctype = obj if isinstance(obj, type) else type(obj)
    return describe(descriptor(ctype))
