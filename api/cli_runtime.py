"""What the `civic-ledger` commands share: the runtime a command opens and always closes, and the refusals
that end a command with one line on standard error and exit status 2.

Both import the application lazily, so `civic-ledger --help` stays fast.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bootstrap import Runtime

Command = Callable[[argparse.Namespace], int]


def runtime(demo: bool = False, role: str = "standalone") -> Runtime:
    """The runtime over the configured store (on the demo's clock with `demo`)."""
    from bootstrap import Runtime
    from infrastructure.config import Settings

    if demo:  # the demo's history is spread over past weeks (see demo.loader.DemoClock)
        from demo.loader import DemoClock

        return Runtime(Settings.from_env(), clock=DemoClock(), role=role)
    return Runtime(Settings.from_env(), role=role)


@contextmanager
def opened(*, demo: bool = False, role: str = "standalone") -> Iterator[Runtime]:
    """The runtime of a command, closed when the command ends, however it ends."""
    rt = runtime(demo, role)
    try:
        yield rt
    finally:
        rt.close()


def refusing(*errors: str, detail: bool = False) -> Callable[[Command], Command]:
    """A command that raises one of `errors` (named `module:Class`, imported when the command runs) prints
    `refused: <the error>` (its `detail` with `detail`) on standard error and exits 2."""

    def wrap(command: Command) -> Command:
        @functools.wraps(command)
        def run(args: argparse.Namespace) -> int:
            kinds = tuple(getattr(importlib.import_module(m), c) for m, _, c in (e.partition(":") for e in errors))
            try:
                return command(args)
            except kinds as e:
                print(f"refused: {e.detail if detail else e}", file=sys.stderr)  # type: ignore[attr-defined]
                return 2

        return run

    return wrap
