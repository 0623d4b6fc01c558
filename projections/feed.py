"""The feed index: for every ledger event its CloudEvents type, its subject and who may see it.

Event payloads stay in the event store; this view holds only what filtering and scoping need, so
`GET /events`, the stream and webhooks answer "which positions may this organization see" from
indexes. The audience of an object is fixed by its first event (the organization that owns it,
both sides of a grant, ...); catalog entries become public at publication; an access-log batch is
seen by every holder and provider it names. The Office and auditors see everything and need no
rows here. `*` in `feed_audience` means everyone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from eventsourcing.utils import get_topic, resolve_topic

from infrastructure.cloudevents import catalogue, subject_of
from infrastructure.sql import Tx
from projections.base import View

EVERYONE = "*"

FEED_DDL = (
    "CREATE TABLE IF NOT EXISTS feed_events (position BIGINT PRIMARY KEY, type TEXT NOT NULL, subject TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS feed_events_subject ON feed_events (subject, position)",
    "CREATE INDEX IF NOT EXISTS feed_events_type ON feed_events (type, position)",
    "CREATE TABLE IF NOT EXISTS feed_audience (org TEXT NOT NULL, position BIGINT NOT NULL, PRIMARY KEY (org, position))",
    "CREATE TABLE IF NOT EXISTS feed_subjects (subject TEXT PRIMARY KEY, orgs TEXT NOT NULL, public INTEGER NOT NULL)",
)

# Who owns an object, read from its first event. A kind not listed is seen by the Office and auditors only.
OWNERS: dict[str, Callable[[Any], Iterable[str]]] = {
    "organization": lambda e: (e.code,),
    "catalog-entry": lambda e: (e.provider,),
    "share-request": lambda e: (e.requester,),
    "implementation-order": lambda e: (e.holder, *(g.provider for g in e.new_grants)),
    "grant": lambda e: (e.spec.holder, e.spec.provider),
    "grant-review": lambda e: (e.holder, e.provider),
    "system": lambda e: (e.owner,),
    "maintenance-ticket": lambda e: (e.organization,),
    "batch-modification": lambda e: (e.division,),
    "objection": lambda e: (e.objector, e.provider),
    "access-log": lambda e: {o for r in e.records for o in (r.holder, r.provider)},
}
# Events of a published catalog entry that everyone may see (the published catalog).
PUBLIC_CATALOG = frozenset({"Published", "DataRefreshed", "Retired"})
# Events that widen an organization's own audience: the unit it authorises as its service unit.
EXTRA: dict[str, Callable[[Any], Iterable[str]]] = {
    "ServiceAuthorised": lambda e: (e.authorisation.serves,),
    "ServiceAuthorisationWithdrawn": lambda e: (e.serves,),
}


class FeedView(View):
    """事件订阅索引: type, subject and audience of each event, for integrators' feeds."""

    name = "feed"
    version = 1
    tables = ("feed_events", "feed_audience", "feed_subjects")
    all_topics = True
    time_travel: ClassVar[bool] = False
    text_ids = True  # the subject is the id's text; a whole decoding makes a UUID of it itself

    def __init__(self) -> None:
        super().__init__()
        self._events: list[tuple[int, str, str]] = []
        self._audience: list[tuple[str, int]] = []
        self._subjects: dict[str, tuple[frozenset[str], bool]] = {}
        self._dirty: set[str] = set()
        self._kinds: dict[str, tuple[type, bool]] = {}  # stored topic -> (its class, whether its fields are read)

    def create(self, tx: Tx) -> None:
        for statement in FEED_DDL:
            tx.execute(statement)

    def begin_page(self, tx: Tx) -> None:
        self._events, self._audience, self._subjects, self._dirty = [], [], {}, set()

    def _subject(self, tx: Tx, subject: str, first: bool = False) -> tuple[frozenset[str], bool]:
        if subject not in self._subjects and first:  # an object's first event: it has no row yet
            self._subjects[subject] = (frozenset(), False)
        if subject not in self._subjects:
            row = tx.execute("SELECT orgs, public FROM feed_subjects WHERE subject = ?", (subject,)).fetchone()
            self._subjects[subject] = ((frozenset(o for o in row["orgs"].split(",") if o), bool(row["public"]))
                                       if row else (frozenset(), False))
        return self._subjects[subject]

    def decode(self, notification: Any, mapper: Any) -> Any:
        """The domain event where the view reads its fields (an object's first event, whose fields name its
        owners; an event that widens an audience; an access-log batch, which names its own), else only its
        class, originator and version (`_Later`): most events of an object leave its audience as it was."""
        topic = notification.topic
        known = self._kinds.get(topic)
        if known is None:
            cls = resolve_topic(topic)
            t = catalogue().by_topic.get(get_topic(cls))
            known = self._kinds[topic] = (cls, t is not None and (t.kind == "access-log" or cls.__name__ in EXTRA))
        cls, whole = known
        if whole or notification.originator_version == 1:
            return mapper.to_domain_event(notification)
        return _Later(cls, str(notification.originator_id), notification.originator_version)

    def apply(self, tx: Tx, event: Any, position: int) -> None:
        cls = event.event_class if type(event) is _Later else type(event)
        t = catalogue().by_topic.get(get_topic(cls))
        if t is None:  # an event class no context registered: Office and auditors only
            return
        subject = subject_of(t.kind, event.originator_id)
        self._events.append((position, t.name, subject))
        name = cls.__name__
        orgs, public = self._subject(tx, subject, first=event.originator_version == 1)
        if event.originator_version == 1 and t.kind in OWNERS and t.kind != "access-log":
            orgs = frozenset(o for o in OWNERS[t.kind](event) if o)
        if name in EXTRA:
            orgs = orgs | frozenset(EXTRA[name](event))
        if t.kind == "catalog-entry" and name == "Published":
            public = True
        if (orgs, public) != self._subjects[subject]:
            self._subjects[subject] = (orgs, public)
            self._dirty.add(subject)
        if t.kind == "access-log":
            self._audience.extend((o, position) for o in sorted(OWNERS["access-log"](event)))
        elif public and t.kind == "catalog-entry" and name in PUBLIC_CATALOG:
            self._audience.append((EVERYONE, position))
        else:
            self._audience.extend((o, position) for o in sorted(orgs))

    def end_page(self, tx: Tx) -> None:
        tx.executemany("INSERT INTO feed_events (position, type, subject) VALUES (?, ?, ?)", self._events)
        tx.executemany("INSERT INTO feed_audience (org, position) VALUES (?, ?)", self._audience)
        rows = [(s, ",".join(sorted(self._subjects[s][0])), int(self._subjects[s][1])) for s in sorted(self._dirty)]
        tx.executemany("INSERT INTO feed_subjects (subject, orgs, public) VALUES (?, ?, ?) ON CONFLICT (subject) "
                       "DO UPDATE SET orgs = excluded.orgs, public = excluded.public", rows)
        self._events, self._audience, self._dirty = [], [], set()

class _Later:
    """A later event of an object as the feed reads it: its class, originator and version, nothing else."""

    __slots__ = ("event_class", "originator_id", "originator_version")

    def __init__(self, event_class: type, originator_id: str, originator_version: int) -> None:
        self.event_class, self.originator_id, self.originator_version = event_class, originator_id, originator_version


# Who sees what, in words (docs/events.md is generated from this and the event classes).
AUDIENCE_DOC: dict[str, str] = {
    "organization": "the organization itself (and, from its authorisation on, the service unit it authorises)",
    "catalog-entry": "the provider; everyone, for `published`, `data_refreshed` and `retired` of a published entry",
    "share-request": "the requester",
    "implementation-order": "the holder and every provider of a grant it creates",
    "grant": "the holder and the provider",
    "system": "the owner",
    "maintenance-ticket": "the organization that declared it",
    "batch-modification": "the requesting division",
    "objection": "the objector and the provider",
    "access-log": "every holder and provider named in the batch, each seeing only the records about it",
}
