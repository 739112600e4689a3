"""casectl commands: timeline (show, export, verify), sla (status, breaches), dataset, projection,
dead-letters (list, replay: any service's, ADR 0039), call (any RPC of any service, by name)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import grpc
import typer
from google.protobuf import json_format
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from caseplatform.enums import label
from caseplatform.envelope import to_timestamp
from casework.common.v1 import access_pb2 as common_access
from casework.reporting.v1 import reporting_pb2
from reporting.cli.call import call
from reporting.cli.connection import CliError, Connection, explain
from reporting.cli.dead_letters import dead_letters
from reporting.exports.document import verify_json
from reporting.exports.html import verify_html

app = typer.Typer(help="Operations and regulators' tool over the reporting service (gRPC); `call` reaches any RPC of any service.", no_args_is_help=True)
timeline = typer.Typer(help="A case's timeline: show, export (JSON, HTML, PDF), verify.", no_args_is_help=True)
sla = typer.Typer(help="Deadlines (SLA clocks): a case's status, breaches.", no_args_is_help=True)
projection = typer.Typer(help="Reporting's read models.", no_args_is_help=True)
app.add_typer(timeline, name="timeline")
app.add_typer(sla, name="sla")
app.add_typer(projection, name="projection")
app.add_typer(dead_letters, name="dead-letters")
app.command("call")(call)
console, errors = Console(), Console(stderr=True)
AsAt = Annotated[str | None, typer.Option(help="Only what had been recorded by this instant (ISO 8601)")]


@app.callback()
def connect(
    ctx: typer.Context,
    target: Annotated[str, typer.Option(envvar="CASECTL_TARGET", help="reporting's gRPC address")] = "127.0.0.1:50056",
    agency: Annotated[str, typer.Option(envvar="CASECTL_AGENCY")] = "landlord",
    role: Annotated[str, typer.Option(envvar="CASECTL_ROLE")] = "operations",
    user: Annotated[str, typer.Option(envvar="CASECTL_USER", help="an opaque user id, never a name")] = "casectl",
    token: Annotated[
        str | None, typer.Option(envvar="CASECTL_TOKEN", help="a bearer token (JWT) from your identity provider")
    ] = None,
    data_dir: Annotated[
        Path, typer.Option(envvar="CASEWORK_DATA_DIR", help="without --token: the local stack's data dir (dev issuer)")
    ] = Path("var"),
    purpose: Annotated[
        str | None,
        typer.Option(envvar="CASECTL_PURPOSE", help="why you read case data, kept in the read audit "
                     "(required for regulators and partner agencies), e.g. 'DHR 2027-04 chronology'"),
    ] = None,
    tls_ca: Annotated[Path | None, typer.Option(envvar="CASECTL_TLS_CA", help="CA of the services' certificates (TLS)")] = None,
    tls_cert: Annotated[Path | None, typer.Option(envvar="CASECTL_TLS_CERT", help="this client's certificate (mutual TLS)")] = None,
    tls_key: Annotated[Path | None, typer.Option(envvar="CASECTL_TLS_KEY", help="this client's private key (mutual TLS)")] = None,
) -> None:
    ctx.obj = Connection(target, agency, role, user, token=token, data_dir=data_dir, purpose=purpose,
                         tls_ca=tls_ca, tls_cert=tls_cert, tls_key=tls_key)


def _marks(entry: Any) -> str:
    return ", ".join(f"{d.kind} {label(reporting_pb2.DeadlineMark.DESCRIPTOR, d.mark)}" for d in entry.deadlines)


@timeline.command("show")
def show(ctx: typer.Context, case_id: str, as_at: AsAt = None) -> None:
    request = reporting_pb2.GetCaseTimelineRequest(case_id=case_id)
    if as_at:
        request.as_at.CopyFrom(to_timestamp(_instant(as_at)))
    response = ctx.obj.call("GetCaseTimeline", request)
    table = Table("happened (UTC)", "recorded (UTC)", "service", "who", "what", "deadlines")
    for e in response.entries:
        marks = _marks(e)
        what = ("CORRECTION: " if e.correction else "") + e.summary
        table.add_row(_when(e.occurred_at), _when(e.recorded_at), e.service, f"{e.actor.agency} ({e.actor.role})", what, marks)
    console.print(table)


@timeline.command("watch")
def watch(
    ctx: typer.Context,
    case_id: str,
    until: Annotated[list[str] | None, typer.Option("--until", help="stop once the timeline holds this event type "
                                                     "(e.g. referral.v1.ReferralRequired); repeatable")] = None,
    timeout: Annotated[float, typer.Option(help="seconds to watch at most")] = 300.0,
) -> None:
    """Print the case's timeline entries as reporting records them (ADR 0028)."""
    request = reporting_pb2.WatchCaseTimelineRequest(case_id=case_id, until_event_types=until or [])
    stream = ctx.obj.stub().WatchCaseTimeline(request, metadata=ctx.obj.metadata, timeout=timeout)
    try:
        for update in stream:
            for e in update.entries:
                marks = _marks(e)
                console.print(f"{_when(e.occurred_at)}  {e.service:9}  {e.event_type}  {e.summary}"
                              + (f"  [{marks}]" if marks else ""), highlight=False)
            if update.complete:
                console.print("complete: every event type asked for is on the timeline")
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED and not until:
            return  # watched for as long as asked
        raise explain(error, "WatchCaseTimeline") from None


