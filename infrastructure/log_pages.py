"""The projector's pages of the notification log, read with a statement of its own.

The library's `select_notifications` reads every column (`SELECT *`), as text on PostgreSQL (each state
hex-encoded by the server and decoded again here), and makes a `UUID` of every originator id (on SQLite
from its stored hex). A read model needs the five fields of a notification and, for most events, only
the originator id's text: the views that read nothing else of it (`View.text_ids`) get it as that text,
the form they write anyway, with no `UUID` made and printed again per event. The rows are the same
rows in the same order as the library's read of the same range and topics; on PostgreSQL they come in
binary (the state's bytes as they are) with a prepared statement, on SQLite as plain tuples.

A row becomes the library's `Notification` (its `originator_id` is typed `UUID | str`), so a view and
the projector's failure reports see what they saw before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, Notification, OperationalError
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier


def _dashed(h: str) -> str:
    """A UUID's 32 hex digits (SQLite's stored form) as its canonical text (str(UUID(h)))."""
    if len(h) != 32:
        return str(UUID(h))
    h = h.lower()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_new = object.__new__


def _notification(p: int, o: UUID | str, v: int, t: str, s: bytes) -> Notification:
    """`Notification(id=p, originator_id=o, originator_version=v, topic=t, state=s)`, the same object (equal, and
    equally frozen), made by filling its fields in directly: the frozen dataclass's `__init__` sets each field
    through `object.__setattr__`, which cost 3.3 µs a notification against 0.5 µs (a fifth of reading a page)."""
    n = _new(Notification)
    d = n.__dict__
    d["originator_id"], d["originator_version"], d["topic"], d["state"], d["id"] = o, v, t, s, p
    return n


def read_page(ledger: Any, start: int, limit: int, stop: int | None = None, topics: Sequence[str] = (), *,
              text_ids: bool = False) -> list[Notification]:
    """Up to `limit` notifications with positions in (start, stop] (no upper bound when `stop` is None) and, when
    `topics` are given, one of those topics, in position order: what the library's
    `select_notifications(start, limit, stop, topics, inclusive_of_start=False)` returns, with each originator id
    as its canonical text when `text_ids`, else as a UUID."""
    make = _notification
    if ledger.backend == "postgres":
        rows = _postgres(ledger, start, limit, stop, topics)
        if text_ids:
            return [make(p, o, v, t, s) for p, o, v, t, s in rows]
        return [make(p, UUID(o), v, t, s) for p, o, v, t, s in rows]
    rows = _sqlite(ledger, start, limit, stop, topics)
    if text_ids:
        return _with_text_ids(rows)
    return [make(p, UUID(hex=o), v, t, s) for p, o, v, t, s in rows]


def _with_text_ids(rows: list[tuple[Any, ...]]) -> list[Notification]:
    """SQLite's rows as notifications with each originator id as its canonical text, each distinct id dashed once
    per page: an aggregate's events come together (a catalog entry's five in a row), so a page of 10,000 events
    names about 2,000 ids. Dashing every row cost more than reading it, in the statement (SQLite's `substr`
    and `||`, 2.6 µs a row) as in Python; the repeated rows also share one `str`, whose hash is kept."""
    make = _notification
    known: dict[str, str] = {}
    out: list[Notification] = []
    get, append = known.get, out.append
    for p, o, v, t, s in rows:
        text = get(o)
        if text is None:
            text = known[o] = _dashed(o)
        append(make(p, text, v, t, s))
    return out


def _where(column: str, mark: str, stop: int | None, topics: Sequence[str], topics_sql: str) -> str:
    where = f"{column} > {mark}"
    if stop is not None:
        where += f" AND {column} <= {mark}"
    if topics:
        where += f" AND {topics_sql}"
    return where


def _sqlite(ledger: Any, start: int, limit: int, stop: int | None, topics: Sequence[str]) -> list[tuple[Any, ...]]:
    marks = ", ".join("?" * len(topics))
    sql = (f"SELECT rowid, originator_id, originator_version, topic, state FROM {ledger.events_table} "
           f"WHERE {_where('rowid', '?', stop, topics, f'topic IN ({marks})')} ORDER BY rowid LIMIT ?")
    params: list[Any] = [start, *([] if stop is None else [stop]), *topics, limit]
    with ledger.db.datastore.transaction(commit=False) as c:
        cur = c.sqlite_cursor
        cur.row_factory = None
        cur.execute(sql, params)
        return cur.fetchall()  # type: ignore[no-any-return]


_PG_STATEMENTS: dict[tuple[str, str, bool, bool], Any] = {}


@retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's select_notifications
def _postgres(ledger: Any, start: int, limit: int, stop: int | None, topics: Sequence[str]) -> list[tuple[Any, ...]]:
    datastore = ledger.db.datastore
    key = (datastore.schema, ledger.events_table, stop is not None, bool(topics))
    statement = _PG_STATEMENTS.get(key)
    if statement is None:
        statement = _PG_STATEMENTS[key] = SQL(
            "SELECT notification_id, originator_id::text, originator_version, topic, state FROM {schema}.{table} "
            "WHERE " + _where("notification_id", "%s", stop, topics, "topic = ANY(%s)")
            + " ORDER BY notification_id LIMIT %s"
        ).format(schema=Identifier(datastore.schema), table=Identifier(ledger.events_table))
    params: list[Any] = [start, *([] if stop is None else [stop]), *([list(topics)] if topics else []), limit]
    with datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as curs:
        curs.execute(statement, params, prepare=True)
        return curs.fetchall()
