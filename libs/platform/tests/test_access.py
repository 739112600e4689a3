"""Need-to-know (ADR 0021): roles from the verified identity, one rule per RPC, and the edge's
guard — refusals and reads recorded, purpose required of partners and regulators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2

from caseplatform.access import Access, Role, Scope, current_access, require_case, role_of
from caseplatform.access_guard import AccessGuard
from caseplatform.access_rules import RULES
from caseplatform.errors import InvalidArgument, NotFound, PermissionDenied
from caseplatform.identity import Actor
from casework.reporting.v1 import reporting_pb2

DESCRIPTORS = Path(__file__).parents[3] / "libs" / "contracts" / "src" / "casework.binpb"
CASE = "0b5f6a3e-1111-4e8e-9a1e-2f0f5d3c4b2a"
TIMELINE = "/reporting.v1.ReportingService/GetCaseTimeline"


def every_rpc() -> list[str]:
    files = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTORS.read_bytes())
    return [
        f"/{f.package}.{s.name}/{m.name}"
        for f in files.file if f.package.startswith(("common.", "intake.", "risk.", "referral.", "marac.", "repairs.", "reporting.", "police."))
        for s in f.service for m in s.method
    ]


@pytest.mark.parametrize(
    ("agency", "role", "expected"),
    [
        ("landlord", "CHO", Role.CHO),
        ("landlord", "ASB advisor", Role.ASB_ADVISOR),
        ("landlord", "housing-manager", Role.HOUSING_MANAGER),
        ("landlord", "Marac Coordinator", Role.MARAC_COORDINATOR),
        ("acme-builders", "contractor", Role.CONTRACTOR),
        ("audit-wales", "regulator", Role.REGULATOR),
        ("landlord", "operations", Role.OPERATIONS),
        ("gwent-police", "officer", Role.PARTNER),
        ("local-authority-duty-team", "duty-officer", Role.PARTNER),
        ("gwent-police", "CHO", Role.PARTNER),  # a staff role claimed by another agency is still a partner
        ("landlord", "caretaker", None),  # an unknown staff role: nothing (fail closed)
        ("landlord", "", None),
    ],
)
def test_role_of_normalises_the_claim_and_fails_closed(agency: str, role: str, expected: Role | None) -> None:
    assert role_of(Actor(agency, role, "u-1"), landlord="landlord") == expected


def test_the_landlord_agency_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEWORK_LANDLORD_AGENCY", "torfaen-homes")
    assert role_of(Actor("torfaen-homes", "CSO", "u")) == Role.CSO
    assert role_of(Actor("landlord", "CSO", "u")) == Role.PARTNER


def test_every_rpc_in_the_contracts_has_exactly_one_rule() -> None:
    rpcs = every_rpc()
    assert len(rpcs) > 60
    missing = [m for m in rpcs if m not in RULES]
    assert missing == []


def test_the_table_says_what_docs_security_says() -> None:
    def roles(method: str) -> set[Role]:
        return set(RULES[method].scopes)

    assert roles("/reporting.v1.ReportingService/GetAccessLog") == {Role.HOUSING_MANAGER, Role.REGULATOR}
    assert RULES[TIMELINE].scopes[Role.CHO] is Scope.OWN_PATCH
    assert Role.OPERATIONS not in roles(TIMELINE) | roles("/intake.v1.IntakeService/GetCase")
    assert roles("/repairs.v1.RepairsService/ListMyJobs") == {Role.CONTRACTOR}
    contractor = {m for m, r in RULES.items() if Role.CONTRACTOR in r.scopes}
    assert all(m.startswith("/repairs.v1.RepairsService/") for m in contractor)
    regulator = {m.rsplit("/", 1)[1] for m, r in RULES.items() if Role.REGULATOR in r.scopes}
    assert regulator == {"GetCaseTimeline", "WatchCaseTimeline", "ExportCaseTimeline", "GetAccessLog", "GetPartnershipDataset"}
    assert RULES[TIMELINE].scopes == RULES["/reporting.v1.ReportingService/WatchCaseTimeline"].scopes
    partner_reads = {m for m, r in RULES.items() if Role.PARTNER in r.scopes}
    assert not any(m.startswith(("/intake.v1.", "/risk.v1.", "/repairs.v1.", "/reporting.v1.")) for m in partner_reads)
    assert all(r.scopes.get(Role.PARTNER, Scope.SHARED) is Scope.SHARED for r in RULES.values())


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.records: list[dict[str, Any]] = []
        self.fail = fail

    def record(self, **fields: str) -> None:
        if self.fail:
            from caseplatform.audit import AuditUnavailable

            raise AuditUnavailable("store down")
        self.records.append(fields)


def guard(audit: Recorder, owners: dict[str, str] | None = None) -> AccessGuard:
    return AccessGuard("reporting", RULES, audit, (owners or {}).get, landlord="landlord")  # type: ignore[arg-type]


def timeline_request() -> reporting_pb2.GetCaseTimelineRequest:
    return reporting_pb2.GetCaseTimelineRequest(case_id=CASE)


def test_a_cho_is_admitted_to_their_own_patch_and_refused_another_with_a_record() -> None:
    audit = Recorder()
    edge = guard(audit, {CASE: "cho-a"})
    admitted = edge.admit(TIMELINE, timeline_request(), [], Actor("landlord", "CHO", "cho-a"))
    assert admitted.scope is Scope.OWN_PATCH and admitted.purpose == "casework" and admitted.cases == [CASE]
    with pytest.raises(PermissionDenied, match="patch"):
        edge.admit(TIMELINE, timeline_request(), [], Actor("landlord", "CHO", "cho-b"))
    assert [(r["outcome"], r["case_id"], r["user"], r["access_role"]) for r in audit.records] == [
        ("DENIED", CASE, "cho-b", "CHO")
    ]


def test_a_case_whose_owner_is_not_known_here_is_not_found_for_a_cho() -> None:
    # Not admitted either way (fail closed); told what anyone is told about an unknown case.
    audit = Recorder()
    with pytest.raises(NotFound):
        guard(audit).admit(TIMELINE, timeline_request(), [], Actor("landlord", "CHO", "cho-a"))
    assert audit.records == []


def test_repeated_identical_reads_are_recorded_once_per_window_denials_always() -> None:
    audit, now = Recorder(), [1000.0]
    edge = AccessGuard("reporting", RULES, audit, {CASE: "cho-a"}.get, landlord="landlord",  # type: ignore[arg-type]
                       coalesce_s=60, clock=lambda: now[0])
    cso, cho = Actor("landlord", "CSO", "cso-1"), Actor("landlord", "CHO", "cho-b")

    def read(actor: Actor, purpose: str = "casework") -> None:
        edge.allowed(TIMELINE, edge.admit(TIMELINE, timeline_request(), [("x-purpose", purpose)], actor))

    for _ in range(100):  # a client polling the timeline
        read(cso)
    read(cso, purpose="supervision")  # another purpose is another record
    now[0] += 61
    read(cso)  # the window has passed
    for _ in range(3):
        with pytest.raises(PermissionDenied):
            read(cho)
    assert [(r["outcome"], r["purpose"]) for r in audit.records] == [
        ("ALLOWED", "casework"), ("ALLOWED", "supervision"), ("ALLOWED", "casework"),
        ("DENIED", "casework"), ("DENIED", "casework"), ("DENIED", "casework"),
    ]


def test_a_method_without_a_rule_and_a_role_without_a_scope_are_refused() -> None:
    audit = Recorder()
    with pytest.raises(PermissionDenied, match="no access rule"):
        guard(audit).admit("/x.v1.Secret/Leak", timeline_request(), [], Actor("landlord", "CSO", "c"))
    with pytest.raises(PermissionDenied, match="OPERATIONS"):
        guard(audit).admit(TIMELINE, timeline_request(), [], Actor("landlord", "operations", "ops-1"))
    assert [r["outcome"] for r in audit.records] == ["DENIED", "DENIED"]


def test_partners_and_regulators_must_state_a_purpose_of_bounded_length() -> None:
    regulator = Actor("audit-wales", "regulator", "r-1")
    with pytest.raises(InvalidArgument) as missing:
        guard(Recorder()).admit(TIMELINE, timeline_request(), [], regulator)
    assert missing.value.violations[0].field == "x-purpose"
    with pytest.raises(InvalidArgument):
        guard(Recorder()).admit(TIMELINE, timeline_request(), [("x-purpose", "x" * 201)], regulator)
    admitted = guard(Recorder()).admit(TIMELINE, timeline_request(), [("x-purpose", "annual review")], regulator)
    assert admitted.purpose == "annual review"


def test_an_allowed_read_is_recorded_and_a_write_is_not() -> None:
    audit = Recorder()
    edge = guard(audit)
    actor = Actor("landlord", "CSO", "cso-1")
    edge.allowed(TIMELINE, edge.admit(TIMELINE, timeline_request(), [], actor))
    edge.allowed("/reporting.v1.ReportingService/GetPartnershipDataset", Access(actor, Role.CSO, Scope.ANY, "casework"))
    assert [(r["outcome"], r["rpc"], r["purpose"]) for r in audit.records] == [("ALLOWED", TIMELINE, "casework")]


def test_no_audit_no_read() -> None:
    from caseplatform.audit import AuditUnavailable

    with pytest.raises(AuditUnavailable):
        guard(Recorder(fail=True)).admit(TIMELINE, timeline_request(), [], Actor("landlord", "operations", "o"))


def test_the_application_checks_a_case_it_found_through_a_referral() -> None:
    owners = {CASE: "cho-a", "another-case": "cho-b"}
    access = Access(Actor("landlord", "CHO", "cho-a"), Role.CHO, Scope.OWN_PATCH, "casework", owners.get)
    token = current_access.set(access)
    try:
        require_case(CASE)
        with pytest.raises(PermissionDenied):
            require_case("another-case")
        # Not known here (yet): the same answer as for any caller, not a denial to retry for ever.
        with pytest.raises(NotFound):
            require_case("unknown-case")
    finally:
        current_access.reset(token)
    require_case("anything")  # outside a call (a policy): nothing to check
    assert access.cases == [CASE, "another-case", "unknown-case"]  # all noted for the audit
