"""Hypothesis strategies read from the same msgspec declarations the edge decodes with (domain.limits).

`strategy(T)` follows Annotated Meta constraints (pattern, max_length, ge/le), Struct fields, enums,
Optional, tuples, lists and dicts, so a generated value lies within the declared limits -- and
reaches their bounds: integers are drawn up to `le`, strings and lists now and then at `max_length`.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, timedelta
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints
from uuid import UUID

import msgspec
from hypothesis import strategies as st

SMALL = 4
"""Lists and free text are kept short, except for the draws that go to the declared maximum."""


def _metas(typ: Any) -> tuple[Any, list[msgspec.Meta]]:
    metas: list[msgspec.Meta] = []
    while get_origin(typ) is Annotated:
        args = get_args(typ)
        metas += [m for m in args[1:] if isinstance(m, msgspec.Meta)]
        typ = args[0]
    return typ, metas


def _bound(metas: list[msgspec.Meta], name: str) -> Any:
    values = [getattr(m, name) for m in metas if getattr(m, name) is not None]
    return min(values) if name in ("le", "max_length") and values else max(values) if values else None


def _text(metas: list[msgspec.Meta]) -> st.SearchStrategy[str]:
    pattern, longest = _bound(metas, "pattern"), _bound(metas, "max_length")
    if pattern:
        return st.from_regex(pattern).filter(lambda s: longest is None or len(s) <= longest)
    alphabet = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
    short = st.text(alphabet, max_size=SMALL if longest is None else min(SMALL, longest))
    if longest is None:
        return short
    # the longest text allowed, one character repeated (Hypothesis does not draw texts that long)
    return st.one_of(short, short, alphabet.map(lambda c: c * longest))


def _sized(item: st.SearchStrategy[Any], metas: list[msgspec.Meta], unique: bool = False) -> st.SearchStrategy[list[Any]]:
    longest = _bound(metas, "max_length")
    top = SMALL if longest is None else min(SMALL, longest)
    return st.lists(item, max_size=top, unique=unique)


def strategy(typ: Any) -> st.SearchStrategy[Any]:
    """Values of `typ` within every constraint its declaration carries."""
    base, metas = _metas(typ)
    origin, args = get_origin(base), get_args(base)
    if origin in (Union, UnionType):
        return st.one_of(*(st.none() if a is NoneType else strategy(a) for a in args))
    if isinstance(base, type) and issubclass(base, msgspec.Struct):
        hints = get_type_hints(base, include_extras=True)
        return st.builds(base, **{f.name: strategy(hints[f.name]) for f in msgspec.structs.fields(base)})
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return st.sampled_from(list(base))
    if base is bool:
        return st.booleans()
    if base is int:
        ge, le = _bound(metas, "ge"), _bound(metas, "le")
        return st.integers(min_value=ge if ge is not None else -(2**63), max_value=le if le is not None else 2**63 - 1)
    if base is str:
        return _text(metas)
    if base is UUID:
        return st.uuids()
    if base is datetime:
        return st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2026, 1, 1), timezones=st.just(UTC))
    if base is date:
        return st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))
    if base is timedelta:
        return st.timedeltas(max_value=timedelta(days=365), min_value=timedelta(0))
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _sized(strategy(args[0]), metas).map(tuple)
    if origin is list:
        return _sized(strategy(args[0]), metas)
    if origin is dict:
        return _sized(st.tuples(strategy(args[0]), strategy(args[1])), metas).map(dict)
    raise NotImplementedError(f"no strategy for {typ!r}")
