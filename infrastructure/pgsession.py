"""PostgreSQL sessions with bounded waits: every pooled connection carries its timeouts from the start.

The library's factory builds the pool; this one adds the session settings to the pool's connect
arguments before the first connection opens, so no statement ever runs without them.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import PostgresFactory

# Our keys in the library's environment (set by `Settings.persistence_env`), whole seconds; 0 = no limit.
STATEMENT_TIMEOUT = "CIVIC_LEDGER_PG_STATEMENT_TIMEOUT"
LOCK_TIMEOUT = "CIVIC_LEDGER_PG_LOCK_TIMEOUT"
IDLE_TIMEOUT = "CIVIC_LEDGER_PG_IDLE_IN_TRANSACTION_TIMEOUT"


def session_options(statement: int, lock: int, idle: int) -> str:
    """The libpq `options` that set the three timeouts for a whole session."""
    return (f"-c statement_timeout={statement * 1000} -c lock_timeout={lock * 1000} "
            f"-c idle_in_transaction_session_timeout={idle * 1000}")


class LedgerPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory whose connections set statement, lock and idle-in-transaction timeouts."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        options = session_options(int(self.env.get(STATEMENT_TIMEOUT) or 0), int(self.env.get(LOCK_TIMEOUT) or 0),
                                  int(self.env.get(IDLE_TIMEOUT) or 0))
        kwargs = self.datastore.pool.kwargs
        assert isinstance(kwargs, dict)
        kwargs["options"] = options
