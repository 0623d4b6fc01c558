"""The systems, maintenance, objection and compliance reads declare their rows in the served document: each
answer's schema is the row Struct its query returns (or a Page of them), and every field of the Struct is a
required property there, so a client generated from the document knows every key it will be sent. So do the
operations' answers (health, timelines, the state at a date and its changes, access-log receipts), down to
every Struct they hold; the two answers open by nature say why in the document."""

from __future__ import annotations

from typing import Any, get_args, get_origin

import msgspec

from api.compliance import OrganizationBoard
from api.state import StateAt, StateChanges
from api.system import Health
from application.history import ObjectAt, Timeline
from application.integrity import Checkpoint
from application.receipts import ReceiptFile, ReceiptPage
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
ANSWERS: dict[str, tuple[type[msgspec.Struct], ...]] = {
    "/health": (Health,), "/history/{kind}/{ident}": (Timeline, ObjectAt), "/state": (StateAt,),
    "/state/changes": (StateChanges,), "/access-logs/receipts": (ReceiptPage,),
    "/access-logs/receipts/{batch_id}": (ReceiptFile,),
}
OPEN = ("/ledger/proofs/{position}", "/events/types/{name}")
DEFAULTED = {Checkpoint: {"profile"}}
"""Fields always sent that the document does not require, because the Struct gives them a default (a checkpoint
of a store from before crypto profiles is `intl`)."""


def _schema(document: dict[str, Any], path: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    return schema


def _answer(document: dict[str, Any], path: str) -> str:
    return str(_schema(document, path)["$ref"]).rsplit("/", 1)[-1]


def _held(typ: Any, into: set[type[msgspec.Struct]]) -> None:
    """Every Struct a type holds, itself included, all the way down."""
    if isinstance(typ, type) and issubclass(typ, msgspec.Struct) and typ not in into:
        into.add(typ)
        for f in msgspec.structs.fields(typ):
            _held(f.type, into)
    for arg in get_args(typ) if get_origin(typ) is not None else ():
        _held(arg, into)


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


def test_each_operation_declares_its_answer_and_every_struct_it_holds_with_every_field(server):
    document = served_document(server)
    schemas = document["components"]["schemas"]
    for path, answers in ANSWERS.items():
        schema = _schema(document, path)
        refs = [schema] if len(answers) == 1 else schema["oneOf"]
        assert [str(r["$ref"]).rsplit("/", 1)[-1] for r in refs] == [a.__name__ for a in answers], path
        held: set[type[msgspec.Struct]] = set()
        for answer in answers:
            _held(answer, held)
        for struct in held:
            declared = schemas[struct.__name__]
            fields = msgspec.structs.fields(struct)
            assert set(declared["properties"]) == {f.encode_name for f in fields}, (path, struct)
            always = {f.encode_name for f in fields if f.default is not msgspec.UNSET} - DEFAULTED.get(struct, set())
            assert set(declared.get("required", ())) == always, (path, struct)


def test_the_answers_open_by_nature_say_why_in_the_document(server):
    document = served_document(server)
    for path in OPEN:
        ok = document["paths"][path]["get"]["responses"]["200"]
        assert ok["content"]["application/json"]["schema"].get("type") == "object", path
        assert "declared open" in ok["description"], path
