"""``trtlens worker`` (serve a model, publish its events) and ``trtlens build-engine`` (ONNX → TensorRT plan)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    w = sub.add_parser(
        "worker",
        help="run an inference worker (ONNX Runtime on CPU, TensorRT on GPU) with a synthetic client",
        description="Serves requests from a built-in synthetic client and publishes each request's events "
        "(request_received, engine loads on cold starts, inference_complete, error, request_complete) plus "
        "gpu_sample every N seconds when NVML is available.",
    )
    w.add_argument("--model", default="demo", help="ONNX model or TensorRT .engine file; 'demo' = the built-in CNN")
    w.add_argument("--model-name", help="model field of the events (default: demo-cnn or the file stem)")
    w.add_argument("--model-version", default="v1", help="model_version field (default v1)")
    w.add_argument("--backend", choices=["auto", "onnxruntime", "tensorrt"], default="auto",
                   help="auto: TensorRT for .engine/.plan files, else ONNX Runtime (default auto)")
    w.add_argument("--rps", type=float, default=20.0, help="synthetic requests per second (default 20)")
    w.add_argument("--duration-s", type=float, default=10.0, help="how long the client runs (default 10)")
    w.add_argument("--batch-size", type=int, default=1, help="batch per request (default 1)")
    w.add_argument("--idle-unload-s", type=float, default=0.0,
                   help="unload the engine after this much idle time; the next request is cold (default 0 = never)")
    w.add_argument("--gpu-sample-interval-s", type=float, default=5.0, help="NVML sample period (default 5; 0 = off)")
    w.add_argument("--error-rate", type=float, default=0.0, help="inject failures on this share of requests")
    w.add_argument("--worker-id", help="worker_id of the events (default <host>-<random>)")
    w.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (default 1)")
    w.add_argument("--cache-dir", type=Path, help="where the demo model is generated (default ~/.cache/trtlens/models)")
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--profile-share", type=float, metavar="SHARE",
                   help="share of requests profiled per layer, 0..1 (default: settings worker.profile_share, 0.01)")
    w.add_argument("--profile", action="store_true",
                   help="profile every request (same as --profile-share 1; costs latency). While running, SIGUSR1 "
                        "switches between every request and the configured share")
    add_sampling_flags(w)
    w.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    w.set_defaults(func=cmd_worker)

    b = sub.add_parser(
        "build-engine",
        help="build a TensorRT engine from ONNX, capturing the builder log for grey-box checks",
        description="TensorRT 10 builder (needs tensorrt + pycuda + an NVIDIA GPU). Every builder message goes to "
        "the log file (VERBOSE, trtexec line format); the grey-box parser then reads it.",
    )
    b.add_argument("onnx", help="ONNX model path, or 'demo' for the built-in CNN")
    b.add_argument("--output", type=Path, help="engine path (default <onnx stem>.engine next to the log)")
    b.add_argument("--log", type=Path, help="builder log path (default <engine>.build.log)")
    b.add_argument("--fp16", action="store_true", help="allow FP16 kernels")
    b.add_argument("--int8", action="store_true", help="allow INT8 kernels (synthetic calibration data)")
    b.add_argument("--workspace-mb", type=int, default=1024, help="workspace pool limit in MiB (default 1024)")
    b.add_argument("--min-batch", type=int, default=1)
    b.add_argument("--opt-batch", type=int, default=8)
    b.add_argument("--max-batch", type=int, default=32)
    b.add_argument("--publish", action="store_true", help="publish the parsed build report (engine_build) to Kafka")
    b.add_argument("--model-name", help="model field of the build report (default: demo-cnn or the ONNX file stem)")
    b.add_argument("--model-version", default="v1", help="model_version of the build report (default v1)")
    b.add_argument("--cache-dir", type=Path)
    b.set_defaults(func=cmd_build_engine)


def add_sampling_flags(w: argparse.ArgumentParser) -> None:
    """The emitter's sampling (``worker.sampling.*`` settings; a flag given overrides its setting)."""
    g = w.add_argument_group(
        "sampling at the source (settings worker.sampling.*, env TRTLENS_WORKER__SAMPLING__<KEY>)",
        "A request's events are all kept or all dropped. Errors, cold starts, slow requests and verbose periods are "
        "always kept; the rest at --sample-rate, their events carrying sample_weight = 1/rate. Below 1 the streams "
        "app's windows count each event sample_weight times: QPS, rates and percentiles are estimates of the whole "
        "traffic (sampled_requests says how many were seen); 1 keeps them exact.")
    g.add_argument("--sample-rate", type=float, metavar="RATE",
                   help="share of ordinary requests kept, 0..1, decided by a hash of request_id "
                        "(default: worker.sampling.rate, 1 = every request)")
    g.add_argument("--slow-ms", type=float, metavar="MS",
                   help="requests with total_ms at or above MS are always kept (default: worker.sampling.slow_ms, "
                        "unset = no slow rule)")
    g.add_argument("--verbose-minutes", type=float, metavar="N",
                   help="verbose for N minutes from start: every request kept, debug events emitted "
                        "(default: worker.sampling.verbose_minutes, 0 = off)")
    g.add_argument("--verbose-control-file", type=Path, metavar="PATH",
                   help='a JSON file {"verbose_until_ms": {"<model>" or "*": <epoch ms>}} that any tool can write to '
                        "turn verbose on from outside; re-read when its mtime changes (default: "
                        "worker.sampling.verbose_control_file, none)")
    g.add_argument("--verbose-check-interval-ms", type=int, metavar="MS",
                   help="how often the control file's mtime is looked at (default: "
                        "worker.sampling.verbose_check_interval_ms, 1000)")
    g.add_argument("--verbose-on-alerts", action=argparse.BooleanOptionalAction, default=None,
                   help="consume the alerts topic: a firing alert of this model turns verbose on for "
                        "--alert-verbose-minutes (default: worker.sampling.verbose_on_alerts, off)")
    g.add_argument("--alert-verbose-minutes", type=float, metavar="N",
                   help="how long verbose stays on after a firing alert (default: "
                        "worker.sampling.alert_verbose_minutes, 10)")


