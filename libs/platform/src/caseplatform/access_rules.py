"""The need-to-know table: one rule per RPC of every service, keyed by full method name (ADR 0021,
docs/security.md "Who may see what"). An RPC missing here is refused at the edge, and a unit
test checks every RPC in the contracts has a rule. The application narrows further where only
it knows the case (a referral's target agency, an action's owner, a contractor's jobs)."""

from __future__ import annotations

from caseplatform.access import Role, Rule, Scope

R = Role
ANY, OWN_PATCH, SHARED, OWN_JOBS, AGGREGATE = Scope.ANY, Scope.OWN_PATCH, Scope.SHARED, Scope.OWN_JOBS, Scope.AGGREGATE

# Landlord staff who work cases: a CHO on their own patch, the others on every case.
CASE_STAFF = {R.CHO: OWN_PATCH, R.CSO: ANY, R.HOUSING_MANAGER: ANY, R.MARAC_COORDINATOR: ANY}
# ...and who read them: the ASB advisor too (the DACC desk prepares from case records).
CASE_READERS = {**CASE_STAFF, R.ASB_ADVISOR: ANY}
# Landlord staff who run the MARAC process (not a CHO: a meeting spans every patch).
MARAC_STAFF = {R.CSO: ANY, R.HOUSING_MANAGER: ANY, R.MARAC_COORDINATOR: ANY}
ALL_STAFF = {**CASE_READERS, R.CHO: ANY}  # records not tied to a case (tenancy records)


def staff(scopes: dict[Role, Scope] | None = None, **extra: Scope) -> dict[Role, Scope]:
    return {**(scopes or {}), **{Role(k): v for k, v in extra.items()}}


def read(scopes: dict[Role, Scope]) -> Rule:
    return Rule(scopes, reads=True)


def write(scopes: dict[Role, Scope]) -> Rule:
    return Rule(scopes)


def figures(scopes: dict[Role, Scope]) -> Rule:
    """Counts and aggregates, no case content: not a read of case data, so not in the read audit."""
    return Rule(scopes)


INTAKE = "/intake.v1.IntakeService/"
DACC = "/police.v1.DaccFeed/"
RISK = "/risk.v1.RiskService/"
REFERRAL = "/referral.v1.ReferralService/"
MARAC = "/marac.v1.MaracService/"
REPAIRS = "/repairs.v1.RepairsService/"
REPORTING = "/reporting.v1.ReportingService/"
OPS = "/common.v1.OpsService/"

_INTAKE_CHANGES = (
    "RecordSafeContact", "RecordConsent", "RecordNote", "RecordImmediateSafety", "RecordReportedElsewhere",
    "RequestLegalAdvice", "FlagPossiblePerpetratorAsVictim", "CorrectDetails", "CloseCase", "ReopenCase",
    "RecordRehousingRequest", "RecordPerpetratorWillingness", "RecordSafeguardingConcern",
    "RecordMaracReferralDetails",
)

