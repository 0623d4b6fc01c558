"""On PostgreSQL a new events table compresses its states with LZ4 (decision 0027); a table that exists keeps its
compression, and `verify` judges rows of both methods alike, a tampered one among them by its position.

SQLite stores its rows as they are: these cases are PostgreSQL's.
"""

from __future__ import annotations

import pytest

from bootstrap import Runtime
from tests.integrity.conftest import ADMIN, Store
from tests.support import Division, cmd, content, items


def _large(division: Division, code: str) -> None:
    """A catalog entry whose draft's state is above the 2 KB where PostgreSQL compresses a row's value."""
    fields = items(*(f"{code}_FIELD_{i:03d}" for i in range(48)))
    division.rt.catalog.draft(division.compiler, cmd(), resource_code=code, content=content(data_items=fields))


def _lz4_on_server(rt: Runtime) -> bool:
    return bool(rt.ledger.db.scalar("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                                    "WHERE name = 'default_toast_compression'"))


def _method(rt: Runtime) -> str:
    """The column's own compression: 'l' (LZ4), 'p' (pglz) or '' (the server's default)."""
    return str(rt.ledger.db.scalar(
        "SELECT attcompression FROM pg_attribute WHERE attrelid = CAST(? AS regclass) AND attname = 'state'",
        (rt.ledger.events_table,)))


@pytest.fixture
def pg(backend: str, runtime: Runtime) -> Runtime:
    if backend != "postgres":
        pytest.skip("the compression of stored states is PostgreSQL's")
    if not _lz4_on_server(runtime):
        pytest.skip("this PostgreSQL was built without LZ4")
    return runtime


def test_a_new_events_table_compresses_states_with_lz4(pg: Runtime):
    assert _method(pg) == "l"
    pg.init(admin=ADMIN.person)
    _large(Division(pg, ADMIN), "SX-LZ-1")
    methods = {r["m"] for r in pg.ledger.db.query(
        f"SELECT pg_column_compression(state) AS m FROM {pg.ledger.events_table}")}
    assert "lz4" in methods and "pglz" not in methods


def test_an_existing_table_keeps_its_compression(pg: Runtime, settings, clock):
    store = Store(pg)
    store.sql("ALTER TABLE {table} ALTER COLUMN state SET COMPRESSION pglz")  # as a store made before LZ4
    pg.close()
    again = Runtime(settings, clock=clock)
    try:
        assert _method(again) == "p"
    finally:
        again.close()


def test_verify_judges_states_of_both_methods_and_names_a_tampered_one(pg: Runtime):
    store = Store(pg)
    pg.init(admin=ADMIN.person)
    division = Division(pg, ADMIN)
    store.sql("ALTER TABLE {table} ALTER COLUMN state SET COMPRESSION pglz")
    _large(division, "SX-PGLZ-1")
    store.sql("ALTER TABLE {table} ALTER COLUMN state SET COMPRESSION lz4")
    _large(division, "SX-LZ-2")
    pg.integrity.create_checkpoint()
    rows = pg.ledger.db.query(f"SELECT {store.col} AS p, pg_column_compression(state) AS m "
                              f"FROM {store.table} ORDER BY {store.col}")
    by_method = {r["m"]: int(r["p"]) for r in rows if r["m"] is not None}
    assert set(by_method) == {"pglz", "lz4"}
    report = pg.integrity.verify()
    assert report.ok and report.events == len(rows)
    for method in ("pglz", "lz4"):
        position = by_method[method]
        original = store.state(position)
        store.flip_byte(position)
        report = pg.integrity.verify()
        assert not report.ok and report.first_break is not None
        assert (report.first_break.kind, report.first_break.position) == ("altered", position)
        store.sql("UPDATE {table} SET state = ? WHERE {col} = ?", (original, position))
        assert pg.integrity.verify().ok
