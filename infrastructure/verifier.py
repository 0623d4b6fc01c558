"""Offline verification of civic-ledger checkpoints and proofs, with the public key alone.

This module imports nothing from the project (only the standard library and, for the `intl`
profile's Ed25519 signatures, `cryptography`), so an auditor can copy this one file to another
machine and run it:

    python verifier.py --public-key ledger.pub --checkpoint checkpoint.json --proof proof.json
    python verifier.py --bundle civic-ledger-proof-42.json     # the console's one-file download

Definitions (see docs/integrity.md): the canonical bytes of a stored event; the event's hash, which
chains it to the one before (H(previous hash || canonical bytes)); and a Merkle tree over the event
hashes in the manner of RFC 6962 / RFC 9162 (leaf = H(0x00 || event hash), node = H(0x01 || left ||
right)). H is the ledger's crypto profile's hash: SHA-256 for `intl` (signatures Ed25519), SM3
(GB/T 32905) for `sm` (signatures SM2, GB/T 32918). SM2 verification is written out below in plain
Python, and so is SM3 for a Python whose OpenSSL lacks it: the `sm` profile needs nothing beyond Python.

`--proof` takes three kinds of file, told apart by their `format`: an event's proof
(`civic-ledger-proof/1`), a grant-status answer with its proof (`civic-ledger-answer-proof/1`, whose
USE-1 decision is re-derived here from the proven events), and an access-log receipt
(`civic-ledger-receipt/1`).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import struct
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

try:  # only the intl profile needs it
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_pem_public_key,
    )
except ImportError:  # pragma: no cover - an auditor of an sm ledger may not have it
    Ed25519PublicKey = None  # type: ignore[assignment,misc]

GENESIS = bytes(32)
"""The `previous hash` of the first chained event."""
CHECKPOINT_HEADER = "civic-ledger checkpoint v1"
"""The first line of the signed bytes of an intl checkpoint (unchanged since before profiles)."""
CHECKPOINT_HEADER_V2 = "civic-ledger checkpoint v2"
"""The first line of the signed bytes of a checkpoint of any other profile (they name the profile)."""
PROOF_FORMAT = "civic-ledger-proof/1"
BUNDLE_FORMAT = "civic-ledger-bundle/1"
"""One file: {"format", "public_key" (PEM), "proof" (a proof file)}; its key is only as good as the
auditor's own copy, so the key id is printed to compare, and --public-key makes it a hard check."""
PROFILES = ("intl", "sm")
DEFAULT_PROFILE = "intl"

_HEAD = struct.Struct(">Q16sQI")


class VerificationError(Exception):
    """A checkpoint or proof does not hold; the message says which part failed."""


# -- SM3 (GB/T 32905-2016), for a Python whose OpenSSL has none ---------------------------------

_M32 = 0xFFFFFFFF
_SM3_IV = (0x7380166F, 0x4914B2B9, 0x172442D7, 0xDA8A0600, 0xA96F30BC, 0x163138AA, 0xE38DEE4D, 0xB0FB0E4E)


def _rotl(x: int, n: int) -> int:
    n %= 32
    return ((x << n) | (x >> (32 - n))) & _M32


_SM3_T = tuple(_rotl(0x79CC4519 if j < 16 else 0x7A879D8A, j) for j in range(64))


def _sm3_compress(v: list[int], block: bytes) -> list[int]:
    w = list(struct.unpack(">16I", block))
    for j in range(16, 68):
        x = w[j - 16] ^ w[j - 9] ^ _rotl(w[j - 3], 15)
        w.append((x ^ _rotl(x, 15) ^ _rotl(x, 23)) ^ _rotl(w[j - 13], 7) ^ w[j - 6])
    a, b, c, d, e, f, g, h = v
    for j in range(64):
        a12 = _rotl(a, 12)
        ss1 = _rotl((a12 + e + _SM3_T[j]) & _M32, 7)
        ss2 = ss1 ^ a12
        if j < 16:
            ff, gg = a ^ b ^ c, e ^ f ^ g
        else:
            ff, gg = (a & b) | (a & c) | (b & c), (e & f) | (~e & g)
        tt1 = (ff + d + ss2 + (w[j] ^ w[j + 4])) & _M32
        tt2 = (gg + h + ss1 + w[j]) & _M32
        a, b, c, d = tt1, a, _rotl(b, 9), c
        e, f, g, h = tt2 ^ _rotl(tt2, 9) ^ _rotl(tt2, 17), e, _rotl(f, 19), g
    return [x ^ y for x, y in zip(v, (a, b, c, d, e, f, g, h), strict=True)]


