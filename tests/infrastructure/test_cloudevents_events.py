"""The CloudEvents mapping: one documented, well-formed type per event class; the reference is current."""

from __future__ import annotations

import re
from pathlib import Path

from application.events_reference import REFERENCE_MARK, events_reference
from domain.timeline import KINDS
from infrastructure.cloudevents import catalogue, data_schema, event_classes, type_name

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
MARK = REFERENCE_MARK + "\n\n"


def test_every_event_class_has_one_type_and_a_schema_without_envelope_fields():
    classes = [cls for aggregate in KINDS.values() for cls in event_classes(aggregate)]
    cat = catalogue()
    assert len(cat.by_name) == len(classes) == len(cat.by_topic)
    for t in cat.by_name.values():
        assert re.fullmatch(r"cn\.gov\.shaanxi\.mz(\.[a-z]+)+(_[a-z]+)*([a-z_]*)", t.name), t.name
        schema = data_schema(t)
        assert "actor" in schema["properties"] and not {"originator_id", "cause", "timestamp"} & set(schema["properties"])
        assert schema["$id"].endswith(f":{t.version}")


def test_type_names_follow_the_documented_rule():
    assert type_name("catalog-entry", "Published") == "cn.gov.shaanxi.mz.catalog.entry.published"
    assert type_name("grant", "SuspendedForCatalog") == "cn.gov.shaanxi.mz.grant.suspended_for_catalog"


def test_the_reference_in_docs_is_generated_from_the_current_classes():
    text = DOC.read_text(encoding="utf-8")
    assert MARK in text, "docs/events.md lost its generated-section marker"
    assert text.count(REFERENCE_MARK) == 1, "docs/events.md has stray text around its generated-section marker"
    assert text.split(MARK, 1)[1] == events_reference(), "regenerate docs/events.md (application.feeds.events_reference)"