@timeline.command("export")
def export(
    ctx: typer.Context,
    case_id: str,
    fmt: Annotated[str, typer.Option("--format", help="json, html or pdf")] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write (default: stdout)")] = None,
    as_at: AsAt = None,
) -> None:
    if fmt.upper() not in ("JSON", "HTML", "PDF"):
        raise CliError("--format must be json, html or pdf")
    request = reporting_pb2.ExportCaseTimelineRequest(case_id=case_id, format=reporting_pb2.ExportFormat.Value(fmt.upper()))
    if as_at:
        request.as_at.CopyFrom(to_timestamp(_instant(as_at)))
    response = ctx.obj.call("ExportCaseTimeline", request)
    if output is None:
        sys.stdout.buffer.write(response.content)
    else:
        output.write_bytes(response.content)
    errors.print(f"{response.entry_count} entries; content SHA-256 {response.content_sha256}")


@timeline.command("verify")
def verify(file: Path) -> None:
    """Recompute an exported timeline's content hash (JSON or HTML export) and compare."""
    data = file.read_bytes()
    ok, claimed, actual = verify_html(data) if data.lstrip().startswith(b"<") else verify_json(data)
    if not ok:
        raise CliError(f"ALTERED: the file claims {claimed or 'no hash'} but its content hashes to {actual or 'nothing'}")
    console.print(f"unaltered: content SHA-256 {actual}")


@sla.command("status")
def sla_status(ctx: typer.Context, case_id: str) -> None:
    """The case's SLA clocks (the SLA engine's GetSlaStatus)."""
    _print_message(ctx.obj.call_by_name("GetSlaStatus", {"case_id": case_id}))