class PureSM3:
    """SM3 in plain Python (slow: for verifying, where OpenSSL's is missing). `hashlib`'s interface, in part."""

    digest_size = 32

    def __init__(self, data: bytes = b"") -> None:
        self._v, self._buf, self._len = list(_SM3_IV), b"", 0
        self.update(data)

    def update(self, data: bytes) -> None:
        self._len += len(data)
        buf = self._buf + bytes(data)
        for i in range(0, len(buf) - len(buf) % 64, 64):
            self._v = _sm3_compress(self._v, buf[i:i + 64])
        self._buf = buf[len(buf) - len(buf) % 64:]

    def digest(self) -> bytes:
        tail = self._buf + b"\x80" + bytes((55 - len(self._buf)) % 64) + struct.pack(">Q", self._len * 8)
        v = self._v
        for i in range(0, len(tail), 64):
            v = _sm3_compress(v, tail[i:i + 64])
        return struct.pack(">8I", *v)

    def hexdigest(self) -> str:
        return self.digest().hex()


class _CryptographySM3:
    def __init__(self, data: bytes = b"") -> None:
        from cryptography.hazmat.primitives import hashes

        self._h = hashes.Hash(hashes.SM3())
        self._h.update(data)

    def digest(self) -> bytes:
        return self._h.finalize()


def _sm3_constructor() -> Callable[[bytes], Any]:
    """OpenSSL's SM3 through hashlib, else through `cryptography`, else the plain-Python one above."""
    try:
        blank = hashlib.new("sm3")
    except ValueError:
        pass
    else:
        # hashlib.new looks the algorithm up in OpenSSL on every call (about 2 µs with OpenSSL 3, more than
        # hashing 100 bytes); a copy of one blank context skips that lookup and gives the same digests.
        def openssl_sm3(data: bytes = b"") -> Any:
            h = blank.copy()
            h.update(data)
            return h

        return openssl_sm3
    try:
        _CryptographySM3(b"abc").digest()
        return _CryptographySM3
    except Exception:  # noqa: BLE001 - no cryptography, or one without SM3
        return PureSM3


sm3 = _sm3_constructor()
"""`sm3(data).digest()`: the fastest SM3 this Python has."""


# -- the hash of a profile, and the chain and tree over it ---------------------------------------


class Suite:
    """A profile's hash and the chain and Merkle tree built from it."""

    def __init__(self, profile: str, new: Callable[[bytes], Any]) -> None:
        self.profile = profile
        self.new = new
        """`new(data).digest()` is H(data)."""
        self.empty_root = new(b"").digest()

    def hash(self, data: bytes) -> bytes:
        return self.new(data).digest()  # type: ignore[no-any-return]

    def chain_hash(self, previous: bytes, canonical: bytes) -> bytes:
        return self.new(previous + canonical).digest()  # type: ignore[no-any-return]

    def leaf_hash(self, event_hash: bytes) -> bytes:
        """The Merkle leaf of an event: its chain hash under the RFC 6962 leaf prefix."""
        return self.new(b"\x00" + event_hash).digest()  # type: ignore[no-any-return]

    def node_hash(self, left: bytes, right: bytes) -> bytes:
        return self.new(b"\x01" + left + right).digest()  # type: ignore[no-any-return]


INTL = Suite("intl", hashlib.sha256)
SM = Suite("sm", sm3)


def suite(profile: str | None) -> Suite:
    """The suite of a profile name (None, as in files made before profiles: intl)."""
    if profile in (None, "intl"):
        return INTL
    if profile == "sm":
        return SM
    raise VerificationError(f"unknown crypto profile {profile!r} (known: {', '.join(PROFILES)})")


# -- definitions (the intl profile's functions keep their names) ---------------------------------


def canonical_bytes(position: int, originator_id: UUID | bytes, originator_version: int, topic: str,
                    state: bytes) -> bytes:
    """u64 position, 16-byte originator id, u64 version, u32 length + UTF-8 topic, u32 length + state."""
    oid = originator_id.bytes if isinstance(originator_id, UUID) else originator_id
    t = topic.encode("utf-8")
    return _HEAD.pack(position, oid, originator_version, len(t)) + t + struct.pack(">I", len(state)) + state


def chain_hash(previous: bytes, canonical: bytes) -> bytes:
    return INTL.chain_hash(previous, canonical)


def leaf_hash(event_hash: bytes) -> bytes:
    """The Merkle leaf of an event: its chain hash under the RFC 6962 leaf prefix (intl)."""
    return INTL.leaf_hash(event_hash)


def node_hash(left: bytes, right: bytes) -> bytes:
    return INTL.node_hash(left, right)


EMPTY_ROOT = INTL.empty_root


# -- SM2 signature verification (GB/T 32918.2-2016 section 7, curve of GB/T 32918.5-2017) ---------


