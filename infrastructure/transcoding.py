"""Event payloads encoded with msgspec, with a typed round trip (UUID, datetime, date, Decimal, enums, Structs)."""

from __future__ import annotations

import base64
import dataclasses
import os
from functools import cache
from typing import Any

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher as _BlockCipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    Cipher,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import get_topic, resolve_topic

_encoder = msgspec.json.Encoder(order="deterministic")
_decoder = msgspec.json.Decoder(dict[str, Any])
_BASE = frozenset({"originator_id", "originator_version"})


class PassThroughTranscoder(Transcoder):
    """The mapper encodes with msgspec itself; the library's transcoder slot stays a no-op."""

    def encode(self, obj: Any) -> bytes:
        return _encoder.encode(obj)

    def decode(self, data: bytes) -> Any:
        return _decoder.decode(data)


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.name not in _BASE)


def encode_state(event: object) -> bytes:
    """Canonical JSON of an event's fields but its id and version (keys in a fixed order)."""
    state = {name: getattr(event, name) for name in _field_names(type(event))}
    class_version = getattr(type(event), "class_version", 1)
    if class_version > 1:
        state["class_version"] = class_version
    return _encoder.encode(state)


def decode_state(cls: type, data: bytes, originator_id: Any, originator_version: int) -> Any:
    state: dict[str, Any] = _decoder.decode(data)
    state["originator_id"] = originator_id
    state["originator_version"] = originator_version
    class_version = getattr(cls, "class_version", 1)
    from_version = state.pop("class_version", 1)
    while from_version < class_version:
        getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
        from_version += 1
    return msgspec.convert(state, type=cls)


class MsgspecMapper(Mapper[Any]):
    """Maps domain events to stored events with msgspec, then compresses and encrypts as configured."""

    def to_stored_event(self, domain_event: DomainEventProtocol[Any]) -> StoredEvent:
        data = encode_state(domain_event)
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=data,
        )

    def plain_state(self, stored_event: StoredEvent) -> bytes:
        """The event's JSON as encoded, decrypted and decompressed (a read model may decode only what it reads)."""
        return self.plain_bytes(stored_event.state)

    def plain_bytes(self, data: bytes) -> bytes:
        """`plain_state` of a stored state given as its bytes."""
        if self.cipher:
            data = self.cipher.decrypt(data)
        if self.compressor:
            data = self.compressor.decompress(data)
        return data

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[Any]:
        cls = resolve_topic(stored_event.topic)
        try:
            data = self.plain_state(stored_event)
            return decode_state(cls, data, stored_event.originator_id, stored_event.originator_version)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as e:
            raise MapperDeserialisationError(
                f"Failed to decode stored event {stored_event.topic} "
                f"{stored_event.originator_id} v{stored_event.originator_version}: {e}"
            ) from e


class SM4Cipher(Cipher):
    """Payload encryption at rest under the sm profile: SM4 (GB/T 32907-2016) in GCM mode, through OpenSSL.

    The layout is AESCipher's (12-byte nonce || 16-byte tag || ciphertext), so the two differ only in the
    block cipher; GCM authenticates what it decrypts, as AES-GCM does (see docs/decisions/0013). The key is
    `CIPHER_KEY`: 16 bytes in base64.
    """

    def __init__(self, environment: Any) -> None:
        encoded = environment.get("CIPHER_KEY")
        if not encoded:
            raise OSError("'CIPHER_KEY' not in env")
        key = base64.b64decode(encoded.encode("utf-8"))
        if len(key) != 16:
            raise ValueError(f"an SM4 key is 16 bytes (base64 of 16 bytes), not {len(key)}")
        self.key = key

    @staticmethod
    def create_key() -> str:
        return base64.b64encode(os.urandom(16)).decode("utf-8")

    def encrypt(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(12)
        enc = _BlockCipher(algorithms.SM4(self.key), modes.GCM(nonce)).encryptor()
        body = enc.update(plaintext) + enc.finalize()
        return nonce + enc.tag + body

    def decrypt(self, ciphertext: bytes) -> bytes:
        nonce, tag, body = ciphertext[:12], ciphertext[12:28], ciphertext[28:]
        if len(nonce) != 12 or len(tag) != 16:
            raise ValueError("Damaged cipher text: too short for SM4-GCM")
        dec = _BlockCipher(algorithms.SM4(self.key), modes.GCM(nonce, tag)).decryptor()
        try:
            return dec.update(body) + dec.finalize()
        except InvalidTag as e:
            raise ValueError("Damaged cipher text: the SM4-GCM tag does not match") from e
