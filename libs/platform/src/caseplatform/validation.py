"""Command validation with pydantic, reported the way the gRPC edge needs it: every field at
fault, by its path in the request (`victim.address.postcode`, `children[1].age`), and why."""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from pydantic import BaseModel, ConfigDict, ValidationError

from caseplatform.errors import FieldViolation, InvalidArgument

M = TypeVar("M", bound=BaseModel)


def field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def parse_command(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidArgument(
            [FieldViolation(field_path(err["loc"]) or "request", _reason(err)) for err in exc.errors()]
        ) from None


def _reason(error: Any) -> str:
    # proto3 cannot tell "empty" from "absent": both arrive missing, and both mean not given.
    if error["type"] == "missing":
        return "is required"
    return str(error["msg"]).removeprefix("Value error, ")


def proto_to_dict(message: Message) -> dict[str, Any]:
    """Field names as in the .proto; enums by name (unknown numbers stay numbers, and fail)."""
    return MessageToDict(message, preserving_proto_field_name=True)


class StrictCommand(BaseModel):
    """Base of every service's command models: unknown fields ignored, text stripped, immutable."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)


def require_enum_set(value: object, choices: str) -> object:
    """For an enum field's `BeforeValidator`: proto3 sends the zero value as absent, so a number
    (unknown or zero) or an `*_UNSPECIFIED` name is refused, naming the valid choices."""
    if isinstance(value, int) or (isinstance(value, str) and value.endswith("_UNSPECIFIED")):
        raise ValueError(f"must be one of {choices}")
    return value
