"""The stored images of state checkpoints (decisions 0019 and 0022): a base is a whole replica's SQLite
image in a Zstandard frame (zlib before it); a delta carries only the database pages that changed since
its parent checkpoint, with the positions of its parent and its base. Pure functions over bytes: which
checkpoints to take and how a replica is rebuilt from them is `projections.timetravel`.
"""

from __future__ import annotations

import ctypes
import struct
import zlib
from array import array
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec
import zstandard

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_LEVEL = 1  # decision 0030: half the compression time of level 3, faster to decompress, an eighth larger
DELTA_MAGIC = b"CLD1"
#: magic, parent position, base position, page size, pages in the image, pages carried, delta bytes since the base
_DELTA_HEAD = struct.Struct("<4sqqIIIq")
#: how many bytes of a stored checkpoint tell whether it is a delta and, if so, its header
HEAD_BYTES = _DELTA_HEAD.size
#: a new base is stored once the pages carried by the deltas since the last one reach this share of the replica
#: (the default of `TimeTravel`'s `rebase_share`)
REBASE_SHARE = 1.0


def pack_checkpoint(raw: bytes | bytearray | memoryview) -> bytes:
    """A serialized replica as stored: a Zstandard frame (decision 0019; zlib before it)."""
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw)


def unpack_checkpoint(payload: bytes) -> bytes:
    """The serialized replica of a stored base checkpoint, Zstandard or (stored before decision 0019) zlib."""
    if payload[:4] == ZSTD_MAGIC:
        return zstandard.ZstdDecompressor().decompress(payload)
    return zlib.decompress(payload)


def unpack_into_buffer(payload: bytes | memoryview) -> bytearray:
    """`unpack_checkpoint` into a buffer of its own, which the deltas then patch: a Zstandard frame is
    decompressed straight into it (one copy of the replica less than decompressing, then copying)."""
    size = base_size(payload)
    if size is None:
        return bytearray(unpack_checkpoint(payload))
    image = bytearray(size)
    _decompress_into(memoryview(image), payload)
    return image


def base_size(payload: bytes | memoryview) -> int | None:
    """The bytes of the image a base checkpoint holds, when its frame says (every Zstandard frame we write)."""
    if bytes(payload[:4]) != ZSTD_MAGIC:
        return None
    size = zstandard.frame_content_size(payload)
    return size if size >= 0 else None


def _decompress_into(into: memoryview, payload: bytes | memoryview) -> None:
    size, done = len(into), 0
    with zstandard.ZstdDecompressor().stream_reader(payload) as reader:
        while done < size:
            n = reader.readinto(into[done:])
            if not n:
                raise ValueError("a checkpoint's frame ended before the size it declares")
            done += n


class Delta(msgspec.Struct, frozen=True):
    """A delta checkpoint's header: the checkpoint it applies to, and the shape of the image it makes."""

    parent: int
    base: int
    page_size: int
    pages: int
    carried: int
    since_base: int


def is_delta(payload: bytes | memoryview) -> bool:
    return bytes(payload[:4]) == DELTA_MAGIC


def delta_head(payload: bytes | memoryview) -> Delta:
    _, parent, base, page_size, pages, carried, since_base = _DELTA_HEAD.unpack_from(payload)
    return Delta(parent, base, page_size, pages, carried, since_base)


def page_size_of(image: bytes | bytearray | memoryview) -> int:
    """The page size an SQLite database image declares in its header (1 stands for 65,536)."""
    size = int.from_bytes(image[16:18], "big")
    return 65536 if size == 1 else size


def changed_pages(before: bytes | bytearray | memoryview, after: bytes | bytearray | memoryview,
                  page_size: int) -> list[int]:
    """The numbers (from 0) of the pages of `after` that `before` lacks or holds otherwise. Where both buffers
    are writable (the rolling replica's last image and SQLite's own buffer) each page is one `memcmp` of the
    buffers in place; otherwise each is compared as a slice of the bytes themselves (two copies of the page and
    one `memcmp`: a memoryview compares element by element, about ten times slower)."""
    common = min(len(before), len(after)) // page_size
    out = _memcmp_pages(before, after, page_size, common)
    if out is None:
        out = [i for i in range(common)
               if before[i * page_size:(i + 1) * page_size] != after[i * page_size:(i + 1) * page_size]]
    out += range(common, len(after) // page_size)
    return out


def _memcmp() -> Any:
    global _MEMCMP
    if _MEMCMP is None:
        try:
            fn = ctypes.CDLL(None).memcmp
            fn.argtypes, fn.restype = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t], ctypes.c_int
            _MEMCMP = fn
        except (OSError, AttributeError, TypeError):
            _MEMCMP = False
    return _MEMCMP


_MEMCMP: Any = None


