"""A view's topics derive from its `@on` handlers: the converted views read exactly the event classes they
listed before, each event reaches the one handler named for it, and a handler named twice is refused."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.utils import get_topic

from domain.access_log import AccessLogBatch
from domain.catalog import CatalogEntry as E
from domain.compliance import Violation as V
from domain.corrections import CORRECTIONS
from domain.grant_reviews import GrantReview as GR
from domain.grants import STATUS_EVENTS
from domain.grants import Grant as G
from domain.maintenance import BatchModification as B
from domain.maintenance import MaintenanceTicket as T
from domain.objections import Objection as Obj
from domain.organizations import Organization as Org
from domain.sharing import ImplementationOrder as IO
from domain.sharing import ShareRequest as R
from domain.systems import InformationSystem as IS
from infrastructure.sql import Tx
from projections.access_log import AccessLogView
from projections.base import View, on
from projections.catalog import CatalogView
from projections.compliance import ComplianceView
from projections.feed import FeedView
from projections.ledger_chain import LedgerChainView
from projections.maintenance import MaintenanceView
from projections.organizations import OrganizationsView
from projections.sharing import SharingView
from projections.systems import SystemsView
from projections.timetravel import CorrectionsView, LedgerTimesView

# What each view listed in `handles` before its handlers were declared per event.
BEFORE: list[tuple[type[View], tuple[type, ...]]] = [
    (OrganizationsView, (Org.Registered, Org.RoleAssigned, Org.RoleRevoked, Org.ServiceAuthorised,
                         Org.ServiceAuthorisationWithdrawn)),
    (ComplianceView, (V.CandidateRaised, V.Raised, V.Confirmed, V.Dismissed, V.NoticeIssued,
                      V.RectificationReported, V.Accepted, V.Escalated)),
    (SharingView, (R.Submitted, R.Approved, R.Rejected, R.Withdrawn, R.OrderIssued, IO.Issued,
                   G.Granted, G.ValidityCorrected, *STATUS_EVENTS, GR.Opened, GR.Closed)),
    (AccessLogView, (AccessLogBatch.Recorded,)),
    (SystemsView, (
        IS.Proposed, IS.RegisteredExisting, IS.CatalogRevised, IS.JustificationFiled, IS.DuplicateCollectionAccepted,
        IS.Approved, IS.Rejected, IS.Connected, IS.ComplianceTested, IS.WentLive, IS.ChangeFiled, IS.ChangeConfirmed,
        IS.ChangeDeclined, IS.ChangeImplemented, IS.UnconfirmedChangeFound, IS.Decommissioned,
        IS.RectificationOrdered, IS.RectificationClosed, IS.GoLiveDateCorrected, IS.ShutdownDateCorrected)),
    (MaintenanceView, (T.Declared, T.Approved, T.Rejected, T.Applied, T.Verified, T.SentBack,
                       B.Requested, B.Approved, B.Rejected, B.Executed, B.ExecutionRefused,
                       Obj.Raised, Obj.Confirmed, Obj.Rejected)),
    (CatalogView, (E.Drafted, E.DraftRevised, E.Submitted, E.Reviewed, E.DuplicateSourceAccepted,
                   E.Published, E.RevisionStarted, E.DataRefreshed, E.Retired, E.EffectiveDateCorrected)),
    (CorrectionsView, tuple(CORRECTIONS)),
]


@pytest.mark.parametrize("view_class", [FeedView, LedgerChainView, LedgerTimesView])
def test_a_view_of_every_topic_has_no_handlers_and_reads_everything(view_class: type[View]) -> None:
    view = view_class()
    assert view.all_topics and view.handlers == {} and view.topic_names == ()
    assert view.wants(get_topic(Org.Registered))


@pytest.mark.parametrize(("view_class", "before"), BEFORE, ids=[c.__name__ for c, _ in BEFORE])
def test_derived_topics_equal_the_classes_the_view_handled_before(view_class: type[View], before: tuple[type, ...]) -> None:
    view = view_class()
    assert set(view.handlers) == set(before)
    assert view.topic_names == tuple(sorted({get_topic(c) for c in before}))
    assert all(view.wants(get_topic(c)) for c in before)
    # The chains these handlers replace tested isinstance in order; dispatch by class gives the same answer only
    # while no handled class derives from another.
    assert not [(a, b) for a in before for b in before if a is not b and issubclass(a, b)]


class _A:
    pass


class _B(_A):
    pass


class _Probe(View):
    name, version, tables = "probe", 1, ()

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, Any, int]] = []

    def create(self, tx: Tx) -> None:
        pass

    @on(_A)
    def _a(self, tx: Tx, event: Any, position: int) -> None:
        self.seen.append(("a", event, position))


class _Derived(_Probe):
    @on(_B)
    def _b(self, tx: Tx, event: Any, position: int) -> None:
        self.seen.append(("b", event, position))


def test_each_event_reaches_the_handler_of_its_nearest_class() -> None:
    probe, derived = _Probe(), _Derived()
    a, b = _A(), _B()
    for view in (probe, derived):
        view.apply(None, a, 1)  # type: ignore[arg-type]
        view.apply(None, b, 2)  # type: ignore[arg-type]
        view.apply(None, object(), 3)  # type: ignore[arg-type]
    assert probe.seen == [("a", a, 1), ("a", b, 2)]
    assert derived.seen == [("a", a, 1), ("b", b, 2)]
    assert _Probe.handles == (_A,) and set(_Derived.handles) == {_A, _B}


def test_one_event_with_two_handlers_or_handlers_beside_handles_is_refused() -> None:
    with pytest.raises(TypeError, match="two handlers"):
        class _Twice(_Probe):
            @on(_B)
            def _one(self, tx: Tx, event: Any, position: int) -> None: ...

            @on(_B)
            def _two(self, tx: Tx, event: Any, position: int) -> None: ...
    with pytest.raises(TypeError, match="handles"):
        class _Listed(View):
            handles = (_A,)
