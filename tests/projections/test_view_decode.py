"""A view that decodes only the fields it reads builds the rows the domain events build.

The catalog and ledger_times get from the projector their own lean decoding of each stored event
(`View.decode`); a replica replayed for a date, and any caller of `apply`, hands them domain events.
Both must leave the same rows: here every event of a random history is folded once each way, in
pages of uneven size, into two in-memory databases that are then compared row for row.
"""

from __future__ import annotations

import random

import pytest

from infrastructure.log_pages import read_page
from infrastructure.sql import MemoryDb
from infrastructure.store import SETTINGS_DDL
from projections.catalog import CatalogView
from projections.feed import FeedView
from projections.ledger_chain import LedgerChainView
from projections.timetravel import LedgerTimesView
from tests.projections.test_catalog_projection import random_history


def _fold(view, notifications, decode, sizes, before: str | None = None) -> dict[str, list]:
    db = MemoryDb()
    with db.write() as tx:
        if before is not None:
            tx.execute(before)
        view.create(tx)
    i = 0
    while i < len(notifications):
        page = notifications[i:i + next(sizes)]
        i += len(page)
        with db.write() as tx:
            view.begin_page(tx)
            for n in page:
                if view.wants(n.topic):
                    view.apply(tx, decode(n), n.id)
            view.end_page(tx)
    return {t: db.query(f"SELECT * FROM {t} ORDER BY 1, 2") for t in view.tables}


@pytest.mark.parametrize("make", [CatalogView, LedgerTimesView])
def test_lean_decoding_builds_the_rows_domain_events_build(runtime, admin, make):
    random_history(runtime, admin, seed=2, n=30)  # drafts, reviews both ways, publications, revisions, retirements
    notifications = runtime.ledger.recorder.select_notifications(start=1, limit=100_000)
    mapper = runtime.ledger.mapper
    view = make()
    mine = [n for n in notifications if view.wants(n.topic)]
    # the view's own decoding is taken for each of its events, not the domain's
    assert mine and all(type(view.decode(n, mapper)) is not type(mapper.to_domain_event(n)) for n in mine)
    rng = random.Random(3)
    sizes = iter(lambda: rng.randint(1, 40), None)  # each fold cuts its pages elsewhere
    lean = _fold(view, notifications, lambda n: view.decode(n, mapper), sizes)
    whole = _fold(view, notifications, mapper.to_domain_event, sizes)
    assert lean == whole
    # the projector's own pages carry the originator ids as text for these views: the same rows again
    pages = read_page(runtime.ledger, 0, 100_000, text_ids=view.text_ids)
    assert view.text_ids and [n.id for n in pages] == [n.id for n in notifications]
    assert _fold(view, pages, lambda n: view.decode(n, mapper), sizes) == whole
    assert lean[view.tables[0]]
    if make is CatalogView:
        statuses = {r["status"] for r in lean["catalog_entries"]}
        assert {"published", "retired", "revising"} <= statuses, statuses



@pytest.mark.parametrize("make", [FeedView, LedgerChainView])
def test_the_feed_and_the_chain_from_the_projectors_pages_build_the_rows_domain_events_build(runtime, admin, make):
    """The feed decodes whole only the events whose fields it reads, and with the hash chain it takes the projector's
    pages with ids as text: both leave the rows that whole domain events (the feed) and the library's
    notifications with UUIDs (the chain) leave."""
    random_history(runtime, admin, seed=4, n=20)
    library = runtime.ledger.recorder.select_notifications(start=1, limit=100_000)
    mapper = runtime.ledger.mapper
    view = make()
    pages = read_page(runtime.ledger, 0, 100_000, text_ids=view.text_ids)
    assert view.text_ids and all(type(n.originator_id) is str for n in pages)
    rng = random.Random(5)
    sizes = iter(lambda: rng.randint(1, 40), None)
    whole = mapper.to_domain_event if make is FeedView else (lambda n: n)
    lean = _fold(view, pages, lambda n: view.decode(n, mapper), sizes, before=SETTINGS_DDL)
    assert lean == _fold(view, library, whole, sizes, before=SETTINGS_DDL)
    assert len(lean[view.tables[0]]) == len(library)
