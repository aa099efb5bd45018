"""``trtlens`` command line: one entry point, a subcommand per job.

Each subcommand lives next to the code it runs and exposes
``register(subparsers)``; registering only builds the parser, so ``--help`` and
unrelated commands never pay for importing Faust, ONNX Runtime or TensorRT.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from trtlens import __version__
from trtlens.errors import TrtlensError

# modules exposing register(subparsers); order = order in --help
COMMAND_MODULES = [
    "trtlens.demo",
    "trtlens.dashboard.cli",
    "trtlens.stack.cli",
    "trtlens.cli.topics",
    "trtlens.cli.schema",
    "trtlens.cli.asyncapi",
    "trtlens.cli.health",
    "trtlens.sinks.cli",
    "trtlens.sinks.notify.cli",
    "trtlens.producers.load.cli",
    "trtlens.producers.worker.cli",
    "trtlens.producers.replay.cli",
    "trtlens.producers.collect.cli",
    "trtlens.streams.cli",
    "trtlens.producers.trtlog.cli",
    "trtlens.explain",
]

# modules exposing register(subparsers) under `trtlens bench`
BENCH_MODULES: list[str] = [
    "trtlens.bench.sink",
    "trtlens.bench.streams",
    "trtlens.bench.streams_core",
    "trtlens.bench.produce",
    "trtlens.bench.pipeline",
    "trtlens.bench.collect",
    "trtlens.bench.dashboard",
    "trtlens.bench.replay",
]

EPILOG = """\
settings: every option has an environment variable TRTLENS_<SECTION>__<KEY>
(e.g. TRTLENS_KAFKA__BOOTSTRAP_SERVERS, TRTLENS_ELASTICSEARCH__URL) and can sit in
a TOML/YAML file given with --config or TRTLENS_CONFIG. Defaults point at the
embedded stack (`trtlens stack up`): Kafka 127.0.0.1:19092, store http://127.0.0.1:19200.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trtlens",
        description="Observability for TensorRT inference fleets: events → Kafka → Faust → Elasticsearch.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"trtlens {__version__}")
    parser.add_argument("--config", metavar="FILE", help="TOML or YAML settings file (also TRTLENS_CONFIG)")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log verbosity (default INFO)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    if BENCH_MODULES:
        bench = sub.add_parser(
            "bench",
            help="measure throughput against a ceiling taken in the same run",
            description="Benchmarks print their figures next to the ceiling measured in the same run.",
        )
        bench_sub = bench.add_subparsers(dest="bench", metavar="BENCHMARK", required=True)
        for name in BENCH_MODULES:
            importlib.import_module(name).register(bench_sub)
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("kafka", "aiokafka", "elastic_transport", "faust", "mode"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, getattr(logging, level)))
    if level != "DEBUG":
        # kafka-python logs every refused connection and slow poll (hundreds of lines while a
        # broker is down); trtlens reports the broker's state itself, once per change
        logging.getLogger("kafka.net").setLevel(logging.CRITICAL)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        return int(args.func(args) or 0)
    except TrtlensError as exc:
        print(f"trtlens: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("trtlens: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
