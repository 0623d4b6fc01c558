"""The `civic-ledger` command: serve, worker, init, token, demo, rebuild, history."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime

from api import cli_backup, cli_ledger
from api.cli_runtime import opened
from api.cli_runtime import runtime as _runtime
from infrastructure.config import Settings, load_dotenv

SQLITE_ONE_PROCESS = ("the embedded SQLite store is served by one process, which also runs the background "
                      "duties: other processes could neither share its write lock nor learn of its writes. "
                      "Set CIVIC_LEDGER_DATABASE_URL to a PostgreSQL database to run several.")


def demo_parts(rt):  # noqa: ANN001, ANN201 - the runtime is imported lazily
    """The parts of a runtime the demo loader is given: its use-case services, the store and the first admin."""
    from demo.parts import DemoParts, Services, Store

    services = Services(organizations=rt.organizations, catalog=rt.catalog, sharing=rt.sharing, systems=rt.systems,
                        maintenance=rt.maintenance, access_log=rt.access_log, monitors=rt.monitors)
    store = Store(ledger=rt.ledger, projector=rt.projector, sharing_queries=rt.sharing_queries,
                  system_queries=rt.system_queries, maintenance_queries=rt.maintenance_queries, clock=rt.clock)
    return DemoParts(services=services, store=store, first_admin=rt.init)


def load_demo(rt) -> dict:  # noqa: ANN001
    """Loads the demo data set into the runtime's ledger once (see `demo.loader.load_demo`)."""
    from demo.loader import load_demo as load

    return load(demo_parts(rt))


def _load_demo(rt) -> None:  # noqa: ANN001
    summary = load_demo(rt)
    if summary.get("admin_token"):
        print(f"demo loaded: {summary['entries']} catalog entries; Office admin token:", file=sys.stderr)
        print(summary["admin_token"], file=sys.stderr)
    else:
        print("demo data already present; create a token with `civic-ledger token create`", file=sys.stderr)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    settings = Settings.from_env()
    host, port = args.host or settings.host, args.port or settings.port
    if settings.backend != "postgres" and (args.workers is not None and args.workers != 1 or args.no_background):
        flag = "--workers" if args.workers not in (None, 1) else "--no-background"
        print(f"refused: {flag} needs PostgreSQL; {SQLITE_ONE_PROCESS}", file=sys.stderr)
        return 2
    if args.workers is not None and args.workers < 1:
        print("refused: --workers is a number of processes, 1 or more", file=sys.stderr)
        return 2
    if args.workers is not None and settings.backend == "postgres":
        if args.demo:
            rt = _runtime(demo=True)
            try:
                _load_demo(rt)
            finally:
                rt.close()
        return _serve_workers(args.workers, host, port, background=not args.no_background)
    rt = _runtime(demo=args.demo, role="serve")
    if args.demo:
        _load_demo(rt)
    app = create_app(rt, background=not args.no_background, sweep_seconds=settings.sweep_seconds)
    grace = settings.shutdown_grace_seconds
    config = uvicorn.Config(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=grace)
    _bounded_server(config, hard_deadline=grace + 20.0).run()
    rt.close()
    return 0