class Curve:
    """A short Weierstrass curve y^2 = x^3 + ax + b over GF(p), base point (gx, gy) of prime order n."""

    def __init__(self, p: int, a: int, b: int, gx: int, gy: int, n: int) -> None:
        self.p, self.a, self.b, self.gx, self.gy, self.n = p, a, b, gx, gy, n

    def on_curve(self, x: int, y: int) -> bool:
        p = self.p
        return 0 <= x < p and 0 <= y < p and (y * y - x * x * x - self.a * x - self.b) % p == 0

    def add(self, P: tuple[int, int] | None, Q: tuple[int, int] | None) -> tuple[int, int] | None:
        if P is None:
            return Q
        if Q is None:
            return P
        p = self.p
        (x1, y1), (x2, y2) = P, Q
        if x1 == x2:
            if (y1 + y2) % p == 0:
                return None
            lam = (3 * x1 * x1 + self.a) * pow(2 * y1, -1, p) % p
        else:
            lam = (y2 - y1) * pow(x2 - x1, -1, p) % p
        x3 = (lam * lam - x1 - x2) % p
        return x3, (lam * (x1 - x3) - y1) % p

    def mul(self, k: int, P: tuple[int, int] | None) -> tuple[int, int] | None:
        R: tuple[int, int] | None = None
        for bit in bin(k)[2:]:
            R = self.add(R, R)
            if bit == "1":
                R = self.add(R, P)
        return R


SM2_CURVE = Curve(
    p=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF,
    a=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC,
    b=0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93,
    gx=0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    gy=0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
    n=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123,
)
"""The recommended curve of GB/T 32918.5-2017 (sm2p256v1)."""
SM2_DEFAULT_ID = b"1234567812345678"
"""The signer identity when none is agreed (GM/T 0009-2012 section 10)."""
# SubjectPublicKeyInfo of an SM2 key: id-ecPublicKey with the curve 1.2.156.10197.1.301, then 04||x||y
_SM2_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")


class SM2PublicKey:
    """A point of the SM2 curve, the public half of the ledger's key under the sm profile."""

    def __init__(self, x: int, y: int, curve: Curve = SM2_CURVE) -> None:
        if not curve.on_curve(x, y):
            raise VerificationError("the SM2 public key is not a point of the curve")
        self.x, self.y, self.curve = x, y, curve

    @classmethod
    def from_bytes(cls, raw: bytes, curve: Curve = SM2_CURVE) -> SM2PublicKey:
        """04||x||y (65 bytes) or x||y (64 bytes)."""
        if len(raw) == 65 and raw[0] == 4:
            raw = raw[1:]
        if len(raw) != 64:
            raise VerificationError("an SM2 public key is 04||x||y (65 bytes) or x||y (64 bytes)")
        return cls(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"), curve)

    def raw(self) -> bytes:
        """The uncompressed point 04||x||y."""
        return b"\x04" + self.x.to_bytes(32, "big") + self.y.to_bytes(32, "big")

    def pem(self) -> str:
        der = base64.b64encode(_SM2_SPKI_PREFIX + self.raw()).decode("ascii")
        return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(der[i:i + 64] for i in range(0, len(der), 64)) + \
            "\n-----END PUBLIC KEY-----\n"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SM2PublicKey) and (self.x, self.y) == (other.x, other.y)

    def __hash__(self) -> int:
        return hash((self.x, self.y))


def sm2_z(public_key: SM2PublicKey, ident: bytes = SM2_DEFAULT_ID) -> bytes:
    """Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A) (GB/T 32918.2 section 5.5)."""
    c = public_key.curve
    if len(ident) * 8 > 0xFFFF:
        raise VerificationError("the SM2 signer identity is too long")
    parts = [c.a, c.b, c.gx, c.gy, public_key.x, public_key.y]
    return sm3(struct.pack(">H", len(ident) * 8) + ident + b"".join(v.to_bytes(32, "big") for v in parts)).digest()


def sm2_verify_rs(public_key: SM2PublicKey, message: bytes, r: int, s: int, ident: bytes = SM2_DEFAULT_ID) -> bool:
    """GB/T 32918.2-2016 section 7.1: is (r, s) a signature of `message` by the holder of `public_key`?"""
    c = public_key.curve
    if not (1 <= r < c.n and 1 <= s < c.n):
        return False
    e = int.from_bytes(sm3(sm2_z(public_key, ident) + message).digest(), "big")
    t = (r + s) % c.n
    if t == 0:
        return False
    point = c.add(c.mul(s, (c.gx, c.gy)), c.mul(t, (public_key.x, public_key.y)))
    return point is not None and (e + point[0]) % c.n == r


def der_signature(signature: bytes) -> tuple[int, int]:
    """(r, s) of a DER SEQUENCE { INTEGER r, INTEGER s } (GM/T 0009 SM2Signature); raises if malformed."""
    def read(data: bytes, tag: int) -> tuple[bytes, bytes]:
        if len(data) < 2 or data[0] != tag or data[1] & 0x80:  # lengths here are all below 128
            raise VerificationError("the SM2 signature is not DER")
        n = data[1]
        if len(data) < 2 + n:
            raise VerificationError("the SM2 signature is truncated")
        return data[2:2 + n], data[2 + n:]

    body, rest = read(signature, 0x30)
    if rest:
        raise VerificationError("bytes follow the SM2 signature")
    r, body = read(body, 0x02)
    s, body = read(body, 0x02)
    if body or not r or not s or r[0] & 0x80 or s[0] & 0x80:
        raise VerificationError("the SM2 signature is not DER")
    return int.from_bytes(r, "big"), int.from_bytes(s, "big")


