"""``trtlens check --html``: the one-build report as self-contained HTML."""

from pathlib import Path

from trtlens.cli import main
from trtlens.producers.trtlog.html import precision_mix, render_html

LOGS = Path(__file__).resolve().parents[2] / "data" / "trt-logs"


def doc(**over):
    base = {
        "passed": False,
        "report": {"engine_id": "e<1>", "fusion_rate": 0.5, "int8_coverage": 0.75, "report": {
            "engine_id": "e<1>", "trt_version": "10.3", "plugin_fallbacks": ["GridSample"], "memory": {"peak_gpu_bytes": 1024},
            "layers": [{"name": "conv<script>", "precision": "INT8"}, {"name": "fc", "precision": "int8"},
                       {"name": "softmax", "precision": "fp32"}, {"name": "x"}]}},
        "checks": [{"rule": "min_int8_coverage", "status": "fail", "value": 0.75, "limit": 0.9, "message": "too low"}],
        "findings": [{"kind": "unfused_pattern", "message": "conv+relu not fused", "layer": "conv1"}],
        "diff": {"old_engine_id": "old", "new_engine_id": "e<1>", "memory": [
            {"metric": "peak_gpu_bytes", "old": 900, "new": 1024, "delta": 124, "delta_pct": 13.8}],
            "latency": [], "layer_time": [], "newly_unfused": ["conv1 + relu"], "new_plugin_fallbacks": ["GridSample"],
            "precision_changes": [{"layer": "fc", "old": "int8", "new": "fp16", "downgrade": True}]},
        "profile": [{"layer": "conv<script>", "time_pct": 60.0, "avg_ms": 1.5}],
    }
    return {**base, **over}


def test_sections_values_and_escaping():
    page = render_html(doc())
    for needle in ("FAIL", "Checks", "min_int8_coverage", "Findings", "conv+relu not fused", "Precision mix",
                   "Engine layers (4)", "Diff against the baseline (old → e&lt;1&gt;)", "conv1 + relu", "downgrade",
                   "GridSample", "75.0%", "+13.8%"):
        assert needle in page, needle
    assert "<script" not in page and "conv&lt;script&gt;" in page
    assert "http" not in page and "src=" not in page  # nothing external


def test_precision_mix_counts_layers():
    assert precision_mix(doc()["report"]["report"]["layers"]) == {"int8": 2, "fp32": 1, "unknown": 1}
    assert "int8 2 (50%)" in render_html(doc())


def test_without_baseline_the_page_says_how_to_get_a_diff():
    assert "--baseline OLD.log" in render_html(doc(diff=None, passed=True)) and "PASS" in render_html(doc(passed=True))


def test_check_cli_writes_the_file(tmp_path, capsys):
    out = tmp_path / "check.html"
    log = LOGS / "02-trtexec-trt1016-verbose-fusion-tactics.log"
    code = main(["--log-level", "WARNING", "check", str(log), "--html", str(out)])
    assert code in (0, 1)
    page = out.read_text()
    assert "02-trtexec-trt1016-verbose-fusion-tactics" in page and "fusion rate" in page and "45.8%" in page
