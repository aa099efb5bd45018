"""``trtlens report``: the dashboard's panels for a time range as one self-contained HTML file.

The file inlines the page's script and style and the panels' data (the same
answers the data endpoints give), so it opens anywhere without a server or a
network: backfills, incident write-ups, CI artifacts. With ``--png`` headless
Chromium (Debian's ``chromium``) renders it and one PNG per panel is cut from
the page (Playwright drives the browser when installed; otherwise one full-page
PNG comes from ``chromium --screenshot``).
"""

from __future__ import annotations

import html
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from trtlens.dashboard.data import DashboardData
from trtlens.dashboard.server import static_file
from trtlens.errors import TrtlensError

log = logging.getLogger(__name__)

REPORT_PANELS = ("meta", "traffic", "versions", "coldstarts", "gpu", "alerts", "builds", "layers")
SECTION_IDS = ("traffic", "versions", "coldstarts", "gpu", "alerts", "trace", "builds", "layers")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


class ReportError(TrtlensError):
    """A report cannot be written. Attributes: reason (with what to do)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def collect(data: DashboardData, params: Mapping[str, str]) -> dict[str, Any]:
    """Every panel's answer for ``params`` (from/to/model), plus the diff of the last two builds and the
    waterfall of the first exemplar of the first firing alert."""
    out: dict[str, Any] = {name: data.panel(name, params) for name in REPORT_PANELS}
    builds = out["builds"]["builds"]
    if len(builds) > 1:
        out["build_diff"] = data.panel("build_diff", {**params, "a": builds[-2]["id"], "b": builds[-1]["id"]})
    for alert in out["alerts"]["alerts"]:
        if alert.get("exemplars"):
            rid = alert["exemplars"][0]
            out[f"trace:{rid}"] = data.panel("trace", {**params, "request_id": rid})
            out["trace_id"] = rid
            break
    return out


def _script_safe(obj: Any) -> str:
    """JSON that can sit inside <script>: no ``</`` sequence can close the element."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode().replace("</", "<\\/").replace("<!--", "<\\!--")


def render_html(panels: Mapping[str, Any], *, title: str) -> str:
    """The page with its CSS, JS and ``panels`` inlined; no external reference remains."""
    page = static_file("index.html").decode()
    css = static_file("app.css").decode()
    js = static_file("app.js").decode().replace("</script", "<\\/script")
    page = page.replace('<link rel="stylesheet" href="static/app.css">', f"<style>\n{css}</style>")
    page = page.replace('<script src="static/app.js"></script>',
                        f"<script>window.TRTLENS_DATA = {_script_safe(panels)};</script>\n<script>\n{js}</script>")
    page = page.replace("<title>trtlens dashboard</title>", f"<title>{html.escape(title)}</title>")
    if "static/" in page:
        raise AssertionError("report page still references static/")  # pragma: no cover - guarded by a test
    return page


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def render_pngs(html_path: Path, out_dir: Path, *, chromium: str | None = None) -> list[Path]:
    """One PNG per panel of the report (Playwright), or one full page (``chromium --screenshot``)."""
    exe = chromium or find_chromium()
    if exe is None:
        raise ReportError("PNG images need Chromium: apt-get install -y chromium (or leave out --png)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        target = out_dir / (html_path.stem + ".png")
        with tempfile.TemporaryDirectory(prefix="trtlens-chromium-") as profile:
            subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--hide-scrollbars",
                            "--window-size=1400,4000", f"--screenshot={target}", html_path.resolve().as_uri()],
                           check=True, capture_output=True, timeout=120)
        return [target]
    return screenshot_panels(html_path.resolve().as_uri(), out_dir, chromium=exe)


def screenshot_panels(url: str, out_dir: Path, *, chromium: str, prefix: str = "", timeout_ms: int = 30_000,
                      context: Any = None) -> list[Path]:
    """Load ``url``, wait until every panel settled, save one PNG per panel section.

    ``context``: a Playwright browser context to use (else one is launched with a fresh profile)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if context is not None:
        return _shoot(context, url, out_dir, prefix, timeout_ms)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="trtlens-chromium-") as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=chromium, headless=True, args=list(CHROMIUM_FLAGS),
            viewport={"width": 1400, "height": 1000})
        try:
            return _shoot(ctx, url, out_dir, prefix, timeout_ms)
        finally:
            ctx.close()


def _shoot(ctx: Any, url: str, out_dir: Path, prefix: str, timeout_ms: int) -> list[Path]:
    page = ctx.new_page()
    try:
        page.goto(url)
        page.wait_for_selector("body[data-loaded]", state="attached", timeout=timeout_ms)
        paths = []
        for sid in SECTION_IDS:
            path = out_dir / f"{prefix}{sid}.png"
            page.locator(f"#panel-{sid}").screenshot(path=str(path))
            paths.append(path)
        return paths
    finally:
        page.close()


def write_report(data: DashboardData, params: Mapping[str, str], out: Path, *, png: bool) -> dict[str, Any]:
    panels = collect(data, params)
    meta = panels["meta"]
    title = f"trtlens report {meta['from']}–{meta['to']}" + (f" {meta['model']}" if meta.get("model") else "")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(panels, title=title), encoding="utf-8")
    images = render_pngs(out, out.parent / (out.stem + "-png")) if png else []
    return {"html": out, "images": images, "panels": panels}
