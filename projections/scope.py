"""Whose rows a reader may see: the one visibility rule the scoped queries apply themselves.

A query that shows rows by organization takes a `Scope` and filters in its own SQL, so no controller
decides visibility after the fact. The Office and the auditors see everything; every other reader sees
what its organization provides, holds or owns (each query says which columns name the organization).
Whose *events* a feed shows is another rule, `application.feeds.FeedScope`.
"""

from __future__ import annotations

from typing import Protocol

import msgspec


class Reader(Protocol):
    """What a scope is made of: the caller as the application knows it (`application.common.Principal`)."""

    @property
    def sees_everything(self) -> bool: ...

    @property
    def acting_for(self) -> str: ...


class Scope(msgspec.Struct, frozen=True):
    """`org` None: every organization's rows; else only the rows that name `org`."""

    org: str | None = None

    @classmethod
    def of(cls, reader: Reader) -> Scope:
        return EVERYTHING if reader.sees_everything else cls(reader.acting_for)

    @property
    def sees_everything(self) -> bool:
        return self.org is None

    def sees(self, *orgs: str | None) -> bool:
        """Whether a row naming these organizations is in scope (for rows already read)."""
        return self.org is None or self.org in orgs


EVERYTHING = Scope()
