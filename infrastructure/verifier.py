"""Offline verification of civic-ledger checkpoints and proofs, with the public key alone.

This module imports nothing from the project (only the standard library and `cryptography`), so an
auditor can copy this one file to another machine and run it:

    python verifier.py --public-key ledger.pub --checkpoint checkpoint.json --proof proof.json
    python verifier.py --bundle civic-ledger-proof-42.json     # the console's one-file download

Definitions (see docs/integrity.md): the canonical bytes of a stored event; the event's hash, which
chains it to the one before (SHA-256(previous hash || canonical bytes)); and a Merkle tree over the
event hashes in the manner of RFC 6962 / RFC 9162 (leaf = SHA-256(0x00 || event hash),
node = SHA-256(0x01 || left || right)).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import struct
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

GENESIS = bytes(32)
"""The `previous hash` of the first chained event."""
CHECKPOINT_HEADER = "civic-ledger checkpoint v1"
PROOF_FORMAT = "civic-ledger-proof/1"
BUNDLE_FORMAT = "civic-ledger-bundle/1"
"""One file: {"format", "public_key" (PEM), "proof" (a proof file)}; its key is only as good as the
auditor's own copy, so the key id is printed to compare, and --public-key makes it a hard check."""

_HEAD = struct.Struct(">Q16sQI")


class VerificationError(Exception):
    """A checkpoint or proof does not hold; the message says which part failed."""


# -- definitions -------------------------------------------------------------------------------


def canonical_bytes(position: int, originator_id: UUID | bytes, originator_version: int, topic: str,
                    state: bytes) -> bytes:
    """u64 position, 16-byte originator id, u64 version, u32 length + UTF-8 topic, u32 length + state."""
    oid = originator_id.bytes if isinstance(originator_id, UUID) else originator_id
    t = topic.encode("utf-8")
    return _HEAD.pack(position, oid, originator_version, len(t)) + t + struct.pack(">I", len(state)) + state


def chain_hash(previous: bytes, canonical: bytes) -> bytes:
    return hashlib.sha256(previous + canonical).digest()