def der_encode_signature(r: int, s: int) -> bytes:
    def integer(v: int) -> bytes:
        b = v.to_bytes((v.bit_length() + 8) // 8, "big")  # one leading zero byte when the top bit is set
        return b"\x02" + bytes([len(b)]) + b

    body = integer(r) + integer(s)
    return b"\x30" + bytes([len(body)]) + body


# -- keys and signed messages of both profiles ---------------------------------------------------


def profile_of_key(public_key: Any) -> str:
    if isinstance(public_key, SM2PublicKey):
        return "sm"
    if Ed25519PublicKey is not None and isinstance(public_key, Ed25519PublicKey):
        return "intl"
    raise VerificationError(f"unsupported public key type {type(public_key).__name__}")


def raw_public_key(public_key: Any) -> bytes:
    """The raw 32-byte Ed25519 key, or the SM2 point 04||x||y."""
    if isinstance(public_key, SM2PublicKey):
        return public_key.raw()
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)  # type: ignore[no-any-return]


def key_id(public_key: Any) -> str:
    """First 16 hex digits of the profile's hash over the raw public key (SHA-256 over the 32-byte Ed25519
    key; SM3 over the SM2 point 04||x||y)."""
    return suite(profile_of_key(public_key)).hash(raw_public_key(public_key)).hex()[:16]


def public_key_pem(public_key: Any) -> str:
    if isinstance(public_key, SM2PublicKey):
        return public_key.pem()
    return public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")  # type: ignore[no-any-return]


def signed_message(checkpoint: dict[str, Any]) -> bytes:
    """The exact bytes a checkpoint's signature covers: v1 lines for intl (as before profiles existed), v2
    lines naming the profile for any other."""
    profile = checkpoint.get("profile") or DEFAULT_PROFILE
    lines = [CHECKPOINT_HEADER] if profile == DEFAULT_PROFILE else [CHECKPOINT_HEADER_V2, f"profile {profile}"]
    lines += [
        f"size {int(checkpoint['tree_size'])}",
        f"root {checkpoint['root_hash']}",
        f"position {int(checkpoint['last_position'])}",
        f"chain {checkpoint['chain_hash']}",
        f"time {checkpoint['timestamp']}",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def verify_signature(public_key: Any, signature: bytes, message: bytes) -> bool:
    """Ed25519 (RFC 8032) or SM2 with SM3 and the default identity (GB/T 32918.2, DER signature)."""
    if isinstance(public_key, SM2PublicKey):
        try:
            r, s = der_signature(signature)
        except VerificationError:
            return False
        return sm2_verify_rs(public_key, message, r, s)
    try:
        public_key.verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# -- checks ----------------------------------------------------------------------------------


def load_public_key(text: str | bytes) -> Any:
    """A PEM public key (Ed25519, or SM2 on its recommended curve), or the raw key in base64 or hex: 32 bytes
    are an Ed25519 key, 64 (x||y) or 65 (04||x||y) an SM2 point."""
    data = text.encode() if isinstance(text, str) else text
    if b"-----BEGIN" in data:
        body = b"".join(line.strip() for line in data.splitlines() if line.strip() and not line.startswith(b"-----"))
        der = base64.b64decode(body)
        if der.startswith(_SM2_SPKI_PREFIX):
            return SM2PublicKey.from_bytes(der[len(_SM2_SPKI_PREFIX):])
        if Ed25519PublicKey is None:
            raise VerificationError("an Ed25519 key needs the `cryptography` package")
        key = load_pem_public_key(data)
        if not isinstance(key, Ed25519PublicKey):
            raise VerificationError("the public key is neither an Ed25519 nor an SM2 key")
        return key
    s = data.strip()
    raw = bytes.fromhex(s.decode()) if len(s) in (64, 128, 130) else base64.b64decode(s, validate=True)
    if len(raw) in (64, 65):
        return SM2PublicKey.from_bytes(raw)
    if Ed25519PublicKey is None:
        raise VerificationError("an Ed25519 key needs the `cryptography` package")
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_checkpoint(checkpoint: dict[str, Any], public_key: Any) -> None:
    """The checkpoint is signed by this key (and names it), under the profile it names."""
    profile = checkpoint.get("profile") or DEFAULT_PROFILE
    if profile_of_key(public_key) != profile:
        raise VerificationError(f"checkpoint of size {checkpoint.get('tree_size')} is of the {profile} profile, "
                                f"the key is of the {profile_of_key(public_key)} profile")
    if checkpoint.get("key_id") != key_id(public_key):
        raise VerificationError(f"checkpoint of size {checkpoint.get('tree_size')} names key "
                                f"{checkpoint.get('key_id')}, not {key_id(public_key)}")
    try:
        ok = verify_signature(public_key, base64.b64decode(checkpoint["signature"]), signed_message(checkpoint))
    except (ValueError, KeyError):
        ok = False
    if not ok:
        raise VerificationError(f"bad signature on checkpoint of size {checkpoint.get('tree_size')}")


def root_from_inclusion(leaf_index: int, tree_size: int, leaf: bytes, path: Sequence[bytes],
                        hashes: Suite = INTL) -> bytes:
    """RFC 9162 section 2.1.3.2: the root that an inclusion path leads to (raises if the shape is wrong)."""
    if not 0 <= leaf_index < tree_size:
        raise VerificationError(f"leaf index {leaf_index} is outside a tree of size {tree_size}")
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            raise VerificationError("inclusion path is too long")
        if fn & 1 or fn == sn:
            r = hashes.node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hashes.node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("inclusion path is too short")
    return r


def verify_inclusion(leaf_index: int, tree_size: int, leaf: bytes, path: Sequence[bytes], root: bytes,
                     hashes: Suite = INTL) -> None:
    if root_from_inclusion(leaf_index, tree_size, leaf, path, hashes) != root:
        raise VerificationError(f"inclusion proof of leaf {leaf_index} does not lead to the root of size {tree_size}")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       path: Sequence[bytes], hashes: Suite = INTL) -> None:
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
            fr = hashes.node_hash(c, fr)
            sr = hashes.node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hashes.node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != first_root or sr != second_root:
        raise VerificationError(f"checkpoint of size {second} is not consistent with the one of size {first}")


