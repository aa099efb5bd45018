"""``trtlens check``: grey-box CI gate over a TensorRT build log.

Exit codes: 0 every rule passed; 1 at least one violation; 2 usage or input
error (unreadable log, no TensorRT output recognised, invalid rules or settings,
publish failure).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

EXIT_PASS, EXIT_VIOLATION, EXIT_INPUT = 0, 1, 2
log = logging.getLogger(__name__)

EPILOG = """\
exit codes: 0 = all rules passed, 1 = rule violation(s), 2 = usage/input error.
Rules default to Settings.builds.rules (TRTLENS_BUILDS__RULES__<RULE>); --rules
replaces them with a YAML file (see producers/trtlog/rules.example.yaml).
Names are redacted in every output when TRTLENS_BUILDS__REDACT=hash|mask (key:
TRTLENS_BUILDS__REDACT_KEY) or with --redact; the rules see the original names.
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "check",
        help="grey-box check of a TensorRT build log / trtexec output: rules, baseline diff, CI gate",
        description="Parse a TensorRT log (trtexec, Python, Polygraphy, DeepStream, jetson-inference, Torch-TensorRT, "
        "TensorRT-LLM, Triton) and apply the build rules: fusion rate, INT8 coverage, plugin/DLA fallbacks, "
        "memory and latency budgets, per-layer time share; with --baseline, a version diff.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("build_log", metavar="BUILD.log", help="build log, trtexec output or trtexec --exportLayerInfo JSON")
    p.add_argument("--profile", metavar="PROFILE", help="runtime profile: a log with a --dumpProfile table, --exportProfile "
                   "JSON, JSON lines of layer_profile events (a trtlens worker's profiled requests) or of trtlens-layers "
                   "documents; with it the build ↔ runtime correlation runs (split fusions, runtime share)")
    p.add_argument("--baseline", metavar="OLD.log", help="build log of the previous version, for the diff rules")
    p.add_argument("--baseline-profile", metavar="OLD_PROFILE.log", help="profile of the previous version (named-layer ratios; with --baseline, per-layer diff)")
    p.add_argument("--runtime-versions", metavar="trt=10.3,cuda=12.4", help="TensorRT / CUDA / cuDNN where the engine runs (match_runtime_versions)")
    p.add_argument("--runtime-log", metavar="RUNTIME.log", help="a log of the engine running: its versions (and any version mismatch it reports)")
    p.add_argument("--redact", choices=["off", "hash", "mask"], help="redact layer/tensor names in every output (default: settings builds.redact)")
    p.add_argument("--rules", metavar="rules.yaml", help="rules file (default: settings builds.rules)")
    p.add_argument("--engine-id", help="engine id for the report (default: engine file named in the log, else log name)")
    p.add_argument("--engine", metavar="PLAN", help="the engine file the log built: its content hash is the engine id "
                   "(the id the workers report; overrides --engine-id)")
    p.add_argument("--model", help="model name of the build report (joins it to the model's runtime and earlier builds)")
    p.add_argument("--model-version", help="model version of the build report")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report (layer table, precision mix, "
                   "fusion/fallback findings, diff against the baseline)")
    p.add_argument("--publish", action="store_true", help="send the engine_build (+ layer_profile) events to the events topic")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import orjson

    from trtlens.greybox.config import load_rules
    from trtlens.greybox.core import run_checks, to_build_report
    from trtlens.greybox.redact import NameMap, RedactionPolicy, collect_names
    from trtlens.greybox.versions import parse_runtime_versions, runtime_versions
    from trtlens.producers.trtlog.parse import ParseResult, parse_log
    from trtlens.producers.trtlog.render import json_document, render
    from trtlens.settings import load_settings

    engine_id = args.engine_id
    if args.engine:
        from trtlens.producers.trtlog.runtime_profile import plan_engine_id

        try:
            engine_id = plan_engine_id(args.engine)
        except OSError as exc:
            print(f"trtlens: error: --engine {args.engine}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_INPUT
    parsed: dict[str, ParseResult] = {"build": parse_log(args.build_log, engine_id=engine_id)}
    build_result = parsed["build"]
    if build_result.stats.recognized == 0:
        print(f"trtlens: error: no TensorRT output recognised in {args.build_log}", file=sys.stderr)
        return EXIT_INPUT
    report = build_result.build
    identity = {k: v for k, v in (("model", args.model), ("model_version", args.model_version)) if v}
    if identity:
        report = report.model_copy(update=identity)
    profile = build_result.profile
    if args.profile:
        from trtlens.producers.trtlog.runtime_profile import read_runtime_profile

        runtime_rows = read_runtime_profile(args.profile, engine_id=report.engine_id)
        if runtime_rows is not None:
            profile = runtime_rows
        else:
            parsed["profile"] = parse_log(args.profile, engine_id=report.engine_id)
            prof = parsed["profile"]
            profile = prof.profile or profile
            update = {k: getattr(prof.build, k) for k in ("perf", "profile") if getattr(report, k) is None and getattr(prof.build, k) is not None}
            if update:
                report = report.model_copy(update=update)
    baseline = None
    baseline_profile: list = []
    if args.baseline:
        parsed["baseline"] = parse_log(args.baseline)
        baseline, baseline_profile = parsed["baseline"].build, parsed["baseline"].profile
    if args.baseline_profile:
        parsed["baseline_profile"] = parse_log(args.baseline_profile, engine_id=baseline.engine_id if baseline else None)
        base_prof = parsed["baseline_profile"]
        baseline_profile = base_prof.profile or baseline_profile
        if baseline is not None and baseline.perf is None and base_prof.build.perf is not None:
            baseline = baseline.model_copy(update={"perf": base_prof.build.perf})
    runtime: dict[str, str] = {}
    if args.runtime_log:
        parsed["runtime"] = parse_log(args.runtime_log)
        runtime.update(runtime_versions(parsed["runtime"].build))
    if args.runtime_versions:
        runtime.update(parse_runtime_versions(args.runtime_versions))

    settings = load_settings(args.config)
    rules = load_rules(args.rules) if args.rules else settings.builds.rules
    checks, diff = run_checks(report, rules, profile=profile or None, baseline=baseline, baseline_profile=baseline_profile or None,
                              runtime_versions=runtime or None)  # fmt: skip
    build_report = to_build_report(report, rules, checks)

    # evaluated on the original names; from here on every output goes through one name map
    policy = RedactionPolicy.from_settings(settings.builds, args.redact)
    builds = [b for b in (report, baseline) if b is not None]
    names = NameMap(policy, collect_names(builds, [*profile, *baseline_profile], extra=rules.max_layer_ratio_vs_baseline))
    out_build, out_profile = names.build(report), names.profile(profile)
    out_checks, out_diff = names.checks(checks), names.diff(diff)
    out_report = names.report(build_report, out_build)

    if args.json:
        doc = json_document(out_report, out_checks, out_diff, out_profile, parsed)
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        from rich.console import Console

        render(Console(), out_report, out_checks, out_diff, out_profile, parsed)
    if args.html:
        from pathlib import Path

        from trtlens.producers.trtlog.html import render_html

        html_doc = json_document(out_report, out_checks, out_diff, out_profile, parsed)
        Path(args.html).write_text(render_html(html_doc), encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    log.info("check=done engine_id=%s passed=%s violations=%d findings=%d redact=%s", report.engine_id, out_report.passed,
             len(out_report.violations), len(out_report.findings), policy.mode)  # fmt: skip

    if args.publish:
        code = publish(settings, [out_build, *out_profile])
        if code:
            return code
    return EXIT_PASS if build_report.passed else EXIT_VIOLATION


def publish(settings: Any, events: list) -> int:
    """Send the events through the shared Publisher; 2 when any could not be delivered or spooled."""
    from trtlens.producers.publisher import Publisher

    with Publisher(settings) as publisher:
        publisher.publish_many(events)
        publisher.flush(timeout_s=30)
        counters = dict(publisher.counters)
    print(
        f"trtlens check: published={counters.get('published', 0)} spooled={counters.get('spooled', 0)} "
        f"failed={counters.get('failed', 0)} topic={settings.topics.events}",
        file=sys.stderr,
    )
    if counters.get("failed", 0) or counters.get("dropped", 0):
        return EXIT_INPUT
    return 0