def sampling_of(args: argparse.Namespace, settings):
    """``worker.sampling`` with the sampling flags given on the command line (a bad one names flag, key, rule)."""
    from trtlens.producers.worker.config import SAMPLING_FLAGS, sampling_with_flags

    given = {flag: getattr(args, flag[2:].replace("-", "_")) for flag in SAMPLING_FLAGS}
    return sampling_with_flags(settings.worker.sampling, given)


def _model_path(arg: str, cache_dir: Path | None) -> Path:
    from trtlens.errors import TrtlensError
    from trtlens.producers.worker.demo_model import demo_model_path

    if arg == "demo":
        return demo_model_path(cache_dir)
    path = Path(arg)
    if not path.is_file():
        raise TrtlensError(f"model {arg!r} does not exist (use 'demo' for the built-in CNN)")
    return path


def cmd_worker(args: argparse.Namespace) -> int:
    import logging
    import socket
    import threading

    from trtlens.producers.instrument import Emitter, ModelSink
    from trtlens.producers.instrument.verbose import follow_alerts
    from trtlens.producers.publisher import Publisher
    from trtlens.producers.worker.backends import make_backend
    from trtlens.producers.worker.core import InferenceWorker, run_synthetic_client
    from trtlens.producers.worker.demo_model import DEMO_NAME
    from trtlens.producers.worker.gpu import GpuSampler
    from trtlens.producers.worker.selfmetrics import start_listener
    from trtlens.settings import load_settings

    log = logging.getLogger("trtlens.producers.worker")
    settings = load_settings(args.config)
    sampling = sampling_of(args, settings)  # before anything starts: a bad flag fails at once
    path = _model_path(args.model, args.cache_dir)
    backend = make_backend(args.backend, path, intra_op_threads=args.threads)
    name = args.model_name or (DEMO_NAME if args.model == "demo" else path.stem)
    host = socket.gethostname()
    pub_cfg = settings.producer.model_copy(update={"spool_name": f"worker-{args.worker_id or 'default'}"})
    with Publisher(settings, pub_cfg) as pub:
        share = 1.0 if args.profile else (args.profile_share if args.profile_share is not None
                                          else settings.worker.profile_share)
        if not 0.0 <= share <= 1.0:
            raise SystemExit(f"trtlens worker: --profile-share {share}: must be between 0 and 1")
        verbose = sampling.verbose_switch()
        emitter = Emitter(ModelSink(pub.publish), sampler=sampling.sampler(), verbose=verbose)
        worker = InferenceWorker(backend, model=name, model_version=args.model_version, emitter=emitter,
                                 worker_id=args.worker_id, host=host, idle_unload_s=args.idle_unload_s,
                                 error_rate=args.error_rate, seed=args.seed, profile_share=share)
        if sampling.rate < 1.0:
            log.info("worker=%s sample_rate=%s slow_ms=%s msg='sampling at the source: kept events carry "
                     "sample_weight, windows downstream estimate the whole traffic'", worker.worker_id, sampling.rate, sampling.slow_ms)
        stop_alerts = threading.Event()
        alerts = follow_alerts(verbose, settings, stop=stop_alerts) if sampling.verbose_on_alerts else None
        import signal

        if hasattr(signal, "SIGUSR1"):  # on demand: `kill -USR1 <pid>` profiles every request until sent again
            signal.signal(signal.SIGUSR1, lambda *_: worker.toggle_profiling())
        sampler = GpuSampler(worker.instrument, interval_s=args.gpu_sample_interval_s)
        sampler.start()
        if not sampler.available and args.gpu_sample_interval_s > 0:
            log.info("worker=%s msg='no NVML (no GPU or nvidia-ml-py missing): gpu_sample skipped'", worker.worker_id)
        serving = [True]
        obs = start_listener(worker, pub, settings.obs, lambda: serving[0])  # /metrics, /healthz, /readyz
        try:
            try:
                run_synthetic_client(worker, rps=args.rps, duration_s=args.duration_s, batch_size=args.batch_size,
                                     seed=args.seed)
            finally:
                serving[0] = False
                sampler.stop()
                stop_alerts.set()
                if alerts is not None:
                    alerts.join(10)
            delivered = pub.flush(settings.producer.close_timeout_s)
            counters = pub.counters
        finally:
            obs.stop()
    summary = {"worker_id": worker.worker_id, "model": name, "model_version": args.model_version,
               "backend": backend.name, **worker.stats.summary(), "gpu_samples": sampler.samples,
               "kept_requests": emitter.kept_requests, "sampled_out_requests": emitter.dropped_requests,
               "delivered": delivered, "publisher": counters}
    if args.json:
        print(json.dumps(summary))
    else:
        s = worker.stats.summary()
        print(f"worker {worker.worker_id}: {s['requests']} requests, {s['errors']} errors, {s['cold_starts']} cold "
              f"starts, p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms; sampled out {emitter.dropped_requests}; "
              f"published={counters['published']} "
              f"spooled={counters['spooled']} dropped={counters['dropped']} failed={counters['failed']}")
    return 0 if delivered and counters["failed"] == 0 else 1


