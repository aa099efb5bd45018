"""Sampling at the source, end to end: windows over a stream the real emitter sampled estimate the whole traffic.

A seeded population of requests (lognormal latencies, errors, cold starts after engine loads, a slow tail)
goes through ``producers/instrument`` twice: at rate 1 (the ground truth) and at ``RATE`` (errors, cold
starts and requests at or above ``SLOW_MS`` always kept, the rest at ``RATE`` with ``sample_weight =
1/RATE``). Each stream is encoded as the worker publishes it, partitioned by routing key, decoded and
windowed by the partition pipelines and merged as the merge stage does. The windows of the sampled stream
must estimate those of the full one; the tolerances are from the sampling itself (module constants below).
At weight 1 the documents are exactly what they are without the field.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict

import orjson
import pytest

from trtlens.kafka import partition_for_key
from trtlens.producers.instrument import Emitter, Instrument, ModelSink, Sampler
from trtlens.schemas.codec import encode, encode_batch
from trtlens.schemas.documents import WindowMetric
from trtlens.streams.config import StreamsSettings
from trtlens.streams.merge.combine import merge_partials
from trtlens.streams.pipeline.core import PartitionPipeline

T0 = 1_700_000_000_000
WINDOW_MS = 10_000
WINDOWS = 2
REQUESTS = 12_000  # over WINDOWS windows
PARTITIONS = 2
RATE = 0.2
SLOW_MS = 55.0  # ~P95 of lognormal(ln 20, 0.55): the P99 lies among the always-kept slow requests
ERROR_SHARE, COLD_SHARE = 0.02, 0.01
SIGMAS = 4.0
"""Tolerance in standard deviations of the sampling. The requests estimate is ``kept/RATE`` over the
``n`` ordinary requests (plus the always-kept ones, exact): its standard deviation is
``sqrt(n (1 - RATE) / RATE)`` (~2 % of a window here). The sampler is a hash of request_id and the
population is seeded, so each run is the same: the bound says how far an honest estimate may be, not
how lucky a run was. Errors and cold starts are always kept with weight 1, so their counts are exact;
the rates and the P99 inherit the requests estimate's error (bounds derived in the tests)."""
ACCURACY = 0.01  # the sketches' relative accuracy (streams.metrics.relative_accuracy default)


class Boom(RuntimeError):
    pass


def population(seed: int = 11) -> list[tuple[str, int, float, bool, bool]]:
    """``(request_id, ts_ms, total_ms, error, cold)`` in time order."""
    rnd = random.Random(seed)
    step = WINDOWS * WINDOW_MS / REQUESTS
    return [(f"q{seed}-{i}", T0 + int(i * step), round(rnd.lognormvariate(math.log(20.0), 0.55), 3),
             rnd.random() < ERROR_SHARE, rnd.random() < COLD_SHARE) for i in range(REQUESTS)]


def emit(pop, rate: float) -> list:
    """The population through the real emitter (ModelSink: what ``trtlens worker`` publishes)."""
    events: list = []
    wall, perf = [T0], [0.0]
    emitter = Emitter(ModelSink(events.append), sampler=Sampler(rate, slow_ms=SLOW_MS))
    inst = Instrument(emitter, model="m", model_version="v1", backend="tensorrt", worker_id="w1", host="h",
                      clock_ms=lambda: wall[0], perf_s=lambda: perf[0])
    for rid, ts, total, error, cold in pop:
        wall[0] = ts
        if cold:
            with inst.engine_load("/m.plan", engine_id="e1") as load:
                load.duration_ms = 300.0
        try:
            with inst.request(rid) as req:
                perf[0] += total / 1000
                with req.inference() as inf:
                    inf.latency_ms, inf.compute_ms = round(total * 0.8, 3), round(total * 0.6, 3)
                    if error:
                        raise Boom("compute failed")
        except Boom:
            pass
    return events