def event_canonical(event: dict[str, Any]) -> bytes:
    return canonical_bytes(int(event["position"]), UUID(event["originator_id"]), int(event["originator_version"]),
                           event["topic"], base64.b64decode(event["state"]))


def verify_event_inclusion(proof: dict[str, Any], head: dict[str, Any]) -> str:
    """One event's inclusion in a checkpoint already verified (`event`, `prev_hash`, `leaf_index`,
    `inclusion`); returns the event's hash (hex)."""
    hashes = suite(head.get("profile"))
    event = proof["event"]
    own = hashes.chain_hash(bytes.fromhex(proof["prev_hash"]), event_canonical(event))
    verify_inclusion(int(proof["leaf_index"]), int(head["tree_size"]), hashes.leaf_hash(own),
                     _hexes(proof["inclusion"]), bytes.fromhex(head["root_hash"]), hashes)
    return own.hex()


def verify_bundle(bundle: dict[str, Any], public_key: Any,
                  trusted: dict[str, Any] | None = None) -> dict[str, Any]:
    """Checks a proof file: its checkpoint's signature, the event's inclusion in it, and, when the auditor
    holds another checkpoint (`trusted`), that the two are consistent. Returns a summary; raises on failure."""
    if bundle.get("format") != PROOF_FORMAT:
        raise VerificationError(f"not a {PROOF_FORMAT} file")
    head = bundle["checkpoint"]
    verify_checkpoint(head, public_key)
    hashes = suite(head.get("profile"))
    summary: dict[str, Any] = {"checkpoint": int(head["tree_size"]), "key_id": head["key_id"],
                               "profile": hashes.profile}
    event = bundle.get("event")
    if event is not None:
        own = bytes.fromhex(verify_event_inclusion(bundle, head))
        summary["event"] = {"position": int(event["position"]), "originator_id": event["originator_id"],
                            "originator_version": int(event["originator_version"]), "topic": event["topic"],
                            "hash": own.hex()}
    _check_consistency(head, bundle.get("consistency"), trusted, public_key, summary)
    return summary


def _check_consistency(head: dict[str, Any], consistency: dict[str, Any] | None, trusted: dict[str, Any] | None,
                       public_key: Any, summary: dict[str, Any]) -> None:
    """When the auditor holds a checkpoint (`trusted`), the proof's checkpoint extends it (or is it)."""
    hashes = suite(head.get("profile"))
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
        if (older.get("profile") or DEFAULT_PROFILE) != hashes.profile:
            raise VerificationError("the two checkpoints are of different profiles")
        verify_consistency(int(older["tree_size"]), int(head["tree_size"]), bytes.fromhex(older["root_hash"]),
                           bytes.fromhex(head["root_hash"]), _hexes(consistency["path"]), hashes)
        summary["consistent_with"] = int(older["tree_size"])


# -- answers that carry their proof: the grant-status decision (USE-1), re-derived --------------

ANSWER_FORMAT = "civic-ledger-answer-proof/1"
_GRANT = "civic-ledger:Grant."
_ENTRY = "civic-ledger:CatalogEntry."
_STATUS_AFTER = {"Suspended": "suspended", "SuspendedForCatalog": "suspended", "Resumed": "active",
                 "Revoked": "revoked", "Expired": "expired", "Consumed": "consumed"}
_TERMINAL = ("revoked", "expired", "consumed")


