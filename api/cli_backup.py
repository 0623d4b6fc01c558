"""Backup, restore, export and import commands of `civic-ledger` (SEC-2)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import msgspec

from api.cli_ledger import _runtime


def cmd_backup(args: argparse.Namespace) -> int:
    from application.backup import backup

    rt = _runtime()
    try:
        done = backup(rt, Path(args.out), events_only=args.events_only)
    except FileExistsError:
        print(f"{args.out} exists; a backup never overwrites a file.", file=sys.stderr)
        return 2
    finally:
        rt.close()
    print(msgspec.json.encode(done).decode("utf-8"))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from application.backup import BackupError, restore

    rt = _runtime()
    try:
        done = restore(rt, Path(args.file))
    except (BackupError, FileNotFoundError) as e:
        print(f"civic-ledger: {e}", file=sys.stderr)
        return 1
    finally:
        rt.close()
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
        s.set_defaults(func=cmd_restore)
