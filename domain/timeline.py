"""The rule context of each event: which rules its command was checked against (for auditors)."""

from __future__ import annotations

from domain.base import LedgerAggregate
from domain.catalog import CatalogEntry, SourceIndex
from domain.organizations import Organization

C, Org, S = CatalogEntry, Organization, SourceIndex

RULE_CONTEXT: dict[type, tuple[str, ...]] = {
    Org.Registered: ("ORG-1",),
    Org.RoleAssigned: ("ORG-1",),
    Org.RoleRevoked: ("ORG-1",),
    Org.ServiceAuthorised: ("ORG-2",),
    Org.ServiceAuthorisationWithdrawn: ("ORG-2",),
    C.Drafted: ("CAT-2", "CAT-4"),
    C.DraftRevised: ("CAT-2", "CAT-4"),
    C.Submitted: ("CAT-2", "CAT-5"),
    C.Reviewed: ("CAT-1", "CAT-2"),
    C.DuplicateSourceAccepted: ("CAT-5",),
    C.Published: ("CAT-1", "CAT-3", "CAT-5"),
    C.RevisionStarted: ("CAT-6",),
    C.DataRefreshed: ("CAT-7",),
    C.Retired: ("CAT-3",),
    S.SourcesClaimed: ("CAT-5",),
    S.SourcesReleased: ("CAT-5",),
}

KINDS: dict[str, type[LedgerAggregate]] = {cls.KIND: cls for cls in (Organization, CatalogEntry, SourceIndex)}


def rules_of(event: object) -> tuple[str, ...]:
    return RULE_CONTEXT.get(type(event), ())

# -- sharing (SHR, USE) -------------------------------------------------------------------

from domain.sharing import Grant, ImplementationOrder, ShareRequest  # noqa: E402

R, IO, G = ShareRequest, ImplementationOrder, Grant
RULE_CONTEXT.update({
    R.Submitted: ("SHR-1", "SHR-2", "SHR-3", "SHR-4", "SHR-5"),
    R.Approved: ("SHR-5", "SHR-6"),
    R.Rejected: ("SHR-6",),
    R.Withdrawn: ("SHR-3",),
    R.OrderIssued: ("SHR-6",),
    IO.Issued: ("SHR-4", "SHR-5", "SHR-6", "SHR-7", "SHR-8"),
    G.Granted: ("SHR-5", "SHR-6", "SHR-7"),
    G.Suspended: ("SHR-6", "USE-1"),
    G.SuspendedForCatalog: ("SHR-4", "USE-1"),
    G.Resumed: ("SHR-4", "SHR-6"),
    G.Revoked: ("SHR-6", "USE-1"),
    G.Expired: ("USE-1",),
    G.Consumed: ("SHR-7", "USE-1"),
})
KINDS.update({cls.KIND: cls for cls in (ShareRequest, ImplementationOrder, Grant)})
