"""The edge contract: what a value may be, declared once as msgspec constraints.

The API decodes its bodies into types built from these aliases, so the same declaration refuses
bad input with a 400 and is published in the OpenAPI document; the domain's value Structs use
them too, so an event can only hold what every store and every read model can hold. Patterns are
anchored with `(?!\\n)$` because msgspec matches with `re.search`, where a bare `$` also accepts
a trailing newline.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import msgspec

from domain.rules import OutOfRange

MAX_INT64 = 2**63 - 1

MAX_RECORD_COUNT = 1_000_000_000
"""Records in one delivery, one maintenance change or one batch modification (10^9).

Views sum record counts per entry and day in 64-bit columns (and maintenance counts in 32-bit
ones): at most 10^9 per record, a day would need over 9.2 x 10^9 records at the maximum on one
entry -- 922,000 batches of 10,000 -- to overflow the sum, and one count always fits INTEGER."""

MAX_ITEMS = 500
"""Data items of an entry, fields asked or granted, entries of a request or a project catalog."""

MAX_BATCH = 10_000
"""Records of one access-log batch."""


def _whole(body: str) -> str:
    return f"^{body}(?!\\n)$"


ORG_CODE_PATTERN = _whole("[a-z0-9][a-z0-9-]{1,63}")
CODE_PATTERN = _whole("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
NAME_PATTERN = _whole("[^\\x00-\\x1f\\x7f-\\x9f/\\\\?#%<>\"]{1,64}")
TOKEN_PATTERN = _whole("[!-~]{1,200}")
"""Printable ASCII without spaces: the idempotency key, request and webhook ids, digests."""

OrgCode = Annotated[str, msgspec.Meta(
    pattern=ORG_CODE_PATTERN, max_length=64,
    description="An organization code: 2-64 of a-z, 0-9 and '-', starting with a letter or digit.")]
Code = Annotated[str, msgspec.Meta(
    pattern=CODE_PATTERN, max_length=64,
    description="A resource, data item or system code: 1-64 of A-Z, a-z, 0-9, '_', '.', '-'.")]
PersonName = Annotated[str, msgspec.Meta(
    pattern=NAME_PATTERN, max_length=64,
    description="A person's name (any script): 1-64 characters, no control characters, no / \\ ? # % < > \".")]
Token = Annotated[str, msgspec.Meta(
    pattern=TOKEN_PATTERN, max_length=200, description="1-200 printable ASCII characters, no spaces.")]
ShortText = Annotated[str, msgspec.Meta(max_length=200, description="At most 200 characters.")]
Text = Annotated[str, msgspec.Meta(max_length=2_000, description="At most 2,000 characters.")]
LongText = Annotated[str, msgspec.Meta(max_length=20_000, description="At most 20,000 characters.")]
Url = Annotated[str, msgspec.Meta(max_length=2_000, description="An absolute http(s) URL, at most 2,000 characters.")]

RecordCount = Annotated[int, msgspec.Meta(
    ge=0, le=MAX_RECORD_COUNT, description="A number of records, 0 to 1,000,000,000.")]
PositiveCount = Annotated[int, msgspec.Meta(
    ge=1, le=MAX_RECORD_COUNT, description="A number of records, 1 to 1,000,000,000.")]
Position = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT64, description="A ledger position (0 to 2^63-1).")]
SmallNumber = Annotated[int, msgspec.Meta(ge=0, le=1_000_000, description="A sequence number (0 to 1,000,000).")]

ItemCodes = Annotated[tuple[Code, ...], msgspec.Meta(max_length=MAX_ITEMS, description="At most 500 codes.")]
ItemCodeList = Annotated[list[Code], msgspec.Meta(max_length=MAX_ITEMS, description="At most 500 codes.")]
Findings = Annotated[tuple[Text, ...], msgspec.Meta(max_length=100, description="At most 100 findings.")]

T = TypeVar("T")


def check(value: T, typ: Any, field: str) -> T:
    """Refuses, naming the field, a value the edge contract does not allow (for callers that are not the API)."""
    try:
        msgspec.convert(value, typ)
    except msgspec.ValidationError as e:
        raise OutOfRange(field, str(e)) from None
    return value
