"""What a person sees of an HTML page: rendered by headless Chromium, as text or as a screenshot.

:func:`render_text` prints the page to PDF (the browser's own layout: CSS
applied, hidden elements gone, SVG text drawn) and extracts the text with
poppler's ``pdftotext -layout``; :func:`screenshot` writes a PNG of the
viewport. Both skip the calling test, saying why, only when a tool is not
installed (CI installs ``chromium`` and ``poppler-utils``, see ``.ci/run``);
a browser that is there but fails is a test failure, not a skip.

Every call uses a fresh profile directory and no network, and waits at most
``timeout`` seconds: a hung browser fails the test instead of hanging it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

__all__ = ["chromium", "render_text", "screenshot"]

_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def chromium() -> str:
    """The browser's path; skips the test when none is installed."""
    for name in _NAMES:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("headless browser tests need chromium (Debian: apt-get install chromium)")


def _run(args: list[str], timeout: float) -> None:
    with tempfile.TemporaryDirectory(prefix="wireproof-browser-") as profile:
        cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-extensions", "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
               *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise AssertionError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")


def render_text(html_path: Path, *, timeout: float = 30.0, layout: bool = True) -> str:
    """The page's text as printed by the browser (``pdftotext -layout``: rows stay on one line;
    ``layout=False``: ``-raw``, the order the browser drew the text in, so a table cell's lines
    stay together instead of interleaving with the cell beside them)."""
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("rendered-text tests need pdftotext (Debian: apt-get install poppler-utils)")
    with tempfile.TemporaryDirectory(prefix="wireproof-pdf-") as tmp:
        pdf = Path(tmp) / "page.pdf"
        _run(["--no-pdf-header-footer", f"--print-to-pdf={pdf}", html_path.resolve().as_uri()], timeout)
        if not pdf.is_file() or pdf.stat().st_size == 0:
            raise AssertionError(f"chromium wrote no PDF for {html_path}")
        mode = "-layout" if layout else "-raw"
        done = subprocess.run([pdftotext, mode, "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                              text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise AssertionError(f"pdftotext exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def screenshot(html_path: Path, png_path: Path, *, width: int = 1200, height: int = 1600,
               timeout: float = 30.0) -> Path:
    """A PNG of the top ``width`` x ``height`` pixels of the page; returns ``png_path``."""
    _run([f"--window-size={width},{height}", f"--screenshot={png_path.resolve()}",
          html_path.resolve().as_uri()], timeout)
    if not png_path.is_file() or png_path.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError(f"chromium wrote no PNG for {html_path}")
    return png_path
