"""Who is calling: a bearer token resolved to a principal with only the roles its person still holds.

Resolved callers are cached for a few seconds because every request asks. The cache is correct
when another process writes: every token revocation and every organization event is announced
(in one process by the service that saved it, across processes by a database notification), and
each announcement clears the cache. While announcements may be missed (the listener is
reconnecting), `trusted()` is false and nothing is served from the cache.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import msgspec
from eventsourcing.application import AggregateNotFoundError

from application.common import Clock, Principal, RuleForbidden
from domain.base import ledger_date
from domain.organizations import Organization, Role, organization_id
from domain.rules import RuleViolation
from infrastructure.store import Ledger
from infrastructure.tokens import TokenStore

MAX_CACHED = 10_000


class Callers:
    def __init__(self, ledger: Ledger, tokens: TokenStore, clock: Clock, ttl_seconds: float,
                 trusted: Callable[[], bool] = lambda: True) -> None:
        self.ledger = ledger
        self.tokens = tokens
        self.clock = clock
        self.ttl = ttl_seconds
        self.trusted = trusted
        self._cache: dict[str, tuple[float, Principal, Organization]] = {}
        self._lock = threading.Lock()
        self._generation = 0

    def principal(self, token: str, on_behalf_of: str | None = None) -> Principal | None:
        """The caller a token stands for; naming another organization (X-On-Behalf-Of) is checked
        here, once for reads and writes: without an authorisation active today it is refused (ORG-2, 403)."""
        now = time.monotonic()
        cached = self._cache.get(token) if self.ttl > 0 and self.trusted() else None
        org: Organization
        if cached is not None and cached[0] > now:
            base, org = cached[1], cached[2]
        else:
            generation = self._generation
            holder = self.tokens.lookup(token)
            if holder is None:
                return None
            try:
                org = self.ledger.repository.get(organization_id(holder.organization))
            except AggregateNotFoundError:
                return None
            roles = frozenset(r for r in holder.roles if org.holds(holder.person, Role(r)))
            base = Principal(person=holder.person, organization=holder.organization, roles=roles)
            if self.ttl > 0:
                with self._lock:
                    # A change announced while this caller was being resolved may not be in what was
                    # read: keep it only if nothing was announced meanwhile.
                    if generation == self._generation:
                        if len(self._cache) > MAX_CACHED:
                            self._cache.clear()
                        self._cache[token] = (now + self.ttl, base, org)
        if on_behalf_of is None:
            return base
        try:
            org.check_acts_for(on_behalf_of, ledger_date(self.clock.now()))
        except RuleViolation as refused:
            raise RuleForbidden(refused) from None
        return msgspec.structs.replace(base, on_behalf_of=on_behalf_of)

    def forget(self, _position: int | None = None) -> None:
        """Clears the cache: a token, role or authorisation changed somewhere."""
        with self._lock:
            self._generation += 1
            self._cache.clear()

    def __len__(self) -> int:
        return len(self._cache)
