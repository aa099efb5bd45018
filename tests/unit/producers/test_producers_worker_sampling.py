"""``worker.sampling``: the emitter's sampling as settings (env TRTLENS_WORKER__SAMPLING__*) and as
``trtlens worker`` flags; bad values are refused naming the key (and the flag) and the rule."""

from __future__ import annotations

import argparse
import types

import numpy as np
import pytest
from pydantic import ValidationError

from trtlens.producers.instrument import Emitter, ModelSink, SamplingConfig
from trtlens.producers.worker import cli
from trtlens.producers.worker.backends import BackendError, LoadInfo, Timings
from trtlens.producers.worker.config import SAMPLING_FLAGS, WorkerFlagError, WorkerSettings, sampling_with_flags
from trtlens.producers.worker.core import InferenceWorker
from trtlens.settings import SettingsError, load_settings


def parse(*argv):
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    return parser.parse_args(["worker", *argv])


def settings_with(**sampling):
    return types.SimpleNamespace(worker=WorkerSettings(sampling=sampling))


# ------------------------------------------------------------------ the settings
@pytest.mark.parametrize("sampling, key", [
    ({"rate": 1.5}, "sampling.rate"),
    ({"rate": -0.1}, "sampling.rate"),
    ({"slow_ms": 0}, "sampling.slow_ms"),
    ({"verbose_minutes": -1}, "sampling.verbose_minutes"),
    ({"verbose_minutes": 20_000}, "sampling.verbose_minutes"),
    ({"verbose_check_interval_ms": 5}, "sampling.verbose_check_interval_ms"),
    ({"alert_verbose_minutes": 0}, "sampling.alert_verbose_minutes"),
    ({"verbose_on_alerts": "perhaps"}, "sampling.verbose_on_alerts"),
    ({"rat": 0.5}, "sampling.rat"),  # a misspelt key is refused, not ignored
])
def test_invalid_sampling_settings_name_their_key(sampling, key):
    with pytest.raises(ValidationError) as exc:
        WorkerSettings(sampling=sampling)
    assert [".".join(str(p) for p in e["loc"]) for e in exc.value.errors()] == [key]


def test_defaults_keep_every_request_and_leave_verbose_off():
    s = WorkerSettings().sampling
    assert (s.rate, s.slow_ms, s.verbose_minutes, s.verbose_control_file, s.verbose_on_alerts) == (
        1.0, None, 0.0, None, False)
    assert s.sampler().decide("r1", error=False, cold_start=False, total_ms=1.0, verbose=False) == (True, None)
    assert not s.verbose_switch().active("m")


def test_env_vars_set_the_worker_sampling_and_a_bad_one_names_key_value_rule_and_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    monkeypatch.delenv("TRTLENS_CONFIG", raising=False)
    monkeypatch.setenv("TRTLENS_WORKER__SAMPLING__RATE", "0.25")
    monkeypatch.setenv("TRTLENS_WORKER__SAMPLING__SLOW_MS", "250")
    monkeypatch.setenv("TRTLENS_WORKER__SAMPLING__VERBOSE_ON_ALERTS", "true")
    s = load_settings().worker.sampling
    assert (s.rate, s.slow_ms, s.verbose_on_alerts) == (0.25, 250.0, True)
    monkeypatch.setenv("TRTLENS_WORKER__SAMPLING__RATE", "2")
    with pytest.raises(SettingsError) as exc:
        load_settings()
    assert exc.value.problems == [("worker.sampling.rate", "2", "Input should be less than or equal to 1")]
    assert "TRTLENS_WORKER__SAMPLING__RATE" in str(exc.value)


def test_the_config_builds_the_library_parts():
    now = [1_700_000_000_000]
    cfg = SamplingConfig(rate=0.5, slow_ms=200, verbose_minutes=5, alert_verbose_minutes=3,
                         verbose_check_interval_ms=250)
    sampler = cfg.sampler()
    assert (sampler.rate, sampler.slow_ms) == (0.5, 200)
    assert sampler.decide("x", error=False, cold_start=False, total_ms=200.0, verbose=False) == (True, None)
    switch = cfg.verbose_switch(clock_ms=lambda: now[0])
    assert switch.active("any-model") and switch.alert_minutes == 3 and switch.check_interval_s == 0.25
    now[0] += 5 * 60_000
    assert not switch.active("any-model")  # verbose for 5 minutes from start, then off


