"""HTML to PDF with headless Chromium: the same engine that shows the print view prints it.

Chromium runs once per document in a private profile directory, reads the HTML from a
temporary file (no network: the printouts carry their styles and use the system's fonts),
and writes the PDF. Fonts come from fontconfig: Debian's ``fonts-noto-core`` covers Arabic
and Dari/Farsi (Noto Naskh Arabic, Noto Sans Arabic), Cyrillic and Latin.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from lotse.settings import current


class PdfError(RuntimeError):
    """The PDF could not be made (no Chromium, a timeout, or Chromium failed)."""


def chromium_command() -> str | None:
    """The Chromium executable of ``LOTSE_CHROMIUM``, or None when it is not installed."""
    name = current().chromium
    return shutil.which(name) or (name if Path(name).is_file() else None)


def html_to_pdf(html: str, *, timeout: float | None = None) -> bytes:
    """The PDF (A4, as the page's ``@page`` rule says) of a self-contained HTML document."""
    command = chromium_command()
    if command is None:
        raise PdfError(f"Chromium not found ({current().chromium!r}; set LOTSE_CHROMIUM)")
    with tempfile.TemporaryDirectory(prefix="lotse-pdf-") as tmp:
        source, target = Path(tmp) / "print.html", Path(tmp) / "print.pdf"
        source.write_text(html, encoding="utf-8")
        args = [
            command,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-extensions",
            "--no-first-run",
            "--no-pdf-header-footer",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--print-to-pdf={target}",
            source.as_uri(),
        ]
        try:
            done = subprocess.run(
                args,
                capture_output=True,
                timeout=timeout or current().pdf_timeout_seconds,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise PdfError(f"Chromium took longer than {exc.timeout:g} s") from None
        except OSError as exc:
            raise PdfError(f"Chromium could not start: {exc}") from None
        if not target.is_file() or target.stat().st_size == 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise PdfError(f"Chromium made no PDF (exit {done.returncode}): {' | '.join(tail)}")
        return target.read_bytes()
