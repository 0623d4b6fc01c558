"""SQL lives in infrastructure/ and projections/ only (issue 16, decision 0021): no module of application/
holds an SQL statement in a string literal; the use cases ask named functions instead."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STATEMENT = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|WITH|ALTER|DROP)\b", re.IGNORECASE)
APPLICATION = sorted((ROOT / "application").glob("*.py"))


def statements_in(source: str) -> list[tuple[int, str]]:
    """(line, opening) of every string constant (f-string parts included) that starts like an SQL statement.
    Docstrings are prose, not statements, and are left out."""
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                and STATEMENT.match(node.value)):
            found.append((node.lineno, node.value.strip()[:60]))
    return sorted(found)


def test_the_check_sees_statements_and_leaves_prose() -> None:
    source = ('"""Select the rows."""\n'
              'A = "  select x FROM t"\n'
              'B = f"INSERT INTO {T} VALUES (?)"\n'
              'C = ("WITH q AS (SELECT 1) "\n     "SELECT * FROM q")\n'
              'D = "Selected entries are shown."\n'
              'E = "drop TABLE t"\n'
              'def f():\n    """Update the page."""\n    return "Updated twice"\n')
    assert [line for line, _ in statements_in(source)] == [2, 3, 4, 7]


@pytest.mark.parametrize("module", APPLICATION, ids=lambda p: p.name)
def test_no_sql_in_application(module: Path) -> None:
    found = statements_in(module.read_text(encoding="utf-8"))
    assert not found, f"{module.name} holds SQL; move it behind a named function in infrastructure/: {found}"
