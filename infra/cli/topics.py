"""``trtlens topics create|list``: the trtlens topics on any Kafka cluster."""

from __future__ import annotations

import argparse

from trtlens.settings import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "topics",
        help="create or list the trtlens topics on the configured Kafka cluster",
        description="Create (idempotently) or list the trtlens topics on the cluster named by "
        "TRTLENS_KAFKA__BOOTSTRAP_SERVERS, with TRTLENS_TOPICS__PARTITIONS partitions.",
    )
    s = p.add_subparsers(dest="topics_command", metavar="ACTION", required=True)
    create = s.add_parser("create", help="create the topics that are missing (existing ones are left alone)")
    create.add_argument("--timeout-s", type=float, default=60.0, help="how long to wait for the cluster (default 60)")
    create.set_defaults(func=cmd_create)
    lst = s.add_parser("list", help="list topics on the cluster")
    lst.set_defaults(func=cmd_list)


def cmd_create(args: argparse.Namespace) -> int:
    from trtlens.kafka import ensure_topics

    settings = load_settings(args.config)
    created = ensure_topics(settings.kafka, settings.topics, timeout_s=args.timeout_s)
    for name in settings.topics.all_topics():
        print(f"{name:28} {'created' if name in created else 'exists'}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from trtlens.kafka import wait_until_ready

    for name in wait_until_ready(load_settings(args.config).kafka, timeout_s=10):
        print(name)
    return 0
