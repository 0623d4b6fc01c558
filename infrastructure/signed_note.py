"""Checkpoints as C2SP signed notes (c2sp.org/signed-note, c2sp.org/tlog-checkpoint), for transparency-log tools.

A checkpoint note's text is three lines: the log's origin (a schema-less URL), the tree size in
decimal, and the root hash in base64; then a blank line and one signature line per key:
`— <key name> <base64(4-byte key ID || signature)>`. The signature covers the text, final newline
included, and nothing else.

- intl profile: an Ed25519 signature (RFC 8032), signature type 0x01, key ID =
  SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4], exactly as the spec assigns it, so
  Go's `golang.org/x/mod/sumdb/note` and the transparency-dev tools verify it with the verifier key
  `<name>+<key ID hex>+<base64(0x01 || public key)>`.
- sm profile: the spec assigns no byte to SM2, and reserves 0xff for types without one, "followed
  by a longer identifier": key ID = SHA-256(key name || 0x0A || 0xff || "civic-ledger/sm2-sm3" ||
  04||x||y)[:4], and the signature is the ledger's SM2 signature (SM3, the default signer identity,
  DER) over the text. Tools that do not know the type ignore the line, as the spec requires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any, NamedTuple

from infrastructure.verifier import (
    SM2PublicKey,
    VerificationError,
    raw_public_key,
    verify_signature,
)

ED25519 = 0x01
OTHER = 0xFF
SM2_IDENTIFIER = b"civic-ledger/sm2-sm3"
"""What follows the 0xff type byte in an SM2 key's ID hash (c2sp.org/signed-note: a longer identifier)."""
DASH = "\u2014"


class CheckpointNote(NamedTuple):
    origin: str
    tree_size: int
    root_hash: bytes


def origin_of(base_url: str) -> str:
    """The checkpoint origin (and key name) of a service: its public base URL without the scheme."""
    return base_url.split("://", 1)[-1].rstrip("/")


def note_text(origin: str, tree_size: int, root_hash: bytes) -> bytes:
    if not origin or "\n" in origin or any(ord(c) < 0x20 for c in origin):
        raise ValueError("a checkpoint origin is one non-empty line")
    return f"{origin}\n{int(tree_size)}\n{base64.b64encode(root_hash).decode('ascii')}\n".encode()


def _type_and_key(public_key: Any) -> bytes:
    """The bytes after the key name and newline in the key ID hash: the type, any identifier, the key."""
    if isinstance(public_key, SM2PublicKey):
        return bytes([OTHER]) + SM2_IDENTIFIER + public_key.raw()
    return bytes([ED25519]) + raw_public_key(public_key)


def key_hash(name: str, public_key: Any) -> bytes:
    """The 4-byte key ID: SHA-256(key name || 0x0A || type (and identifier) || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + _type_and_key(public_key)).digest()[:4]


def verifier_key(name: str, public_key: Any) -> str:
    """The verifier key string Go's note package reads (Ed25519): `<name>+<key ID hex>+<base64(type || key)>`."""
    if isinstance(public_key, SM2PublicKey):
        raise ValueError("verifier key strings are defined for Ed25519 keys only")
    return f"{name}+{key_hash(name, public_key).hex()}+{base64.b64encode(_type_and_key(public_key)).decode()}"


def signature_line(name: str, public_key: Any, signature: bytes) -> str:
    return f"{DASH} {name} {base64.b64encode(key_hash(name, public_key) + signature).decode('ascii')}\n"


def signed_note(text: bytes, name: str, public_key: Any, signature: bytes) -> str:
    """The whole note: its text, a blank line, the signature line."""
    return text.decode("utf-8") + "\n" + signature_line(name, public_key, signature)


def open_note(note: str | bytes, name: str, public_key: Any) -> CheckpointNote:
    """Verifies a checkpoint note against the key known under `name` and reads it; VerificationError if the
    note is malformed, no signature line is from that key, or one from it does not verify."""
    data = note.encode() if isinstance(note, str) else note
    text, sep, sigs = data.partition(b"\n\n")
    if not sep or not sigs.endswith(b"\n"):
        raise VerificationError("not a signed note: no blank line before the signatures, or no final newline")
    text += b"\n"
    want = key_hash(name, public_key)
    verified = False
    for line in sigs.decode("utf-8").splitlines():
        dash, _, rest = line.partition(" ")
        key_name, _, b64 = rest.partition(" ")
        if dash != DASH or not key_name or not b64:
            raise VerificationError(f"malformed signature line {line!r}")
        try:
            raw = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise VerificationError(f"signature line of {key_name} is not base64") from None
        if key_name != name or raw[:4] != want:
            continue  # another key's signature: ignored, as the spec says
        if not verify_signature(public_key, raw[4:], text):
            raise VerificationError(f"the signature of {name} does not verify")
        verified = True
    if not verified:
        raise VerificationError(f"the note carries no signature of {name}")
    lines = text.decode("utf-8").split("\n")
    if len(lines) < 4 or not lines[1].isdigit():
        raise VerificationError("a checkpoint note's text is the origin, the tree size and the root hash")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError("the root hash line is not base64") from None
    return CheckpointNote(lines[0], int(lines[1]), root)
