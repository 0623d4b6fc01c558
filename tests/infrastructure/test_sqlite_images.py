"""Images handed to SQLite without a copy (`infrastructure.sqlite_images`, decision 0030).

A chain of real SQLite images (a base, then deltas that grow the database, shrink it and grow it again) is
built in a buffer patched in place and must come out byte for byte what `replica_image` builds and what the
database serialized, whether SQLite takes the buffer over or the fallback copies it; the opened replica must
read and keep growing past the buffer it was given.
"""

from __future__ import annotations

import sqlite3
import threading
import zlib

import pytest
import zstandard

from infrastructure import sqlite_images
from infrastructure.sql import MemoryDb
from infrastructure.sqlite_images import ImageBuffer, serialize
from projections.state_images import (
    HEAD_BYTES,
    advance_image,
    changed_pages,
    fill_image,
    image_capacity,
    pack_checkpoint,
    pack_delta,
    page_size_of,
    replica_image,
)
from projections.timetravel import open_chain


def images() -> list[bytes]:
    """Serialized images of one database as it grows, shrinks (rows deleted, then VACUUM) and grows again."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    conn.execute("CREATE INDEX t_body ON t (body)")
    out = []

    def insert(start: int, n: int) -> None:
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"row {i} " * (1 + i % 7)) for i in range(start, start + n)])
        out.append(conn.serialize())

    insert(0, 2000)
    conn.execute("UPDATE t SET body = body || '!' WHERE id % 13 = 0")
    out.append(conn.serialize())
    insert(2000, 3000)
    conn.execute("DELETE FROM t WHERE id >= 1000")
    conn.execute("VACUUM")
    out.append(conn.serialize())
    insert(5000, 1500)
    conn.close()
    return out


def chain_of(raw: list[bytes]) -> list[bytes]:
    chain = [pack_checkpoint(raw[0])]
    for k in range(1, len(raw)):
        chain.append(pack_delta(raw[k - 1], raw[k], parent=k - 1, base=0, since_base=0))
    return chain


def dump(db: MemoryDb) -> list[tuple[object, ...]]:
    with db.read() as tx:
        return [tuple(r) for r in tx.execute("SELECT id, body FROM t ORDER BY id").fetchall()]


@pytest.fixture(params=["handed over", "copied"])
def path(request, monkeypatch):
    if request.param == "copied":
        monkeypatch.setattr(sqlite_images, "_api", None)
        monkeypatch.setattr(sqlite_images, "_probed", True)
    elif sqlite_images.api() is None:
        pytest.skip("this interpreter's sqlite3 module does not let an image be handed over")
    return request.param


def test_the_images_shrink_and_grow():
    sizes = [len(r) for r in images()]
    assert sizes[2] > sizes[1] and sizes[3] < sizes[2] and sizes[4] > sizes[3], sizes


def test_a_chain_patched_in_a_larger_dirty_buffer_is_the_image_serialized():
    raw = images()
    for end in range(1, len(raw) + 1):
        chain = chain_of(raw[:end])
        capacity = image_capacity(chain)
        assert capacity is not None and capacity >= len(raw[end - 1])
        buffer = bytearray(b"\xaa" * (capacity + 4096))  # stale bytes where the patches must write
        size = fill_image(memoryview(buffer), chain)
        assert bytes(buffer[:size]) == raw[end - 1] == bytes(replica_image(chain)), end


def test_a_damaged_delta_fails_the_fill_and_leaves_no_thread_behind():
    """The deltas are decompressed by a thread beside the base: its failure is the fill's, and it ends."""
    chain = chain_of(images())
    capacity = image_capacity(chain)
    assert capacity is not None
    damaged = [*chain[:2], chain[2][:HEAD_BYTES] + b"not a Zstandard frame", *chain[3:]]
    before = threading.active_count()
    with pytest.raises(zstandard.ZstdError):
        fill_image(memoryview(bytearray(capacity)), damaged)
    assert threading.active_count() == before
    assert not [t for t in threading.enumerate() if t.name.startswith("checkpoint-deltas")]


def test_a_chain_opens_as_the_database_it_was_taken_of(path):
    raw = images()
    chain = chain_of(raw)
    db = open_chain(chain)
    assert db.serialize() == raw[-1]
    assert dump(db) == dump(MemoryDb(raw[-1]))
    with db.write() as tx:  # past the buffer it was handed: SQLite grows it
        tx.executemany("INSERT INTO t VALUES (?, ?)", [(i, "grown " * 40) for i in range(10_000, 14_000)])
    assert len(db.serialize()) > len(raw[-1])
    assert db.scalar("SELECT COUNT(*) FROM t WHERE id >= 10000") == 4000
    assert db.scalar("PRAGMA integrity_check") == "ok"
    db.close()


def test_a_zlib_base_still_opens(path):
    raw = images()
    chain = [zlib.compress(raw[0]), *chain_of(raw)[1:]]
    assert image_capacity(chain) is None
    db = open_chain(chain)
    assert db.serialize() == raw[-1]
    db.close()


def test_serialize_is_the_modules_own_for_an_image_and_for_a_plain_database(path):
    raw = images()[-1]
    plain = sqlite3.connect(":memory:")
    plain.deserialize(raw)
    assert serialize(plain) == plain.serialize() == raw
    fresh = sqlite3.connect(":memory:")
    fresh.execute("CREATE TABLE x (a)")
    assert serialize(fresh) == fresh.serialize()
    plain.close()
    fresh.close()


def test_an_image_larger_than_its_buffer_is_refused_and_the_buffer_freed(path):
    image = ImageBuffer(8192)
    conn = sqlite3.connect(":memory:")
    with pytest.raises(ValueError):
        image.open(conn, 8193)
    conn.close()


def test_pages_compared_in_place_are_the_pages_compared_as_bytes_and_advance_the_last_image():
    raw = images()
    db = MemoryDb(raw[0])
    last = bytearray(raw[0])
    for later in raw[1:]:
        db.close()
        db = MemoryDb(later)
        with db.image() as live:
            assert bytes(live) == later
            size = page_size_of(live)
            pages = changed_pages(last, live, size)
            assert pages == changed_pages(bytes(last), later, size)  # the copying comparison
            assert pages, "each image differs from the one before"
            advance_image(last, live, pages, size)
        assert bytes(last) == later
    db.close()
