"""The integrity commands of `civic-ledger`: checkpoint, proof, public-key, verify, verify-proof."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import msgspec

from api.cli_runtime import opened, refusing

REFUSED = "application.common:ApplicationError"


def _print(value: Any) -> None:
    print(msgspec.json.encode(value).decode("utf-8"))


@refusing(REFUSED, detail=True)
def cmd_checkpoint(args: argparse.Namespace) -> int:
    with opened() as rt:
        if args.list:
            for cp in rt.integrity.checkpoints(limit=args.limit):
                _print(cp)
            return 0
        cp, created = rt.integrity.create_checkpoint()
        print("checkpoint created" if created else "no new event since the latest checkpoint", file=sys.stderr)
        _print(cp)
    return 0


@refusing(REFUSED, detail=True)
def cmd_proof(args: argparse.Namespace) -> int:
    with opened() as rt:
        bundle = rt.integrity.proof(None, args.position, checkpoint=args.checkpoint, since=args.since)
    print(json.dumps(bundle, indent=2, ensure_ascii=False))
    return 0


@refusing(REFUSED, detail=True)
def cmd_public_key(args: argparse.Namespace) -> int:
    with opened() as rt:
        print(rt.integrity.public_key_pem(), end="")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    with opened() as rt, tqdm(total=rt.ledger.max_position(), unit="ev", desc="verify", file=sys.stderr,
                              disable=args.quiet) as bar:
        report = rt.integrity.verify(progress=bar.update, catch_up=not args.no_catch_up)
    _print(report)
    b = report.first_break
    if b is not None:
        where = f" ({b.originator_id} v{b.originator_version})" if b.originator_id else ""
        print(f"BROKEN: first break at position {b.position}: {b.kind}{where}: {b.detail}; "
              f"{len(report.breaks) + report.more_breaks} break(s) in all", file=sys.stderr)
        return 1
    print(f"ok: {report.events} events, {report.checkpoints} checkpoint(s), signatures {report.signatures}, "
          f"{report.events_per_second:,.0f} events/s", file=sys.stderr)
    return 0


def cmd_verify_proof(args: argparse.Namespace) -> int:
    from infrastructure.verifier import main

    argv = ["--public-key", args.public_key]
    if args.checkpoint:
        argv += ["--checkpoint", args.checkpoint]
    if args.proof:
        argv += ["--proof", args.proof]
    if args.cipher_key:
        argv += ["--cipher-key", args.cipher_key]
    return main(argv)


def add_commands(sub: Any) -> None:
    """Registers the integrity commands on the `civic-ledger` sub-parsers."""
    s = sub.add_parser("checkpoint", help="sign a checkpoint of the hash chain (or list them) and print it as JSON")
    s.add_argument("--list", action="store_true", help="print the checkpoints, newest first (JSON lines)")
    s.add_argument("--limit", type=int, default=100)
    s.set_defaults(func=cmd_checkpoint)

    s = sub.add_parser("proof", help="print the proof file of the event at a position (JSON)")
    s.add_argument("position", type=int)
    s.add_argument("--checkpoint", type=int, help="tree size of the checkpoint (default: the latest)")
    s.add_argument("--since", type=int, help="also prove consistency from this older checkpoint (tree size)")
    s.set_defaults(func=cmd_proof)

    s = sub.add_parser("public-key", help="print the checkpoint signing public key (PEM)")
    s.set_defaults(func=cmd_public_key)

    s = sub.add_parser("verify", help="walk the whole store against the chain and the checkpoints; exit 1 on a break")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--no-catch-up", action="store_true", help="do not chain pending events first")
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser("verify-proof", help="check a checkpoint and a proof offline with the public key alone")
    s.add_argument("--public-key", required=True)
    s.add_argument("--checkpoint")
    s.add_argument("--proof")
    s.add_argument("--cipher-key", help="the payload key (base64), to re-derive an answer from encrypted payloads")
    s.set_defaults(func=cmd_verify_proof)
