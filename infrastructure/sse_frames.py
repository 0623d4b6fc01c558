"""A page of stored events as Server-Sent Events frames of their CloudEvents, written into one buffer.

Each frame is byte for byte what `api.events.EncodedEvents` makes of `(position, msgspec.json.encode(envelope(
event, ...)))` after the typed round trip (`to_domain_event`, `public_data`): `id: P`, `data: <the CloudEvent>`,
a blank line. It is built without that round trip. The stored state is canonical JSON of the event's fields
with sorted keys (`infrastructure.transcoding.encode_state`), and `data` is those fields with sorted keys too
(`public_data`), but the envelope's fields and with the actor cut to organization, role and on-behalf-of; so
the stored JSON is split into its top-level values (`msgspec.Raw`, not decoded) and `data` is written from
them. The constant parts of the envelope (`source`, `type`, the subject's kind, `dataschema`) are encoded once
per event type.

An event takes the typed round trip instead (`typed`, given by the caller) when the stored state is not what
the current class would store: an older schema version (upcast on decoding), a field missing or not
declared; and when the caller asks for it (an access-log batch, whose `data` carries a receipt). The test
`tests/infrastructure/test_sse_frames.py` holds the two paths byte for byte equal for every event type.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime

import msgspec

from infrastructure.cloudevents import (
    ENVELOPE_FIELDS,
    SPEC_VERSION,
    EventActor,
    EventType,
    catalogue,
)

_json = msgspec.json.Encoder()
_fields = msgspec.json.Decoder(dict[str, msgspec.Raw])
_instant = msgspec.json.Decoder(datetime)


class _StoredActor(msgspec.Struct):
    organization: str
    role: str
    on_behalf_of: str | None = None


_actor = msgspec.json.Decoder(_StoredActor)


@dataclasses.dataclass(frozen=True)
class Shape:
    """What every event of one type shares in its frame."""

    after_id: bytes
    """From the end of `id` to the opening quote of the subject's id: source, type, the subject's kind."""
    after_subject: bytes
    """From the end of the subject to `time`'s value."""
    before_position: bytes
    """From the end of `time` to `ledgerposition`'s value: datacontenttype, dataschema."""
    names: tuple[str, ...]
    """The keys of `data`, in its order (sorted, as `public_data` sorts them)."""
    stored: frozenset[str]
    """The keys the current class stores: any other key (or one of these missing) takes the typed path."""
    version: int


def _data_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.name not in ENVELOPE_FIELDS)


def _shape(t: EventType, source: str) -> Shape:
    names = _data_names(t.cls)
    stored = frozenset(f.name for f in dataclasses.fields(t.cls)) - {"originator_id", "originator_version"}
    return Shape(
        after_id=b'","source":' + _json.encode(source) + b',"type":' + _json.encode(t.name)
        + b',"subject":' + _json.encode(f"{t.kind}/")[:-1],
        after_subject=b'","time":',
        before_position=b',"datacontenttype":"application/json","dataschema":' + _json.encode(t.dataschema)
        + b',"ledgerposition":',
        names=tuple(sorted((*names, "actor"))), stored=stored, version=t.version)


def hyphenated(hex_id: str) -> str:
    """A UUID's 32 hex digits (SQLite's column) as `str(UUID(...))` writes it."""
    h = hex_id.lower()
    if len(h) != 32:
        raise ValueError(f"not a UUID's hex digits: {hex_id!r}")
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class FrameWriter:
    """Writes pages of stored rows as SSE frames; one per feed (its `source`), shared by its streams."""

    def __init__(self, plain_state: Callable[[bytes], bytes]) -> None:
        self.plain_state = plain_state
        """The stored state as JSON (decrypted and decompressed, as the mapper does)."""
        self.source = ""
        self._shapes: dict[str, Shape | None] = {}
        self._actors: dict[bytes, bytes] = {}

    def shape(self, topic: str) -> Shape | None:
        """None for a topic no context registered (in no feed)."""
        try:
            return self._shapes[topic]
        except KeyError:
            t = catalogue().by_topic.get(topic)
            s = self._shapes[topic] = None if t is None else _shape(t, self.source)
            return s

    def _actor_json(self, raw: msgspec.Raw) -> bytes:
        key = bytes(raw)
        out = self._actors.get(key)
        if out is None:
            a = _actor.decode(key)
            out = _json.encode(EventActor(a.organization, str(a.role), a.on_behalf_of))
            if len(self._actors) >= 4096:
                self._actors.clear()
            self._actors[key] = out
        return out

    def data(self, shape: Shape, state: bytes) -> tuple[bytes, bytes] | None:
        """(`data` as JSON, `time` as JSON) written from the stored JSON, or None when it must take the typed path."""
        fields = _fields.decode(state)
        if fields.keys() != shape.stored and not (
                shape.version > 1 and fields.keys() - {"class_version"} == shape.stored
                and msgspec.json.decode(fields["class_version"]) == shape.version):
            return None
        values = {n: (msgspec.Raw(self._actor_json(fields[n])) if n == "actor" else fields[n]) for n in shape.names}
        when = _instant.decode(fields["timestamp"]).isoformat()
        return _json.encode(values), _json.encode(when)

    def write(self, buf: bytearray, rows: Sequence[tuple[int, str, int, str, bytes, bytes | None]], source: str,
              typed: Callable[[int], bytes], wants_typed: Callable[[Shape], bool]) -> list[int]:
        """Appends the frames of `rows` (position, originator id as text, version, topic, stored state, chain
        hash or None) with this `source` to `buf`; returns the positions written (rows of unregistered topics
        are left out). `typed(i)` is the CloudEvent of row i through the typed round trip, for the rows that
        take it."""
        if source != self.source:
            self._shapes.clear()
            self.source = source
        positions = []
        for i, (pos, oid, version, topic, state, chain) in enumerate(rows):
            shape = self.shape(topic)
            if shape is None:
                continue
            positions.append(pos)
            parts = None if wants_typed(shape) else self.data(shape, self.plain_state(state))
            if parts is None:
                buf += b"id: %d\r\ndata: %b\r\n\r\n" % (pos, typed(i))
                continue
            data, when = parts
            buf += b'id: %d\r\ndata: {"specversion":"%b","id":"%b:%d%b%b%b%b%b%d,"data":%b' % (
                pos, _SPEC, oid.encode(), version, shape.after_id, oid.encode(), shape.after_subject, when,
                shape.before_position, pos, data)
            if chain is not None:
                buf += b',"ledgerhash":"%b"}\r\n\r\n' % chain.hex().encode()
            else:
                buf += b"}\r\n\r\n"
        return positions


_SPEC = SPEC_VERSION.encode()