# ------------------------------------------------------------------ the flags
def test_flags_override_only_the_settings_they_name():
    base = settings_with(rate=0.5, alert_verbose_minutes=5, verbose_on_alerts=True)
    s = cli.sampling_of(parse(), base)
    assert s == base.worker.sampling  # no flag: the settings as they are
    s = cli.sampling_of(parse("--sample-rate", "0.1", "--slow-ms", "250", "--verbose-minutes", "2",
                              "--verbose-control-file", "/tmp/v.json", "--verbose-check-interval-ms", "500",
                              "--no-verbose-on-alerts"), base)
    assert (s.rate, s.slow_ms, s.verbose_minutes, str(s.verbose_control_file), s.verbose_check_interval_ms,
            s.verbose_on_alerts, s.alert_verbose_minutes) == (0.1, 250.0, 2.0, "/tmp/v.json", 500, False, 5.0)
    assert cli.sampling_of(parse("--verbose-on-alerts", "--alert-verbose-minutes", "1"),
                           settings_with()).verbose_on_alerts


@pytest.mark.parametrize("argv, flag, key, rule", [
    (["--sample-rate", "1.5"], "--sample-rate", "worker.sampling.rate", "less than or equal to 1"),
    (["--slow-ms", "-3"], "--slow-ms", "worker.sampling.slow_ms", "greater than 0"),
    (["--verbose-minutes", "-1"], "--verbose-minutes", "worker.sampling.verbose_minutes", "greater than or equal"),
    (["--verbose-check-interval-ms", "1"], "--verbose-check-interval-ms",
     "worker.sampling.verbose_check_interval_ms", "greater than or equal to 10"),
    (["--alert-verbose-minutes", "0"], "--alert-verbose-minutes", "worker.sampling.alert_verbose_minutes",
     "greater than 0"),
])
def test_a_bad_flag_is_refused_naming_the_flag_the_setting_and_the_rule(argv, flag, key, rule):
    with pytest.raises(WorkerFlagError) as exc:
        cli.sampling_of(parse(*argv), settings_with())
    err = exc.value
    assert (err.flag, err.key) == (flag, key) and rule in err.rule
    assert str(err).startswith(f"trtlens worker {flag} ") and key in str(err) and rule in str(err)


def test_a_flag_that_is_not_a_number_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit):
        parse("--sample-rate", "half")
    assert "--sample-rate" in capsys.readouterr().err


def test_every_sampling_flag_is_in_the_help_with_its_setting():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli.register(sub)
    text = " ".join(sub.choices["worker"].format_help().split())
    for flag, key in SAMPLING_FLAGS.items():
        assert flag in text and f"worker.sampling.{key}" in text
    assert "TRTLENS_WORKER__SAMPLING__" in text


def test_only_sampling_flags_are_taken():
    with pytest.raises(KeyError):
        sampling_with_flags(SamplingConfig(), {"--rps": 3})


# ------------------------------------------------------------------ what the worker then publishes
class Backend:
    name = "onnxruntime"
    precision = "fp32"
    engine_path = "/models/m.onnx"

    def __init__(self, clock, fail=(), slow=()) -> None:
        self.clock, self.fail, self.slow = clock, set(fail), set(slow)
        self.loaded = False
        self.calls = 0

    def load(self):
        self.loaded = True
        return LoadInfo(self.engine_path, 40.0)

    def unload(self):
        self.loaded = False

    def input_shape(self, batch_size):
        return (batch_size, 2)

    def infer(self, batch, *, profile=False):
        i, self.calls = self.calls, self.calls + 1
        if i in self.fail:
            raise BackendError(self.name, "compute", "CUDA error 700")
        self.clock[0] += 0.5 if i in self.slow else 0.002
        return Timings(latency_ms=2.0, compute_ms=2.0)


def test_a_worker_with_rate_zero_publishes_only_cold_starts_errors_and_slow_requests():
    clock = [0.0]
    published = []
    cfg = cli.sampling_of(parse("--sample-rate", "0", "--slow-ms", "100"), settings_with())
    emitter = Emitter(ModelSink(published.append), sampler=cfg.sampler(), verbose=cfg.verbose_switch())
    w = InferenceWorker(Backend(clock, fail={3}, slow={6}), model="m", model_version="v1", worker_id="w", host="h",
                        emitter=emitter, perf_s=lambda: clock[0])
    for i in range(10):
        w.handle(f"r{i}", np.zeros((1, 2), np.float32))
    kept = sorted({e.request_id for e in published})
    assert kept == ["r0", "r3", "r6"]  # the cold start, the failure, the 500 ms request
    assert (emitter.kept_requests, emitter.dropped_requests, w.stats.requests) == (3, 7, 10)
    slow = [e.event for e in published if e.request_id == "r6"]
    assert slow == ["request_received", "inference_complete", "request_complete"]  # a kept request goes whole
