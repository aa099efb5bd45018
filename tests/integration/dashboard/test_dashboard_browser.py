"""The dashboard page in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

Loads the page served over the embedded store with known data, checks that every
panel rendered with data (each chart's drawn values are counted by the page in
``data-points``, and compared here with what the data endpoint answered), follows
an exemplar link to the trace waterfall, and saves a screenshot of each panel under
``docs/dashboard/`` (the README shows them). Also renders ``trtlens report``'s
self-contained HTML file and checks it makes no network request.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from support.dashboard_seed import GPU_THRESHOLD, N_WINDOWS, T0, WINDOW_MS, seed
from trtlens.settings import IndexSettings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium; .ci/run installs it)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[3] / "docs" / "dashboard"
PANELS = ("traffic", "versions", "coldstarts", "gpu", "alerts", "trace", "builds", "layers")


@pytest.fixture(scope="module")
def served(stack_settings):
    from trtlens.dashboard.server import DashboardServer
    from trtlens.es import es_client
    from trtlens.settings import load_settings

    tag = f"dashb{os.getpid()}"
    indices = IndexSettings(traces=f"{tag}-traces", metrics=f"{tag}-metrics", alerts=f"{tag}-alerts",
                            builds=f"{tag}-builds", layers=f"{tag}-layers")
    settings = load_settings(elasticsearch=stack_settings.elasticsearch.model_dump(), indices=indices.model_dump(),
                             dashboard={"port": 0, "gpu_memory_threshold_bytes": GPU_THRESHOLD})
    es = es_client(settings.elasticsearch)
    data = seed(es, indices)
    server = DashboardServer(settings).start()
    try:
        yield server, data, settings
    finally:
        server.stop()
        es.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="trtlens-test-chromium-") as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=FLAGS,
                                                    viewport={"width": 1400, "height": 1000})
        try:
            yield ctx
        finally:
            ctx.close()


def _points(page, panel: str) -> int:
    return int(page.get_attribute(f"#panel-{panel}", "data-points") or 0)


def test_every_panel_renders_with_data_and_is_screenshotted(served, browser):
    server, data, _settings = served
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    offsite: list[str] = []
    page.on("request", lambda req: None if req.url.startswith(server.url) else offsite.append(req.url))
    page.goto(f"{server.url}#range=custom&from={T0}&to={T0 + N_WINDOWS * WINDOW_MS}&refresh=0")
    page.wait_for_selector("body[data-loaded]", state="attached", timeout=30_000)
    for panel in ("traffic", "versions", "coldstarts", "gpu", "alerts", "builds", "layers"):
        assert page.get_attribute(f"#panel-{panel}", "data-state") == "ready", panel
        assert _points(page, panel) > 0, f"panel {panel} drew nothing"
    # traffic: one QPS line per model/version and one heatmap per version, every non-empty cell drawn
    assert page.locator("#panel-traffic svg.chart path.series").count() == 3
    heat = server.data.panel("traffic", {"from": str(T0), "to": str(T0 + N_WINDOWS * WINDOW_MS)})
    cells = sum(1 for s in heat["series"].values() for col in s["heatmap"] for n in col if n > 0)
    assert sum(int(x) for x in page.locator("#panel-traffic svg.heatmap").evaluate_all(
        "els => els.map(e => e.dataset.points)")) == cells
    # versions: the comparison table has one row per version; attribution of v2 is shown
    assert page.locator("#panel-versions table").first.locator("tbody tr").count() == 3
    assert "resnet50/v2 tail attribution" in page.inner_text("#panel-versions")
    # GPU: threshold line and a trend per worker
    assert page.locator("#panel-gpu line.threshold").count() == 1
    assert page.locator("#panel-gpu path.trend").count() == 2
    # alerts: firing span + explanation; an exemplar link opens the waterfall
    assert "P99 of resnet50/v2 above 100 ms" in page.inner_text("#panel-alerts")
    page.locator("#panel-alerts a.exemplar").first.click()
    page.wait_for_selector("#panel-trace[data-state=ready]", state="attached", timeout=15_000)
    assert page.locator("#panel-trace svg.waterfall rect").count() == 4
    # builds: the diff of the last two builds is shown
    page.wait_for_selector("#build-diff table", timeout=15_000)
    assert "fallbacks added" in page.inner_text("#build-diff")
    assert not errors, errors
    assert not offsite, f"the page fetched from other hosts: {offsite}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    for panel in PANELS:
        page.locator(f"#panel-{panel}").screenshot(path=str(SHOTS / f"{panel}.png"))
        assert (SHOTS / f"{panel}.png").stat().st_size > 5_000


def test_model_filter_and_time_range_narrow_every_panel(served, browser):
    server, *_ = served
    page = browser.new_page()
    page.goto(f"{server.url}#range=custom&from={T0}&to={T0 + N_WINDOWS * WINDOW_MS}&refresh=0&model=bert-base")
    page.wait_for_selector("body[data-loaded]", state="attached", timeout=30_000)
    assert page.locator("#panel-traffic svg.chart path.series").count() == 1
    assert page.input_value("#model") == "bert-base"
    # a range after the data: panels say so instead of drawing
    page.goto(f"{server.url}#range=custom&from={T0 + 10 * 3_600_000}&to={T0 + 11 * 3_600_000}&refresh=0")
    page.reload()
    page.wait_for_selector("body[data-loaded]", state="attached", timeout=30_000)
    assert _points(page, "traffic") == 0 and "No windows" in page.inner_text("#panel-traffic")


def test_report_is_self_contained_and_renders_offline(served, browser, tmp_path):
    from trtlens.dashboard.data import DashboardData
    from trtlens.dashboard.report import write_report

    server, _data, settings = served
    dd = DashboardData(settings)
    try:
        out = write_report(dd, {"from": str(T0), "to": str(T0 + N_WINDOWS * WINDOW_MS)}, tmp_path / "r.html", png=False)
    finally:
        dd.close()
    html = out["html"].read_text()
    assert "static/" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.goto(out["html"].as_uri())
    page.wait_for_selector("body[data-loaded]", state="attached", timeout=30_000)
    for panel in ("traffic", "versions", "coldstarts", "gpu", "alerts", "builds", "layers", "trace"):
        assert _points(page, panel) > 0, panel
    assert requests == [out["html"].as_uri()]
    from trtlens.dashboard.report import screenshot_panels

    pngs = screenshot_panels(out["html"].as_uri(), tmp_path / "png", chromium=CHROMIUM, context=browser)
    assert len(pngs) == len(PANELS) and all(p.stat().st_size > 3_000 for p in pngs)
