"""The systems, maintenance, objection and compliance reads declare their rows in the served document: each
answer's schema is the row Struct its query returns (or a Page of them), and every field of the Struct is a
required property there, so a client generated from the document knows every key it will be sent."""

from __future__ import annotations

from typing import Any

import msgspec

from api.compliance import OrganizationBoard
from projections.compliance import SummaryLine, ViolationRow
from projections.maintenance_queries import (
    ArchiveRow,
    BatchDetail,
    BatchRow,
    ExecutionRow,
    ObjectionRow,
    TicketDetail,
    TicketRow,
)
from projections.systems_queries import ComplianceRow, QueueTask, SystemDetail, SystemRow
from tests.api.test_generated_client import served_document

PAGES = {
    "/systems": SystemRow, "/systems/compliance": ComplianceRow, "/systems/queue": QueueTask,
    "/maintenance/tickets": TicketRow, "/maintenance/tickets/queue": TicketRow,
    "/maintenance/archive": ArchiveRow, "/maintenance/batches": BatchRow, "/maintenance/batches/queue": BatchRow,
    "/maintenance/batches/refused": ExecutionRow, "/objections": ObjectionRow, "/objections/overdue": ObjectionRow,
    "/violations": ViolationRow, "/compliance/summary": SummaryLine,
}
ONES = {
    "/systems/{system_id}": SystemDetail, "/maintenance/tickets/{ticket_id}": TicketDetail,
    "/maintenance/batches/{batch_id}": BatchDetail, "/objections/{objection_id}": ObjectionRow,
    "/violations/{violation_id}": ViolationRow, "/compliance/organizations/{code}": OrganizationBoard,
}


def _answer(document: dict[str, Any], path: str) -> str:
    schema = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    return str(schema["$ref"]).rsplit("/", 1)[-1]


def _always_sent(row: type[msgspec.Struct]) -> set[str]:
    """The fields a row always carries (an UNSET default is a key that is sometimes left out)."""
    return {f.name for f in msgspec.structs.fields(row) if f.default is not msgspec.UNSET}


def test_each_read_declares_its_row_with_every_field(server):
    document = served_document(server)
    schemas = document["components"]["schemas"]
    for path, row in {**PAGES, **ONES}.items():
        name = _answer(document, path)
        if path in PAGES:
            assert name == f"{row.__name__}Page", path
            items = schemas[name]["properties"]["items"]["items"]["$ref"].rsplit("/", 1)[-1]
            assert items == row.__name__, path
        else:
            assert name == row.__name__, path
        declared = schemas[row.__name__]
        assert set(declared["properties"]) == {f.name for f in msgspec.structs.fields(row)}, path
        assert set(declared["required"]) == _always_sent(row), path
