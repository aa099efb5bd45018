"""``trtlens sink``: index the output topics into Elasticsearch until stopped; ``trtlens templates``: install the index templates."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sink",
        help="index trtlens.traces/.metrics/.alerts/.builds into Elasticsearch (consumer group)",
        description="Consume the output topics and bulk-index them into daily indices behind read aliases. "
        "Offsets commit only after the store acknowledged; bad records go to the sink DLQ. "
        "SIGTERM/Ctrl-C drains the in-flight bulk, commits and exits.",
    )
    p.add_argument("--group-id", help="consumer group (default: sink.group_id = trtlens-sink)")
    p.add_argument("--families", help="comma list of traces,metrics,alerts,builds,layers,findings (default: all)")
    p.add_argument("--no-templates", action="store_true", help="do not install index templates at start-up")
    p.set_defaults(func=cmd_sink)

    t = sub.add_parser(
        "templates",
        help="install the index templates, read aliases and ILM policy (so the sink can run without those rights)",
        description="Installs what the sink installs at start-up — composable (or legacy) index templates, the read "
        "aliases and, on Elasticsearch, the ILM retention policy — then exits. Run it once with an admin key; the "
        "sink can then run with `--no-templates` and only index-writing rights (README: roles and ACLs).",
    )
    t.add_argument("--families", help="comma list of traces,metrics,alerts,builds,layers,findings (default: all)")
    t.add_argument("--json", action="store_true", help="print what was installed as JSON")
    t.set_defaults(func=cmd_templates)


def cmd_templates(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from trtlens.es import async_es_client
    from trtlens.settings import load_settings
    from trtlens.sinks.templates import install

    settings = load_settings(args.config)
    families = [f.strip() for f in args.families.split(",") if f.strip()] if args.families else settings.sink.families

    async def main() -> dict:
        client = async_es_client(settings.elasticsearch)
        try:
            return await install(client, settings.indices, settings.sink, families=families)
        finally:
            await client.close()

    result = asyncio.run(main())
    if args.json:
        print(json.dumps(result, default=str))
    else:
        print(f"templates: installed for {', '.join(families)}: {result}")
    return 0


def cmd_sink(args: argparse.Namespace) -> int:
    import logging

    from trtlens.settings import load_settings
    from trtlens.sinks.lifecycle import run_in_foreground
    from trtlens.sinks.selfmetrics import start_listener
    from trtlens.sinks.sink import ElasticsearchSink

    log = logging.getLogger("trtlens.sinks")
    settings = load_settings(args.config)
    update: dict = {}
    if args.group_id:
        update["group_id"] = args.group_id
    if args.families:
        update["families"] = [f.strip() for f in args.families.split(",") if f.strip()]
    if args.no_templates:
        update["install_templates"] = False
    if update:
        sink_cfg = settings.sink.model_validate({**settings.sink.model_dump(), **update})
        settings = settings.model_copy(update={"sink": sink_cfg})

    return run_in_foreground(
        lambda: ElasticsearchSink(settings), log=log,
        stopping="sink=stopping drain=in_flight_bulk (signal again to exit without committing)",
        started=lambda sink: start_listener(sink, settings.obs).stop,  # /metrics, /healthz, /readyz while it runs
    )
