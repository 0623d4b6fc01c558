"""A writer of grants in a process of its own, for the cross-process USE-1 property test:
`python -m tests.api.grant_writer URL SECONDS SEED`.

It builds the property test's world (a provider with two published entries, two holders), prints
one JSON line naming the entries and holders, then grants, suspends, resumes, revokes and uses
grants at random for SECONDS and prints `done <commands>`.
"""

from __future__ import annotations

import json
import random
import sys
import time

from application.common import Principal
from bootstrap import Runtime
from infrastructure.config import Settings
from tests.application.test_grant_status_property import FIELDS, HOLDERS, PURPOSES, World


def action(rng: random.Random) -> tuple[object, ...]:
    kind = rng.choice(["grant", "grant", "suspend", "resume", "revoke", "use"])
    if kind == "grant":
        fields = rng.sample(FIELDS, rng.randint(1, len(FIELDS)))
        return ("grant", rng.choice(HOLDERS), rng.randint(0, 1), fields, rng.choice(PURPOSES), rng.randint(1, 40))
    return (kind, rng.randint(0, 30))


def main(url: str, seconds: float, seed: int) -> None:
    rt = Runtime(Settings(database_url=url))
    admin = Principal(person="office-admin", organization="office", roles=frozenset({"office_admin"}))
    try:
        world = World(rt, admin, rt.clock)
        print(json.dumps({"entries": [str(e) for e in world.entries], "holders": list(HOLDERS)}), flush=True)
        rng = random.Random(seed)
        done = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            world.run(action(rng))
            done += 1
        print(f"done {done}", flush=True)
    finally:
        rt.close()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]))
