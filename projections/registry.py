"""Every read model the projector keeps current."""

from __future__ import annotations

from projections.base import View
from projections.catalog import CatalogView
from projections.organizations import OrganizationsView
from projections.sharing import SharingView
from projections.timetravel import LedgerTimesView


def all_views() -> list[View]:
    return [OrganizationsView(), CatalogView(), SharingView(), LedgerTimesView()]
