"""The stored images of state checkpoints (decisions 0019 and 0022): a base is a whole replica's SQLite
image in a Zstandard frame (zlib before it); a delta carries only the database pages that changed since
its parent checkpoint, with the positions of its parent and its base. Pure functions over bytes: which
checkpoints to take and how a replica is rebuilt from them is `projections.timetravel`.
"""

from __future__ import annotations

import struct
import zlib
from array import array
from collections.abc import Sequence

import msgspec
import zstandard

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_LEVEL = 3
DELTA_MAGIC = b"CLD1"
#: magic, parent position, base position, page size, pages in the image, pages carried, delta bytes since the base
_DELTA_HEAD = struct.Struct("<4sqqIIIq")
#: how many bytes of a stored checkpoint tell whether it is a delta and, if so, its header
HEAD_BYTES = _DELTA_HEAD.size
#: a new base is stored once the pages carried by the deltas since the last one reach this share of the replica
#: (the default of `TimeTravel`'s `rebase_share`)
REBASE_SHARE = 1.0


def pack_checkpoint(raw: bytes) -> bytes:
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
    if bytes(payload[:4]) != ZSTD_MAGIC:
        return bytearray(zlib.decompress(payload))
    size = zstandard.frame_content_size(payload)
    if size < 0:  # a frame that does not say its size (none we write)
        return bytearray(zstandard.ZstdDecompressor().decompress(payload))
    image = bytearray(size)
    into, done = memoryview(image), 0
    with zstandard.ZstdDecompressor().stream_reader(payload) as reader:
        while done < size:
            n = reader.readinto(into[done:])
            if not n:
                raise ValueError("a checkpoint's frame ended before the size it declares")
            done += n
    return image


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


def changed_pages(before: bytes | bytearray, after: bytes | bytearray, page_size: int) -> list[int]:
    """The numbers (from 0) of the pages of `after` that `before` lacks or holds otherwise. Each page is compared
    as a slice of the bytes themselves (one `memcmp`): a memoryview compares element by element, about ten times
    slower, and the updates of a large replica are spread over most of its pages, so a coarser first pass over
    blocks of pages rarely skips any."""
    common = min(len(before), len(after)) // page_size
    out = [i for i in range(common)
           if before[i * page_size:(i + 1) * page_size] != after[i * page_size:(i + 1) * page_size]]
    out += range(common, len(after) // page_size)
    return out


def pack_delta(before: bytes | bytearray, after: bytes, *, parent: int, base: int, since_base: int) -> bytes:
    """The pages of `after` that differ from `before` (the image stored at `parent`), as a delta checkpoint."""
    size = page_size_of(after)
    pages = changed_pages(before, after, size)
    view = memoryview(after)
    body = array("I", pages).tobytes() + b"".join(view[i * size:(i + 1) * size] for i in pages)
    head = _DELTA_HEAD.pack(DELTA_MAGIC, parent, base, size, len(after) // size, len(pages),
                            since_base + len(pages) * size)
    return head + zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(body)


def apply_delta(image: bytearray, payload: bytes | memoryview) -> None:
    """Turns `image` (the image stored at the delta's parent) into the image the delta was taken of, in place."""
    head = delta_head(payload)
    size = head.page_size
    body = memoryview(zstandard.ZstdDecompressor().decompress(payload[_DELTA_HEAD.size:]))
    numbers = array("I")
    numbers.frombytes(body[:4 * head.carried])
    pages = body[4 * head.carried:]
    total = head.pages * size
    if len(image) > total:
        del image[total:]
    elif len(image) < total:
        image.extend(bytes(total - len(image)))
    for k, i in enumerate(numbers):
        image[i * size:(i + 1) * size] = pages[k * size:(k + 1) * size]


def replica_image(chain: Sequence[bytes | memoryview]) -> bytearray:
    """The image a chain of checkpoints stands for: a base, then each delta on the one before it."""
    base, *deltas = chain
    image = unpack_into_buffer(base)
    for payload in deltas:
        apply_delta(image, payload)
    return image
