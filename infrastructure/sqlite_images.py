"""SQLite database images written straight into memory SQLite owns, then handed to a connection without a copy.

`sqlite3.Connection.deserialize` copies the image it is given into a buffer of SQLite's own: for a replica of a
long history (about 240 MB at 1,000,000 events) that is one allocation and one copy of the whole image on every
load, on top of the buffer it was decompressed into. Here the buffer is allocated with `sqlite3_malloc64` of the
library the `sqlite3` module is linked with, filled in place by the caller, and handed over with
`sqlite3_deserialize(…, FREEONCLOSE | RESIZEABLE)`: SQLite frees it when the connection closes and may grow it
as the replica is written (decision 0030).

That needs the connection's `sqlite3 *` handle, which the module does not expose: it is the first field after
the object header in CPython 3.11 to 3.13. The handle is trusted only after a probe on a connection of our
own: a limit set through the module must read back through the library at that address. Anywhere else (another
interpreter or version, a library that does not export the functions, a failed probe) `ImageBuffer` falls back
to a `bytearray` and `Connection.deserialize`, which is correct, only slower.
"""

from __future__ import annotations

import ctypes
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_FREEONCLOSE, _RESIZEABLE = 1, 2
_SERIALIZE_NOCOPY = 1
_LIMIT_VARIABLE_NUMBER = 9


class _Api:
    def __init__(self, lib: Any) -> None:
        self.malloc = lib.sqlite3_malloc64
        self.malloc.argtypes, self.malloc.restype = [ctypes.c_uint64], ctypes.c_void_p
        self.free = lib.sqlite3_free
        self.free.argtypes, self.free.restype = [ctypes.c_void_p], None
        self.deserialize = lib.sqlite3_deserialize
        self.deserialize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int64,
                                     ctypes.c_int64, ctypes.c_uint]
        self.deserialize.restype = ctypes.c_int
        self.serialize = lib.sqlite3_serialize
        self.serialize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int64), ctypes.c_uint]
        self.serialize.restype = ctypes.c_void_p
        self.limit = lib.sqlite3_limit
        self.limit.argtypes, self.limit.restype = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int], ctypes.c_int
        version = lib.sqlite3_libversion
        version.argtypes, version.restype = [], ctypes.c_char_p
        self.version = version().decode()

    @staticmethod
    def handle(conn: sqlite3.Connection) -> int:
        return int(ctypes.c_void_p.from_address(id(conn) + object.__basicsize__).value or 0)


_api: _Api | None = None
_probed = False
_probe_lock = threading.Lock()


def _load() -> _Api | None:
    if sys.implementation.name != "cpython" or not (3, 11) <= sys.version_info[:2] <= (3, 13):
        return None
    try:
        import _sqlite3

        api = _Api(ctypes.CDLL(_sqlite3.__file__))
    except (ImportError, OSError, AttributeError):
        return None
    if api.version != sqlite3.sqlite_version:  # not the library the module runs on
        return None
    conn = sqlite3.connect(":memory:")
    try:
        handle = api.handle(conn)
        if not handle:
            return None
        wanted = min(conn.getlimit(_LIMIT_VARIABLE_NUMBER), 32_000) - 7
        conn.setlimit(_LIMIT_VARIABLE_NUMBER, wanted)
        if api.limit(handle, _LIMIT_VARIABLE_NUMBER, -1) != wanted:
            return None
    finally:
        conn.close()
    return api


def api() -> _Api | None:
    """The library's functions, once the handle's place has been probed; None when images go through copies."""
    global _api, _probed
    if not _probed:
        with _probe_lock:
            if not _probed:
                _api, _probed = _load(), True
    return _api


class ImageBuffer:
    """A writable buffer of `capacity` bytes for a database image, then opened as a connection's main database."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._api = api()
        self._ptr = 0
        self._bytes: bytearray | None = None
        if self._api is not None:
            self._ptr = int(self._api.malloc(max(capacity, 1)) or 0)
            if not self._ptr:
                raise MemoryError(f"SQLite could not allocate {capacity:,} bytes for a database image")
            self.view = memoryview((ctypes.c_ubyte * capacity).from_address(self._ptr)).cast("B")
        else:
            self._bytes = bytearray(capacity)
            self.view = memoryview(self._bytes)

    def open(self, conn: sqlite3.Connection, size: int) -> None:
        """Makes the first `size` bytes the main database of `conn` (a new in-memory connection). The buffer is
        SQLite's from then on, or freed if SQLite refuses it: it is not to be used again."""
        if not 0 < size <= self.capacity:
            raise ValueError(f"an image of {size:,} bytes does not fit a buffer of {self.capacity:,}")
        self.view.release()
        if self._api is None:
            assert self._bytes is not None
            conn.deserialize(memoryview(self._bytes)[:size])
            self._bytes = None
            return
        ptr, self._ptr = self._ptr, 0
        rc = self._api.deserialize(self._api.handle(conn), b"main", ptr, size, self.capacity,
                                   _FREEONCLOSE | _RESIZEABLE)
        if rc != 0:  # SQLite has freed the buffer (FREEONCLOSE)
            raise sqlite3.DatabaseError(f"sqlite3_deserialize failed (code {rc})")

    def __del__(self) -> None:
        if self._ptr and self._api is not None:
            self.view.release()
            self._api.free(self._ptr)
            self._ptr = 0


@contextmanager
def image_view(conn: sqlite3.Connection) -> Iterator[memoryview | bytes]:
    """The database of `conn` as bytes: a view of SQLite's own buffer when it is an image SQLite was handed
    (no copy; valid only inside the block, while nothing writes to `conn`), else `conn.serialize()`."""
    lib = api()
    if lib is not None:
        size = ctypes.c_int64(0)
        ptr = lib.serialize(lib.handle(conn), b"main", ctypes.byref(size), _SERIALIZE_NOCOPY)
        if ptr:
            view = memoryview((ctypes.c_ubyte * size.value).from_address(ptr)).cast("B")
            try:
                yield view
            finally:
                view.release()
            return
    yield conn.serialize()


def serialize(conn: sqlite3.Connection) -> bytes:
    """`conn.serialize()` with one copy instead of two when its database is an image SQLite was handed: the bytes
    are copied straight out of SQLite's buffer (`SQLITE_SERIALIZE_NOCOPY`), not into a buffer of its own first.
    The caller holds the connection (no statement may write while the bytes are copied)."""
    lib = api()
    if lib is not None:
        size = ctypes.c_int64(0)
        ptr = lib.serialize(lib.handle(conn), b"main", ctypes.byref(size), _SERIALIZE_NOCOPY)
        if ptr:
            return ctypes.string_at(ptr, size.value)
    return conn.serialize()
