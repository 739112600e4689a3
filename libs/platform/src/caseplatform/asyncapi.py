"""The AsyncAPI document for outside subscribers, generated from the services' FastStream wiring.

`python -m caseplatform.asyncapi` prints it as JSON (`make asyncapi` writes docs/asyncapi.json).
Each service's topic lists the event types it carries, read from its events.proto.
"""

from __future__ import annotations

import json

from faststream.specification import AsyncAPI

from caseplatform.envelope import event_types
from caseplatform.runner import wire_broker
from caseplatform.settings import PlatformSettings
from caseplatform.topology import SERVICES


def document() -> str:
    settings = PlatformSettings()
    brokers = [wire_broker(service, settings, inbox=None) for service in SERVICES]
    spec = AsyncAPI(
        *brokers,
        title="Domestic abuse case-management backbone: domain events",
        version="v1",
        description=(
            "Every service publishes its domain events on `<service>.events.v1`. The Kafka key is the "
            "case id (UTF-8); the value is a serialised protobuf `common.v1.EventEnvelope` "
            "(proto/casework/common/v1/envelope.proto) whose `payload` (google.protobuf.Any) holds one "
            "of the event messages listed per topic. Headers: `event-type`, `notification-id`, "
            "`previous-notification-id`, `content-type`, W3C `traceparent`. Event types by topic:\n"
            + "\n".join(f"- {s}.events.v1: {', '.join(event_types(s)) or '(none yet)'}" for s in SERVICES)
        ),
    )
    return json.dumps(spec.to_specification().to_jsonable(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    print(document(), end="")


if __name__ == "__main__":
    main()
