"""casectl call: any RPC of any service, by its full name, with a JSON request — what grpcurl does,
from the contracts this build carries, so trying the API needs nothing installed by hand.

`casectl --role CHO --user cho-torfaen-central call intake.v1.IntakeService/SubmitDisclosure -d '{…}'`
The request is JSON in the proto's field names (`-d '{…}'`, `-d @file`, `-d -` for stdin); the answer is
printed the same way, one JSON document per message of a streamed answer. The service's address
is --at, or --target's host on the default port of the service the package belongs to."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import grpc
import typer
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.rpc import error_details_pb2
from grpc_status import rpc_status

import casework
from caseplatform.topology import DEFAULTS, SERVICES
from reporting.cli.connection import CliError, Connection

# Packages served by a process of another name (the DACC feed runs in intake: ADR 0015).
SERVED_BY = {"police": "intake"}


@cache
def _pool() -> descriptor_pool.DescriptorPool:
    """The default pool, holding every contract once each generated module is imported."""
    for root in map(Path, casework.__path__):  # a namespace package: pkgutil does not walk it
        for path in sorted(root.rglob("*_pb2.py")):
            importlib.import_module(".".join(("casework", *path.relative_to(root).with_suffix("").parts)))
    return descriptor_pool.Default()


def services() -> list[ServiceDescriptor]:
    pool = _pool()
    found = []
    for module in sys.modules.values():
        descriptor = getattr(module, "DESCRIPTOR", None)
        if getattr(module, "__name__", "").startswith("casework.") and descriptor is not None:
            found += [pool.FindServiceByName(s.full_name) for s in getattr(descriptor, "services_by_name", {}).values()]
    return sorted(set(found), key=lambda s: s.full_name)


def find_method(name: str) -> MethodDescriptor:
    """`package.Service/Method` (grpcurl's form) or `package.Service.Method`."""
    service_name, _, method_name = name.replace("/", ".").rpartition(".")
    try:
        service = _pool().FindServiceByName(service_name)
    except KeyError:
        known = ", ".join(s.full_name for s in services())
        raise CliError(f"no service {service_name or name!r} in the contracts; there are: {known}") from None
    method = service.methods_by_name.get(method_name)
    if method is None:
        raise CliError(f"{service.full_name} has no RPC {method_name!r}; it has: {', '.join(service.methods_by_name)}")
    return method


def default_target(method: MethodDescriptor, connection: Connection, service: str | None) -> str:
    package = method.containing_service.full_name.split(".")[0]
    owner = service or SERVED_BY.get(package, package)
    if owner not in SERVICES:
        raise CliError(f"{method.containing_service.full_name} is offered by every service: say which with "
                       f"--service ({', '.join(SERVICES)}) or --at")
    return f"{connection.target.rsplit(':', 1)[0]}:{DEFAULTS[owner].grpc_port}"


def request_for(method: MethodDescriptor, text: str) -> Any:
    request_class = message_factory.GetMessageClass(method.input_type)
    try:
        return json_format.Parse(text or "{}", request_class())
    except json_format.ParseError as error:
        raise CliError(f"the request is not a valid {method.input_type.full_name}: {error}") from None


def invoke(connection: Connection, target: str, method: MethodDescriptor, request: Any) -> Iterator[Any]:
    """The answer's messages: one, or each of a streamed answer as it comes."""
    response_class = message_factory.GetMessageClass(method.output_type)
    path = f"/{method.containing_service.full_name}/{method.name}"
    channel = connection.channel(target)
    options = {"request_serializer": type(request).SerializeToString, "response_deserializer": response_class.FromString}
    try:
        if method.client_streaming:
            raise CliError(f"{path} takes a stream of requests, which casectl call does not send")
        if method.server_streaming:
            yield from channel.unary_stream(path, **options)(request, metadata=connection.metadata,
                                                            timeout=connection.timeout)
        else:
            yield channel.unary_unary(path, **options)(request, metadata=connection.metadata, timeout=connection.timeout)
    except grpc.RpcError as error:
        raise CliError(refusal(error, path)) from None


def refusal(error: grpc.RpcError, path: str) -> str:
    """The status, its message and, for bad input, each field named with its reason."""
    lines = [f"{path}: {error.code().name}: {error.details()}"]  # type: ignore[attr-defined]
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    for detail in status.details if status is not None else ():
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            lines += [f"  {v.field}: {v.description}" for v in bad.field_violations]
    return "\n".join(lines)


def call(
    ctx: typer.Context,
    method: Annotated[str | None, typer.Argument(help="e.g. intake.v1.IntakeService/SubmitDisclosure")] = None,
    data: Annotated[str | None, typer.Option("-d", "--data", help="the request as JSON; @file reads a file, - stdin")] = None,
    at: Annotated[str | None, typer.Option(help="the service's gRPC address (default: --target's host, its port)")] = None,
    service: Annotated[str | None, typer.Option(help="for RPCs every service offers (common.v1.OpsService)")] = None,
    list_rpcs: Annotated[bool, typer.Option("--list", help="list every RPC of the contracts")] = False,
) -> None:
    """Any RPC of any service, by name, with a JSON request (what grpcurl does)."""
    if list_rpcs or method is None:
        for described in services():
            for rpc in described.methods:
                streamed = " (streamed)" if rpc.server_streaming else ""
                typer.echo(f"{described.full_name}/{rpc.name}  {rpc.input_type.name} -> {rpc.output_type.name}{streamed}")
        return
    connection: Connection = ctx.obj
    rpc = find_method(method)
    request = request_for(rpc, _read(data))
    for answer in invoke(connection, at or default_target(rpc, connection, service), rpc, request):
        typer.echo(json.dumps(json_format.MessageToDict(answer, preserving_proto_field_name=True), indent=2))


def _read(data: str | None) -> str:
    if data is None:
        return ""  # an empty request
    if data == "-":
        return sys.stdin.read()
    if data.startswith("@"):
        try:
            with open(data[1:], encoding="utf-8") as file:
                return file.read()
        except OSError as error:
            raise CliError(f"cannot read the request from {data[1:]}: {error.strerror}") from None
    return data