def decrypt_payload(sealed: bytes, cipher_key: bytes, profile: str) -> bytes:
    """A payload encrypted at rest (12-byte nonce || 16-byte tag || ciphertext): AES-GCM under intl, SM4-GCM
    under sm. Needs the `cryptography` package (verifying does not; only reading encrypted payloads does)."""
    try:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    except ImportError:  # pragma: no cover
        raise VerificationError("reading encrypted payloads needs the `cryptography` package") from None
    nonce, tag, body = sealed[:12], sealed[12:28], sealed[28:]
    block = algorithms.SM4(cipher_key) if profile == "sm" else algorithms.AES(cipher_key)
    dec = Cipher(block, modes.GCM(nonce, tag)).decryptor()
    try:
        return dec.update(body) + dec.finalize()
    except Exception as e:  # noqa: BLE001 - InvalidTag, or a key of the wrong size
        raise VerificationError("the cipher key does not open this payload") from e


def _payload(event: dict[str, Any], cipher_key: bytes | None = None, profile: str = DEFAULT_PROFILE) -> dict[str, Any]:
    raw = base64.b64decode(event["state"])
    if cipher_key is not None:
        raw = decrypt_payload(raw, cipher_key, profile)
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise VerificationError(f"the event at position {event['position']} is not readable JSON: the ledger "
                                "encrypts payloads at rest, so re-deriving an answer needs the cipher key "
                                "(--cipher-key)") from None
    if not isinstance(data, dict):
        raise VerificationError(f"the event at position {event['position']} is not a JSON object")
    return data


_BACKDATED = {"SuspensionBackdated": "suspended", "RevocationBackdated": "revoked"}


def grant_states(events: Sequence[tuple[dict[str, Any], dict[str, Any]]], until: datetime) -> dict[str, dict[str, Any]]:
    """The grants in force at `until`, folded from (stored event, payload) pairs: a `Granted` event recorded by
    `until` sets the grant up; a status change counts from its effective instant (a back-dated correction's
    `effective_at`, else when recorded, never before an earlier ordinary change), in effective order, and an
    ended grant stays ended; a validity correction counts as soon as it is in the ledger."""
    states: dict[str, dict[str, Any]] = {}
    changes: dict[str, list[tuple[datetime, int, str, bool]]] = {}
    for event, data in sorted(events, key=lambda pair: int(pair[0]["position"])):
        topic = event["topic"]
        if not topic.startswith(_GRANT):
            continue
        name, gid = topic[len(_GRANT):], str(UUID(event["originator_id"]))
        if name == "Granted":
            if _instant(data["timestamp"]) > until:
                continue
            spec = data["spec"]
            states[gid] = {"grant_id": gid, "holder": spec["holder"], "entry_id": str(UUID(spec["entry_id"])),
                           "fields": set(spec["fields"]), "purpose": spec["purpose"], "method": spec["method"],
                           "valid_from": _instant(spec["valid_from"]), "valid_to": _instant(spec["valid_to"]),
                           "kind": spec["kind"], "status": "active"}
            changes[gid] = []
        elif gid not in states:
            continue
        elif name == "ValidityCorrected":
            states[gid]["valid_from"], states[gid]["valid_to"] = _instant(data["valid_from"]), _instant(data["valid_to"])
        elif name in _STATUS_AFTER or name in _BACKDATED:
            backdated = name in _BACKDATED
            recorded = [_instant(data["timestamp"])] + [c[0] for c in changes[gid] if not c[3]]
            effective = _instant(data["effective_at"]) if backdated else max(recorded)
            status = _BACKDATED[name] if backdated else _STATUS_AFTER[name]
            changes[gid].append((effective, int(event["originator_version"]), status, backdated))
    for gid, state in states.items():
        for effective, _, status, _ in sorted(changes[gid]):
            if effective > until or state["status"] in _TERMINAL:
                break
            state["status"] = status
    return states


def use1(states: Sequence[dict[str, Any]], *, holder: str, entry_id: str, fields: Sequence[str], purpose: str,
         method: str, at: datetime) -> dict[str, Any]:
    """USE-1 as the ledger decides it, re-written here: allowed when one grant of the holder for the entry is
    active and valid at `at` and covers the fields, purpose and method; the reusable one preferred, then the
    earliest to end. A refusal lists the reason codes of every grant of the holder for the entry."""
    wanted = list(dict.fromkeys(fields))
    mine = sorted((g for g in states if g["holder"] == holder and g["entry_id"] == str(UUID(entry_id))),
                  key=lambda g: (g["valid_from"], g["grant_id"]))
    if not mine:
        return {"allowed": False, "grant_id": None, "kind": None, "reasons": [["no_grant", None, wanted]]}
    allowing = [g for g in mine if g["valid_from"] <= at <= g["valid_to"] and g["status"] == "active"
                and g["purpose"] == purpose and g["method"] == method and all(f in g["fields"] for f in wanted)]
    if allowing:
        best = min(allowing, key=lambda g: (g["kind"] != "reusable", g["valid_to"], g["grant_id"]))
        return {"allowed": True, "grant_id": best["grant_id"], "kind": best["kind"], "reasons": []}
    reasons: list[list[Any]] = []
    for g in mine:
        gid, missing = g["grant_id"], [f for f in wanted if f not in g["fields"]]
        checks = [("not_yet_valid", at < g["valid_from"], []),
                  ("expired", g["status"] == "expired" or at > g["valid_to"], []),
                  ("suspended", g["status"] == "suspended", []), ("revoked", g["status"] == "revoked", []),
                  ("consumed", g["status"] == "consumed", []), ("field_not_granted", bool(missing), missing),
                  ("other_purpose", purpose != g["purpose"], []), ("other_method", method != g["method"], [])]
        reasons += [[code, gid, extra] for code, hit, extra in checks if hit]
    return {"allowed": False, "grant_id": None, "kind": None, "reasons": reasons}


