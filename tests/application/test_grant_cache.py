"""The grant-status cache never answers from before a change another process made to the same store."""

from __future__ import annotations

from bootstrap import Runtime
from tests.application.test_grant_status_property import PURPOSES, World, on
from tests.support import cmd


def test_a_revocation_projected_by_another_process_is_answered_at_once(runtime, admin, clock, settings):
    world = World(runtime, admin, clock)
    world.run(("grant", "div-h1", 0, ["DB_ID", "DB_NAME"], PURPOSES[0], 10))
    runtime.projector.catch_up_all()
    q = {"holder": "div-h1", "entry_id": world.entries[0], "fields": on(0, ["DB_ID"]), "purpose": PURPOSES[0],
         "method": "interface"}
    first = runtime.sharing.status(**q)
    assert first.allowed and runtime.sharing.status(**q).allowed
    assert runtime.grant_cache.hits >= 1  # the second answer came from the cache

    other = Runtime(settings, clock=clock)  # its own connections, as another process has; it tells nothing
    try:
        other.sharing.revoke(admin, cmd(), world.grants[0], reason="违规使用")
        other.projector.catch_up_all()
        moved = other.projector.position("sharing")
    finally:
        other.close()
    answer = runtime.sharing.status(**q)
    assert not answer.allowed and answer.reasons[0].code == "revoked"
    assert answer.position == moved > first.position