def leaf_hash(event_hash: bytes) -> bytes:
    """The Merkle leaf of an event: its chain hash under the RFC 6962 leaf prefix."""
    return hashlib.sha256(b"\x00" + event_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of SHA-256 over the raw 32-byte public key."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def signed_message(checkpoint: dict[str, Any]) -> bytes:
    """The exact bytes an Ed25519 signature of a checkpoint covers."""
    lines = [
        CHECKPOINT_HEADER,
        f"size {int(checkpoint['tree_size'])}",
        f"root {checkpoint['root_hash']}",
        f"position {int(checkpoint['last_position'])}",
        f"chain {checkpoint['chain_hash']}",
        f"time {checkpoint['timestamp']}",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


# -- checks ----------------------------------------------------------------------------------


def load_public_key(text: str | bytes) -> Ed25519PublicKey:
    """A PEM public key, or the raw 32-byte key in base64 or hex."""
    data = text.encode() if isinstance(text, str) else text
    if b"-----BEGIN" in data:
        key = load_pem_public_key(data)
        if not isinstance(key, Ed25519PublicKey):
            raise VerificationError("the public key is not an Ed25519 key")
        return key
    s = data.strip()
    raw = bytes.fromhex(s.decode()) if len(s) == 64 else base64.b64decode(s, validate=True)
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_checkpoint(checkpoint: dict[str, Any], public_key: Ed25519PublicKey) -> None:
    """The checkpoint is signed by this key (and names it)."""
    if checkpoint.get("key_id") != key_id(public_key):
        raise VerificationError(f"checkpoint of size {checkpoint.get('tree_size')} names key "
                                f"{checkpoint.get('key_id')}, not {key_id(public_key)}")
    try:
        public_key.verify(base64.b64decode(checkpoint["signature"]), signed_message(checkpoint))
    except (InvalidSignature, ValueError, KeyError) as e:
        raise VerificationError(f"bad signature on checkpoint of size {checkpoint.get('tree_size')}") from e


def root_from_inclusion(leaf_index: int, tree_size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2: the root that an inclusion path leads to (raises if the shape is wrong)."""
    if not 0 <= leaf_index < tree_size:
        raise VerificationError(f"leaf index {leaf_index} is outside a tree of size {tree_size}")
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            raise VerificationError("inclusion path is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("inclusion path is too short")
    return r


def verify_inclusion(leaf_index: int, tree_size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> None:
    if root_from_inclusion(leaf_index, tree_size, leaf, path) != root:
        raise VerificationError(f"inclusion proof of leaf {leaf_index} does not lead to the root of size {tree_size}")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       path: Sequence[bytes]) -> None:
    """RFC 9162 section 2.1.4.2: the tree of size `second` extends the tree of size `first`."""
    if first > second:
        raise VerificationError("the first checkpoint is larger than the second")
    if first == second:
        if path or first_root != second_root:
            raise VerificationError(f"two different roots for one size {first}")
        return
    if first == 0:
        if path:
            raise VerificationError("a consistency proof from the empty tree is empty")
        return
    if not path:
        raise VerificationError("consistency proof is empty")
    nodes = list(path)
    if first & (first - 1) == 0:
        nodes.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != first_root or sr != second_root:
        raise VerificationError(f"checkpoint of size {second} is not consistent with the one of size {first}")


def event_canonical(event: dict[str, Any]) -> bytes:
    return canonical_bytes(int(event["position"]), UUID(event["originator_id"]), int(event["originator_version"]),
                           event["topic"], base64.b64decode(event["state"]))


def verify_bundle(bundle: dict[str, Any], public_key: Ed25519PublicKey,
                  trusted: dict[str, Any] | None = None) -> dict[str, Any]:
    """Checks a proof file: its checkpoint's signature, the event's inclusion in it, and, when the auditor
    holds another checkpoint (`trusted`), that the two are consistent. Returns a summary; raises on failure."""
    if bundle.get("format") != PROOF_FORMAT:
        raise VerificationError(f"not a {PROOF_FORMAT} file")
    head = bundle["checkpoint"]
    verify_checkpoint(head, public_key)
    summary: dict[str, Any] = {"checkpoint": int(head["tree_size"]), "key_id": head["key_id"]}
    event = bundle.get("event")
    if event is not None:
        own = chain_hash(bytes.fromhex(bundle["prev_hash"]), event_canonical(event))
        leaf = leaf_hash(own)
        verify_inclusion(int(bundle["leaf_index"]), int(head["tree_size"]), leaf, _hexes(bundle["inclusion"]),
                         bytes.fromhex(head["root_hash"]))
        summary["event"] = {"position": int(event["position"]), "originator_id": event["originator_id"],
                            "originator_version": int(event["originator_version"]), "topic": event["topic"],
                            "hash": own.hex()}
    consistency = bundle.get("consistency")
    if trusted is not None:
        verify_checkpoint(trusted, public_key)
        if int(trusted["tree_size"]) == int(head["tree_size"]):
            if trusted["root_hash"] != head["root_hash"]:
                raise VerificationError("the trusted checkpoint and the proof's checkpoint differ at the same size")
        elif consistency is None:
            raise VerificationError(f"the proof is against checkpoint {head['tree_size']}, the trusted one is "
                                    f"{trusted['tree_size']}, and no consistency proof links them")
        elif (int(consistency["from"]["tree_size"]), consistency["from"]["root_hash"]) != (
                int(trusted["tree_size"]), trusted["root_hash"]):
            raise VerificationError("the consistency proof does not start at the trusted checkpoint "
                                    "(ask for the proof with since=<trusted size>)")
    if consistency is not None:
        older = consistency["from"]
        verify_checkpoint(older, public_key)
        verify_consistency(int(older["tree_size"]), int(head["tree_size"]), bytes.fromhex(older["root_hash"]),
                           bytes.fromhex(head["root_hash"]), _hexes(consistency["path"]))
        summary["consistent_with"] = int(older["tree_size"])
    return summary


def _hexes(items: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(x) for x in items]


# -- command line ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="civic-ledger verify-proof",
                                description="Verify a civic-ledger checkpoint and proof offline.")
    p.add_argument("--public-key", help="the ledger's public key (PEM, or raw base64/hex); with --bundle, the key the "
                                        "bundle's must equal")
    p.add_argument("--bundle", help="a proof bundle (JSON: proof and public key) downloaded from the console")
    p.add_argument("--checkpoint", help="a checkpoint (signed tree head, JSON) the auditor holds")
    p.add_argument("--proof", help="a proof file (JSON) from /ledger/proofs/{position} or `civic-ledger proof`")
    args = p.parse_args(argv)
    if args.bundle is None and args.public_key is None:
        p.error("give --public-key (or --bundle)")
    try:
        if args.bundle is not None:
            return _check_bundle(json.loads(Path(args.bundle).read_text("utf-8")), args.public_key, args.checkpoint)
        key = load_public_key(Path(args.public_key).read_bytes())
        trusted = json.loads(Path(args.checkpoint).read_text("utf-8")) if args.checkpoint else None
        if args.proof:
            bundle = json.loads(Path(args.proof).read_text("utf-8"))
            summary = verify_bundle(bundle, key, trusted)
        elif trusted is not None:
            verify_checkpoint(trusted, key)
            summary = {"checkpoint": int(trusted["tree_size"]), "key_id": trusted["key_id"]}
        else:
            p.error("give --checkpoint, --proof or both")
    except (VerificationError, KeyError, ValueError, TypeError) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    print(json.dumps({"verified": True, **summary}, ensure_ascii=False))
    return 0


def _check_bundle(doc: dict[str, Any], key_file: str | None, checkpoint_file: str | None) -> int:
    if doc.get("format") != BUNDLE_FORMAT:
        raise VerificationError(f"not a {BUNDLE_FORMAT} file")
    key = load_public_key(doc["public_key"])
    if key_file is not None and key_id(load_public_key(Path(key_file).read_bytes())) != key_id(key):
        raise VerificationError("the bundle's public key is not the one given with --public-key")
    trusted = json.loads(Path(checkpoint_file).read_text("utf-8")) if checkpoint_file else None
    summary = verify_bundle(doc["proof"], key, trusted)
    print(json.dumps({"verified": True, **summary, "public_key_checked": key_file is not None},
                     ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