RULES: dict[str, Rule] = {
    # ---- intake: the case record (owner CHO known here) ----
    INTAKE + "SubmitDisclosure": write(staff(ALL_STAFF)),  # a new case goes to the patch's CHO
    INTAKE + "GetCase": read(CASE_READERS),
    INTAKE + "ListCases": read(CASE_READERS),  # a CHO's list holds their own cases only
    **{INTAKE + name: write(CASE_STAFF) for name in _INTAKE_CHANGES},
    INTAKE + "EraseSubject": write({R.HOUSING_MANAGER: ANY}),  # crypto-shredding (issue #8)
    # ---- the DACC feed: police send, the ASB advisor works the desk ----
    DACC + "SubmitIncidents": write({R.PARTNER: SHARED}),  # police agencies only (intake.dacc.access)
    DACC + "ListUnmatchedIncidents": read({R.ASB_ADVISOR: ANY, R.PARTNER: SHARED}),  # police: their own
    DACC + "GetDaccBriefing": read({R.ASB_ADVISOR: ANY}),
    DACC + "RecordDaccOutcome": write({R.ASB_ADVISOR: ANY}),
    DACC + "RecordAsbReport": write(ALL_STAFF),
    DACC + "RecordTenancyIssue": write(ALL_STAFF),
    DACC + "RecordWelfareVisit": write(ALL_STAFF),
    # ---- risk ----
    RISK + "RecordDashAssessment": write(CASE_STAFF),
    RISK + "GetRiskHistory": read(CASE_READERS),
    # ---- referral: partners see and answer what was sent to them ----
    REFERRAL + "ListReferrals": read(staff(CASE_READERS, PARTNER=SHARED)),
    REFERRAL + "RecordVictimDecision": write(CASE_STAFF),
    REFERRAL + "MarkSent": write(CASE_STAFF),
    REFERRAL + "RecordAcknowledgement": write(staff(CASE_STAFF, PARTNER=SHARED)),
    REFERRAL + "RecordOutcome": write(staff(CASE_STAFF, PARTNER=SHARED)),
    REFERRAL + "OverrideConsent": write(CASE_STAFF),
    REFERRAL + "RecordRehousingDecision": write(CASE_STAFF),  # high priority: Housing Manager only
    # ---- MARAC: partners see the meeting's case list and their own actions ----
    MARAC + "GetCaseFile": read(CASE_READERS),
    MARAC + "ScheduleMeeting": write(MARAC_STAFF),
    MARAC + "GetMeeting": read(staff(MARAC_STAFF, PARTNER=SHARED)),
    MARAC + "GetCaseList": read(staff(MARAC_STAFF, PARTNER=SHARED)),
    MARAC + "RecordAttendance": write(MARAC_STAFF),
    MARAC + "RecordInformationShared": write(staff(MARAC_STAFF, PARTNER=SHARED)),  # as its own agency
    MARAC + "AgreeAction": write(CASE_STAFF),
    MARAC + "CompleteAction": write(staff(CASE_STAFF, PARTNER=SHARED)),  # a partner: its own actions
    MARAC + "ReopenAction": write(MARAC_STAFF),
    MARAC + "TransferCase": write(MARAC_STAFF),
    MARAC + "GetCase": read(CASE_READERS),
    MARAC + "ListActions": read(staff(CASE_READERS, PARTNER=SHARED)),  # a partner: its own actions
    # ---- repairs: contractors see their own jobs and nothing else ----
    REPAIRS + "GetCaseFile": read(CASE_READERS),
    REPAIRS + "RaiseWorkOrder": write(CASE_STAFF),
    REPAIRS + "AttachEvidence": write(staff(CASE_STAFF, CONTRACTOR=OWN_JOBS)),
    REPAIRS + "AssignContractor": write(CASE_STAFF),
    REPAIRS + "ApproveLockChange": write(CASE_STAFF),  # the approver's role is checked by the application
    REPAIRS + "StartWork": write(staff(CASE_STAFF, CONTRACTOR=OWN_JOBS)),
    REPAIRS + "CompleteWork": write(staff(CASE_STAFF, CONTRACTOR=OWN_JOBS)),
    REPAIRS + "ReportProgress": write(staff(CASE_STAFF, CONTRACTOR=OWN_JOBS)),
    REPAIRS + "CancelWorkOrder": write(CASE_STAFF),
    REPAIRS + "GetWorkOrders": read(CASE_READERS),
    REPAIRS + "ListMyJobs": read({R.CONTRACTOR: OWN_JOBS}),
    # ---- reporting: the regulator reads redacted timelines; operations, figures only ----
    REPORTING + "GetCaseTimeline": read(staff(CASE_READERS, REGULATOR=ANY)),
    REPORTING + "WatchCaseTimeline": read(staff(CASE_READERS, REGULATOR=ANY)),
    REPORTING + "ExportCaseTimeline": read(staff(CASE_READERS, REGULATOR=ANY)),
    REPORTING + "GetPartnershipDataset": figures(staff(MARAC_STAFF, OPERATIONS=AGGREGATE, REGULATOR=AGGREGATE)),
    REPORTING + "RebuildTimelines": figures({R.OPERATIONS: AGGREGATE}),
    REPORTING + "ListSlaBreaches": read(staff(MARAC_STAFF, ASB_ADVISOR=ANY, OPERATIONS=AGGREGATE)),
    REPORTING + "GetSlaStatus": read(CASE_READERS),
    REPORTING + "GetAccessLog": read({R.HOUSING_MANAGER: ANY, R.REGULATOR: ANY}),
    # ---- every service: store and relay counts for operations ----
    OPS + "GetStoreStats": figures({R.OPERATIONS: AGGREGATE, R.HOUSING_MANAGER: AGGREGATE}),
    # ---- every service: its dead letters (ADR 0039): types, ids and reasons, never content ----
    OPS + "ListDeadLetters": figures({R.OPERATIONS: AGGREGATE}),
    OPS + "ReplayDeadLetter": write({R.OPERATIONS: AGGREGATE}),
}
