"""Every read model the projector keeps current."""

from __future__ import annotations

from projections.access_log import AccessLogView
from projections.base import View
from projections.catalog import CatalogView
from projections.compliance import ComplianceView
from projections.feed import FeedView
from projections.ledger_chain import LedgerChainView
from projections.maintenance import MaintenanceView
from projections.organizations import OrganizationsView
from projections.sharing import SharingView
from projections.systems import SystemsView
from projections.timetravel import CorrectionsView, LedgerTimesView


def all_views() -> list[View]:
    return [OrganizationsView(), CatalogView(), SharingView(), MaintenanceView(), LedgerTimesView(), CorrectionsView(), SystemsView(),
            AccessLogView(), LedgerChainView(), FeedView(), ComplianceView()]
