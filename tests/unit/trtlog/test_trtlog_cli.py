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


def test_seed_rules_runtime_versions_and_baseline_profile(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("min_int8_coverage: null\nmatch_runtime_versions: [trt]\nmax_layer_ratio_vs_baseline: {node_linear_myl: 1.2}\n"
                     "fail_on_split_fusions: true\n")  # fmt: skip
    public = DATA / "public"
    p47 = str(next(public.glob("p47-*.log")))
    rc, doc = run_json(capsys, p47, "--runtime-log", str(next(public.glob("p48-*.log"))), "--rules", str(rules))
    assert rc == 0 and "match_runtime_versions[trt]" in {c["rule"] for c in doc["checks"] if c["status"] == "pass"}
    rc, doc = run_json(capsys, p47, "--runtime-versions", "trt=10.3", "--rules", str(rules))
    assert rc == 1 and [v["rule"] for v in doc["report"]["violations"]] == ["match_runtime_versions[trt]"]
    assert [f["kind"] for f in doc["findings"]] == ["version_mismatch"]
    derived = DATA / "derived"
    rc, doc = run_json(capsys, sample("02-"), "--profile", str(next(derived.glob("d4-*.log"))), "--baseline-profile", sample("04-"),
                       "--rules", str(rules))  # fmt: skip
    assert rc == 1 and [v["rule"] for v in doc["report"]["violations"]] == ["max_layer_ratio_vs_baseline[node_linear_myl]"]
    rc, doc = run_json(capsys, sample("02-"), "--profile", str(next(derived.glob("d5-*.log"))), "--rules", str(rules))
    assert rc == 1 and [f["kind"] for f in doc["report"]["findings"]] == ["split_fusion"]
    assert doc["findings"] == doc["report"]["findings"]
    assert main(["check", p47, "--runtime-versions", "driver=550"]) == 2
    assert "--runtime-versions" in capsys.readouterr().err


def test_redaction_reaches_json_table_and_log(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
                                              monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # fmt: skip
    from trtlens.greybox.redact import collect_names
    from trtlens.producers.trtlog import parse_log

    monkeypatch.setenv("TRTLENS_BUILDS__REDACT", "hash")
    monkeypatch.setenv("TRTLENS_BUILDS__REDACT_KEY", "a-secret-key-of-some-length")
    rules = tmp_path / "rules.yaml"
    rules.write_text("fail_on_split_fusions: true\nmax_unfused_kernel_share: 0.05\nunfused_hints: true\n")
    build, profile = sample("02-"), str(next((DATA / "derived").glob("d5-*.log")))
    names = {n for n in collect_names([parse_log(build).build], parse_log(profile).profile) if len(n) > 2 and not n.startswith("__my")}
    caplog.set_level("INFO")
    rc, doc = run_json(capsys, build, "--profile", profile, "--rules", str(rules))
    assert rc == 1 and doc["report"]["findings"] and doc["report"]["violations"]
    assert main(["check", build, "--profile", profile, "--rules", str(rules)]) == 1
    captured = capsys.readouterr()
    outputs = json.dumps(doc) + captured.out + captured.err + caplog.text
    assert "h:" in captured.out and "redact=hash" in caplog.text
    assert [n for n in names if n in outputs] == []
    monkeypatch.setenv("TRTLENS_BUILDS__REDACT", "off")
    rc, doc = run_json(capsys, build, "--profile", profile, "--rules", str(rules), "--redact", "mask")
    assert [f["layer"] for f in doc["findings"] if f["kind"] == "split_fusion"] == ["***:Conv + ***:Relu"]
    monkeypatch.delenv("TRTLENS_BUILDS__REDACT_KEY")
    assert main(["check", build, "--redact", "hash"]) == 2
    assert "redact_key" in capsys.readouterr().err
