"""GetAccessLog of reporting.v1.ReportingService (ADR 0021): a case's read audit. Who may call it
(Housing Manager, regulator) is the edge's rule; the call is itself a read, so it is audited too."""

from __future__ import annotations

import asyncio
from typing import Any

from google.protobuf.json_format import ParseDict

from caseplatform.ids import parse_uuid
from casework.reporting.v1 import reporting_pb2


class AccessRpcs:
    _app: Any  # ReportingApplication, set by the servicer

    async def GetAccessLog(self, request, context):
        case_id = parse_uuid(request.case_id, "case_id")
        entries = await asyncio.to_thread(self._app.access_log, case_id)
        return reporting_pb2.GetAccessLogResponse(
            case_id=str(case_id),
            entries=[ParseDict(e, reporting_pb2.AccessLogEntry(), ignore_unknown_fields=True) for e in entries],
        )
