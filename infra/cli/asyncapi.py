"""``trtlens asyncapi``: the AsyncAPI 3.0 document of every topic (key, value schema, writer)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "asyncapi",
        help="print the AsyncAPI 3.0 document of every topic (for clients in other languages)",
        description="Generates an AsyncAPI 3.0 document from the event and document models and the topic "
        "settings: one channel per topic (its configured name, partitions, cleanup policy), the Kafka key, the "
        "value's JSON Schema (events: one object or an array of them), the dead-letter record shapes, and "
        "who writes each topic. AsyncAPI generators and JSON Schema tools read it. The copy in "
        "docs/asyncapi.json is generated with the default settings.",
    )
    p.add_argument("--output", "-o", type=Path, metavar="FILE", help="write here instead of standard output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import orjson

    from trtlens.schemas.asyncapi import asyncapi_document
    from trtlens.settings import load_settings

    settings = load_settings(args.config)
    text = orjson.dumps(asyncapi_document(settings.topics, settings.kafka), option=orjson.OPT_INDENT_2) + b"\n"
    if args.output is None:
        sys.stdout.buffer.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_bytes(text)
        print(f"asyncapi: wrote {args.output} ({len(text)} bytes)", file=sys.stderr)
    return 0
