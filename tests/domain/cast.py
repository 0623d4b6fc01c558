"""Who acts and when in the domain tests: the fixed instants, organizations and persons (`actor`)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from domain.base import Actor
from domain.organizations import OFFICE_CODE, Role

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)
TODAY = T0.date()

DIV = "div-relief"
OTHER_DIV = "div-welfare"
CITY = "xa-bureau"
CODE = "SX-MZ-001"


def actor(person: str, organization: str, role: Role | str, on_behalf_of: str | None = None) -> Actor:
    return Actor(person=person, organization=organization, role=str(role), on_behalf_of=on_behalf_of)


OFFICE_ADMIN = actor("office-admin", OFFICE_CODE, Role.OFFICE_ADMIN)
OFFICE_REVIEWER = actor("office-reviewer", OFFICE_CODE, Role.CATALOG_REVIEWER)
COMPILER = actor("div-compiler", DIV, Role.CATALOG_COMPILER)
REVIEWER = actor("div-reviewer", DIV, Role.CATALOG_REVIEWER)
OTHER_COMPILER = actor("welfare-compiler", OTHER_DIV, Role.CATALOG_COMPILER)
OTHER_REVIEWER = actor("welfare-reviewer", OTHER_DIV, Role.CATALOG_REVIEWER)
CITY_COMPILER = actor("xa-compiler", CITY, Role.CATALOG_COMPILER)
CITY_REVIEWER = actor("xa-reviewer", CITY, Role.CATALOG_REVIEWER)
