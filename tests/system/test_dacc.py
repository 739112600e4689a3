"""The daily police conference call (DACC, seed 000) on the running system, over gRPC: the police
share incidents with intake's police.v1.DaccFeed, tenants are matched, the ASB advisor's briefing
is assembled from intake's, risk's and repairs' events, and target hardening offered on the call
becomes a work order in repairs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import grpc
import pytest

from caseplatform.calendar import LONDON
from caseplatform.devstack.stack import DevStack
from casework.intake.v1 import intake_pb2
from casework.police.v1 import dacc_pb2, dacc_pb2_grpc
from casework.repairs.v1 import repairs_pb2
from casework.risk.v1 import risk_pb2

from .client import STAFF, Client, authenticated_channel, eventually, timestamp

pytestmark = pytest.mark.system

POLICE = (("x-agency", "gwent-police"), ("x-role", "DACC officer"), ("x-user", "p-3"), ("x-purpose", "DACC feed"))
ADVISOR = (("x-agency", "landlord"), ("x-role", "ASB_ADVISOR"), ("x-user", "asb-1"))
DAY = "2027-03-26"  # the shared stack's Good Friday
GOOD_FRIDAY_1730 = datetime(2027, 3, 26, 17, 30, tzinfo=LONDON)


@pytest.fixture(scope="module")
def dacc(stack: DevStack) -> Iterator[dacc_pb2_grpc.DaccFeedStub]:
    with authenticated_channel(stack, "intake") as channel:
        yield dacc_pb2_grpc.DaccFeedStub(channel)


def incident(ref: str, *, tenant_ref: str = "", line1: str = "", postcode: str = "") -> dacc_pb2.Incident:
    return dacc_pb2.Incident(
        incident_ref=ref, date=DAY, risk_grade=dacc_pb2.HIGH, consent_to_share=True,
        addresses=[dacc_pb2.Address(line1=line1, postcode=postcode)] if line1 else [],
        parties=[
            dacc_pb2.Party(role=dacc_pb2.VICTIM, name="Synthetic Victim", tenant_ref=tenant_ref, phone="01234 567890"),
            dacc_pb2.Party(role=dacc_pb2.PERPETRATOR, name="Synthetic Perpetrator"),
        ],
    )


def dacc_counts(client: Client) -> dict[str, int]:
    return {k: v for k, v in client.event_counts("intake").items() if "Dacc" in k or "Disclosure" in k}


def test_a_batch_sent_twice_creates_nothing_new_and_unmatched_incidents_are_kept(
    client: Client, dacc: dacc_pb2_grpc.DaccFeedStub
) -> None:
    batch = dacc_pb2.SubmitIncidentsRequest(incidents=[
        incident("GWP-SYS-1", tenant_ref="t-dacc-1003"),
        incident("GWP-SYS-2", line1="99 Nowhere Road", postcode="CF10 1AA"),
    ])
    first = dacc.SubmitIncidents(batch, metadata=POLICE, timeout=30)
    assert [r.outcome for r in first.results] == [dacc_pb2.MATCHED, dacc_pb2.UNMATCHED]
    assert (first.new_matched, first.new_unmatched, first.duplicates) == (1, 1, 0)
    counts = dacc_counts(client)

    again = dacc.SubmitIncidents(batch, metadata=POLICE, timeout=30)
    assert [r.outcome for r in again.results] == [dacc_pb2.DUPLICATE, dacc_pb2.DUPLICATE]
    assert again.results[0].case_id == first.results[0].case_id
    assert dacc_counts(client) == counts

    case = client.intake.GetCase(intake_pb2.GetCaseRequest(case_id=first.results[0].case_id), metadata=STAFF, timeout=10)
    assert (case.channel, case.tenant_ref, case.status) == (intake_pb2.POLICE_DACC, "T-DACC-1003", "OPEN")

    listed = dacc.ListUnmatchedIncidents(dacc_pb2.ListUnmatchedIncidentsRequest(date=DAY), metadata=ADVISOR, timeout=10)
    kept = [i for i in listed.incidents if i.incident_ref == "GWP-SYS-2"]
    assert len(kept) == 1 and kept[0].reason and kept[0].parties[0].name == "Synthetic Victim"

    with pytest.raises(grpc.RpcError) as refused:
        dacc.SubmitIncidents(batch, metadata=ADVISOR, timeout=10)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


def ric(yes: int) -> list[risk_pb2.DashAnswer]:
    return [risk_pb2.DashAnswer(question=q, answer=risk_pb2.YES if q <= yes else risk_pb2.NO) for q in range(1, 25)]


def test_the_briefing_shows_the_tenant_history_and_target_hardening_reaches_repairs(
    client: Client, dacc: dacc_pb2_grpc.DaccFeedStub
) -> None:
    # The tenant's history before today's call: a disclosure, a DASH grade, a work order.
    earlier = client.submit(intake_pb2.SubmitDisclosureRequest(
        idempotency_key="dacc-sys-earlier", received_at=timestamp(GOOD_FRIDAY_1730), channel=intake_pb2.VICTIM_DIRECT,
        victim=intake_pb2.Victim(tenant_ref="T-DACC-1001", name="Synthetic Victim",
                                 address=intake_pb2.Address(line1="12 Example Street", postcode="NP4 6YB")),
    )).case_id
    eventually(lambda: client.risk.RecordDashAssessment(risk_pb2.RecordDashAssessmentRequest(
        idempotency_key="dacc-sys-dash", case_id=earlier, answers=ric(14), safe_to_talk=True, assessed_by="cho-7",
        source=risk_pb2.LANDLORD, completed_at=timestamp(GOOD_FRIDAY_1730)), metadata=STAFF, timeout=10))
    eventually(lambda: client.repairs.RaiseWorkOrder(repairs_pb2.RaiseWorkOrderRequest(
        idempotency_key="dacc-sys-wo", case_id=earlier, measures=[repairs_pb2.EXTRA_LOCKS], priority=repairs_pb2.SECURITY,
        reason="extra locks", source=repairs_pb2.INITIAL_ASSESSMENT), metadata=STAFF, timeout=10))

    # Today's share names the tenant's address, spelled the police's way.
    shared = dacc.SubmitIncidents(dacc_pb2.SubmitIncidentsRequest(
        incidents=[incident("GWP-SYS-3", line1="12 example st.", postcode="np46yb")]), metadata=POLICE, timeout=30)
    [result] = shared.results
    assert (result.outcome, result.matched_on, result.case_id, result.linked_to_open_case) == (
        dacc_pb2.MATCHED, dacc_pb2.ADDRESS, earlier, True)

    def briefed() -> dacc_pb2.TenantBriefing:
        response = dacc.GetDaccBriefing(dacc_pb2.GetDaccBriefingRequest(date=DAY), metadata=ADVISOR, timeout=10)
        tenant = next(t for t in response.tenants if t.tenant_ref == "T-DACC-1001")
        assert [d.channel for d in tenant.disclosures] == [intake_pb2.VICTIM_DIRECT, intake_pb2.POLICE_DACC]
        assert ("HIGH", "SAFELIVES_DASH_RIC") in [(r.grade, r.source) for r in tenant.risk_grades]
        assert [list(w.measures) for w in tenant.work_orders] == [[repairs_pb2.EXTRA_LOCKS]]
        return tenant

    tenant = eventually(briefed)
    assert [i.incident_ref for i in tenant.incidents] == ["GWP-SYS-3"]

    # On the call: agencies share, the advisor offers target hardening and a welfare check.
    recorded = dacc.RecordDaccOutcome(dacc_pb2.RecordDaccOutcomeRequest(
        idempotency_key="dacc-sys-outcome", incident_id=result.incident_id,
        shared=[dacc_pb2.AgencyInformation(agency="idva", information="Engaged with the IDVA service")],
        interventions=[dacc_pb2.TARGET_HARDENING, dacc_pb2.WELFARE_CHECK],
        target_hardening_measures=[repairs_pb2.FIREPROOF_LETTERBOX]), metadata=ADVISOR, timeout=10)
    assert recorded.created and recorded.welfare_visit_task_id

    def dacc_work_order() -> repairs_pb2.WorkOrder:
        orders = client.repairs.GetWorkOrders(repairs_pb2.GetWorkOrdersRequest(case_id=earlier), metadata=STAFF, timeout=10)
        raised = [o for o in orders.work_orders if o.source == repairs_pb2.DACC_OUTCOME]
        assert len(raised) == 1
        return raised[0]

    order = eventually(dacc_work_order)
    assert (list(order.measures), order.priority) == ([repairs_pb2.FIREPROOF_LETTERBOX], repairs_pb2.SECURITY)

    def briefed_after_call() -> dacc_pb2.TenantBriefing:
        response = dacc.GetDaccBriefing(dacc_pb2.GetDaccBriefingRequest(date=DAY), metadata=ADVISOR, timeout=10)
        tenant = next(t for t in response.tenants if t.tenant_ref == "T-DACC-1001")
        assert order.work_order_id in [w.work_order_id for w in tenant.work_orders]
        return tenant

    after = eventually(briefed_after_call)
    assert [(w.task_id, w.made) for w in after.welfare_visits] == [(recorded.welfare_visit_task_id, False)]
