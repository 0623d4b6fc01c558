"""The dialect layer adapts placeholders, not text that merely contains a `?` or a `%`.

Each statement runs on the real store of both backends: a `?` inside a string literal, a quoted
identifier or a comment, a `%` in a LIKE pattern, and (on PostgreSQL) the jsonb operators `?|`,
`?&` and `??` come back as written, while every bare `?` is bound to its parameter.
"""

from __future__ import annotations

import pytest

from infrastructure.sql import adapt, ddl


def test_placeholders_become_pyformat_on_postgres_only_outside_quoted_text():
    sql = ("SELECT 'why?' AS a, \"odd?name\" AS b, ? AS c -- is this ?\n, E'it\\'s ?' AS d, $$?$$ AS e, "
           "$tag$ ? $tag$ AS f, /* ? */ ? AS g, '100%' AS h, j ?| ? AS i, j ?& ? AS k, j ?? 'x' AS m")
    assert adapt(sql, "sqlite") == sql
    assert adapt(sql, "postgres") == (
        "SELECT 'why?' AS a, \"odd?name\" AS b, %s AS c -- is this ?\n, E'it\\'s ?' AS d, $$?$$ AS e, "
        "$tag$ ? $tag$ AS f, /* ? */ %s AS g, '100%%' AS h, j ?| %s AS i, j ?& %s AS k, j ? 'x' AS m")


def test_a_doubled_quote_stays_inside_its_literal_and_numbered_parameters_are_not_dollar_quotes():
    assert adapt("SELECT 'it''s ?', ?", "postgres") == "SELECT 'it''s ?', %s"
    assert adapt("SELECT $1, ?, a$b", "postgres") == "SELECT $1, %s, a$b"
    assert adapt("SELECT ?", "postgres") == "SELECT %s"


def test_ddl_names_each_dialects_types_and_leaves_other_braces():
    statement = "CREATE TABLE t (k {rowid}, b {blob} NOT NULL, j TEXT DEFAULT '{}')"
    assert ddl(statement, "sqlite") == "CREATE TABLE t (k INTEGER PRIMARY KEY, b BLOB NOT NULL, j TEXT DEFAULT '{}')"
    assert ddl(statement, "postgres") == "CREATE TABLE t (k BIGINT PRIMARY KEY, b BYTEA NOT NULL, j TEXT DEFAULT '{}')"


def test_literal_question_marks_and_percents_survive_on_the_store(runtime):
    db = runtime.ledger.db
    row = db.query_one("SELECT 'why?' AS a, ? AS b, '100%' AS c /* a ? in a comment */, ? AS d",
                       ("bound", "also bound"))
    assert row == {"a": "why?", "b": "bound", "c": "100%", "d": "also bound"}
    assert db.scalar("SELECT COUNT(*) FROM (SELECT 'a%b' AS s) t WHERE s LIKE ?", ("a%",)) == 1


def test_blob_columns_hold_bytes_on_both_stores(runtime):
    db = runtime.ledger.db
    with db.write() as tx:
        tx.ddl("CREATE TABLE IF NOT EXISTS dialect_probe (k {rowid}, b {blob} NOT NULL)")
        tx.execute("DELETE FROM dialect_probe")
        tx.execute("INSERT INTO dialect_probe (k, b) VALUES (?, ?)", (1, b"\x00?\xff"))
    assert bytes(db.scalar("SELECT b FROM dialect_probe WHERE k = ?", (1,))) == b"\x00?\xff"
    with db.write() as tx:
        tx.execute("DROP TABLE dialect_probe")


@pytest.mark.postgres
def test_jsonb_operators_survive_beside_parameters(backend, runtime):
    if backend != "postgres":
        pytest.skip("jsonb operators are PostgreSQL's")
    db = runtime.ledger.db
    row = db.query_one("SELECT ?::jsonb ?? 'a' AS has, ?::jsonb ?| ARRAY['x', 'b'] AS any_of, "
                       "?::jsonb ?& ARRAY[?, 'b'] AS all_of, 'a?b' AS text",
                       ('{"a": 1}', '{"b": 2}', '{"a": 1, "b": 2}', "a"))
    assert row == {"has": True, "any_of": True, "all_of": True, "text": "a?b"}


def test_a_binary_bulk_insert_stores_what_the_plain_one_stores(runtime):
    """`executemany(..., binary=True)` (a binary COPY on PostgreSQL, of each column's type as the table has it)
    leaves the same rows as the text COPY and as SQLite's statement per row: text with quotes, tabs,
    backslashes, newlines and CJK, integers of both widths, and NULLs; a renamed table's own types are read."""
    db = runtime.ledger.db
    rows = [(i, f"名称 {i}\t\"q\" \\ \n'x'", None if i % 3 == 0 else i * 10_000_000_000, None if i % 2 else i)
            for i in range(60)]
    with db.write() as tx:
        for table in ("bulk_probe_text", "bulk_probe_binary__next"):
            tx.execute(f"CREATE TABLE {table} (k INTEGER PRIMARY KEY, t TEXT NOT NULL, big BIGINT, small INTEGER)")
        tx.executemany("INSERT INTO bulk_probe_text (k, t, big, small) VALUES (?, ?, ?, ?)", rows)
        renamed = tx.renamed({"bulk_probe_binary": "bulk_probe_binary__next"})
        renamed.executemany("INSERT INTO bulk_probe_binary (k, t, big, small) VALUES (?, ?, ?, ?)", rows, binary=True)
    text = db.query("SELECT k, t, big, small FROM bulk_probe_text ORDER BY k")
    assert [tuple(r.values()) for r in text] == rows
    assert db.query("SELECT k, t, big, small FROM bulk_probe_binary__next ORDER BY k") == text
    with db.write() as tx:
        tx.execute("DROP TABLE bulk_probe_text")
        tx.execute("DROP TABLE bulk_probe_binary__next")