def windows_of(events, *, traces_rate: float = 1.0, wire=lambda d: d) -> tuple[dict, list[dict]]:
    """Final window documents by (scope, scope_key, window_start_ms), and the trace documents.

    ``wire`` may change each event's JSON dict before it is encoded (as another producer would write it)."""
    per: dict[int, list] = defaultdict(list)
    for ev in events:
        per[partition_for_key(ev.routing_key.encode(), PARTITIONS)].append(ev)
    settings = StreamsSettings.model_validate({"traces": {"sample_rate": traces_rate}})
    partials: dict[tuple, dict] = {}
    traces: list[dict] = []
    for p, evs in sorted(per.items()):
        pipe = PartitionPipeline(settings, topic="events", partition=p)
        for k in range(0, len(evs), 200):
            chunk = evs[k:k + 200]
            raw = (encode_batch(chunk) if wire is None else
                   orjson.dumps([wire(orjson.loads(encode(e))) for e in chunk]))
            pipe.process_record(k // 200, None, raw)
            out, _, _ = pipe.end_group()
            for part in out.partials:
                partials[(p, part.scope, part.scope_key, part.window_start_ms)] = part.to_dict()
            traces += out.traces
        out = pipe.flush_idle()
        for part in out.partials:
            partials[(p, part.scope, part.scope_key, part.window_start_ms)] = part.to_dict()
        traces += out.traces
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    for (_p, *key), d in partials.items():
        grouped[tuple(key)].append(d)
    docs = {key: merge_partials(ds, settings.metrics, final=True) for key, ds in grouped.items()}
    return docs, traces


def completes(events, ws: int) -> list:
    return [e for e in events if e.event == "request_complete" and ws <= e.ts_ms < ws + WINDOW_MS]


def nearest_rank(values: list[float], q: float) -> float:
    return sorted(values)[max(0, math.ceil(q * len(values)) - 1)]


@pytest.fixture(scope="module")
def streams():
    pop = population()
    full, sampled = emit(pop, 1.0), emit(pop, RATE)
    return full, sampled, windows_of(full, wire=None)[0], windows_of(sampled, wire=None)[0]


def starts():
    return [T0 - T0 % WINDOW_MS + k * WINDOW_MS for k in range(WINDOWS)]


# ------------------------------------------------------------------ weight 1: exact, as before
def test_the_full_stream_counts_every_request_exactly(streams):
    full, _, docs, _ = streams
    pop = population()
    for ws in starts():
        truth = [r for r in pop if ws <= r[1] < ws + WINDOW_MS]
        for scope, key in (("model_version", "m/v1"), ("worker", "w1"), ("all", "*")):
            m = docs[(scope, key, ws)]
            assert (m.requests, m.errors, m.cold_starts) == (
                len(truth), sum(r[3] for r in truth), sum(r[4] for r in truth))
            assert m.sampled_requests == m.requests and type(m.requests) is int
            assert m.qps == len(truth) * 1000.0 / WINDOW_MS and m.latency_ms.count == len(truth)
            assert sum(m.latency_buckets.values()) == len(truth)
    assert not any("sample_weight" in orjson.loads(encode(e)) for e in full)  # weight 1 is not on the wire


def test_an_explicit_weight_of_one_gives_byte_identical_documents(streams):
    full, _, docs, _ = streams
    explicit, explicit_traces = windows_of(full, wire=lambda d: {**d, "sample_weight": 1})
    implicit, implicit_traces = windows_of(full, wire=lambda d: d)
    assert docs.keys() == explicit.keys() == implicit.keys()
    for key in docs:
        assert orjson.dumps(explicit[key].model_dump(mode="json")) == orjson.dumps(docs[key].model_dump(mode="json"))
    assert orjson.dumps(explicit_traces) == orjson.dumps(implicit_traces)


def test_unweighted_partials_keep_integer_counts_and_their_old_shape():
    pop = population()[:300]
    events = emit(pop, 1.0)
    settings = StreamsSettings.model_validate({})
    pipe = PartitionPipeline(settings, topic="events", partition=0)
    pipe.process_record(0, None, encode_batch(events))
    out = pipe.flush_idle()
    assert out.partials
    for part in out.partials:
        d = part.to_dict()
        assert not {"extra_requests", "extra_errors", "extra_cold_starts"} & d.keys()
        assert type(part.latency.count) is int and all(type(c) is int for c in d["latency"]["counts"])
        assert part.tail is None or "weighted" not in part.tail.to_dict()


# ------------------------------------------------------------------ a sampled stream estimates the traffic
def _bounds(full_events, sampled_events, ws):
    """(true requests, sd of the estimate, ordinary requests): ordinary = what the sampler could drop."""
    truth = completes(full_events, ws)
    ordinary = [e for e in truth if e.status == "ok" and not e.cold_start and e.total_ms < SLOW_MS]
    return len(truth), math.sqrt(len(ordinary) * (1 - RATE) / RATE), ordinary


def test_sampled_windows_estimate_requests_errors_and_cold_starts(streams):
    full, sampled, docs, sdocs = streams
    for ws in starts():
        n, sd, ordinary = _bounds(full, sampled, ws)
        seen = completes(sampled, ws)
        assert len(seen) < 0.35 * n  # the stream really was thinned
        for scope, key in (("model_version", "m/v1"), ("all", "*")):
            exact, est = docs[(scope, key, ws)], sdocs[(scope, key, ws)]
            assert est.sampled_requests == len(seen)
            assert abs(est.requests - n) <= SIGMAS * sd, (est.requests, n, sd)
            assert abs(est.qps - exact.qps) <= SIGMAS * sd * 1000.0 / WINDOW_MS
            # always kept, weight 1: exact
            assert (est.errors, est.cold_starts) == (exact.errors, exact.cold_starts)
            lo, hi = n - SIGMAS * sd, n + SIGMAS * sd  # the rates: exact numerators over the estimate
            assert exact.errors / hi <= est.error_rate <= exact.errors / lo
            assert exact.cold_starts / hi <= est.cold_start_rate <= exact.cold_starts / lo
            assert est.first_inference_ms == exact.first_inference_ms  # cold inferences: all kept
            assert abs(sum(est.latency_buckets.values()) - est.requests) <= len(est.latency_buckets)
            assert est.latency_ms.count == pytest.approx(est.requests, abs=1)
        # what the windows said before weights: the kept requests as if they were all
        biased_err = exact.errors / len(seen)
        assert biased_err > exact.errors / lo  # the old error rate is outside the bound the estimate meets


def test_sampled_windows_estimate_the_population_p99(streams):
    full, sampled, docs, sdocs = streams
    for ws in starts():
        n, sd, _ = _bounds(full, sampled, ws)
        totals = sorted(e.total_ms for e in completes(full, ws))
        assert nearest_rank(totals, 0.99) > SLOW_MS  # the P99 lies where every request is kept (weight 1)
        # above SLOW_MS the estimate's tail is the true tail, so its P99 is the population quantile at
        # 1 - 0.01 * estimate / n: the requests estimate's bound gives the quantile's, widened by one rank
        # and the sketch's relative accuracy
        lo_rank = math.floor(n - 0.01 * (n + SIGMAS * sd)) - 1
        hi_rank = math.ceil(n - 0.01 * (n - SIGMAS * sd))
        lo, hi = totals[max(0, lo_rank)] * (1 - ACCURACY), totals[min(n - 1, hi_rank)] * (1 + ACCURACY)
        est, exact = sdocs[("model_version", "m/v1", ws)], docs[("model_version", "m/v1", ws)]
        assert lo <= est.latency_ms.p99 <= hi, (lo, est.latency_ms.p99, hi, exact.latency_ms.p99)
        assert lo <= exact.latency_ms.p99 <= hi
        biased = nearest_rank([e.total_ms for e in completes(sampled, ws)], 0.99)
        assert biased > hi  # the kept requests' own P99 (what windows said before) is far above
        # the median is estimated too (the body is all sampled at RATE): within a few per cent
        assert est.latency_ms.p50 == pytest.approx(exact.latency_ms.p50, rel=0.05)


def test_tail_attribution_counts_the_estimate(streams):
    _, _, docs, sdocs = streams
    for ws in starts():
        est, exact = sdocs[("model_version", "m/v1", ws)], docs[("model_version", "m/v1", ws)]
        # the P99 tail is all kept (weight 1) and cut at the same P99 bucket here: the same requests
        p99e, p99 = est.attribution["p99"], exact.attribution["p99"]
        assert est.latency_ms.p99 == exact.latency_ms.p99
        assert (p99e.threshold_ms, p99e.count, p99e.cold_start_share, p99e.dominant_stage_share,
                p99e.stage_mean_ms_tail) == (p99.threshold_ms, p99.count, p99.cold_start_share,
                                             p99.dominant_stage_share, p99.stage_mean_ms_tail)
        # below it, the body's stage means are estimated from weighted rows: close to the full stream's
        for stage, ms in p99.stage_mean_ms_body.items():
            assert p99e.stage_mean_ms_body[stage] == pytest.approx(ms, rel=0.05, abs=1e-3)
        # the P95 tail holds rate-sampled requests (weighted rows): still shares of one, means in range
        p95e = est.attribution["p95"]
        assert p95e.count >= p99e.count and 0.0 <= p95e.cold_start_share <= 1.0
        assert sum(p95e.dominant_stage_share.values()) == pytest.approx(1.0, abs=1e-5)
        assert 0.0 < p95e.stage_mean_ms_tail["compute"] < est.latency_ms.max


def test_trace_weights_multiply_source_and_tail_sampling(streams):
    full, sampled, _, _ = streams
    _, traces = windows_of(sampled, traces_rate=0.5, wire=None)
    weighted = {e.request_id for e in sampled if e.event == "request_complete" and e.sample_weight != 1}
    assert weighted
    assert len({d["request_id"] for d in traces}) == len(traces)
    for doc in traces:
        source = 1 / RATE if doc["request_id"] in weighted else 1.0
        tail = 2.0 if doc["sample_reason"] == "rate" else 1.0
        assert doc["sample_weight"] == pytest.approx(source * tail), doc
    # the product is right only if the tail keeps a source-kept request with its own probability, not
    # with the source's hash again (which would keep every one of them at a tail rate above RATE)
    kept = sum(1 for d in traces if d["request_id"] in weighted and d["sample_reason"] == "rate")
    m = len(weighted)
    assert abs(kept - 0.5 * m) <= SIGMAS * math.sqrt(m * 0.25)
    n = sum(1 for e in full if e.event == "request_complete")
    sd = math.sqrt(n * (1 / (RATE * 0.5) - 1))  # at most (as if every request were ordinary)
    assert abs(sum(d["sample_weight"] for d in traces) - n) <= SIGMAS * sd


def test_a_window_document_stored_before_sampled_requests_reads_it_as_requests():
    m = WindowMetric.model_validate({"scope": "all", "scope_key": "*", "window_start_ms": T0, "window_ms": 10_000,
                                     "requests": 42})
    assert m.sampled_requests == 42