@sla.command("breaches")
def sla_breaches(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option(help="a deadline kind, e.g. SAFE_CONTACT")] = None,
    service: Annotated[str | None, typer.Option(help="the service whose event started the clock")] = None,
    area: Annotated[str | None, typer.Option(help="e.g. 'Torfaen North'")] = None,
    start: Annotated[str | None, typer.Option("--from", help="breached at or after (ISO 8601; UTC if no offset)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="breached before (ISO 8601; UTC if no offset)")] = None,
    page_size: Annotated[int | None, typer.Option(help="breaches per page (at most 1,000)")] = None,
    page_token: Annotated[str | None, typer.Option(help="the previous page's next_page_token")] = None,
    where: Annotated[list[str] | None, typer.Option(
        "--filter", help="field=value of the request, repeatable; nested as filter.kind=…")] = None,
) -> None:
    """Breached deadlines, oldest breach first (the SLA engine's ListSlaBreaches)."""
    fields = breach_request(kind=kind, service=service, area=area, start=start, end=end,
                            page_size=page_size, page_token=page_token, where=where or [])
    _print_message(ctx.obj.call_by_name("ListSlaBreaches", fields))


def breach_request(*, kind: str | None = None, service: str | None = None, area: str | None = None,
                   start: str | None = None, end: str | None = None, page_size: int | None = None,
                   page_token: str | None = None, where: Sequence[str] = ()) -> dict[str, Any]:
    """ListSlaBreaches' request as a dict for `json_format.ParseDict`, from casectl's options."""
    fields: dict[str, Any] = {}
    for item in where:  # field=value, a dotted field nested: filter.kind=SAFE_CONTACT
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CliError(f"--filter wants field=value, not {item!r}")
        *parents, leaf = name.split(".")
        target = fields
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    chosen = {"kind": kind, "service": service, "area": area,
              "from": _rfc3339(start) if start else None, "to": _rfc3339(end) if end else None}
    fields.setdefault("filter", {}).update({k: v for k, v in chosen.items() if v is not None})
    if not fields["filter"]:
        del fields["filter"]
    if page_size is not None:
        fields["page_size"] = page_size
    if page_token is not None:
        fields["page_token"] = page_token
    return fields


def _rfc3339(text: str) -> str:
    return _instant(text).astimezone(UTC).isoformat().replace("+00:00", "Z")


@app.command("dataset")
def dataset(
    ctx: typer.Context,
    quarter: Annotated[str | None, typer.Option(help="e.g. 2026-Q4 (instead of --from/--to)")] = None,
    start: Annotated[str | None, typer.Option("--from", help="first day, YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option("--to", help="last day, YYYY-MM-DD")] = None,
    area: Annotated[str, typer.Option(help="MARAC area (default: every area)")] = "",
    fmt: Annotated[str, typer.Option("--format", help="table, csv, html or json")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """The partnership dataset (seed 003) for a period and area."""
    start, end = _quarter(quarter) if quarter else (start or "", end or "")
    formats = {"table": 0, "json": reporting_pb2.DATASET_JSON, "csv": reporting_pb2.DATASET_CSV, "html": reporting_pb2.DATASET_HTML}
    if fmt not in formats:
        raise CliError("--format must be table, csv, html or json")
    request = reporting_pb2.GetPartnershipDatasetRequest(from_date=start, to_date=end, area=area, format=formats[fmt])
    response = ctx.obj.call("GetPartnershipDataset", request)
    if fmt != "table":
        (output.write_bytes if output else sys.stdout.buffer.write)(response.content)
        return
    table = Table("measure", "dimension", "breakdown", "value", title=f"{response.from_date} to {response.to_date} {area or 'all areas'}")
    for f in response.figures:
        table.add_row(f.measure, f.dimension, f.breakdown, "<5" if f.suppressed else f"{f.value:g}")
    console.print(table)


@app.command("access-log")
def access_log(ctx: typer.Context, case_id: str) -> None:
    """Who read or was refused the case's data, when and why (the read audit; Housing Manager, regulator)."""
    response = ctx.obj.call("GetAccessLog", reporting_pb2.GetAccessLogRequest(case_id=case_id))
    table = Table("at", "service", "rpc", "agency", "role", "user", "purpose", "outcome", title=f"access log of {case_id}")
    for e in response.entries:
        outcome = label(common_access.AccessOutcome.DESCRIPTOR, e.outcome) + (f": {e.reason}" if e.reason else "")
        table.add_row(_when(e.at), e.service, e.rpc, e.agency, e.access_role or e.role, e.user, e.purpose, outcome)
    console.print(table)


@projection.command("rebuild")
def rebuild(ctx: typer.Context) -> None:
    """Derive every timeline row again from the services' topics, with a progress bar."""
    stream = ctx.obj.stub().RebuildTimelines(reporting_pb2.RebuildTimelinesRequest(), metadata=ctx.obj.metadata, timeout=3600)
    columns = (TextColumn("rebuilding timelines"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    last = None
    with Progress(*columns, console=errors) as bar:
        task = bar.add_task("rebuild", total=None)
        try:
            for last in stream:
                bar.update(task, completed=last.done, total=max(last.total, 1))
        except grpc.RpcError as error:
            raise explain(error, "RebuildTimelines") from None
    console.print(f"rebuilt: {last.entries if last else 0} timeline entries from {last.total if last else 0} published events")


def _print_message(message) -> None:
    console.print_json(json_format.MessageToJson(message, preserving_proto_field_name=True))


def _instant(text: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"not an ISO 8601 instant: {text!r}") from None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def _when(ts) -> str:
    return ts.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")


def _quarter(text: str) -> tuple[str, str]:
    try:
        year, q = text.upper().split("-Q")
        first = date(int(year), 3 * int(q) - 2, 1)
    except ValueError:
        raise CliError(f"--quarter must look like 2026-Q4, not {text!r}") from None
    last = date(first.year + (first.month == 10), (first.month + 3 - 1) % 12 + 1, 1)
    return first.isoformat(), date.fromordinal(last.toordinal() - 1).isoformat()


def main() -> None:
    try:
        app(prog_name="casectl")
    except CliError as error:
        errors.print(f"casectl: {error}")
        raise SystemExit(1) from None