def _memcmp_pages(before: Any, after: Any, page_size: int, common: int) -> list[int] | None:
    memcmp = _memcmp()
    if not memcmp or not common:
        return None
    try:
        a = (ctypes.c_char * (common * page_size)).from_buffer(before)
        b = (ctypes.c_char * (common * page_size)).from_buffer(after)
    except TypeError:  # read-only bytes
        return None
    try:
        pa, pb = ctypes.addressof(a), ctypes.addressof(b)
        return [i for i in range(common) if memcmp(pa + i * page_size, pb + i * page_size, page_size)]
    finally:
        del a, b


def advance_image(image: bytearray, after: bytes | bytearray | memoryview, pages: Sequence[int],
                  page_size: int) -> None:
    """Makes `image` a copy of `after`, given the pages they differ in (`changed_pages`): only those are copied."""
    if len(image) > len(after):
        del image[len(after):]
    elif len(image) < len(after):
        image += after[len(image):]
    for i in pages:
        image[i * page_size:(i + 1) * page_size] = after[i * page_size:(i + 1) * page_size]


def pack_delta(before: bytes | bytearray | memoryview, after: bytes | bytearray | memoryview, *, parent: int,
               base: int, since_base: int, pages: Sequence[int] | None = None) -> bytes:
    """The pages of `after` that differ from `before` (the image stored at `parent`), as a delta checkpoint
    (`pages`: those pages, when already known)."""
    size = page_size_of(after)
    if pages is None:
        pages = changed_pages(before, after, size)
    view = memoryview(after)
    body = array("I", pages).tobytes() + b"".join(view[i * size:(i + 1) * size] for i in pages)
    head = _DELTA_HEAD.pack(DELTA_MAGIC, parent, base, size, len(after) // size, len(pages),
                            since_base + len(pages) * size)
    return head + zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(body)


def apply_delta(image: bytearray, payload: bytes | memoryview) -> None:
    """Turns `image` (the image stored at the delta's parent) into the image the delta was taken of, in place."""
    head = delta_head(payload)
    total = head.pages * head.page_size
    if len(image) < total:
        image.extend(bytes(total - len(image)))
    _patch(memoryview(image), payload)
    if len(image) > total:
        del image[total:]


def _patch(into: memoryview, payload: bytes | memoryview) -> int:
    """Writes a delta's pages into `into` (at least as large as the image it makes); returns that image's size.
    Pages past the parent's end are all carried by the delta (`changed_pages` lists every one), so a buffer
    larger than the parent never shows its stale bytes in the image."""
    return write_pages(into, unpack_delta(payload))


def unpack_delta(payload: bytes | memoryview) -> tuple[Delta, bytes]:
    """A delta's header and its body decompressed (what `write_pages` writes into an image): the numbers of the pages it carries, then those pages."""
    return delta_head(payload), zstandard.ZstdDecompressor().decompress(payload[_DELTA_HEAD.size:])


def write_pages(into: memoryview, unpacked: tuple[Delta, bytes]) -> int:
    head, raw = unpacked
    size = head.page_size
    body = memoryview(raw)
    numbers = array("I")
    numbers.frombytes(body[:4 * head.carried])
    pages = body[4 * head.carried:]
    for k, i in enumerate(numbers):
        into[i * size:(i + 1) * size] = pages[k * size:(k + 1) * size]
    return head.pages * size


def image_capacity(chain: Sequence[bytes | memoryview]) -> int | None:
    """The largest image along a chain (what a buffer patched in place must hold); None when its base does not
    say its size (a zlib base, stored before decision 0019)."""
    size = base_size(chain[0])
    if size is None:
        return None
    return max([size, *(delta_head(d).pages * delta_head(d).page_size for d in chain[1:])])


def fill_image(into: memoryview, chain: Sequence[bytes | memoryview]) -> int:
    """Writes the image a chain stands for into `into` (of `image_capacity(chain)` bytes or more): the base
    decompressed straight into it, each delta patched on in place. Returns the image's size in bytes.

    The deltas are decompressed by a second thread while this one decompresses the base (Zstandard lets go of
    the interpreter lock while it works), then patched on in order: on the longest chain of a long history the
    deltas carry about as many pages as the base holds, so the two halves of the work overlap on two cores
    (decision 0036). What that costs is memory for a moment: the deltas' pages decompressed before the base is
    done, at most the rebase share of the replica."""
    base, *deltas = chain
    if not deltas:
        return fill_base(into, base)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint-deltas") as pool:
        unpacked = pool.map(unpack_delta, deltas)  # in order; each result is held until this thread takes it
        size = fill_base(into, base)
        for item in unpacked:
            size = write_pages(into, item)
    return size


def fill_base(into: memoryview, base: bytes | memoryview) -> int:
    """Writes a base checkpoint's image into `into`; returns its size in bytes."""
    size = base_size(base)
    if size is None:
        raw = unpack_checkpoint(base)
        size = len(raw)
        into[:size] = raw
    else:
        _decompress_into(into[:size], base)
    return size


def replica_image(chain: Sequence[bytes | memoryview]) -> bytearray:
    """The image a chain of checkpoints stands for: a base, then each delta on the one before it."""
    base, *deltas = chain
    image = unpack_into_buffer(base)
    for payload in deltas:
        apply_delta(image, payload)
    return image