def _serve_workers(workers: int, host: str, port: int, *, background: bool) -> int:
    """N API worker processes under Granian (PostgreSQL; decision 12: uvicorn's supervisor loses TCP_NODELAY on the
    socket it hands its workers, so each keep-alive answer waits ~40 ms for a delayed ACK). Each process
    builds its own app (api.app:serve_app) from the environment it inherits; a worker that dies is
    started again."""
    from granian import Granian
    from granian.constants import Interfaces

    os.environ["CIVIC_LEDGER_SERVE_BACKGROUND"] = "1" if background else "0"
    Granian("api.app:serve_app", address=host, port=port, interface=Interfaces.ASGI, workers=workers, factory=True,
            respawn_failed_workers=True, respawn_interval=1.0, workers_kill_timeout=30).serve()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """The background duties without HTTP, under the election: active, or standing by to take over."""
    import logging
    import signal
    import threading

    settings = Settings.from_env()
    if settings.backend != "postgres":
        print(f"refused: `worker` needs PostgreSQL; {SQLITE_ONE_PROCESS} `civic-ledger serve` runs them.",
              file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with opened(role="worker") as rt:
        rt.start_background(settings.sweep_seconds)
        print(f"worker {os.getpid()}: taking part in the election of the background worker", file=sys.stderr)
        stop.wait()
    return 0


def _bounded_server(config, hard_deadline: float):  # noqa: ANN001, ANN202 - uvicorn is imported lazily
    """uvicorn's server, with a last resort: once asked to stop, the process ends within `hard_deadline` seconds.

    uvicorn cancels requests still running after `timeout_graceful_shutdown`, but a handler blocked in a
    thread cannot be cancelled, and asyncio waits for that thread before the process may exit. The
    store's timeouts end such a wait on their own; this timer covers anything they do not.
    """
    import os
    import threading

    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame):  # noqa: ANN001, ANN202
            if not self.should_exit:
                def give_up() -> None:
                    print(f"civic-ledger: shutdown took more than {hard_deadline:.0f} s; exiting now",
                          file=sys.stderr, flush=True)
                    os._exit(1)

                timer = threading.Timer(hard_deadline, give_up)
                timer.daemon = True
                timer.start()
            super().handle_exit(sig, frame)

    return Server(config)


