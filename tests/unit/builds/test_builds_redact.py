"""Redaction (pure): stable keyed hashes, masks, structure kept, no original name left, rules still work."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trtlens.greybox.config import BuildRules, BuildsSettings
from trtlens.greybox.core import evaluate_build, is_int8_build, run_checks
from trtlens.greybox.correlate import correlate
from trtlens.greybox.names import ALIASES
from trtlens.greybox.redact import (
    KEPT_FIELDS,
    NAME_FIELDS,
    NameMap,
    RedactionError,
    RedactionPolicy,
    collect_names,
    redact_build,
    redact_events,
    redact_profile,
)
from trtlens.producers.trtlog import parse_log
from trtlens.schemas.events import EngineBuild

DATA = Path(__file__).resolve().parents[2] / "data" / "trt-logs"
KEY = b"0123456789abcdef-test-key"
HASH = RedactionPolicy(mode="hash", key=KEY)
MASK = RedactionPolicy(mode="mask")
VOCABULARY = {w.lower() for canonical, aliases in ALIASES.items() for w in (canonical, *aliases)}
ALL_LOGS = sorted([*DATA.glob("*.log"), *DATA.glob("public/*.log"), *DATA.glob("derived/*.log")])


def log(prefix: str) -> Path:
    (path,) = [p for p in ALL_LOGS if p.name.startswith(prefix)]
    return path


def sensitive(names: set[str]) -> set[str]:
    """Names a leak check can look for: not an op-type word (type tags are kept on purpose)."""
    return {n for n in names if len(n) >= 2 and n.lower() not in VOCABULARY and not n.startswith("__my")}  # Myelin's own kernels


def leaked(text: str, names: set[str]) -> set[str]:
    return {n for n in names if re.search(r"(?<![\w./\-])" + re.escape(n) + r"(?![\w/\-]|\.\w)", text)}


def test_hashes_are_keyed_stable_and_typed() -> None:
    a, b = NameMap(HASH), NameMap(HASH)
    assert a.name("/features/features.0/Conv") == b.name("/features/features.0/Conv")
    assert re.fullmatch(r"h:[0-9a-f]{12}:Conv", a.name("/features/features.0/Conv"))
    assert re.fullmatch(r"h:[0-9a-f]{12}", a.name("prob"))  # no type in the name: none appended
    other = NameMap(RedactionPolicy(mode="hash", key=b"another-key-of-16-chars"))
    assert other.name("prob") != a.name("prob")
    assert NameMap(RedactionPolicy(mode="hash", key=KEY, hash_chars=20, keep_types=False)).name("Conv_0").count(":") == 1
    assert a.name(a.name("Conv_0 + Relu_1")) == a.name("Conv_0 + Relu_1")  # idempotent
    assert NameMap(MASK).name("Conv_0 + Relu_1") == "***:Conv + ***:Relu"
    assert NameMap(RedactionPolicy()).name("Conv_0") == "Conv_0"


def test_every_engine_build_field_is_redacted_or_declared_kept() -> None:
    """A field added to EngineBuild must be placed: it may hold names."""
    assert NAME_FIELDS | KEPT_FIELDS == set(EngineBuild.model_fields) and not NAME_FIELDS & KEPT_FIELDS


def test_hash_needs_a_key() -> None:
    with pytest.raises(RedactionError):
        RedactionPolicy.from_settings(BuildsSettings(), "hash")
    policy = RedactionPolicy.from_settings(BuildsSettings(redact="hash", redact_key="k" * 16))
    assert policy.mode == "hash" and policy.key == b"k" * 16
    assert RedactionPolicy.from_settings(BuildsSettings()).active is False


@pytest.mark.parametrize("path", ALL_LOGS, ids=[p.name[:40] for p in ALL_LOGS])
def test_no_original_name_survives_in_the_events(path: Path) -> None:
    result = parse_log(path, now_ms=1)
    names = sensitive(collect_names([result.build], result.profile))
    events = redact_events(result.events, HASH)
    text = "\n".join(e.model_dump_json() for e in events)
    assert leaked(text, names) == set()
    assert [e.event_id for e in events] == [e.event_id for e in result.events]


def test_redacted_events_keep_the_structure_the_rules_read() -> None:
    """Fusion, pattern, coverage and share rules give the same verdicts on redacted events."""
    rules = BuildRules(min_int8_coverage=None, required_fusion_patterns=["Conv -> BatchNormalization|Scale -> Relu|Activation"],
                       min_fusion_coverage_by_type={"Conv": 0.95}, max_unfused_kernel_share=0.05, fail_on_split_fusions=True)  # fmt: skip
    for prefix in ("p49", "d1", "p63", "31", "p50"):
        build = parse_log(log(prefix), now_ms=1).build
        for policy in (HASH, MASK):
            plain = {(c.rule, c.status, c.value) for c in run_checks(build, rules)[0]}
            hidden = {(c.rule, c.status, c.value) for c in run_checks(redact_build(build, policy), rules)[0]}
            assert plain == hidden, (prefix, policy.mode)
    build, profile = parse_log(log("02-"), now_ms=1).build, parse_log(log("d5"), now_ms=1).profile
    names = NameMap(HASH, collect_names([build], profile))
    (finding,) = correlate(names.build(build), names.profile(profile), rules=rules)
    assert finding.layer == names.name("node_conv2d + node_relu") and finding.layers == [names.name("node_conv2d"), names.name("node_relu")]


def test_the_same_name_hashes_alike_across_logs() -> None:
    """02 (build) and 04 (its runtime profile) name the same layers: their hashes join."""
    build = redact_build(parse_log(log("02-"), now_ms=1).build, HASH)
    rows = redact_profile(parse_log(log("04-"), now_ms=1).profile, HASH)
    assert {f.result for f in build.fusions} & {r.layer for r in rows} == {NameMap(HASH).name("node_conv2d + node_relu"),
                                                                           NameMap(HASH).name("node_conv2d_1 + node_relu_1"),
                                                                           NameMap(HASH).name("node_softmax + node_argmax")}  # fmt: skip


def test_ranges_are_dropped_and_the_build_stays_int8() -> None:
    build = parse_log(log("10-"), now_ms=1).build
    hidden = redact_build(build, HASH)
    assert hidden.calibration == {} and hidden.facts["redacted.calibration_tensors"] == 16
    assert is_int8_build(hidden) and len(hidden.calibration_info.zero_ranges) == 2
    kept = redact_build(build, RedactionPolicy(mode="hash", key=KEY, ranges=False))
    assert sorted(kept.calibration.values()) == sorted(build.calibration.values()) and not set(kept.calibration) & set(build.calibration)
    text = NameMap(MASK, ["x"]).text("Setting dynamic range for x to [-1.25,1.25], scale=0.023")
    assert text == "Setting dynamic range for *** to [*, *], scale=*"


def test_messages_reports_and_checks_are_rewritten() -> None:
    build = parse_log(log("p47"), now_ms=1).build  # FP16 weight warnings name "Conv-4 + ReLU-5.weight"
    names = NameMap(HASH, collect_names([build]))
    hidden = names.build(build)
    weights = [d.message for d in hidden.diagnostics if d.message.startswith("Weights [name=")]
    assert weights and all(m.startswith("Weights [name=h:") and ".weight]" in m for m in weights)
    rules = BuildRules(min_int8_coverage=None, max_layer_ratio_vs_baseline={"MatMul-9": 1.2}, max_fp16_affected_weights=0)
    d1 = parse_log(log("d1"), now_ms=1).build
    names = NameMap(HASH, collect_names([d1], extra=rules.max_layer_ratio_vs_baseline))
    checks, _ = run_checks(d1, rules.model_copy(update={"required_fusion_patterns": ["Conv -> Scale -> Activation"]}))
    report = names.report(evaluate_build(d1, rules.model_copy(update={"required_fusion_patterns": ["Conv -> Scale -> Activation"]})))
    text = report.model_dump_json() + "".join(c.message + c.rule for c in names.checks(checks))
    assert leaked(text, sensitive(collect_names([d1]) | {"MatMul-9"})) == set()
    assert report.findings and report.findings[0].layers[0].startswith("h:")
