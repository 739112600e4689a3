"""casectl dead-letters: what a service set aside, and replaying it once fixed (ADR 0039).

Every service offers `common.v1.OpsService`; these commands talk to the one named by --service,
at --at (default: the host of --target, on that service's default port)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import grpc
import typer
from rich.console import Console
from rich.table import Table

from caseplatform.enums import label
from caseplatform.topology import DEFAULTS, SERVICES
from casework.common.v1 import ops_pb2, ops_pb2_grpc
from reporting.cli.connection import CliError, Connection, explain

dead_letters = typer.Typer(help="What a service set aside (its dead-letter topic), and replaying it once fixed.",
                           no_args_is_help=True)
console = Console()
Service = Annotated[str, typer.Option(help=f"whose dead letters: one of {', '.join(SERVICES)}")]
At = Annotated[str | None, typer.Option(help="that service's gRPC address (default: --target's host, its default port)")]


class _Ops:
    def __init__(self, connection: Connection, service: str, at: str | None) -> None:
        if service not in SERVICES:
            raise CliError(f"--service must be one of {', '.join(SERVICES)}, not {service!r}")
        host = connection.target.rsplit(":", 1)[0]
        self.service, self.target = service, at or f"{host}:{DEFAULTS[service].grpc_port}"
        self._connection = connection
        self._stub = ops_pb2_grpc.OpsServiceStub(connection.channel(self.target))

    def call(self, method: str, request: object) -> object:
        try:
            return getattr(self._stub, method)(request, metadata=self._connection.metadata,
                                               timeout=self._connection.timeout)
        except grpc.RpcError as error:
            raise explain(error, method, self.service) from None

    def pages(self, pending_only: bool) -> Iterator[ops_pb2.DeadLetter]:
        token = ""
        while True:
            page = self.call("ListDeadLetters", ops_pb2.ListDeadLettersRequest(
                pending_only=pending_only, page_size=1000, page_token=token))
            yield from page.dead_letters
            if not (token := page.next_page_token):
                return


def _state(letter: ops_pb2.DeadLetter) -> str:
    return label(ops_pb2.DeadLetterState.DESCRIPTOR, letter.state).removeprefix("DEAD_LETTER_STATE_")


def _replayed(letter: ops_pb2.DeadLetter) -> str:
    if not letter.HasField("replayed_by"):
        return "-"
    by = letter.replayed_by
    return f"{letter.replayed_at.ToDatetime():%Y-%m-%d %H:%M:%S} by {by.agency}/{by.role}/{by.user}"


def _table(letters: list[ops_pb2.DeadLetter], title: str) -> Table:
    table = Table("parked (UTC)", "place", "state", "read from", "event", "case", "reason", "replayed (UTC)", title=title)
    for d in letters:
        source = f"{d.original_topic}[{d.original_partition}]" + (f" #{d.source_notification_id}" if d.event_id else "")
        table.add_row(d.dead_lettered_at.ToDatetime().strftime("%Y-%m-%d %H:%M:%S"), f"{d.partition}@{d.offset}",
                      _state(d), source, d.event_type or "-", d.case_id or "-", d.reason, _replayed(d))
    return table


@dead_letters.command("list")
def list_dead_letters(
    ctx: typer.Context,
    service: Service,
    at: At = None,
    pending: Annotated[bool, typer.Option(help="only those that can be replayed and have not been")] = False,
    page_size: Annotated[int | None, typer.Option(help="at most this many (default 100, at most 1,000)")] = None,
    page_token: Annotated[str | None, typer.Option(help="the previous page's next page token")] = None,
) -> None:
    """The service's dead letters, oldest first: where each was read, why it was set aside, its state."""
    ops = _Ops(ctx.obj, service, at)
    page = ops.call("ListDeadLetters", ops_pb2.ListDeadLettersRequest(
        pending_only=pending, page_size=page_size or 0, page_token=page_token or ""))
    console.print(_table(list(page.dead_letters), f"dead letters of {service}"))
    if page.next_page_token:
        console.print(f"more: --page-token {page.next_page_token}", highlight=False)


@dead_letters.command("replay")
def replay(
    ctx: typer.Context,
    service: Service,
    places: Annotated[list[str] | None, typer.Argument(help="dead letters by place, PARTITION@OFFSET (from `list`)")] = None,
    at: At = None,
    all_pending: Annotated[bool, typer.Option("--all-pending", help="every pending one, oldest first, "
                                              "stopping at the first the service still refuses")] = False,
) -> None:
    """Apply dead letters through the service's policy again, once the defect that failed them is
    fixed and deployed: each exactly once however often asked; refused, changing nothing, if
    the policy still fails on it."""
    if bool(places) == all_pending:
        raise CliError("name dead letters as PARTITION@OFFSET, or pass --all-pending (not both)")
    ops = _Ops(ctx.obj, service, at)
    chosen = [(d.partition, d.offset) for d in ops.pages(pending_only=True)] if all_pending else [_place(p) for p in places or []]
    if not chosen:
        console.print(f"{service} has no pending dead letters")
    for partition, offset in chosen:
        done = ops.call("ReplayDeadLetter", ops_pb2.ReplayDeadLetterRequest(partition=partition, offset=offset))
        outcome = label(ops_pb2.ReplayOutcome.DESCRIPTOR, done.outcome).removeprefix("REPLAY_OUTCOME_").lower()
        d = done.dead_letter
        console.print(f"{partition}@{offset}: {outcome.replace('_', ' ')} ({d.event_type}, case {d.case_id})", highlight=False)


def _place(text: str) -> tuple[int, int]:
    partition, sep, offset = text.partition("@")
    if not (sep and partition.isdigit() and offset.isdigit()):
        raise CliError(f"a dead letter's place is PARTITION@OFFSET (as `list` shows it), not {text!r}")
    return int(partition), int(offset)
