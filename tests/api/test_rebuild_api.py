"""A rebuild seen over HTTP: /health and /metrics show its progress, and the catalog answers whole throughout.

The rebuild runs in another projector on the same store (as `civic-ledger rebuild` does beside a server).
"""

from __future__ import annotations

import threading

from application.common import Principal
from projections.catalog import CatalogView
from projections.runner import Projector
from tests.projections.test_catalog_projection import random_history


def test_health_and_metrics_show_a_rebuild_and_the_catalog_answers_whole(runtime, server, admin_token):
    admin = Principal(person="office-admin", organization="office", roles=frozenset({"office_admin"}))
    random_history(runtime, admin, seed=4, n=15)
    runtime.projector.catch_up_all()
    client = server.client(admin_token)
    whole = client.get("/catalog/entries", params={"limit": 100}).json()["items"]
    assert len(whole) == 15
    seen: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()
    read = threading.Condition()

    def reader() -> None:
        with server.client(admin_token) as c:
            while not done.is_set():
                try:
                    r = c.get("/catalog/entries", params={"limit": 100})
                    assert r.status_code == 200, r.text
                    with read:
                        seen.append(len(r.json()["items"]))
                        read.notify_all()
                except BaseException as e:  # noqa: BLE001 - any failure is a reader left without its view
                    errors.append(e)
                    return

    shown: list[dict] = []
    metrics: list[str] = []

    def progress(n: int) -> None:
        # each page of the build waits for a read (bounded), so reads interleave with the build even on a
        # loaded machine where the reader's thread would otherwise start after a short build is over
        with read:
            before = len(seen)
            read.wait_for(lambda: len(seen) > before or bool(errors), timeout=5)
        if n and not shown:  # the first page of the build has committed: look at it from outside
            health = client.get("/health")
            assert health.status_code == 200
            shown.append(health.json())
            metrics.append(client.get("/metrics").text)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        Projector(runtime.ledger, [CatalogView()], page_size=2).rebuild(progress=progress)
    finally:
        done.set()
        thread.join()
    assert errors == []
    assert len(seen) >= 2 and set(seen) == {15}, f"a reader saw the catalog empty or partial: {seen}"
    [build] = shown[0]["rebuilding"]
    assert build["view"] == "catalog" and 0 < build["position"] < build["head"] == runtime.ledger.max_position()
    assert shown[0]["status"] == "ok"
    assert 'civic_ledger_projection_rebuilding{view="catalog"} 1' in metrics[0]
    assert f'civic_ledger_projection_rebuild_position{{view="catalog"}} {build["position"]}' in metrics[0]
    after = client.get("/health").json()
    assert "rebuilding" not in after
    assert 'civic_ledger_projection_rebuilding{view="catalog"} 0' in client.get("/metrics").text
    assert client.get("/catalog/entries", params={"limit": 100}).json()["items"] == whole
