"""Every RPC a service's contract declares is implemented: a partner must never meet
UNIMPLEMENTED for a method the published .proto promises."""

from __future__ import annotations

import importlib

import pytest

from caseplatform.topology import SERVICES


@pytest.mark.parametrize("service", SERVICES)
def test_every_declared_rpc_is_implemented(service: str) -> None:
    api = importlib.import_module(f"{service}.entrypoints.grpc_api")
    contract = importlib.import_module(f"casework.{service}.v1.{service}_pb2")
    generated = importlib.import_module(f"casework.{service}.v1.{service}_pb2_grpc")
    for descriptor in contract.DESCRIPTOR.services_by_name.values():
        base = getattr(generated, f"{descriptor.name}Servicer")
        servicers = [cls for cls in vars(api).values() if isinstance(cls, type) and issubclass(cls, base) and cls is not base]
        assert servicers, f"{service}: no servicer for {descriptor.full_name}"
        for method in descriptor.methods:
            impl = getattr(servicers[0], method.name)
            assert impl is not getattr(base, method.name), f"{descriptor.full_name}/{method.name} is not implemented"
