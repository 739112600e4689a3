"""What a partner's generated code and stored messages depend on in `proto/`, and the changes that
would break them (ADR 0005: a breaking change needs a `v2` package alongside).

`shape` reads the compiled descriptor set (`make proto` writes `casework.binpb`) into plain data:
every message's fields by number (name, type, repetition), every enum's values by number, every
RPC's request, response and streaming. `breaking` compares a recorded shape with the current one:
anything removed, renumbered, renamed or retyped breaks a reader or writer built against the
recorded one; anything added does not. `python -m caseplatform.contract_shape --write` records
the current shape as the baseline (`make proto-baseline`), after a change has been reviewed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[4]
DESCRIPTOR_SET = ROOT / "libs/contracts/src/casework.binpb"
BASELINE = ROOT / "proto/compatibility-baseline.json"
Shape = dict[str, dict[str, Any]]


def shape(descriptor_set: bytes) -> Shape:
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set).file
    out: Shape = {"messages": {}, "enums": {}, "methods": {}}
    for file in files:
        if file.package.startswith("google."):
            continue
        prefix = file.package
        for message in file.message_type:
            _message(out, prefix, message)
        for enum in file.enum_type:
            _enum(out, prefix, enum)
        for service in file.service:
            for method in service.method:
                out["methods"][f"{prefix}.{service.name}/{method.name}"] = {
                    "input": method.input_type.lstrip("."), "output": method.output_type.lstrip("."),
                    "client_streaming": method.client_streaming, "server_streaming": method.server_streaming,
                }
    return out


def _message(out: Shape, prefix: str, message: descriptor_pb2.DescriptorProto) -> None:
    name = f"{prefix}.{message.name}"
    out["messages"][name] = {
        "fields": {
            str(f.number): {"name": f.name, "type": descriptor_pb2.FieldDescriptorProto.Type.Name(f.type),
                            "type_name": f.type_name.lstrip("."), "repeated": f.label == f.LABEL_REPEATED}
            for f in message.field
        },
        "reserved": sorted(n for r in message.reserved_range for n in range(r.start, r.end)),
    }
    for nested in message.nested_type:
        _message(out, name, nested)
    for enum in message.enum_type:
        _enum(out, name, enum)


def _enum(out: Shape, prefix: str, enum: descriptor_pb2.EnumDescriptorProto) -> None:
    out["enums"][f"{prefix}.{enum.name}"] = {
        "values": {str(v.number): v.name for v in enum.value},
        "reserved": sorted(n for r in enum.reserved_range for n in range(r.start, r.end + 1)),
    }


def breaking(recorded: Shape, current: Shape) -> list[str]:
    """What in `current` breaks code or data built against `recorded`, one line each."""
    found: list[str] = []
    for kind, members, member in (("message", "messages", "fields"), ("enum", "enums", "values")):
        for name, was in recorded[members].items():
            now = current[members].get(name)
            if now is None:
                found.append(f"{kind} {name} removed")
            else:
                found += _numbered(f"{name} {member[:-1]}", was[member], now[member], now["reserved"])
    for name, was in recorded["methods"].items():
        now = current["methods"].get(name)
        if now is None:
            found.append(f"rpc {name} removed")
        elif now != was:
            found.append(f"rpc {name} changed: {_differ(was, now)}")
    return found


def _numbered(what: str, was: dict[str, Any], now: dict[str, Any], reserved: list[int]) -> list[str]:
    """Fields or enum values by number: each recorded one still there, unchanged, or reserved.
    (An enum value renamed breaks too: names are on the wire in JSON, and services read them.)"""
    found = []
    for number, before in was.items():
        after = now.get(number)
        if after is None:
            if int(number) not in reserved:
                label = before["name"] if isinstance(before, dict) else before
                found.append(f"{what} {number} ({label}) removed without reserving its number")
        elif after != before:
            change = _differ(before, after) if isinstance(before, dict) else f"{before} -> {after}"
            found.append(f"{what} {number} {'changed: ' if isinstance(before, dict) else 'renamed '}{change}")
    return found


def unrecorded(recorded: Shape, current: Shape) -> list[str]:
    """What `current` adds that the baseline does not record yet (allowed; to be recorded)."""
    found = [f"message {n}" for n in current["messages"].keys() - recorded["messages"].keys()]
    found += [f"enum {n}" for n in current["enums"].keys() - recorded["enums"].keys()]
    found += [f"rpc {n}" for n in current["methods"].keys() - recorded["methods"].keys()]
    for name, now in current["messages"].items():
        was = recorded["messages"].get(name)
        if was is not None:
            found += [f"{name} field {k}" for k in now["fields"].keys() - was["fields"].keys()]
    for name, now in current["enums"].items():
        was = recorded["enums"].get(name)
        if was is not None:
            found += [f"{name} value {k}" for k in now["values"].keys() - was["values"].keys()]
    return sorted(found)


def _differ(was: dict[str, Any], now: dict[str, Any]) -> str:
    return ", ".join(f"{k} {was.get(k)!r} -> {now.get(k)!r}" for k in sorted(was.keys() | now.keys()) if was.get(k) != now.get(k))


def current() -> Shape:
    return shape(DESCRIPTOR_SET.read_bytes())


def recorded() -> Shape:
    return json.loads(BASELINE.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m caseplatform.contract_shape", description=__doc__)
    parser.add_argument("--write", action="store_true", help="record the current shape as the baseline")
    args = parser.parse_args(argv)
    now = current()
    if args.write:
        BASELINE.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(now['messages'])} messages, {len(now['enums'])} enums, {len(now['methods'])} rpcs")
        return 0
    problems = breaking(recorded(), now)
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