def decision_of(answer: dict[str, Any]) -> dict[str, Any]:
    """The part of a grant-status answer the verifier re-derives (allowed, grant, kind, reason codes)."""
    return {"allowed": bool(answer["allowed"]), "grant_id": answer.get("grant_id"), "kind": answer.get("kind"),
            "reasons": [[r["code"], r.get("grant_id"), list(r.get("fields") or [])]
                        for r in answer.get("reasons") or []]}


def _entry_summary(entry_events: Sequence[tuple[dict[str, Any], dict[str, Any]]], until: datetime) -> dict[str, Any]:
    published, share_class, retired = None, None, False
    for event, data in sorted(entry_events, key=lambda pair: int(pair[0]["position"])):
        if _instant(data["timestamp"]) > until:
            continue
        name = event["topic"][len(_ENTRY):]
        if name == "Published":
            published, share_class = data.get("version"), (data.get("content") or {}).get("share_class")
        elif name == "Retired":
            retired = True
    return {"published_version": published, "share_class": share_class, "retired": retired}


def verify_answer(bundle: dict[str, Any], public_key: Any, trusted: dict[str, Any] | None = None,
                  cipher_key: bytes | None = None) -> dict[str, Any]:
    """Checks an answer that carries its proof: the checkpoint's signature, every event's inclusion in it, that
    the events are the grants of the holder for the entry and the entry's own, each aggregate's versions without
    a hole, and that USE-1 over those events gives the answer stated. Returns a summary; raises on failure."""
    if bundle.get("format") != ANSWER_FORMAT:
        raise VerificationError(f"not a {ANSWER_FORMAT} file")
    head = bundle["checkpoint"]
    verify_checkpoint(head, public_key)
    q = bundle["question"]
    entry_id, at = str(UUID(q["entry_id"])), _instant(q["at"])
    grants: list[tuple[dict[str, Any], dict[str, Any]]] = []
    entry: list[tuple[dict[str, Any], dict[str, Any]]] = []
    versions: dict[str, list[int]] = {}
    seen: set[int] = set()
    for proof in bundle["events"]:
        verify_event_inclusion(proof, head)
        event = proof["event"]
        if int(event["position"]) in seen:
            raise VerificationError(f"the event at position {event['position']} is given twice")
        seen.add(int(event["position"]))
        data, oid = _payload(event, cipher_key, head.get("profile") or DEFAULT_PROFILE), str(UUID(event["originator_id"]))
        versions.setdefault(oid, []).append(int(event["originator_version"]))
        if event["topic"].startswith(_ENTRY) and oid == entry_id:
            entry.append((event, data))
        elif event["topic"].startswith(_GRANT):
            grants.append((event, data))
        else:
            raise VerificationError(f"the event at position {event['position']} ({event['topic']}) is neither of "
                                    "the entry nor of a grant")
    for oid, vs in versions.items():
        if sorted(vs) != list(range(1, len(vs) + 1)):
            raise VerificationError(f"the events of {oid} are not its versions 1 to {len(vs)}: some are withheld")
    states = grant_states(grants, at)
    for gid, g in states.items():
        if g["holder"] != q["holder"] or g["entry_id"] != entry_id:
            raise VerificationError(f"grant {gid} is not a grant of {q['holder']} for entry {entry_id}")
    granted = {str(UUID(e["originator_id"])) for e, _ in grants if e["topic"] == _GRANT + "Granted"}
    if {str(UUID(e["originator_id"])) for e, _ in grants} - granted:
        raise VerificationError("a grant's events come without the event that granted it")
    derived = use1(list(states.values()), holder=q["holder"], entry_id=entry_id, fields=q["fields"],
                   purpose=q["purpose"], method=q["method"], at=at)
    if derived != decision_of(bundle["answer"]):
        raise VerificationError(f"the answer does not follow from the proven events: they give {derived}")
    summary: dict[str, Any] = {"checkpoint": int(head["tree_size"]), "key_id": head["key_id"],
                               "profile": suite(head.get("profile")).profile, "events": len(seen),
                               "grants": len(states), "decision": derived, "entry": _entry_summary(entry, at)}
    _check_consistency(head, bundle.get("consistency"), trusted, public_key, summary)
    return summary


# -- receipts of access-log batches (第二十二条) -----------------------------------------------------