def parse_build_log(log_path: Path, engine_id: str):
    """Run the grey-box parser on a build log if ``trtlens.producers.trtlog.parse_log`` exists, else ``None``."""
    try:
        from trtlens.producers import trtlog
    except ImportError:
        return None
    parse_log = getattr(trtlog, "parse_log", None)
    if parse_log is None:
        return None
    return parse_log(log_path, engine_id=engine_id, source=str(log_path))


def cmd_build_engine(args: argparse.Namespace) -> int:
    from trtlens.producers.worker.tensorrt_backend import BuildOptions, build_engine

    onnx_path = _model_path(args.onnx, args.cache_dir)
    engine = args.output or Path(f"{onnx_path.stem}{'-fp16' if args.fp16 else ''}{'-int8' if args.int8 else ''}.engine")
    log_path = args.log or engine.with_suffix(".build.log")
    options = BuildOptions(fp16=args.fp16, int8=args.int8, workspace_mb=args.workspace_mb, min_batch=args.min_batch,
                           opt_batch=args.opt_batch, max_batch=args.max_batch)
    try:
        result = build_engine(onnx_path, engine, log_path, options, echo=lambda line: print(line, file=sys.stderr))
    finally:
        if Path(log_path).is_file():
            print(f"build-engine: builder log at {log_path}", file=sys.stderr)
    print(f"build-engine: {result.engine_path} ({result.engine_bytes} bytes) in {result.build_time_ms:.0f} ms, "
          f"{result.warnings} warnings, {result.errors} errors")
    from trtlens.producers.worker.demo_model import DEMO_NAME
    from trtlens.producers.worker.identity import engine_id

    # the id the worker reports when it loads this plan: build report and runtime join on it
    parsed = parse_build_log(result.log_path, engine_id(result.engine_path))
    if parsed is None:
        print("build-engine: grey-box parser not available (trtlens.producers.trtlog.parse_log); "
              f"the log is kept at {result.log_path} for `trtlens replay` or a later parse", file=sys.stderr)
        return 0
    model = args.model_name or (DEMO_NAME if args.onnx == "demo" else onnx_path.stem)
    build = parsed.build.model_copy(update={"model": model, "model_version": args.model_version})
    print(f"build-engine: report status={build.status} layers={build.layers_before}->{build.layers_after} "
          f"fusions={len(build.fusions)} diagnostics={len(build.diagnostics)}")
    if args.publish:
        from trtlens.producers.publisher import Publisher
        from trtlens.settings import load_settings

        settings = load_settings(args.config)
        with Publisher(settings, settings.producer.model_copy(update={"spool_name": "build-engine"})) as pub:
            pub.publish(build)
            pub.publish_many(parsed.profile)
            pub.flush(30)
            print(f"build-engine: published engine_build {build.engine_id} ({pub.counters})")
    return 0
