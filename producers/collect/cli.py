"""``trtlens collect``: follow log files, accept HTTP pushes, re-batch other shippers' topics."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "collect",
        help="collect events from log files, HTTP pushes (NDJSON, Firehose, Lambda Telemetry) and Kafka topics",
        description="Reads JSON-lines logs where services already write them (plain, docker json-file, CRI), "
        "accepts pushes (NDJSON, Amazon Data Firehose HTTP-endpoint delivery with CloudWatch Logs data, Lambda "
        "Telemetry API), re-batches one-event records from other shippers' topics, maps foreign field names "
        "(collect.mapping), and publishes contract events to trtlens.events. Bad records go to the DLQ with "
        "their source (file + byte offset, request id, topic/partition/offset). File checkpoints and Kafka "
        "offsets are committed only after the broker acknowledged. Runs until SIGTERM/SIGINT.",
        epilog="Every option also has a setting (TRTLENS_COLLECT__...; see README.md). Examples:\n"
        "  trtlens collect --files '/var/log/infer/*.jsonl'\n"
        "  trtlens collect --files '/var/log/pods/*/*/*.log' --format cri --mapping mapping.yaml\n"
        "  TRTLENS_COLLECT__HTTP__API_KEY=... trtlens collect --http --http-host 0.0.0.0 --http-port 8787\n"
        "  trtlens collect --kafka-topic vector-logs\n"
        "  trtlens collect --lambda-extension      (inside a Lambda execution environment)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--files", action="append", metavar="GLOB", help="follow files matching GLOB (repeatable)")
    p.add_argument("--format", choices=["auto", "jsonl", "docker", "cri"], help="line format (default auto)")
    p.add_argument("--start-at", choices=["beginning", "end"], help="where files found at start-up begin")
    p.add_argument("--checkpoint-dir", type=Path, help="default <stack.state_dir>/collect-checkpoints")
    p.add_argument("--http", action="store_true", help="accept pushes on /v1/events, /firehose, /lambda/telemetry")
    p.add_argument("--http-host", help="bind address (default 127.0.0.1; others need an api key or token)")
    p.add_argument("--http-port", type=int, help="port (default 8787; 0 picks one)")
    p.add_argument("--kafka-topic", action="append", metavar="TOPIC", help="consume TOPIC (repeatable)")
    p.add_argument("--mapping", type=Path, metavar="FILE", help="YAML with a mapping: block (foreign field names)")
    p.add_argument("--lambda-extension", action="store_true",
                   help="run as a Lambda external extension (Extensions + Telemetry API)")
    p.add_argument("--json", action="store_true", help="print the closing summary as one JSON object")
    p.set_defaults(func=cmd_collect)


def collect_settings(settings, args: argparse.Namespace):
    """The ``collect`` section with the command-line options applied (validated like the file)."""
    from trtlens.producers.collect.config import CollectSettings

    data = settings.collect.model_dump()
    files, http, kafka = data["files"], data["http"], data["kafka"]
    if args.files:
        files["paths"] = list(args.files)
    for opt, key in (("format", "format"), ("start_at", "start_at"), ("checkpoint_dir", "checkpoint_dir")):
        if getattr(args, opt, None) is not None:
            files[key] = getattr(args, opt)
    if args.http:
        http["enabled"] = True
    if args.http_host is not None:
        http["host"] = args.http_host
    if args.http_port is not None:
        http["port"] = args.http_port
    for key in ("api_key", "bearer_token"):  # model_dump gave SecretStr objects: keep them as they are
        http[key] = getattr(settings.collect.http, key)
    if args.kafka_topic:
        kafka["topics"] = list(args.kafka_topic)
    if args.mapping is not None:
        data["mapping_file"] = args.mapping
    try:
        return CollectSettings.model_validate(data)
    except ValueError as exc:
        from trtlens.errors import TrtlensError

        raise TrtlensError(f"collect options: {exc}") from None


def cmd_collect(args: argparse.Namespace) -> int:
    import logging

    from trtlens.obs import Observability
    from trtlens.producers.collect.runner import Collector
    from trtlens.producers.collect.selfmetrics import CollectCollector
    from trtlens.producers.publisher import Publisher
    from trtlens.producers.selfmetrics import PublisherCollector
    from trtlens.settings import load_settings

    log = logging.getLogger("trtlens.producers.collect")
    settings = load_settings(args.config)
    config = collect_settings(settings, args)
    import os

    from trtlens.errors import TrtlensError

    if args.lambda_extension and not os.environ.get("AWS_LAMBDA_RUNTIME_API"):
        raise TrtlensError("AWS_LAMBDA_RUNTIME_API is not set: --lambda-extension runs inside a Lambda execution "
                           "environment (or the emulator in tests/support/lambda_emulator.py)")
    if not args.lambda_extension and not (config.files.paths or config.http.enabled or config.kafka.topics):
        raise TrtlensError("no source configured: give --files GLOB, --http, or --kafka-topic "
                           "(or collect.files.paths / collect.http.enabled / collect.kafka.topics)")
    config.effective_mapping()  # a bad mapping file fails here, before anything connects
    pub_cfg = settings.producer.model_copy(update={"spool_name": "collect"})
    if args.lambda_extension and not settings.producer.model_fields_set & {"spool_dir"}:
        pub_cfg = pub_cfg.model_copy(update={"spool_dir": Path("/tmp/trtlens-spool")})  # Lambda: only /tmp is writable
    with Publisher(settings, pub_cfg) as pub:
        collector = Collector(settings, pub, config)
        obs = Observability(settings.obs)
        obs.register(PublisherCollector(pub))
        obs.register(CollectCollector(collector))
        obs.set_readiness(lambda: (True, f"spooling={str(pub.spooling).lower()}"))
        obs.start()
        try:
            if args.lambda_extension:
                from trtlens.producers.collect.extension import run_extension

                summary = run_extension(collector)
                ok = bool(summary.get("flushed_in_time"))
            else:
                ok = collector.run()
                summary = {"counts": {f"{k}.{o}": v for (k, o), v in collector.intake.counts.items()}}
        finally:
            obs.stop()
        summary.update(committed=ok, publisher=pub.counters)
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        log.info("collect=done committed=%s counts=%s publisher=%s", ok, summary["counts"], summary["publisher"])
    return 0 if ok else 1