RECEIPT_FORMAT = "civic-ledger-receipt/1"
RECEIPT_HEADER = "civic-ledger receipt v1"


def canonical_json(value: Any) -> bytes:
    """Keys sorted, no spaces, UTF-8 as is: the bytes a receipt signs and a record's hash covers."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def record_hash(record: dict[str, Any], hashes: Suite = INTL) -> str:
    """H(canonical JSON of one access-log record, as the ledger stored it in its batch)."""
    return hashes.hash(canonical_json(record)).hex()


def receipt_message(receipt: dict[str, Any]) -> bytes:
    """The exact bytes a receipt's signature covers: a header line, then the receipt but its signature."""
    body = {k: v for k, v in receipt.items() if k != "signature"}
    return (RECEIPT_HEADER + "\n").encode("utf-8") + canonical_json(body)


def verify_receipt(bundle: dict[str, Any], public_key: Any, trusted: dict[str, Any] | None = None) -> dict[str, Any]:
    """Checks a receipt file: the ledger's signature on the receipt; that each record shown hashes to the
    receipt's hash at its index; and, once a checkpoint covers the batch (`inclusion`), that the batch's
    event, by the chain hash the receipt names, is in that signed checkpoint. Returns a summary."""
    if bundle.get("format") != RECEIPT_FORMAT:
        raise VerificationError(f"not a {RECEIPT_FORMAT} file")
    receipt = bundle["receipt"]
    profile = receipt.get("profile") or DEFAULT_PROFILE
    hashes = suite(profile)
    if profile_of_key(public_key) != profile:
        raise VerificationError(f"the receipt is of the {profile} profile, the key of the "
                                f"{profile_of_key(public_key)} profile")
    if receipt.get("key_id") != key_id(public_key):
        raise VerificationError(f"the receipt names key {receipt.get('key_id')}, not {key_id(public_key)}")
    try:
        ok = verify_signature(public_key, base64.b64decode(receipt["signature"]), receipt_message(receipt))
    except (ValueError, KeyError):
        ok = False
    if not ok:
        raise VerificationError(f"bad signature on the receipt of batch {receipt.get('batch_id')}")
    listed = receipt["record_hashes"]
    for shown in bundle.get("records") or []:
        i = int(shown["index"])
        if not 0 <= i < len(listed) or record_hash(shown["record"], hashes) != listed[i]:
            raise VerificationError(f"record {i} ({shown['record'].get('request_id')!r}) is not the one the "
                                    "receipt covers at that index")
    summary: dict[str, Any] = {"receipt": receipt["batch_id"], "position": int(receipt["position"]),
                               "profile": profile, "records": len(listed),
                               "records_checked": len(bundle.get("records") or []), "included": False}
    inclusion = bundle.get("inclusion")
    if inclusion is not None:
        head = inclusion["checkpoint"]
        verify_checkpoint(head, public_key)
        if int(head["last_position"]) < int(receipt["position"]):
            raise VerificationError("the checkpoint ends before the batch's position")
        verify_inclusion(int(receipt["leaf_index"]), int(head["tree_size"]),
                         hashes.leaf_hash(bytes.fromhex(receipt["chain_hash"])), _hexes(inclusion["path"]),
                         bytes.fromhex(head["root_hash"]), hashes)
        summary.update(included=True, checkpoint=int(head["tree_size"]))
        _check_consistency(head, inclusion.get("consistency"), trusted, public_key, summary)
    elif trusted is not None:
        verify_checkpoint(trusted, public_key)
    return summary


def _instant(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise VerificationError(f"the instant {text} has no offset")
    return when


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
    p.add_argument("--cipher-key", help="the ledger's payload key (base64), to re-derive an answer from payloads "
                                        "encrypted at rest (needs `cryptography`)")
    p.add_argument("--proof", help="a proof file (JSON): of an event (/ledger/proofs/{position}, `civic-ledger "
                                   "proof`), an answer with its proof (/grant-status?proof=true) or an access-log "
                                   "receipt (/access-logs/receipts); told apart by their `format`")
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
            check = {PROOF_FORMAT: verify_bundle, ANSWER_FORMAT: verify_answer,
                     RECEIPT_FORMAT: verify_receipt}.get(bundle.get("format"))
            if check is None:
                raise VerificationError(f"unknown proof format {bundle.get('format')!r}")
            if check is verify_answer and args.cipher_key:
                summary = verify_answer(bundle, key, trusted, base64.b64decode(args.cipher_key))
            else:
                summary = check(bundle, key, trusted)
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
    proof = doc["proof"]
    check = {PROOF_FORMAT: verify_bundle, ANSWER_FORMAT: verify_answer,
             RECEIPT_FORMAT: verify_receipt}.get(proof.get("format"))
    if check is None:
        raise VerificationError(f"unknown proof format {proof.get('format')!r}")
    summary = check(proof, key, trusted)
    print(json.dumps({"verified": True, **summary, "public_key_checked": key_file is not None},
                     ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
