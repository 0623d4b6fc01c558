"""TIME-1 … TIME-3: corrections dated before they are recorded, as given / when / then.

Each correction is its own event naming what it corrects and why; the facts it corrects stay as
they were recorded.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import NAMESPACE_URL, uuid5

import pytest

from domain.catalog import CatalogEntry
from domain.grant_status import grant_states_from_events
from domain.grants import Grant, fold
from domain.sharing_values import GrantStatus
from domain.systems import InformationSystem
from tests.domain.cast import OFFICE_ADMIN, REVIEWER, T0, TODAY
from tests.domain.given import ctx, event, given, invalid, refused, then
from tests.domain.given_catalog import approved, published, reviewed, revision_started, submitted
from tests.domain.given_sharing import (
    PROVIDER_REVIEWER,
    VALID_FROM,
    VALID_TO,
    grant,
    past,
    replay,
    spec,
)
from tests.domain.test_system_rules import MANAGER, live

NOW = T0 + timedelta(days=30)
EARLIER = T0 + timedelta(days=10)


def later(at=NOW):  # noqa: ANN001, ANN202
    return ctx(OFFICE_ADMIN, at)


# -- grants: a suspension or revocation with effect from an earlier instant ---------------------

def test_the_office_revokes_a_grant_with_effect_from_an_earlier_instant() -> None:
    g = grant()
    g.revoke(later(), "核查发现自1月起违规使用", effective_at=EARLIER)
    then(g, event(Grant.RevocationBackdated, by=OFFICE_ADMIN, effective_at=EARLIER, reason="核查发现自1月起违规使用",
                  corrects="status", corrects_version=1))
    assert g.status == GrantStatus.REVOKED and g.status_since == EARLIER


def test_a_back_dated_suspension_counts_from_its_effective_instant_and_a_later_resumption_still_counts() -> None:
    # granted T0-3min, suspended T0-2min, resumed T0-1min; the suspension really began at T0-150s
    g = grant(spec(), past(Grant.Suspended, OFFICE_ADMIN, reason="核查"), past(Grant.Resumed, OFFICE_ADMIN))
    began = T0 - timedelta(seconds=150)
    g.suspend(later(), "应自更早时起暂停", effective_at=began)
    recorded = then(g, event(Grant.SuspensionBackdated, effective_at=began, corrects="status"))
    assert g.status == GrantStatus.ACTIVE  # resumed after the suspension's effective instant
    assert fold(g.created_on, g.changes, at=began).status == GrantStatus.SUSPENDED
    assert fold(g.created_on, g.changes, at=began - timedelta(microseconds=1)).status == GrantStatus.ACTIVE
    assert recorded[0].corrects_version == 1  # it corrects the state the grant was granted in


def test_a_back_dated_revocation_ends_the_grant_for_good_even_before_a_later_use() -> None:
    single = spec()
    g = grant(single, past(Grant.Consumed, OFFICE_ADMIN, at=T0 - timedelta(minutes=1)), start=NOW - timedelta(days=1))
    g.revoke(later(), "自更早时起无效", effective_at=g.created_on + timedelta(seconds=1))
    then(g, event(Grant.RevocationBackdated))
    assert g.status == GrantStatus.REVOKED


def test_time1_only_the_office_back_dates_a_suspension() -> None:
    g = grant()
    with refused("TIME-1", g):
        g.suspend(ctx(PROVIDER_REVIEWER, NOW), "核查", effective_at=EARLIER)
    g.suspend(ctx(PROVIDER_REVIEWER, NOW), "核查")  # suspending now stays the provider's right
    then(g, event(Grant.Suspended))


def test_time2_a_correction_never_takes_effect_before_the_grant() -> None:
    g = grant(start=T0 + timedelta(days=5))
    with refused("TIME-2", g):
        g.revoke(later(), "更早", effective_at=VALID_FROM - timedelta(microseconds=1))
    with refused("TIME-2", g):
        g.revoke(later(), "更早", effective_at=g.created_on - timedelta(microseconds=1))


def test_time3_a_correction_never_takes_effect_in_the_future() -> None:
    g = grant()
    with refused("TIME-3", g):
        g.revoke(later(), "将来", effective_at=NOW + timedelta(microseconds=1))


def test_a_grant_already_ended_at_the_effective_instant_is_not_corrected_again() -> None:
    g = grant()
    g.revoke(later(), "违规", effective_at=EARLIER)
    g.collect_events()
    with invalid(g):
        g.revoke(later(NOW + timedelta(days=1)), "再次", effective_at=EARLIER + timedelta(days=1))


# -- grants: a validity corrected ------------------------------------------------------------------

def test_the_office_corrects_a_validity_recorded_too_long() -> None:
    g = grant()
    end = NOW - timedelta(days=1)
    g.correct_validity(later(), valid_from=VALID_FROM, valid_to=end, reason="实施单有效期录入错误")
    then(g, event(Grant.ValidityCorrected, valid_from=VALID_FROM, valid_to=end, corrects="valid_to",
                  corrects_version=1))
    assert g.spec.valid_to == end and g.status_at(NOW) == GrantStatus.EXPIRED


def test_time1_only_the_office_corrects_a_validity() -> None:
    g = grant()
    with refused("TIME-1", g):
        g.correct_validity(ctx(PROVIDER_REVIEWER, NOW), valid_from=VALID_FROM, valid_to=EARLIER, reason="错误")


def test_time2_a_correction_never_widens_the_validity() -> None:
    g = grant()
    with refused("TIME-2", g):
        g.correct_validity(later(), valid_from=VALID_FROM - timedelta(days=1), valid_to=EARLIER, reason="提前")


def test_time3_a_corrected_end_is_not_in_the_future() -> None:
    g = grant()
    with refused("TIME-3", g):
        g.correct_validity(later(), valid_from=VALID_FROM, valid_to=NOW + timedelta(days=1), reason="缩短")


def test_history_folds_corrections_as_known_then() -> None:
    """The same events answer differently about one instant depending on what was known."""
    g = grant()
    g.revoke(later(), "违规", effective_at=EARLIER)
    events = [*replay_events(g)]
    at = EARLIER + timedelta(days=1)
    known_before = grant_states_from_events(events, at, known=NOW - timedelta(seconds=1))
    known_after = grant_states_from_events(events, at, known=NOW)
    assert known_before[g.id].status == GrantStatus.ACTIVE
    assert known_after[g.id].status == GrantStatus.REVOKED and known_after[g.id].status_since == EARLIER
    assert grant_states_from_events(events, EARLIER - timedelta(seconds=1), known=NOW)[g.id].status == "active"
    assert at < VALID_TO


def replay_events(g: Grant):  # noqa: ANN201
    """The grant's events as the store holds them: the given history and what the command recorded."""
    granted = Grant.Granted(originator_id=g.id, originator_version=1, timestamp=g.created_on, actor=OFFICE_ADMIN,
                            cause=ctx(OFFICE_ADMIN).cause, originator_topic="civic-ledger:Grant", spec=g.spec)
    return [granted, *g.collect_events()]


