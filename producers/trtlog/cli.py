"""``trtlens check``: grey-box CI gate over a TensorRT build log.

Exit codes: 0 every rule passed; 1 at least one violation; 2 usage or input
error (unreadable log, no TensorRT output recognised, invalid rules or settings,
publish failure).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_PASS, EXIT_VIOLATION, EXIT_INPUT = 0, 1, 2

EPILOG = """\
exit codes: 0 = all rules passed, 1 = rule violation(s), 2 = usage/input error.
Rules default to Settings.builds.rules (TRTLENS_BUILDS__RULES__<RULE>); --rules
replaces them with a YAML file (see producers/trtlog/rules.example.yaml).
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
    p.add_argument("--profile", metavar="PROFILE.log", help="log with a --dumpProfile table (or --exportProfile JSON)")
    p.add_argument("--baseline", metavar="OLD.log", help="build log of the previous version, for the diff rules")
    p.add_argument("--baseline-profile", metavar="OLD_PROFILE.log", help="profile of the previous version")
    p.add_argument("--rules", metavar="rules.yaml", help="rules file (default: settings builds.rules)")
    p.add_argument("--engine-id", help="engine id for the report (default: engine file named in the log, else log name)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    p.add_argument("--publish", action="store_true", help="send the engine_build (+ layer_profile) events to the events topic")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import orjson

    from trtlens.producers.trtlog.parse import ParseResult, parse_log
    from trtlens.producers.trtlog.render import json_document, render
    from trtlens.greybox.config import load_rules
    from trtlens.greybox.core import run_checks, to_build_report

    parsed: dict[str, ParseResult] = {"build": parse_log(args.build_log, engine_id=args.engine_id)}
    build_result = parsed["build"]
    if build_result.stats.recognized == 0:
        print(f"trtlens: error: no TensorRT output recognised in {args.build_log}", file=sys.stderr)
        return EXIT_INPUT
    report = build_result.build
    profile = build_result.profile
    if args.profile:
        parsed["profile"] = parse_log(args.profile, engine_id=report.engine_id)
        prof = parsed["profile"]
        profile = prof.profile or profile
        update = {k: getattr(prof.build, k) for k in ("perf", "profile") if getattr(report, k) is None and getattr(prof.build, k) is not None}
        if update:
            report = report.model_copy(update=update)
    baseline = baseline_profile = None
    if args.baseline:
        parsed["baseline"] = parse_log(args.baseline)
        baseline, baseline_profile = parsed["baseline"].build, parsed["baseline"].profile
        if args.baseline_profile:
            parsed["baseline_profile"] = parse_log(args.baseline_profile, engine_id=baseline.engine_id)
            base_prof = parsed["baseline_profile"]
            baseline_profile = base_prof.profile or baseline_profile
            if baseline.perf is None and base_prof.build.perf is not None:
                baseline = baseline.model_copy(update={"perf": base_prof.build.perf})

    settings = None
    if args.publish or not args.rules:
        from trtlens.settings import load_settings

        settings = load_settings(args.config)
    rules = load_rules(args.rules) if args.rules else settings.builds.rules  # type: ignore[union-attr]
    checks, diff = run_checks(report, rules, profile=profile or None, baseline=baseline, baseline_profile=baseline_profile or None)
    build_report = to_build_report(report, rules, checks)

    if args.json:
        doc = json_document(build_report, checks, diff, profile, parsed)
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        from rich.console import Console

        render(Console(), build_report, checks, diff, profile, parsed)

    if args.publish:
        code = publish(settings, [report, *profile])
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
