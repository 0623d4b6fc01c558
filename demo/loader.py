"""A realistic demo data set, loaded once through the use-case services so every fact is a real event.

The Office registers the divisions, affiliated units, the ten city bureaus of Shaanxi, some county
bureaus, other provincial departments, one municipal government and one service unit, and
designates their members. Providers (civil-affairs bodies, and four provincial departments whose
data civil affairs receives by exchange) then compile about eighty catalog entries, each taken along
its own path (`Entry.flow`) by the persons the rules require: the provider's compiler drafts and
submits, its reviewer reviews, the Office publishes provincial entries (CAT-3) and accepts the one
re-collected datum (CAT-5), and city and county reviewers publish their own entries.

How overdue entries (CAT-7) arise. An entry's last update is its effective publication date or
its latest recorded data refresh, whichever is later. Wave one compiles and publishes, with
publication dates six weeks back; wave two has the providers record a data refresh for every
published entry except those whose flow is `stale` (daily, weekly and monthly entries nobody keeps
current), then revises and retires. So the stale entries are overdue as soon as the load ends,
under the wall clock as well as under a test's clock (which the demo also moves forward by the same
six weeks between the waves when it can).

Sharing (`demo.sharing`) is loaded between the waves: departments request published
entries, the Office reviews and issues implementation orders, and grants are suspended, resumed,
revoked and used. Wave two then retires entries some grants depend on (which suspends those
grants), and a last sweep records the grants whose period the clock has passed.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from application.catalog import CatalogService
from application.common import Command, NotFound, Principal
from demo.data import (
    COMMON_ITEMS,
    DEMO_ADMIN,
    DEMO_MARKER,
    ENTRIES,
    OFFICE_MEMBERS,
    ORGANIZATIONS,
    SERVICE_AUTHORISATION,
    Entry,
)
from demo.maintenance import load_maintenance_demo, maintenance_summary
from demo.parts import DemoParts, Services, Store
from demo.sharing import SharingLoader, sharing_summary
from demo.systems import load_systems_demo, systems_summary
from demo.traffic import load_demo_traffic
from domain.base import ledger_date
from domain.catalog import CatalogEntry, entry_id
from domain.catalog_values import (
    Check,
    DataItem,
    DeliveryMethod,
    EntryContent,
    OpenClass,
    Review,
    ReviewDecision,
    Sensitivity,
    ShareClass,
    UpdateCycle,
)
from domain.grant_reviews import ReviewOutcome, review_id
from domain.organizations import OFFICE_CODE, Level, Role

#: The entry whose revision withdraws batch download in wave two, queueing its grants for re-review.
WITHDRAWN = "610000-SHJZ-006"
STATUSES = ("drafted", "submitted", "returned", "approved", "published", "revising", "retired")
WAVE_GAP = timedelta(days=42)
"""How far a movable clock is advanced between publication and upkeep (longer than a monthly cycle plus grace)."""

_METHODS = {
    "IF": DeliveryMethod.INTERFACE, "FE": DeliveryMethod.FRONT_END_PROCESSOR,
    "OQ": DeliveryMethod.ONLINE_QUERY, "BD": DeliveryMethod.BATCH_DOWNLOAD,
}
_PASS = Review(
    accuracy=Check(True, "数据项名称、类型与源系统字段一致。"),
    completeness=Check(True, "核心元数据齐全，数据项覆盖业务需要。"),
    compliance=Check(True, "共享、开放属性及条件符合《办法》第二十条。"),
)


def load_demo(parts: DemoParts) -> dict[str, Any]:
    """Loads the demo once; returns counts, entries by status, and the new Office admin token (None if already loaded)."""
    services, store = parts.services, parts.store
    if services.organizations.find(DEMO_MARKER) is not None:
        _release(store)
        return summary(services, store, admin_token=None)
    _, token = parts.first_admin(admin=DEMO_ADMIN)
    loader = _Loader(services, store)
    loader.organizations()
    published = loader.publish_wave()
    sharing = SharingLoader(services, store, loader.office, loader.people, {e.code: e.org for e in ENTRIES})
    sharing.load()
    maintenance = load_maintenance_demo(services, store, loader.office)
    loader.upkeep_wave(published)
    loader.withdraw_batch_download()
    sharing.expire()
    maintenance.late()
    load_systems_demo(services, store, loader.office)
    _release(store)  # the demo's history is in the past; today's traffic is recorded now
    load_demo_traffic(services, store)
    services.monitors.run(store.now())  # the day's denied accesses, overdue entries and objections become candidates
    return summary(services, store, admin_token=token)


def summary(services: Services, store: Store, *, admin_token: str | None) -> dict[str, Any]:
    """What of the demo is in the ledger, read from the aggregates themselves."""
    orgs = sum(1 for code in (OFFICE_CODE, *(o.code for o in ORGANIZATIONS)) if services.organizations.find(code))
    counts: Counter[str] = Counter()
    for e in ENTRIES:
        try:
            counts[services.catalog.load(entry_id(e.code)).status] += 1
        except NotFound:
            continue
    by_status = {s: counts[s] for s in STATUSES if counts[s]}
    return {"organizations": orgs, "entries": sum(counts.values()), "by_status": by_status,
            **sharing_summary(services, store), **maintenance_summary(store), **systems_summary(store),
            **traffic_summary(store), "admin_token": admin_token}


def _release(store: Store) -> None:
    release = getattr(store.clock, "release", None)
    if callable(release):
        release()


class DemoClock:
    """The wall clock, shifted back while the demo loads so its history spreads over past weeks.

    `advance` moves the demo's time towards now (never past it); `release` makes it the wall clock
    again, so the running service records the present as it is.
    """

    def __init__(self, back: timedelta = WAVE_GAP + timedelta(days=7)) -> None:
        self._back = back
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) - self._back

    def advance(self, **delta: float) -> None:
        with self._lock:
            self._back = max(timedelta(0), self._back - timedelta(**delta))

    def release(self) -> None:
        with self._lock:
            self._back = timedelta(0)


def traffic_summary(store: Store) -> dict[str, Any]:
    """The access log's records by outcome (the demo's day of traffic)."""
    store.projector.wait_for(store.ledger.max_position(), "access_log")
    rows = store.ledger.db.query("SELECT outcome, COUNT(*) AS n FROM access_log GROUP BY outcome ORDER BY outcome")
    store.projector.wait_for(store.ledger.max_position(), "compliance")
    cases = store.ledger.db.query("SELECT kind, COUNT(*) AS n FROM violations GROUP BY kind ORDER BY kind")
    return {"access_log_by_outcome": {r["outcome"]: int(r["n"]) for r in rows},
            "violation_candidates_by_kind": {r["kind"]: int(r["n"]) for r in cases}}


def content(e: Entry, *, extra: str | None = None) -> EntryContent:
    """The entry's content; `extra` adds one data item (a fix after return, or a revision)."""
    tokens = e.items.split() + ([extra] if extra else [])
    share, share_text = e.share
    open_class, open_text = e.open
    methods = tuple(_METHODS[m] for m in e.via.split())
    return EntryContent(
        name=e.name, summary=e.summary, category=e.category,
        format="结构化数据（数据库表）" if {"IF", "FE"} & set(e.via.split()) else "电子文件（CSV/XLSX）",
        data_items=tuple(_item(e, t) for t in tokens),
        share_class=ShareClass(share), open_class=OpenClass(open_class),
        delivery_methods=methods, update_cycle=UpdateCycle(e.cycle), source_system=e.system,
        share_conditions=share_text if share == "restricted" else None,
        legal_basis=share_text if share == "not_shareable" else None,
        open_conditions=open_text,
    )


