"""A day of demo traffic: the exchange platform posts its access log for the last 24 hours.

Most deliveries are covered by the demo's reusable grants and are allowed; a few are not — a
purpose other than the grant's, a field the grant does not hold, a holder with no grant — and are
logged as denied with their reasons (USE-1), which the compliance monitors pick up. Request ids are
derived from the day, so posting the same day again stores nothing twice.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec

from application.common import Command
from demo.parts import Services, Store
from demo.sharing import PLATFORM
from domain.access_log import Access
from domain.base import ledger_date

BATCH = 1000


def load_demo_traffic(services: Services, store: Store, *, records: int = 2000, seed: int = 22) -> dict[str, Any]:
    """Posts `records` deliveries spread over the 24 hours before now, in batches of 1,000."""
    rng = random.Random(seed)
    store.projector.wait_for(store.ledger.max_position(), "sharing")
    grants = store.ledger.db.query(
        "SELECT id, holder, provider, entry_id, fields, purpose, method, valid_from FROM grants "
        "WHERE status = 'active' AND kind = 'reusable' ORDER BY id"
    )
    if not grants:
        return {"access_records": 0}
    now = store.now()
    day = ledger_date(now).isoformat()
    accesses: list[Access] = []
    holders = sorted({g["holder"] for g in grants})
    for i in range(records):
        g = rng.choice(grants)
        fields = msgspec.json.decode(g["fields"])
        asked = tuple(rng.sample(fields, k=rng.randint(1, len(fields))))
        purpose, holder = g["purpose"], g["holder"]
        grant_id: UUID | None = UUID(g["id"])
        roll = rng.random()
        if roll < 0.01:
            purpose = "转交第三方核查"          # not the approved purpose
        elif roll < 0.02:
            asked = (*asked, "NOT_GRANTED_FIELD")
        elif roll < 0.03:
            holder = rng.choice([h for h in holders if h != g["holder"]] or holders)
            grant_id = None                   # a holder asking for an entry it holds no grant for
        earliest = max(now - timedelta(days=1), datetime.fromisoformat(g["valid_from"]))
        span = max(60, int((now - earliest).total_seconds()))
        accessed = now - timedelta(seconds=rng.randint(1, span))
        accesses.append(Access(
            request_id=f"demo-{day}-{i:06}", holder=holder, provider=g["provider"], entry_id=UUID(g["entry_id"]),
            fields=asked, purpose=purpose, method=g["method"], record_count=rng.randint(1, 500),
            accessed_at=accessed, grant_id=grant_id,
        ))
    allowed = denied = 0
    for start in range(0, len(accesses), BATCH):
        answer, _ = services.access_log.record(PLATFORM, Command(name="access_log.record", fingerprint=""),
                                               accesses[start:start + BATCH])
        allowed += answer.allowed
        denied += answer.denied
    return {"access_records": allowed + denied, "access_allowed": allowed, "access_denied": denied}