# -- the catalog: a revision effective from an earlier date ---------------------------------------

V1_ON = TODAY - timedelta(days=60)
V2_ON = TODAY - timedelta(days=2)


def revised_entry() -> CatalogEntry:
    return given(CatalogEntry, *approved(), published(on=V1_ON), revision_started(), submitted(2), reviewed(2),
                 published(2, on=V2_ON))


def test_the_office_dates_a_revision_from_when_it_took_effect() -> None:
    e = revised_entry()
    e.correct_effective_date(later(T0), version=2, effective_on=TODAY - timedelta(days=20), reason="按发文日期生效")
    then(e, event(CatalogEntry.EffectiveDateCorrected, version=2, effective_on=TODAY - timedelta(days=20),
                  corrects="published_on", corrects_version=8))  # its Published event
    assert e.current is not None and e.current.published_on == TODAY - timedelta(days=20)


def test_time1_only_the_office_dates_a_revision() -> None:
    e = revised_entry()
    with refused("TIME-1", e):
        e.correct_effective_date(ctx(REVIEWER, T0), version=2, effective_on=TODAY - timedelta(days=20), reason="x")


def test_time2_a_revision_is_never_dated_before_the_version_it_supersedes() -> None:
    e = revised_entry()
    with refused("TIME-2", e):
        e.correct_effective_date(later(T0), version=2, effective_on=V1_ON - timedelta(days=1), reason="x")


