"""The running parts that the backup takes: what the composition root wires.

Nothing in `application/` imports the composition root (`bootstrap`); code here that needs the
whole set of services names this protocol instead, and the root's `Runtime` satisfies it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from application.access_log import AccessLogService
from application.catalog import CatalogService
from application.common import Clock
from application.integrity import IntegrityService
from application.maintenance import MaintenanceService
from application.monitors import MonitorService
from application.organizations import OrganizationService
from application.sharing import SharingService
from application.systems import SystemsService
from infrastructure.config import Settings
from infrastructure.store import Ledger
from projections.maintenance_queries import MaintenanceQueries
from projections.runner import Projector
from projections.sharing_queries import SharingQueries
from projections.systems_queries import SystemQueries


class Wired(Protocol):
    settings: Settings
    clock: Clock
    ledger: Ledger
    projector: Projector
    organizations: OrganizationService
    catalog: CatalogService
    sharing: SharingService
    sharing_queries: SharingQueries
    systems: SystemsService
    system_queries: SystemQueries
    maintenance: MaintenanceService
    maintenance_queries: MaintenanceQueries
    access_log: AccessLogService
    monitors: MonitorService
    integrity: IntegrityService

    def init(self, *, admin: str = ..., office_name: str = ...) -> tuple[bool, str]: ...

    def forget_callers(self, _position: int | None = None) -> None: ...

    def today(self) -> date: ...

    def now(self) -> datetime: ...
