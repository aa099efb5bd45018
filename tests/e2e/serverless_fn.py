"""A serverless-style inference function, instrumented with trtlens.producers.instrument (the e2e's producer).

Run as its own process with stdout captured to a file, the way a function runtime captures it. It
serves ``--requests`` requests with ONNX Runtime on the demo CNN (real inference); every
``--recycle-every`` requests its "execution environment" is recycled: the session is dropped and the
next request loads the engine again inside the request (a cold start). Every ``--error-every``-th
request fails inside inference. It prints only JSON lines (the library's) plus a few plain prints the
collector must skip or dead-letter.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--recycle-every", type=int, default=100)
    p.add_argument("--error-every", type=int, default=37)
    p.add_argument("--interval-ms", type=float, default=15.0)
    p.add_argument("--prefix", default="fn")
    args = p.parse_args()

    import onnxruntime as ort

    from trtlens.producers.instrument import Emitter, Instrument, StdoutSink
    from trtlens.producers.worker.demo_model import DEMO_NAME, INPUT_SHAPE, demo_model_path

    path = demo_model_path()
    inst = Instrument(Emitter(StdoutSink(sys.stdout)), model=DEMO_NAME, model_version="v1", backend="onnxruntime",
                      worker_id=f"{args.prefix}-env")
    session = None
    rng = np.random.default_rng(0)
    for i in range(args.requests):
        if i % args.recycle_every == 0:
            session = None  # a new execution environment
        rid = f"{args.prefix}-{i}"
        try:
            with inst.request(rid, batch_size=1) as req:
                if session is None:
                    with req.engine_load(str(path)):
                        opts = ort.SessionOptions()
                        opts.intra_op_num_threads = 1
                        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
                with req.inference(batch_size=1) as inf:
                    x = rng.standard_normal((1, *INPUT_SHAPE), dtype=np.float32)
                    session.run(None, {"input": x})
                    if args.error_every and i % args.error_every == args.error_every - 1:
                        raise RuntimeError(f"injected failure in {rid}")
                    inf.precision = "fp32"
        except RuntimeError:
            pass
        if i % 50 == 25:
            print(f"plain progress print at request {i}", flush=True)
        time.sleep(args.interval_ms / 1000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
