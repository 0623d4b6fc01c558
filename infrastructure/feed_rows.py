"""Reads of the feed index (`feed_events`, `feed_audience`, kept by the projector in `projections.feed`):
which positions a feed page holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infrastructure.sql import Db


def feed_positions(db: Db, *, after: int, upto: int, limit: int, types: Sequence[str], subject: str | None,
                   access_log: bool, org: str | None, everyone: str) -> list[int]:
    """Up to `limit` indexed positions after `after` up to `upto`, in order: of these event `types` (any when
    empty), of this `subject` (any when empty), none of an access log unless `access_log`, and, when `org` is
    given, only those whose audience is that organization or `everyone`."""
    where, params = ["e.position > ?", "e.position <= ?"], list[Any]([after, upto])
    if types:
        where.append(f"e.type IN ({', '.join('?' for _ in types)})")
        params.extend(types)
    if subject:
        where.append("e.subject = ?")
        params.append(subject)
    if not access_log:
        where.append("e.subject NOT LIKE ?")
        params.append("access-log/%")
    if org is None:
        sql = f"SELECT e.position FROM feed_events e WHERE {' AND '.join(where)} ORDER BY e.position LIMIT ?"
    else:
        where = [w.replace("e.position", "a.position") for w in where]
        sql = ("SELECT a.position FROM feed_audience a JOIN feed_events e ON e.position = a.position "
               f"WHERE a.org IN (?, ?) AND {' AND '.join(where)} ORDER BY a.position LIMIT ?")
        params = [everyone, org, *params]
    return [int(r["position"]) for r in db.query(sql, (*params, limit))]
