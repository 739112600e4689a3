"""Services read other services' enum values through `caseplatform.enums` (ADR 0038), never with
the generated `Enum.Name(number)` or `values_by_number[number]`: those raise on a value a newer
contract added, and the inbox would dead-letter the event — its effect lost (it happened: referral
dead-lettered every RiskAssessed with a grade it did not know). Where a service turns its own
requests and events into protobuf (entrypoints, casectl, translation) the values are its own."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWN_VALUES = ("/entrypoints/", "/cli/", "translation.py")  # a service's own requests and events
RAISING = re.compile(r"\b\w+_pb2\.\w+\.Name\(|values_by_number\[")


def test_no_policy_reads_an_incoming_enum_in_a_way_that_raises_on_a_new_value() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted(ROOT.glob("services/*/src/**/*.py"))
        if not any(part in str(path) for part in OWN_VALUES)
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if RAISING.search(line)
    ]
    assert found == [], "read these with caseplatform.enums.enum_name / enum_names (ADR 0038):\n" + "\n".join(found)
