"""The ledger's signing key: where it lives, how it is loaded, and how `init` makes one, for either profile.

Under the `intl` profile the key is Ed25519; under `sm` it is SM2 on the curve of GB/T 32918.5, and
signing goes through GmSSL (the `gmssl-pyx` binding; see docs/decisions/0013). Verifying, for both,
is the offline verifier's (infrastructure/verifier.py), so what the ledger signs is checked by the
very code an auditor runs.

`CIVIC_LEDGER_SIGNING_KEY` is either the path of a PEM file (PKCS#8 private key) or the raw 32-byte
private key in base64. Unset, the key is the file `ledger-signing-key.pem` (intl) or
`ledger-signing-key-sm2.pem` (sm) in the data directory: the SQLite database's directory, or `./var`
when the store is PostgreSQL. The key never goes into the database, so whoever can rewrite the
database still cannot sign a checkpoint.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from infrastructure.config import Settings, sqlite_path
from infrastructure.verifier import SM2_CURVE, SM2PublicKey, public_key_pem

KEY_FILE = "ledger-signing-key.pem"
KEY_FILES = {"intl": KEY_FILE, "sm": "ledger-signing-key-sm2.pem"}
# PKCS#8 of an SM2 private key as this module writes it: version 0, id-ecPublicKey with the curve
# 1.2.156.10197.1.301, and an ECPrivateKey (RFC 5915) holding only the 32-byte scalar.
_SM2_PKCS8_PREFIX = bytes.fromhex("304102010030130607" "2a8648ce3d0201" "06082a811ccf5501822d" "0427302502010104" "20")
_SM2_OID = bytes.fromhex("06082a811ccf5501822d")


class SigningKeyMissing(Exception):
    """No signing key is configured or present in the data directory."""


class Signer(Protocol):
    profile: str

    def sign(self, message: bytes) -> bytes: ...

    def public_key(self) -> Any:
        """The public key as the verifier takes it."""
        ...


class Ed25519Signer:
    profile = "intl"

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self.key = key

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message)

    def public_key(self) -> Any:
        return self.key.public_key()


class SM2Signer:
    """SM2 signatures with SM3 and the default signer identity (GB/T 32918.2; GM/T 0009), DER-encoded."""

    profile = "sm"

    def __init__(self, d: bytes) -> None:
        scalar = int.from_bytes(d, "big")
        if len(d) != 32 or not 1 <= scalar < SM2_CURVE.n - 1:
            raise ValueError("an SM2 private key is a 32-byte scalar in [1, n-2]")
        point = SM2_CURVE.mul(scalar, (SM2_CURVE.gx, SM2_CURVE.gy))
        assert point is not None
        self._d = d
        self._public = SM2PublicKey(*point)

    def sign(self, message: bytes) -> bytes:
        from gmssl_pyx import sm2_sign

        return sm2_sign(self._d, self._public.raw()[1:], message)  # type: ignore[no-any-return]

    def public_key(self) -> Any:
        return self._public


def data_dir(settings: Settings) -> Path:
    if settings.backend == "sqlite":
        path = sqlite_path(settings.database_url)
        if path != ":memory:":
            return Path(path).parent
    return Path("var")


def key_source(settings: Settings, profile: str = "intl") -> tuple[Path | None, bytes | None]:
    """(a PEM path, None) or (None, raw key bytes) for the configured key."""
    value = settings.signing_key
    if not value:
        return data_dir(settings) / KEY_FILES[profile], None
    if Path(value).exists():
        return Path(value), None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return Path(value), None
    if len(raw) != 32:
        return Path(value), None
    return None, raw


def _pem_body(text: bytes) -> tuple[str, bytes]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    label = lines[0].decode("ascii", "replace").strip("-").removeprefix("BEGIN ").strip() if lines else ""
    return label, base64.b64decode(b"".join(line for line in lines if not line.startswith(b"-----")))


def load_signer(settings: Settings, profile: str = "intl") -> Signer:
    path, raw = key_source(settings, profile)
    if raw is not None:
        return SM2Signer(raw) if profile == "sm" else Ed25519Signer(Ed25519PrivateKey.from_private_bytes(raw))
    assert path is not None
    if not path.is_file():
        raise SigningKeyMissing(f"no ledger signing key at {path}: run `civic-ledger init` or set "
                                "CIVIC_LEDGER_SIGNING_KEY")
    pem = path.read_bytes()
    label, der = _pem_body(pem)
    is_sm2 = label == "PRIVATE KEY" and _SM2_OID in der[:40]
    if profile == "sm":
        if not is_sm2:
            raise ValueError(f"{path} does not hold an SM2 private key, and this ledger's crypto profile is sm")
        if not der.startswith(_SM2_PKCS8_PREFIX) or len(der) != len(_SM2_PKCS8_PREFIX) + 32:
            raise ValueError(f"{path}: an SM2 key is read in the PKCS#8 form `civic-ledger init` writes "
                             "(or give the raw 32-byte key in base64 in CIVIC_LEDGER_SIGNING_KEY)")
        return SM2Signer(der[len(_SM2_PKCS8_PREFIX):])
    if is_sm2:
        raise ValueError(f"{path} holds an SM2 key, and this ledger's crypto profile is intl (Ed25519)")
    key = load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return Ed25519Signer(key)


def _new_key_pem(profile: str) -> bytes:
    if profile == "sm":
        from gmssl_pyx import sm2_key_generate

        _, d = sm2_key_generate()
        der = base64.b64encode(_SM2_PKCS8_PREFIX + d).decode("ascii")
        return ("-----BEGIN PRIVATE KEY-----\n" + "\n".join(der[i:i + 64] for i in range(0, len(der), 64))
                + "\n-----END PRIVATE KEY-----\n").encode("ascii")
    return Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def ensure_signing_key(settings: Settings, profile: str = "intl") -> Path | None:
    """Creates the key file when the configured key is a path that does not exist; returns the new file."""
    path, raw = key_source(settings, profile)
    if raw is not None or path is None or path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = _new_key_pem(profile)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: keep theirs
        return None
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return path


def public_pem(key: Any) -> str:
    return public_key_pem(key)
