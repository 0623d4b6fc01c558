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
    C.EffectiveDateCorrected: ("TIME-1", "TIME-2", "TIME-3"),
    S.SourcesClaimed: ("CAT-5",),
    S.SourcesReleased: ("CAT-5",),
}

KINDS: dict[str, type[LedgerAggregate]] = {cls.KIND: cls for cls in (Organization, CatalogEntry, SourceIndex)}


def rules_of(event: object) -> tuple[str, ...]:
    return RULE_CONTEXT.get(type(event), ())

# -- sharing (SHR, USE) -------------------------------------------------------------------

from domain.grants import Grant  # noqa: E402
from domain.sharing import ImplementationOrder, ShareRequest  # noqa: E402

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
    G.SuspensionBackdated: ("TIME-1", "TIME-2", "TIME-3", "USE-1"),
    G.RevocationBackdated: ("TIME-1", "TIME-2", "TIME-3", "USE-1"),
    G.ValidityCorrected: ("TIME-1", "TIME-2", "TIME-3", "USE-1"),
})
KINDS.update({cls.KIND: cls for cls in (ShareRequest, ImplementationOrder, Grant)})

from domain.grant_reviews import GrantReview  # noqa: E402

RULE_CONTEXT.update({
    GrantReview.Opened: ("SHR-4", "SHR-5", "USE-1"),
    GrantReview.Closed: ("SHR-6", "USE-1"),
})
KINDS.update({GrantReview.KIND: GrantReview})

# -- maintenance (MNT, QLT) ---------------------------------------------------------------

from domain.maintenance import BatchModification, MaintenanceTicket  # noqa: E402
from domain.objections import Objection  # noqa: E402

MT, BM, OB = MaintenanceTicket, BatchModification, Objection
RULE_CONTEXT.update({
    MT.Declared: ("MNT-1", "SEC-1"),
    MT.Approved: ("MNT-1",),
    MT.Rejected: ("MNT-1",),
    MT.Applied: ("MNT-1", "SEC-1"),
    MT.Verified: ("MNT-1",),
    MT.SentBack: ("MNT-1",),
    BM.Requested: ("MNT-2",),
    BM.Approved: ("MNT-2",),
    BM.Rejected: ("MNT-2",),
    BM.Executed: ("MNT-2", "AUD-1"),
    BM.ExecutionRefused: ("MNT-2", "AUD-1"),
    OB.Raised: ("QLT-1",),
    OB.Confirmed: ("QLT-1", "MNT-1"),
    OB.Rejected: ("QLT-1",),
})
KINDS.update({cls.KIND: cls for cls in (MaintenanceTicket, BatchModification, Objection)})

# -- systems (COL-1, SYS-1 … SYS-5, CAT-5) -------------------------------------------------

from domain.systems import InformationSystem  # noqa: E402

IS = InformationSystem
RULE_CONTEXT.update({
    IS.Proposed: ("COL-1", "SYS-1"),
    IS.RegisteredExisting: ("SYS-5",),
    IS.CatalogRevised: ("SYS-1",),
    IS.JustificationFiled: ("COL-1", "CAT-5"),
    IS.DuplicateCollectionAccepted: ("CAT-5",),
    IS.Approved: ("SYS-1", "COL-1", "CAT-5"),
    IS.Rejected: ("SYS-1",),
    IS.Connected: ("SYS-2",),
    IS.ComplianceTested: ("SYS-4",),
    IS.WentLive: ("SYS-2", "SYS-4"),
    IS.ChangeFiled: ("SYS-3",),
    IS.ChangeConfirmed: ("SYS-3",),
    IS.ChangeDeclined: ("SYS-3",),
    IS.ChangeImplemented: ("SYS-3",),
    IS.UnconfirmedChangeFound: ("SYS-3", "SYS-5"),
    IS.Decommissioned: ("SYS-3",),
    IS.GoLiveDateCorrected: ("TIME-1", "TIME-2", "TIME-3", "SYS-4"),
    IS.ShutdownDateCorrected: ("TIME-1", "TIME-2", "TIME-3", "SYS-3"),
    IS.RectificationOrdered: ("SYS-5",),
    IS.RectificationClosed: ("SYS-5",),
})
KINDS.update({IS.KIND: IS})

# -- access log (LOG-1, USE-1) --------------------------------------------------------------

from domain.access_log import AccessLogBatch  # noqa: E402

RULE_CONTEXT.update({AccessLogBatch.Recorded: ("LOG-1", "USE-1")})
KINDS.update({AccessLogBatch.KIND: AccessLogBatch})

# -- compliance (VIO-1 … VIO-5) -------------------------------------------------------------

from domain.compliance import Violation  # noqa: E402

VI = Violation
_VIO = ("VIO-1", "VIO-2", "VIO-3", "VIO-4", "VIO-5")  # the kind of the case names which one applies
RULE_CONTEXT.update({e: _VIO for e in (VI.CandidateRaised, VI.Raised, VI.Confirmed, VI.Dismissed, VI.NoticeIssued,
                                       VI.RectificationReported, VI.Accepted, VI.Escalated)})
KINDS.update({VI.KIND: VI})