@pytest.mark.parametrize("days", [0, 1], ids=["as_recorded", "later_than_recorded"])
def test_time3_a_revision_is_dated_only_earlier_than_recorded(days: int) -> None:
    e = revised_entry()
    with refused("TIME-3", e):
        e.correct_effective_date(later(T0), version=2, effective_on=V2_ON + timedelta(days=days), reason="x")


def test_an_unpublished_version_has_no_effective_date_to_correct() -> None:
    e = revised_entry()
    with invalid(e):
        e.correct_effective_date(later(T0), version=3, effective_on=V1_ON, reason="x")


# -- systems: go-live and shutdown dated when they happened ----------------------------------------

SYSTEM_ID = uuid5(NAMESPACE_URL, "test:system:1")
IS = InformationSystem


def live_system() -> InformationSystem:
    history = live()
    return replay(IS, SYSTEM_ID, *history, start=T0 - timedelta(days=30))


def test_the_office_dates_a_go_live_when_it_happened() -> None:
    s = live_system()
    on = TODAY - timedelta(days=5)
    s.correct_go_live(later(T0), on=on, reason="实际于该日上线")
    then(s, event(IS.GoLiveDateCorrected, on=on, corrects="live_since", corrects_version=7))
    assert s.live_since == on


def test_time1_only_the_office_dates_a_go_live() -> None:
    s = live_system()
    with refused("TIME-1", s):
        s.correct_go_live(ctx(MANAGER, T0), on=TODAY - timedelta(days=5), reason="x")


def test_time2_a_go_live_is_never_dated_before_the_approval() -> None:
    s = live_system()
    approved_on = s.approved_on
    assert approved_on is not None
    with refused("TIME-2", s):
        s.correct_go_live(later(T0), on=approved_on - timedelta(days=1), reason="x")


def test_time3_a_go_live_is_dated_only_earlier_than_recorded() -> None:
    s = live_system()
    with refused("TIME-3", s):
        s.correct_go_live(later(T0), on=TODAY, reason="x")


def test_the_office_dates_a_shutdown_never_before_the_go_live() -> None:
    history = (*live(), past(IS.ChangeFiled, MANAGER, filing=1, kind="shutdown", description="停用",
                             affects_sharing=False, needs_confirmation=False),
               past(IS.ChangeImplemented, MANAGER, filing=1, on=TODAY),
               past(IS.Decommissioned, MANAGER, on=TODAY, entries_flagged=()))
    s = replay(IS, SYSTEM_ID, *history, start=T0 - timedelta(days=30))
    s.live_since = TODAY - timedelta(days=10)  # as if its go-live had been dated earlier
    with refused("TIME-2", s):
        s.correct_shutdown(later(T0), on=TODAY - timedelta(days=11), reason="x")
    with refused("TIME-1", s):
        s.correct_shutdown(ctx(MANAGER, T0), on=TODAY - timedelta(days=3), reason="x")
    s.correct_shutdown(later(T0), on=TODAY - timedelta(days=3), reason="实际停用日期")
    then(s, event(IS.ShutdownDateCorrected, on=TODAY - timedelta(days=3), corrects="decommissioned_on",
                  corrects_version=10))
