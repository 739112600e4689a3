"""Reporting's half of the read audit: every `common.v1.CaseAccessed` about a case becomes an entry
in that case's access log (ADR 0021); `GetAccessLog` reads it."""

from __future__ import annotations

from typing import Any

from google.protobuf.json_format import MessageToDict

from caseplatform.audit import AUDIT_EVENT
from caseplatform.envelope import IncomingEvent
from caseplatform.inbox import Unit
from reporting.domain.access_log import CaseAccessLog


def is_audit(event: IncomingEvent) -> bool:
    return event.event_type == AUDIT_EVENT


def record_access(event: IncomingEvent, unit: Unit) -> None:
    if not event.case_id or event.payload is None:
        return  # a list or a refused call that named no case: on the topic, not in a case's log
    log = unit.get(CaseAccessLog.create_id(event.case_id)) or CaseAccessLog(case_id=event.case_id)
    entry: dict[str, Any] = MessageToDict(event.payload, preserving_proto_field_name=True)
    entry["at"] = event.envelope.recorded_at.ToJsonString()
    entry["event_id"] = event.envelope.event_id
    log.append(entry)
    unit.collect(log)
