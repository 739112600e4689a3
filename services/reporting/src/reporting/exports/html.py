"""The timeline as a readable, printable HTML page (Jinja2, autoescaped). The page shows the
content hash and embeds the hashed content itself, so the HTML can be verified on its own."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from reporting.exports.document import canonical, content_hash

MARKS = {"STARTED": "started", "MET": "met on time", "MET_LATE": "met late", "BREACHED": "breached",
         "WITHDRAWN": "withdrawn"}
_EMBEDDED = re.compile(r'<script type="application/json" id="timeline-content">(.*?)</script>', re.DOTALL)


@cache
def environment() -> Environment:
    env = Environment(loader=PackageLoader("reporting.exports", "templates"), autoescape=select_autoescape())
    env.filters["when"] = lambda iso: iso.replace("T", " ")[:19] + " UTC" if iso else ""
    env.filters["mark"] = lambda mark: MARKS.get(mark, mark.lower())
    return env


def render_timeline(content: dict[str, Any], generated_at: str) -> bytes:
    embedded = canonical(content).decode("utf-8").replace("</", "<\\/")  # stays inside its <script>
    html = environment().get_template("timeline.html.j2").render(
        content=content, sha256=content_hash(content), generated_at=generated_at, embedded=embedded
    )
    return html.encode("utf-8")


def verify_html(page: bytes) -> tuple[bool, str, str]:
    """(unaltered?, the hash the page shows, the hash of the content it embeds)."""
    text = page.decode("utf-8")
    shown = re.search(r'<code id="content-sha256">([0-9a-f]{64})</code>', text)
    embedded = _EMBEDDED.search(text)
    if not shown or not embedded:
        return False, shown.group(1) if shown else "", ""
    actual = content_hash(json.loads(embedded.group(1).replace("<\\/", "</")))
    return shown.group(1) == actual, shown.group(1), actual
