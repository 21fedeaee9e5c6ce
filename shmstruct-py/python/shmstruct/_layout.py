"""Layout descriptors both ways: ctypes classes to descriptors, descriptors
to ctypes classes.

A descriptor is the binary encoding of the Rust crate's ``Layout`` (its
``layout::codec`` module documents it): the segment header stores it, and a
Python class produces the same bytes, and so the same fingerprint, as the
equal ``#[derive(SharedLayout)]`` struct. The Rust side decodes and checks
every descriptor Python makes, so a class ctypes cannot describe is refused
with a ``ValueError`` rather than stored.

Classes for a segment's own descriptor come from the Rust renderer
(``Layout.to_ctypes``), which checks ctypes' sizes, alignments and offsets as
it defines them (and pads ``align(N)`` structs up to 16 on Python before 3.13).
"""

import ctypes
import struct
import sys

from . import _shmstruct as _native

_VERSION = 1
_NATIVE_ENDIAN = 1 if sys.byteorder == "little" else 2

_TAG_PRIMITIVE, _TAG_ARRAY, _TAG_BYTES, _TAG_STRUCT = 1, 3, 4, 5

# The order of the Rust crate's `Primitive::ALL`: the wire codes.
_UNSIGNED = {1: 0, 2: 1, 4: 2, 8: 3}
_SIGNED = {1: 4, 2: 5, 4: 6, 8: 7}
_FLOATS = {"f": 8, "d": 9}

# The padding field Layout.to_ctypes adds for `_align_` before Python 3.13.
_ALIGN_FIELD = "_shmstruct_align_"

# The attribute that carries, on a class made from a descriptor, the exact
# node it was made from (names included, whatever Python had to adjust).
_NODE_ATTR = "_shmstruct_node_"


def _number(ctype):
    code = ctype._type_
    size = ctypes.sizeof(ctype)
    if code in _FLOATS and size == (4 if code == "f" else 8):
        return _FLOATS[code]
    if code in "bhilq":
        return _SIGNED[size]
    if code in "BHILQc":
        return _UNSIGNED[size]
    raise TypeError(
        f"{ctype.__name__} cannot be shared: shared memory holds integers, c_float, "
        "c_double, c_char arrays (byte strings), arrays and Structures of these"
        + (" (c_bool: not every byte is a valid bool; use c_uint8)" if code == "?" else "")
    )


# The encoding's integers are little-endian whatever the writer's byte order.
def _u64(value):
    return struct.pack("<Q", value)


def _u32(value):
    return struct.pack("<I", value)


def _name(text):
    raw = text.encode()
    return _u32(len(raw)) + raw


def _node(ctype, out):
    own = ctype.__dict__.get(_NODE_ATTR)
    if own is not None:
        out += own
        return
    size, align = ctypes.sizeof(ctype), ctypes.alignment(ctype)
    if issubclass(ctype, ctypes.Array):
        if ctype._type_ is ctypes.c_char:
            out += bytes([_TAG_BYTES]) + _u64(size) + _u64(1) + _u64(ctype._length_)
        else:
            out += bytes([_TAG_ARRAY]) + _u64(size) + _u64(align) + _u64(ctype._length_)
            _node(ctype._type_, out)
    elif issubclass(ctype, ctypes.Structure):
        fields = []
        for field in ctype._fields_:
            if len(field) > 2:
                raise TypeError(f"{ctype.__name__}.{field[0]} is a bit field, which cannot be shared")
            if field[0] != _ALIGN_FIELD:
                fields.append(field)
        pack = ctype.__dict__.get("_pack_", 0)
        repr_align = ctype.__dict__.get("_align_", 0)
        out += bytes([_TAG_STRUCT]) + _u64(size) + _u64(align)
        out += _name(ctype.__name__) + _u64(pack) + _u64(repr_align) + _u32(len(fields))
        for name, field_type in fields:
            out += _name(name) + _u64(getattr(ctype, name).offset)
            _node(field_type, out)
    elif issubclass(ctype, ctypes._SimpleCData):
        code = _number(ctype)
        out += bytes([_TAG_PRIMITIVE]) + _u64(size) + _u64(size) + bytes([code])
    else:
        raise TypeError(
            f"{ctype!r} cannot be shared: use a ctypes number, array or Structure"
        )


def descriptor(ctype):
    """The descriptor of the ctypes type `ctype`, as bytes."""
    out = bytearray([_VERSION, _NATIVE_ENDIAN])
    _node(ctype, out)
    return bytes(out)


_classes = {}


def ctype_of(descriptor):
    """The ctypes type for `descriptor` (cached: one class per descriptor)."""
    ctype = _classes.get(descriptor)
    if ctype is None:
        namespace = {}
        exec(_native.ctypes_source(descriptor), namespace)
        # Layout.to_ctypes defines the type itself last.
        ctype = list(namespace.values())[-1]
        if issubclass(ctype, ctypes.Structure):
            setattr(ctype, _NODE_ATTR, descriptor[2:])
        _classes[descriptor] = ctype
    return ctype
