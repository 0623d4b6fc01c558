"""A writer in a process of its own, for the feed-completeness tests: `python -m tests.api.feed_writer URL PREFIX N`.

It opens the project's Runtime on the given database, prints `ready`, waits for a line on stdin,
then registers N organizations `<PREFIX>-<i>` one command at a time and prints `done`.
"""

from __future__ import annotations

import sys

from application.common import Principal
from bootstrap import Runtime
from infrastructure.config import Settings
from tests.support import register


def main(url: str, prefix: str, n: int) -> None:
    rt = Runtime(Settings(database_url=url))
    admin = Principal(person="office-admin", organization="office", roles=frozenset({"office_admin"}))
    try:
        print("ready", flush=True)
        sys.stdin.readline()
        for i in range(n):
            register(rt, admin, f"{prefix}-{i}")
        print("done", flush=True)
    finally:
        rt.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
