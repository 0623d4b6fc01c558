"""Backup, restore, export and import commands of `civic-ledger` (SEC-2)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import msgspec

from api.cli_runtime import opened


def cmd_backup(args: argparse.Namespace) -> int:
    from application.backup import backup

    with opened() as rt:
        try:
            done = backup(rt.backup_parts(), Path(args.out), events_only=args.events_only)
        except FileExistsError:
            print(f"{args.out} exists; a backup never overwrites a file.", file=sys.stderr)
            return 2
        except OSError as e:
            print(f"civic-ledger: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
            return 2
    if done.signed_by is None:
        print("civic-ledger: warning: no signing key is configured, so the backup is unsigned; restoring it will "
              "need --accept-unsigned --reason", file=sys.stderr)
    print(msgspec.json.encode(done).decode("utf-8"))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Every refusal is one line on stderr and exit status 1 (2 for a wrong use of the options)."""
    from application.backup import restore
    from application.backup_file import BackupError
    from infrastructure.verifier import VerificationError, load_public_key

    if args.accept_unsigned and not (args.reason or "").strip():
        print("civic-ledger: --accept-unsigned needs --reason \"...\" (it is recorded with the restore)",
              file=sys.stderr)
        return 2
    if args.reason and not args.accept_unsigned:
        print("civic-ledger: --reason goes with --accept-unsigned", file=sys.stderr)
        return 2
    key = None
    if args.public_key:
        try:
            key = load_public_key(Path(args.public_key).read_bytes())
        except (OSError, ValueError, VerificationError) as e:
            print(f"civic-ledger: cannot read the public key {args.public_key}: {' '.join(str(e).split())}",
                  file=sys.stderr)
            return 2
    with opened() as rt:
        try:
            done = restore(rt.backup_parts(), Path(args.file), public_key=key,
                           accept_unsigned=args.reason if args.accept_unsigned else None)
        except BackupError as e:
            print(f"civic-ledger: refused: {' '.join(str(e).split())}", file=sys.stderr)
            return 1
        except OSError as e:
            print(f"civic-ledger: refused: cannot read {args.file}: {e.strerror or e}", file=sys.stderr)
            return 1
    if done.override is not None:
        o = done.override
        print(f"civic-ledger: OVERRIDE recorded in restore_overrides: {o['signature']}; restored anyway by "
              f"{o['operator']} at {o['restored_at']} because: {o['reason']}", file=sys.stderr)
    print(msgspec.json.encode(done).decode("utf-8"))
    return 0


def add_commands(sub: Any) -> None:
    s = sub.add_parser("backup", help="write the store (events and the tables no replay rebuilds) to a JSON Lines "
                       "file, from one snapshot")
    s.add_argument("--out", required=True, help="the file to write (must not exist)")
    s.set_defaults(func=cmd_backup, events_only=False)

    s = sub.add_parser("export", help="write every event, byte for byte at its position, to a JSON Lines file")
    s.add_argument("--out", required=True, help="the file to write (must not exist)")
    s.set_defaults(func=cmd_backup, events_only=True)

    for name, text in (("restore", "load a backup into this empty store and rebuild the read models"),
                       ("import", "load an export (or a backup) into this empty store and rebuild the read models")):
        s = sub.add_parser(name, help=text)
        s.add_argument("file")
        s.add_argument("--public-key", help="the PEM (or raw base64) public key the file's signature must verify "
                       "with (default: this store's configured signing key)")
        s.add_argument("--accept-unsigned", action="store_true",
                       help="restore even though the signature is missing or does not verify (needs --reason; "
                       "recorded in restore_overrides and printed)")
        s.add_argument("--reason", help="why the unsigned file is restored anyway")
        s.set_defaults(func=cmd_restore)
