"""Givens for the catalog context: past events of a catalog entry, and the commands its tests repeat."""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.base import Actor
from domain.catalog import CatalogEntry
from domain.catalog_values import EntryContent, Review, ReviewDecision
from domain.organizations import Level
from tests.domain.cast import CODE, COMPILER, DIV, OFFICE_ADMIN, REVIEWER, TODAY
from tests.domain.given import Past, ctx, given, past
from tests.support import PASS, content


def drafted(
    body: EntryContent | None = None, *, by: Actor = COMPILER, provider: str = DIV,
    level: Level = Level.PROVINCE, code: str = CODE,
) -> Past:
    return past(CatalogEntry.Drafted, by, resource_code=code, provider=provider, provider_level=level,
                content=body or content())


def submitted(version: int = 1, *, by: Actor = COMPILER) -> Past:
    return past(CatalogEntry.Submitted, by, version=version)


def reviewed(
    version: int = 1, *, review: Review = PASS, decision: ReviewDecision = ReviewDecision.APPROVE,
    by: Actor = REVIEWER,
) -> Past:
    return past(CatalogEntry.Reviewed, by, version=version, review=review, decision=decision)


def accepted(item_code: str, source: str, version: int = 1, *, by: Actor = OFFICE_ADMIN) -> Past:
    return past(CatalogEntry.DuplicateSourceAccepted, by, version=version, item_code=item_code,
                existing_source=source)


def published(version: int = 1, body: EntryContent | None = None, *, by: Actor = OFFICE_ADMIN,
              on: date = TODAY) -> Past:
    return past(CatalogEntry.Published, by, version=version, published_on=on, content=body or content())


def revision_started(version: int = 2, body: EntryContent | None = None, *, by: Actor = COMPILER) -> Past:
    return past(CatalogEntry.RevisionStarted, by, version=version, content=body or content())


def retired(reason: str = "no longer collected", *, by: Actor = OFFICE_ADMIN) -> Past:
    return past(CatalogEntry.Retired, by, reason=reason)


def approved(body: EntryContent | None = None, **draft: Any) -> tuple[Past, ...]:
    """Drafted, submitted and approved: version 1 is ready to publish."""
    return drafted(body, **draft), submitted(), reviewed()


def live(body: EntryContent | None = None, **draft: Any) -> tuple[Past, ...]:
    """Version 1 published by the Office."""
    return (*approved(body, **draft), published(body=body))


# -- a catalog entry, and the commands its tests repeat ---------------------------------------

APPROVE, RETURN = ReviewDecision.APPROVE, ReviewDecision.RETURN
NONE_ELSEWHERE: dict[str, str] = {}
"""The source index as a command sees it when no other entry provides any of the data items."""


def entry(*history: Past) -> CatalogEntry:
    """A catalog entry with this history."""
    return given(CatalogEntry, *history)


def publish(e: CatalogEntry, who: Actor = OFFICE_ADMIN, sources: dict[str, str] = NONE_ELSEWHERE) -> None:
    """`who` publishes the pending version today, with `sources` as the other entries' data items."""
    e.publish(ctx(who), published_on=TODAY, existing_sources=sources)
