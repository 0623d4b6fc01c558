"""Schema versions end to end: an event stored by an older version is delivered in the current shape.

No real event has changed yet, so a test-only aggregate stands in (`tests.sample_aggregate`):
`Sample.Renamed` is at version 2 (it gained `language`), and `SampleV1.Renamed` is how version 1 looked. The old event is written
through the ledger's own mapper and recorder, exactly the bytes version 1 stored, under the topic the
event has always had.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from domain.base import Actor, Cause
from domain.timeline import KINDS
from infrastructure.cloudevents import catalogue
from tests.sample_aggregate import Sample, SampleV1

RENAMED = "cn.gov.shaanxi.mz.test.sample.renamed"
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WHO = Actor(person="张三", organization="office", role="office_admin")
WHY = Cause(command="sample.rename")


@pytest.fixture
def sample_kind(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(KINDS, Sample.KIND, Sample)
    catalogue.cache_clear()
    yield
    monkeypatch.undo()
    catalogue.cache_clear()


def test_an_event_stored_at_version_1_is_delivered_as_the_current_version(
        sample_kind, runtime, server, admin_token):
    ledger = runtime.ledger
    oid = uuid4()
    created = Sample.Created(originator_id=oid, originator_version=1, timestamp=AT, actor=WHO, cause=WHY,
                             originator_topic=get_topic(Sample))
    old = ledger.mapper.to_stored_event(SampleV1.Renamed(originator_id=oid, originator_version=2, timestamp=AT,
                                                         actor=WHO, cause=WHY, name="民政厅"))
    assert b"language" not in old.state and b"class_version" not in old.state  # as version 1 wrote it
    new = Sample.Renamed(originator_id=oid, originator_version=3, timestamp=AT, actor=WHO, cause=WHY,
                         name="Civil Affairs", language="en")
    ledger.recorder.insert_events([
        ledger.mapper.to_stored_event(created),
        StoredEvent(oid, 2, get_topic(Sample.Renamed), old.state),  # the topic the event has always had
        ledger.mapper.to_stored_event(new),
    ])
    with server.client(admin_token) as c:
        page = c.get("/events", params={"type": RENAMED}).json()
        types = {t["type"]: t for t in c.get("/events/types").json()["items"]}
        schema = c.get(f"/events/types/{RENAMED}").json()
    assert [e["id"] for e in page["events"]] == [f"{oid}:2", f"{oid}:3"]
    assert [(e["data"]["name"], e["data"]["language"]) for e in page["events"]] == [
        ("民政厅", "zh-CN"), ("Civil Affairs", "en")]
    assert {e["dataschema"] for e in page["events"]} == {f"urn:civic-ledger:schema:{RENAMED}:2"}
    assert types[RENAMED]["version"] == 2
    assert "language" in schema["required"]
    # The stored bytes were not rewritten: the old event is still version 1 in the store.
    assert ledger.stored_events_of(oid)[1][1].state == old.state
