"""The ledger's Ed25519 signing key: where it lives, how it is loaded, and how `init` makes one.

`CIVIC_LEDGER_SIGNING_KEY` is either the path of a PEM file (PKCS#8 private key) or the raw 32-byte
private key in base64. Unset, the key is the file `ledger-signing-key.pem` in the data directory: the
SQLite database's directory, or `./var` when the store is PostgreSQL. The key never goes into the
database, so whoever can rewrite the database still cannot sign a checkpoint.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from infrastructure.config import Settings, sqlite_path

KEY_FILE = "ledger-signing-key.pem"


class SigningKeyMissing(Exception):
    """No signing key is configured or present in the data directory."""


def data_dir(settings: Settings) -> Path:
    if settings.backend == "sqlite":
        path = sqlite_path(settings.database_url)
        if path != ":memory:":
            return Path(path).parent
    return Path("var")


def key_source(settings: Settings) -> tuple[Path | None, bytes | None]:
    """(a PEM path, None) or (None, raw key bytes) for the configured key."""
    value = settings.signing_key
    if not value:
        return data_dir(settings) / KEY_FILE, None
    if Path(value).exists():
        return Path(value), None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return Path(value), None
    if len(raw) != 32:
        return Path(value), None
    return None, raw


def load_signing_key(settings: Settings) -> Ed25519PrivateKey:
    path, raw = key_source(settings)
    if raw is not None:
        return Ed25519PrivateKey.from_private_bytes(raw)
    assert path is not None
    if not path.is_file():
        raise SigningKeyMissing(f"no ledger signing key at {path}: run `civic-ledger init` or set "
                                "CIVIC_LEDGER_SIGNING_KEY")
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def ensure_signing_key(settings: Settings) -> Path | None:
    """Creates the key file when the configured key is a path that does not exist; returns the new file."""
    path, raw = key_source(settings)
    if raw is not None or path is None or path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: keep theirs
        return None
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return path


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")
