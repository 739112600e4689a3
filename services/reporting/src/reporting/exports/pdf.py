"""HTML to PDF with headless Chromium (Debian's `chromium` package): the browser's own print
engine, so the PDF is what a reviewer would get printing the HTML report."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from caseplatform.errors import PreconditionFailed

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


def chromium_command(binary: str, profile: Path, *args: str) -> list[str]:
    # --no-sandbox: services and CI may run as root, where Chromium's sandbox refuses to start.
    return [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            f"--user-data-dir={profile}", "--no-first-run", *args]


def html_to_pdf(html: bytes, timeout: float = 90) -> bytes:
    binary = chromium_path()
    if binary is None:
        raise PreconditionFailed("PDF export needs headless Chromium (Debian package 'chromium'); it is not installed")
    with tempfile.TemporaryDirectory(prefix="casework-pdf-") as folder:
        page, out = Path(folder, "report.html"), Path(folder, "report.pdf")
        page.write_bytes(html)
        command = chromium_command(
            binary, Path(folder, "profile"), "--no-pdf-header-footer", f"--print-to-pdf={out}", page.as_uri()
        )
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)
        return out.read_bytes()
