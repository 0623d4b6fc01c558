"""What the demo loader is given: the use-case services it drives and the store it reads back.

The demo records every fact through the same services the running ledger uses, so each is a real
event checked by the domain's rules. It takes those services and the store by name, not the
composition root's whole runtime: the entry point that loads the demo (the CLI) picks the parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from application.access_log import AccessLogService
from application.catalog import CatalogService
from application.common import Clock
from application.maintenance import MaintenanceService
from application.monitors import MonitorService
from application.organizations import OrganizationService
from application.sharing import SharingService
from application.systems import SystemsService
from domain.base import ledger_date
from infrastructure.store import Ledger
from projections.maintenance_queries import MaintenanceQueries
from projections.runner import Projector
from projections.sharing_queries import SharingQueries
from projections.systems_queries import SystemQueries


class FirstAdmin(Protocol):
    """Registers the Office with its first admin if need be; answers (created, the admin's new token)."""

    def __call__(self, *, admin: str) -> tuple[bool, str]: ...


@dataclass(frozen=True)
class Services:
    """The use-case services the demo drives."""

    organizations: OrganizationService
    catalog: CatalogService
    sharing: SharingService
    systems: SystemsService
    maintenance: MaintenanceService
    access_log: AccessLogService
    monitors: MonitorService


@dataclass(frozen=True)
class Store:
    """What the demo reads back: the ledger, the views it waits for and their queries, and the clock."""

    ledger: Ledger
    projector: Projector
    sharing_queries: SharingQueries
    system_queries: SystemQueries
    maintenance_queries: MaintenanceQueries
    clock: Clock

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        """Today's date on the ledger's calendar (Beijing)."""
        return ledger_date(self.clock.now())


@dataclass(frozen=True)
class DemoParts:
    services: Services
    store: Store
    first_admin: FirstAdmin