def cmd_init(args: argparse.Namespace) -> int:
    import dataclasses

    from bootstrap import Runtime
    from infrastructure.store import ProfileMismatch

    settings = Settings.from_env()
    if args.crypto:
        settings = dataclasses.replace(settings, crypto_profile=args.crypto)
    try:
        rt = Runtime(settings)
    except ProfileMismatch as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2
    print(f"crypto profile: {rt.ledger.profile}", file=sys.stderr)
    try:
        created, token = rt.init(admin=args.admin)
        print("Office registered." if created else "Office already registered; new admin token issued.")
        print(token)
    finally:
        rt.close()
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from domain.rules import RuleViolation

    with opened() as rt:
        try:
            token = rt.issue_token(org=args.org, person=args.person, roles=tuple(args.role))
        except (RuleViolation, ValueError) as e:
            print(f"refused: {e}", file=sys.stderr)
            return 2
    print(f"token for {args.person} of {args.org} with roles {', '.join(args.role)}:")
    print(token)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    with opened() as rt:
        for row in rt.tokens.listing(args.org):
            print(json.dumps(row, ensure_ascii=False))
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    with opened() as rt:
        token_id = rt.tokens.id_of(args.token) if args.token.startswith("clt_") else args.token
        done = token_id is not None and rt.revoke_token(token_id)
    if not done:
        print(f"refused: no token {args.token} that is not already revoked", file=sys.stderr)
        return 2
    print(f"revoked token {token_id}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    with opened(demo=True) as rt:
        summary = load_demo(rt)
        rt.projector.catch_up_all()
    print(json.dumps({k: v for k, v in summary.items() if k != "admin_token"}, ensure_ascii=False))
    if summary.get("admin_token"):
        print(summary["admin_token"])
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from projections.runner import ViewStalled

    with opened() as rt:
        try:
            names = args.view or list(rt.projector.views)
            unknown = [n for n in names if n not in rt.projector.views]
            if unknown:
                print(f"refused: no read model {unknown[0]!r}; the read models are {', '.join(rt.projector.views)}",
                      file=sys.stderr)
                return 2
            total = rt.ledger.max_position()
            # built beside the live tables, which keep answering, and swapped in one transaction per view
            with tqdm(total=total * len(names), unit="ev", desc="rebuild", file=sys.stderr) as bar:
                rt.projector.rebuild(names, progress=bar.update)
            print(json.dumps({"rebuilt": names, "position": min(rt.projector.position(n) for n in names)}))
        except ViewStalled as stalled:
            print(f"rebuild stopped: {stalled}", file=sys.stderr)
            return 1
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    import msgspec

    from application.common import NotFound, Principal
    from infrastructure.recorders import LedgerTampered

    with opened() as rt:
        auditor = Principal(person="cli", organization="office", roles=frozenset({"auditor"}))
        try:
            events = rt.history.timeline(auditor, args.kind, args.id)
        except NotFound as e:
            print(e.detail, file=sys.stderr)
            return 1
        except LedgerTampered as e:
            print(f"refused: {e}", file=sys.stderr)
            return 1
        for ev in events:
            print(f"#{ev.position:<7} v{ev.version:<3} {ev.time}  {ev.type:<26} "
                  f"{ev.actor['person']} ({ev.actor['organization']}/{ev.actor['role']})  {' '.join(ev.rules)}")
            if args.verbose:
                print("    " + msgspec.json.encode(ev.data).decode("utf-8"))
    return 0


def _instant(value: str | None, flag: str) -> datetime | None:
    """An ISO-8601 instant with its offset, or None; a value without an offset names no instant."""
    if value is None:
        return None
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise ValueError(f"{flag} needs a time zone, e.g. 2025-03-31T23:59:59+08:00")
    return at


def cmd_state(args: argparse.Namespace) -> int:
    """Prints the state as at `--at` (effective time), as known at `--as-known-at` (recorded time): a summary,
    the published catalog, the grants in force, the systems or the violations."""
    from projections.state_queries import StateQueries

    try:
        asked_at, asked_known = _instant(args.at, "--at"), _instant(args.as_known_at, "--as-known-at")
    except ValueError as bad:
        print(bad, file=sys.stderr)
        return 2
    with opened() as rt:
        cut, db = rt.state_as_of(asked_at, asked_known)
        at, position = cut.at, cut.position
        q = StateQueries(db)
        if args.what == "catalog":
            rows = q.published_catalog()
        elif args.what == "grants":
            rows = q.grants_in_force(at)
        elif args.what == "systems":
            rows = q.systems()
        elif args.what == "violations":
            rows = q.violations()
        else:
            rows = [{"at": at.isoformat(), "as_known_at": cut.as_known_at.isoformat(), "position": position,
                     "known_position": cut.known_position, "corrections": list(cut.corrections), **q.summary(at)}]
        for row in rows:
            print(json.dumps(row, ensure_ascii=False, default=str))
    return 0


def cmd_state_changes(args: argparse.Namespace) -> int:
    """Prints, as JSON lines, what the ledger learned between two recorded instants that changed its answer about
    `--at`: first each event learned, then each fact it changed, before and after."""
    try:
        at = _instant(args.at, "--at")
        known_from, known_to = _instant(args.known_from, "--known-from"), _instant(args.known_to, "--known-to")
    except ValueError as bad:
        print(bad, file=sys.stderr)
        return 2
    assert known_from is not None
    with opened() as rt:
        found = rt.state_changes(at, known_from, known_to)
        before, after = found["before"], found["after"]
        print(json.dumps({"at": before.at.isoformat(), "known_from": before.as_known_at.isoformat(),
                          "known_to": after.as_known_at.isoformat(), "from_position": before.known_position,
                          "to_position": after.known_position, "truncated": found["truncated"]}))
        for row in found["learned"]:
            print(json.dumps({"learned": row}, ensure_ascii=False, default=str))
        for row in found["changed"]:
            print(json.dumps({"changed": row}, ensure_ascii=False, default=str))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    with opened() as rt:
        done = rt.sharing.expire_due()
    print(json.dumps({"expired": done}))
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    import msgspec

    with opened() as rt:
        done = rt.monitors.run()
    print(msgspec.json.encode(done).decode("utf-8"))
    return 0


def cmd_access_log_archive(args: argparse.Namespace) -> int:
    from datetime import date
    from pathlib import Path

    from domain.rules import RuleViolation
    from projections.access_log_archive import ArchiveFailed

    with opened() as rt:
        try:
            done = rt.access_log.archive(before=date.fromisoformat(args.before), out=Path(args.out))
        except (RuleViolation, ArchiveFailed) as e:
            print(f"refused: {e}", file=sys.stderr)
            return 2
    print(json.dumps({"archived": done.rows, "file": done.file, "sha256": done.sha256,
                      "before": done.before.isoformat()}))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="civic-ledger", description="Governance ledger of the Shaanxi civil-affairs data regime.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="serve the HTTP API")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--demo", action="store_true", help="load the demo data set first (once)")
    s.add_argument("--workers", type=int, help="API worker processes (PostgreSQL only; default 1)")
    s.add_argument("--no-background", action="store_true",
                   help="serve HTTP only; `civic-ledger worker` processes do the background duties (PostgreSQL only)")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("worker", help="run the background duties without HTTP; one of any number is active "
                       "(PostgreSQL only)")
    s.set_defaults(func=cmd_worker)

    s = sub.add_parser("init", help="register the Office and print its first admin token")
    s.add_argument("--admin", default="office-admin")
    s.add_argument("--crypto", choices=("intl", "sm"),
                   help="the crypto profile, chosen once when the ledger is created: intl (SHA-256, Ed25519, AES-GCM; "
                        "the default) or sm (SM3, SM2, SM4); default CIVIC_LEDGER_CRYPTO_PROFILE")
    s.set_defaults(func=cmd_init)

    t = sub.add_parser("token", help="manage API tokens").add_subparsers(dest="token_command", required=True)
    s = t.add_parser("create", help="assign roles to a person and print a new token (last line)")
    s.add_argument("--org", required=True)
    s.add_argument("--person", required=True)
    s.add_argument("--role", action="append", required=True)
    s.set_defaults(func=cmd_token_create)
    s = t.add_parser("list", help="list tokens as JSON lines: id, person, organization, roles, dates (never the token)")
    s.add_argument("--org", help="only this organization's")
    s.set_defaults(func=cmd_token_list)
    s = t.add_parser("revoke", help="revoke a token, given as the token itself or its id (from `token list`)")
    s.add_argument("token")
    s.set_defaults(func=cmd_token_revoke)

    s = sub.add_parser("demo", help="load a realistic provincial data set (once)")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("rebuild", help="rebuild the read models from the ledger beside the live ones, then swap them in")
    s.add_argument("--view", action="append", help="only this view (repeatable)")
    s.set_defaults(func=cmd_rebuild)

    s = sub.add_parser("state", help="print the state as at an instant, as known at another (JSON lines)")
    s.add_argument("--at", help="effective time: what was in force (ISO-8601 with a time zone; default now)")
    s.add_argument("--as-known-at", help="recorded time: what the ledger knew (ISO-8601 with a time zone; default now)")
    s.add_argument("--what", choices=("summary", "catalog", "grants", "systems", "violations"), default="summary")
    s.set_defaults(func=cmd_state)

    s = sub.add_parser("state-changes", help="what the ledger learned between two instants that changed its "
                       "answer about a third (JSON lines)")
    s.add_argument("--at", help="effective time the question is about (ISO-8601 with a time zone; default now)")
    s.add_argument("--known-from", required=True, help="recorded time of the first answer (ISO-8601 with a time zone)")
    s.add_argument("--known-to", help="recorded time of the second answer (ISO-8601 with a time zone; default now)")
    s.set_defaults(func=cmd_state_changes)

    s = sub.add_parser("sweep", help="record expiry of grants past their end")
    s.set_defaults(func=cmd_sweep)

    s = sub.add_parser("monitor", help="run the compliance monitors once: raise new violation candidates")
    s.set_defaults(func=cmd_monitor)

    a = sub.add_parser("access-log", help="the access log's hot view").add_subparsers(
        dest="access_log_command", required=True)
    s = a.add_parser("archive", help="move records older than DATE (at least 3 years ago, LOG-1) to a "
                     "verified JSON Lines file; the ledger keeps them")
    s.add_argument("--before", required=True, help="a date (YYYY-MM-DD), at least three years ago")
    s.add_argument("--out", required=True, help="the file to write (must not exist)")
    s.set_defaults(func=cmd_access_log_archive)

    s = sub.add_parser("history", help="print the timeline of one object")
    s.add_argument("kind")
    s.add_argument("id")
    s.add_argument("-v", "--verbose", action="store_true")
    s.set_defaults(func=cmd_history)

    cli_ledger.add_commands(sub)
    cli_backup.add_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    load_dotenv()
    args = parser().parse_args(argv)
    from infrastructure.store import ProfileMismatch

    try:
        return int(args.func(args))
    except ProfileMismatch as e:  # the store is of another crypto profile than the one asked for
        print(f"refused: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
