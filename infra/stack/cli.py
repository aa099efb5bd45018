"""``trtlens stack up|status|down``: the embedded Kafka broker and store."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from trtlens.settings import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stack",
        help="start, inspect or stop the embedded Kafka broker + Elasticsearch-compatible store",
        description="The embedded default stack: a Tansu Kafka broker and the osmem store, both from pip "
        "wheels, both in memory only (a restart loses their data). For development, tests and demos.",
    )
    s = p.add_subparsers(dest="stack_command", metavar="ACTION", required=True)
    up = s.add_parser("up", help="start the stack (foreground; Ctrl-C stops it)")
    up.add_argument("--detach", action="store_true", help="return once ready and leave it running (stop with `stack down`)")
    up.add_argument("--kafka-port", type=int, help="broker port (default 19092; 0 = any free port)")
    up.add_argument("--es-port", type=int, help="store port (default 19200; 0 = any free port)")
    up.add_argument("--partitions", type=int, help="partitions per topic (default 3)")
    up.set_defaults(func=cmd_up)
    st = s.add_parser("status", help="show addresses, PIDs and readiness")
    st.add_argument("--json", action="store_true", help="one JSON object for scripts")
    st.set_defaults(func=cmd_status)
    down = s.add_parser("down", help="stop exactly the processes `stack up` started")
    down.set_defaults(func=cmd_down)


def _settings(args: argparse.Namespace):
    settings = load_settings(args.config)
    stack_update = {k: v for k, v in (("kafka_port", getattr(args, "kafka_port", None)), ("es_port", getattr(args, "es_port", None))) if v is not None}
    if stack_update:
        settings = settings.model_copy(update={"stack": settings.stack.model_copy(update=stack_update)})
    if getattr(args, "partitions", None):
        settings = settings.model_copy(update={"topics": settings.topics.model_copy(update={"partitions": args.partitions})})
    return settings


def _print_up(state) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="trtlens embedded stack", show_header=True)
    for col in ("component", "address", "pid", "log"):
        table.add_column(col)
    table.add_row("kafka (Tansu, memory)", state.bootstrap_servers, str(state.kafka.pid), state.kafka.log_file)
    table.add_row("elasticsearch (osmem, memory)", state.es_url, str(state.elasticsearch.pid), state.elasticsearch.log_file)
    console = Console()
    console.print(table)
    console.print(f"topics ({state.partitions} partitions): {', '.join(state.topics)}")
    console.print(f"state file: {state.state_file}")
    if state.bootstrap_servers != "127.0.0.1:19092" or state.es_url != "http://127.0.0.1:19200":
        console.print(
            f"non-default ports: export TRTLENS_KAFKA__BOOTSTRAP_SERVERS={state.bootstrap_servers} "
            f"TRTLENS_ELASTICSEARCH__URL={state.es_url}"
        )


def cmd_up(args: argparse.Namespace) -> int:
    from trtlens.stack import start_stack, stop_stack

    settings = _settings(args)
    print("starting embedded stack ...", file=sys.stderr, flush=True)
    state = start_stack(settings, detached=args.detach)
    _print_up(state)
    if args.detach:
        print("running in the background; `trtlens stack down` stops it", file=sys.stderr)
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready; Ctrl-C stops the stack", file=sys.stderr, flush=True)
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    stop_stack(settings)
    print("stack stopped", file=sys.stderr)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from trtlens.stack import stack_status

    status = stack_status(load_settings(args.config))
    if args.json:
        print(json.dumps(status, indent=2))
    elif not status["running"]:
        print(f"no embedded stack running (state file {status['state_file']}); `trtlens stack up --detach` starts one")
    else:
        for name in ("kafka", "elasticsearch"):
            c = status[name]
            print(f"{name:14} {c['address']:28} pid={c['pid']:<8} alive={c['alive']} ready={c['ready']}")
        print(f"topics: {', '.join(status['topics'])}")
    return 0 if status.get("ready") else 1


def cmd_down(args: argparse.Namespace) -> int:
    from trtlens.stack import stop_stack

    state = stop_stack(load_settings(args.config))
    if state is None:
        print("no embedded stack recorded; nothing to stop")
    else:
        print(f"stopped kafka pid={state.kafka.pid} and elasticsearch pid={state.elasticsearch.pid}")
    return 0
