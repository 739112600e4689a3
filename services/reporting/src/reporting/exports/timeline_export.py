"""ExportCaseTimeline: one timeline, three formats, one content hash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reporting.exports.document import content_hash, json_export, timeline_content
from reporting.exports.html import render_timeline
from reporting.exports.pdf import html_to_pdf

CONTENT_TYPES = {"JSON": "application/json", "HTML": "text/html; charset=utf-8", "PDF": "application/pdf"}


@dataclass(frozen=True)
class Export:
    content_type: str
    content: bytes
    sha256: str
    entry_count: int


def export_timeline(
    case_id: str, as_at: str | None, entries: list[dict[str, Any]], fmt: str, generated_at: str
) -> Export:
    content = timeline_content(case_id, as_at, entries)
    if fmt == "JSON":
        body = json_export(content, generated_at)
    else:
        body = render_timeline(content, generated_at)
        if fmt == "PDF":
            body = html_to_pdf(body)
    return Export(CONTENT_TYPES[fmt], body, content_hash(content), len(entries))
