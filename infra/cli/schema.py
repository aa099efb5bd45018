"""``trtlens schema``: print the JSON Schema of every event and document."""

from __future__ import annotations

import argparse
import sys

import orjson


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "schema",
        help="print the JSON Schema of every event and output document",
        description="Print the JSON Schema of every event type, the event union and every output "
        "document (trace, metric, alert, build), so consumers in other languages can validate. "
        "Each event type's schema carries x-trtlens: its routing key fields and roles "
        "(window measure, trace role, build report, high value).",
    )
    p.add_argument("name", nargs="?", help="only this event type or document (e.g. request_complete, trace)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trtlens.schemas.jsonschema import all_schemas

    schemas = all_schemas()
    if args.name:
        found = schemas["events"].get(args.name) or schemas["documents"].get(args.name)
        if found is None:
            known = sorted([*schemas["events"], *schemas["documents"]])
            print(f"trtlens: error: no schema named {args.name!r}; known: {', '.join(known)}", file=sys.stderr)
            return 2
        schemas = found
    sys.stdout.buffer.write(orjson.dumps(schemas, option=orjson.OPT_INDENT_2) + b"\n")
    return 0
