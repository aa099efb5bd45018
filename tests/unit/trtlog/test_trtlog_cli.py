"""`trtlens check`: exit codes, JSON document, baseline diff (no broker needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trtlens.cli import main

DATA = Path(__file__).resolve().parents[2] / "data" / "trt-logs"


def sample(prefix: str) -> str:
    return str(next(DATA.glob(f"{prefix}*.log")))


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(["check", *argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


@pytest.mark.parametrize(
    ("prefix", "code", "violations"),
    [
        ("04-", 0, []),
        ("05-", 0, []),
        ("31-", 1, ["min_int8_coverage"]),
        ("47-", 1, ["dla_fallback"]),
        ("17-", 1, ["build_errors"]),
        ("43-", 1, ["build_errors", "plugin_fallback"]),
    ],
)
def test_exit_codes_and_json(capsys: pytest.CaptureFixture[str], prefix: str, code: int, violations: list[str]) -> None:
    rc, doc = run_json(capsys, sample(prefix))
    assert rc == code
    assert [v["rule"] for v in doc["report"]["violations"]] == violations
    assert doc["passed"] is (code == 0)
    assert doc["parse"]["build"]["lines"] > 0
    assert {c["status"] for c in doc["checks"]} <= {"pass", "fail", "skip"}


def test_profile_and_rules_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("max_layer_time_pct: 12\nmax_p99_ms: 0.1\n")
    rc, doc = run_json(capsys, sample("05-"), "--profile", sample("04-"), "--rules", str(rules))
    assert rc == 1
    assert {v["rule"] for v in doc["report"]["violations"]} == {"max_layer_time_pct", "max_p99_ms"}
    assert len(doc["profile"]) == 16 and doc["report"]["report"]["profile"]["iterations"] == 20079


def test_baseline_diff(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    old = tmp_path / "old.log"
    new = tmp_path / "new.log"
    text = Path(sample("31-")).read_text()
    old.write_text(text)
    new.write_text(text.replace("Layer(CaskConvolution): Conv_0, Tactic: 1025026069226666066, Reformatted Input Tensor 0 to Conv_0[Int8(",
                                "Layer(CaskConvolution): Conv_0, Tactic: 1025026069226666066, Reformatted Input Tensor 0 to Conv_0[Half("))  # fmt: skip
    rules = tmp_path / "rules.yaml"
    rules.write_text("min_int8_coverage: null\n")
    rc, doc = run_json(capsys, str(new), "--baseline", str(old), "--rules", str(rules))
    assert rc == 1
    assert [v["rule"] for v in doc["report"]["violations"]] == ["precision_downgrade"]
    assert doc["diff"]["precision_changes"] == [{"layer": "Conv_0", "old": "int8", "new": "fp16", "downgrade": True}]
    rc, doc = run_json(capsys, str(old), "--baseline", str(old), "--rules", str(rules))
    assert rc == 0 and doc["diff"]["precision_changes"] == []


def test_input_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["check", str(tmp_path / "missing.log")]) == 2
    junk = tmp_path / "junk.log"
    junk.write_bytes(b"\x00\x01 nothing to see\nhere either\n")
    assert main(["check", str(junk)]) == 2
    bad_rules = tmp_path / "bad.yaml"
    bad_rules.write_text("min_int8_coverag: 0.5\n")
    assert main(["check", sample("04-"), "--rules", str(bad_rules)]) == 2
    assert "min_int8_coverag" in capsys.readouterr().err


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", sample("02-")]) == 0
    out = capsys.readouterr().out
    assert "TensorRT build" in out and "fusion rate 45.8%" in out and "PASSED" in out