def _item(e: Entry, token: str) -> DataItem:
    """`SUFFIX` (a common item), `SUFFIX:名称[:type[:sensitivity]]`, or `=CODE:名称` (another entry's datum)."""
    parts = token.split(":")
    if parts[0].startswith("="):
        return DataItem(code=parts[0][1:], name=parts[1], type="string", sensitivity=Sensitivity.INTERNAL,
                        duplicate_justification=e.dup)
    code = f"{e.prefix}_{parts[0]}"
    if len(parts) == 1:
        name, kind, sensitivity = COMMON_ITEMS[parts[0]]
    else:
        name = parts[1]
        kind = parts[2] if len(parts) > 2 else "string"
        sensitivity = parts[3] if len(parts) > 3 else "internal"
    return DataItem(code=code, name=name, type=kind, sensitivity=Sensitivity(sensitivity))


def _returned(comment: tuple[str, str]) -> Review:
    failed, text = comment
    checks = {
        "accuracy": _PASS.accuracy, "completeness": _PASS.completeness, "compliance": _PASS.compliance,
        failed: Check(False, text),
    }
    return Review(**checks)


def _cmd(name: str) -> Command:
    return Command(name=name, request_id="civic-ledger demo")


class _Loader:
    def __init__(self, services: Services, store: Store) -> None:
        self.services, self.store = services, store
        self.office = Principal(person=DEMO_ADMIN, organization=OFFICE_CODE, roles=frozenset({Role.OFFICE_ADMIN}))
        self.people: dict[str, dict[str, Principal]] = {}
        self.levels: dict[str, Level] = {}

    # -- organizations --------------------------------------------------------------------

    def organizations(self) -> None:
        orgs = self.services.organizations
        for person, role in OFFICE_MEMBERS:
            orgs.assign_role(self.office, _cmd("organization.assign_role"), code=OFFICE_CODE, person=person, role=Role(role))
        for o in ORGANIZATIONS:
            orgs.register(self.office, _cmd("organization.register"), code=o.code, name=o.name, kind=o.kind,
                          level=o.level, parent=o.parent)
            self.levels[o.code] = o.level
            for person, role in o.members:
                orgs.assign_role(self.office, _cmd("organization.assign_role"), code=o.code, person=person, role=Role(role))
                self.people.setdefault(o.code, {})[role] = Principal(
                    person=person, organization=o.code, roles=frozenset({role}))
        a = SERVICE_AUTHORISATION
        grantor = Principal(person=a.grantor, organization=a.serves, roles=frozenset({a.grantor_role}))
        orgs.authorise_service(grantor, _cmd("organization.authorise_service"), code=a.unit, serves=a.serves,
                               valid_from=a.valid_from, valid_to=a.valid_to, scope=a.scope)

    # -- catalog ----------------------------------------------------------------------------

    def publish_wave(self) -> list[Entry]:
        """Wave one: every entry goes as far as its flow before publication; returns the published ones."""
        return [e for e in ENTRIES if self._compile(e)]

    def upkeep_wave(self, published: list[Entry]) -> None:
        """Wave two, six weeks later when the clock can be moved: refreshes, revisions and retirements."""
        advance = getattr(self.store.clock, "advance", None)
        if callable(advance):
            advance(days=WAVE_GAP.days)
        for e in published:
            self._upkeep(e)

    def withdraw_batch_download(self) -> None:
        """The relief standards stop being offered by batch download: the cities' grants on it are queued for
        re-review by the publication, the Office dates the revision from its notice and decides the first re-review
        (the rest stay in its queue)."""
        e = next(x for x in ENTRIES if x.code == WITHDRAWN)
        cat, eid = self.services.catalog, entry_id(e.code)
        online = msgspec.structs.replace(content(e), delivery_methods=(DeliveryMethod.ONLINE_QUERY,))
        cat.revise(self._compiler(e), _cmd("catalog.revise"), eid, content=online)
        cat.submit(self._compiler(e), _cmd("catalog.submit"), eid)
        cat.review(self._reviewer(e), _cmd("catalog.review"), eid, review=_PASS, decision=ReviewDecision.APPROVE)
        affected = [g.id for g in self.services.sharing.live_grants_on_entry(eid)
                    if g.spec.method == DeliveryMethod.BATCH_DOWNLOAD]
        version = cat.load(eid).pending
        cat.publish(self._publisher(e), _cmd("catalog.publish"), eid)
        # the notice took effect three days before the revision was published: the Office dates it (TIME-1)
        published = cat.load(eid).current
        if published is not None and published.published_on is not None:
            cat.correct_effective_date(self.office, _cmd("catalog.correct_effective_date"), eid,
                                       version=published.number, effective_on=published.published_on - timedelta(days=3),
                                       reason="依厅通知，停止批量下载自通知印发之日起执行。")
        if affected and version is not None:
            self.services.sharing.close_review(self.office, _cmd("grant_review.close"), review_id(affected[0], version.number),
                                         decision=ReviewOutcome.KEEP,
                                         comment="该市已改用联机查询调取年度标准，现有授权保留至到期。")

    def _compiler(self, e: Entry) -> Principal:
        return self.people[e.org]["catalog_compiler"]

    def _reviewer(self, e: Entry) -> Principal:
        return self.people[e.org]["catalog_reviewer"]

    def _publisher(self, e: Entry) -> Principal:
        """Provincial entries are published (and retired) by the Office (CAT-3); others by their own reviewer."""
        return self.office if self.levels[e.org] == Level.PROVINCE else self._reviewer(e)

    def _compile(self, e: Entry) -> bool:
        """Wave one: takes the entry as far as its flow goes before publication; True if it was published."""
        cat, compiler, reviewer = self.services.catalog, self._compiler(e), self._reviewer(e)
        eid = cat.draft(compiler, _cmd("catalog.draft"), resource_code=e.code, content=content(e)).aggregate_id
        assert eid is not None
        if e.flow == "drafted":
            return False
        cat.submit(compiler, _cmd("catalog.submit"), eid)
        if e.flow == "submitted":
            return False
        if e.flow in ("returned", "fixed"):
            assert e.comment is not None
            cat.review(reviewer, _cmd("catalog.review"), eid, review=_returned(e.comment), decision=ReviewDecision.RETURN)
            if e.flow == "returned":
                return False
            cat.revise_draft(compiler, _cmd("catalog.revise_draft"), eid, content=content(e, extra=e.extra))
            cat.submit(compiler, _cmd("catalog.submit"), eid)
        cat.review(reviewer, _cmd("catalog.review"), eid, review=_PASS, decision=ReviewDecision.APPROVE)
        for item in content(e).data_items:
            if item.duplicate_justification:
                cat.accept_duplicate(self.office, _cmd("catalog.accept_duplicate"), eid, item_code=item.code)
        if e.flow == "approved":
            return False
        # Publication dates are effective dates six weeks back, so that under the real clock the
        # entries nobody refreshes in wave two are overdue at once (CAT-7).
        cat.publish(self._publisher(e), _cmd("catalog.publish"), eid, published_on=ledger_date(self.store.now() - WAVE_GAP))
        return True

    def _upkeep(self, e: Entry) -> None:
        """Wave two: providers refresh what they keep current, open new versions, retire what is replaced."""
        cat, eid = self.services.catalog, entry_id(e.code)
        if e.flow == "retired":
            assert e.reason is not None
            cat.retire(self._publisher(e), _cmd("catalog.retire"), eid, reason=e.reason)
            return
        if e.flow != "stale":
            cat.record_refresh(self._compiler(e), _cmd("catalog.refresh"), eid, as_of=self.store.now())
        if e.flow == "revising":
            compiler, reviewer = self._compiler(e), self._reviewer(e)
            cat.revise(compiler, _cmd("catalog.revise"), eid, content=content(e, extra=e.extra))
            if e.stage in ("submitted", "approved"):
                cat.submit(compiler, _cmd("catalog.submit"), eid)
            if e.stage == "approved":
                cat.review(reviewer, _cmd("catalog.review"), eid, review=_PASS, decision=ReviewDecision.APPROVE)


def demo_entry(catalog: CatalogService, resource_code: str) -> CatalogEntry:
    """One demo entry by its resource code (for tests and walk-throughs)."""
    return catalog.load(entry_id(resource_code))
