"""Redaction of layer, tensor and weight names (and INT8 ranges) before they leave the process.

One policy (``Settings.builds.redact``: ``off`` | ``hash`` | ``mask``) applied by
every output of the grey-box path — the ``engine_build`` / ``layer_profile``
events ``trtlens check --publish`` and ``trtlens replay`` send, the report
``trtlens check`` prints (table and ``--json``), its log lines:

* ``hash``: each original name becomes ``h:`` + the first ``redact_hash_chars``
  hex digits of HMAC-SHA256(``redact_key``, name). The same name gives the same
  hash in every run with the same key, so reports stay joinable and diffable.
* ``mask``: each name becomes ``***``.
* both keep what TensorRT added around names (``a + b``, ``PWN(..)``,
  ``{ForeignNode[a...b]}``, ``_mylN_M``, ``Reformatting CopyNode for ... to``,
  ``.weight``) and, with ``redact_keep_types``, append the op type the name
  shows, from a fixed vocabulary (``h:9f86d081884c:Conv``): types are not
  sensitive and the fusion rules keep working on redacted events.
* with ``redact_ranges``, INT8 dynamic ranges and quantization scales are
  dropped (their count stays in ``facts["redacted.calibration_tensors"]`` /
  ``["redacted.quantization_scales"]``) and ``range [a, b]`` / ``scale=s`` in
  messages are masked.

Names are taken from the fields that hold them (engine layers, fusions, removed
layers, DLA fallbacks, calibration and quantization tensors, plugin nodes,
tactic timings, bindings, profile rows), from trtexec's command line
(``--shapes=x:1x3``, ``--layerPrecisions=a:fp16``) and from the message forms
that name weights and tensors; every message, fact and report string is then
rewritten wherever one of those names stands as a whole word. A name printed
only inside free text in another form is not known and passes through.
Plugin op types (``plugin_fallbacks``), engine kernel types, tactic names and
the engine id are not names of the network and are kept.

Evaluate first, redact after: the rules read the original names.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from trtlens.errors import TrtlensError
from trtlens.greybox.config import BuildsSettings
from trtlens.greybox.diff import BuildDiff
from trtlens.greybox.names import BOUND_AFTER, BOUND_BEFORE, REDACTED, op_type, walk
from trtlens.greybox.result import CheckResult
from trtlens.schemas.documents import BuildReport, Finding
from trtlens.schemas.events import EngineBuild, LayerProfile

# message forms that name a tensor or weight no structured field holds
_TEXT_NAMES = [
    re.compile(r"Weights \[name=(?P<n>.+?)\]"),
    re.compile(r"for tensor (?P<n>\S+?),? expect"),
    re.compile(r"dynamic shape: (?P<n>\S+?)Automatically"),
    re.compile(r"(?:input|output) tensor (?P<n>\S+?) to:?"),
    re.compile(r"binding for (?P<n>\S+) with dimensions"),
    re.compile(r"random values for input (?P<n>\S+)"),
]
_CMD_LISTS = re.compile(r"--(?:minShapes|optShapes|maxShapes|shapes|layerPrecisions|layerOutputTypes|layerDeviceTypes)=(?P<v>\S+)")
_RANGE = re.compile(r"(?P<k>\brange\b[^\[\]\n]{0,80}?)\[\s*[-+\d.eEinfa]+\s*,\s*[-+\d.eEinfa]+\s*\]", re.I)
_SCALE = re.compile(r"(?P<k>\b(?:scale|amax)\s*[=:]\s*)[-+\d.eE]+", re.I)
# EngineBuild fields, by what redaction does with them (a test checks every field is listed)
NAME_FIELDS = frozenset({
    "layers", "fusions", "removed_layers", "dla_fallbacks", "quantization_missing", "fp16_affected_weights", "plugin_kernels",
    "tactic_timings", "diagnostics", "calibration_info", "calibration", "quantization_scales", "facts",
})  # fmt: skip
KEPT_FIELDS = frozenset({
    "event_id", "schema_version", "ts_ms", "request_id", "worker_id", "host", "model", "model_version", "backend", "level",
    "sample_weight", "event",
    "engine_id", "source", "trt_version", "precisions", "status", "build_time_ms", "layers_before", "layers_after", "plugin_fallbacks",
    "fp16_weight_warnings", "memory", "perf", "unparsed_lines", "profile", "triton", "phase_times_ms",
})  # fmt: skip


class RedactionError(TrtlensError):
    """The redaction setting cannot be applied (``hash`` without a key). Attributes: problem."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(problem)


@dataclass(frozen=True, slots=True)
class RedactionPolicy:
    mode: str = "off"  # off | hash | mask
    key: bytes = b""
    hash_chars: int = 12
    keep_types: bool = True
    ranges: bool = True

    @property
    def active(self) -> bool:
        return self.mode != "off"

    @classmethod
    def from_settings(cls, builds: BuildsSettings, mode: str | None = None) -> RedactionPolicy:
        """The ``builds`` settings section; ``mode`` (a CLI override) replaces ``builds.redact``."""
        key = builds.redact_key.get_secret_value().encode() if builds.redact_key else b""
        chosen = mode or builds.redact
        if chosen == "hash" and len(key) < 16:
            raise RedactionError("redact=hash needs builds.redact_key (TRTLENS_BUILDS__REDACT_KEY) of at least 16 characters")
        return cls(mode=chosen, key=key, hash_chars=builds.redact_hash_chars, keep_types=builds.redact_keep_types, ranges=builds.redact_ranges)


def collect_names(builds: Iterable[EngineBuild] = (), profiles: Iterable[LayerProfile] = (), extra: Iterable[str] = ()) -> set[str]:
    """Every layer, tensor and weight name the inputs hold (composite engine-layer names included)."""
    out: set[str] = set(extra)
    for b in builds:
        out.update(layer.name for layer in b.layers)
        for f in b.fusions:
            out.update(f.layers)
            out.update([f.result] if f.result else [])
        out.update(b.removed_layers, (d.name for d in b.dla_fallbacks), b.calibration, b.quantization_scales, b.quantization_missing)
        out.update(b.fp16_affected_weights)
        out.update(b.plugin_kernels, (t.layer for t in b.tactic_timings if t.layer))
        if b.calibration_info:
            out.update(b.calibration_info.zero_ranges, b.calibration_info.suspicious_ranges)
        if isinstance(b.facts.get("bindings"), str):
            out.update(n for n in str(b.facts["bindings"]).split(",") if n)
        if isinstance(b.facts.get("command"), str):
            for m in _CMD_LISTS.finditer(str(b.facts["command"])):
                out.update(item.rsplit(":", 1)[0] for item in m.group("v").split(",") if ":" in item)
        for d in b.diagnostics:
            out.update(m.group("n") for rx in _TEXT_NAMES for m in rx.finditer(d.message))
    out.update(p.layer for p in profiles)
    atoms: set[str] = set()
    for name in out:
        walk(name, lambda a: atoms.add(a) or a)
    return {n for n in out | atoms if n and not REDACTED.match(n)}


class NameMap:
    """Redacts names (structure kept) and text (every known name standing as a whole word)."""

    def __init__(self, policy: RedactionPolicy, names: Iterable[str] = ()) -> None:
        self.policy = policy
        self.names = sorted(set(names), key=len, reverse=True)
        self._cache: dict[str, str] = {}

    def atom(self, name: str) -> str:
        if REDACTED.match(name):
            return name  # already redacted
        if self.policy.mode == "hash":
            body = "h:" + hmac.new(self.policy.key, name.encode("utf-8"), hashlib.sha256).hexdigest()[: self.policy.hash_chars]
        else:
            body = "***"
        typ = op_type(name) if self.policy.keep_types else None
        return f"{body}:{typ}" if typ else body

    def name(self, name: str) -> str:
        if not self.policy.active or not name:
            return name
        if name not in self._cache:
            self._cache[name] = walk(name, self.atom)
        return self._cache[name]

    def text(self, text: str) -> str:
        if not self.policy.active or not text:
            return text
        for rx in _TEXT_NAMES:  # exact spans first: trtexec glues "shape: xAutomatically"
            text = rx.sub(lambda m: m.string[m.start(0) : m.start("n")] + self.name(m.group("n")) + m.string[m.end("n") : m.end(0)], text)
        found = [n for n in self.names if n in text]
        if found:
            rx = re.compile(BOUND_BEFORE + "(?:" + "|".join(map(re.escape, found)) + ")" + BOUND_AFTER)
            text = rx.sub(lambda m: self.name(m.group(0)), text)
        if self.policy.ranges:
            text = _SCALE.sub(lambda m: m.group("k") + "*", _RANGE.sub(lambda m: m.group("k") + "[*, *]", text))
        return text

    def value(self, value: Any) -> Any:
        return self.text(value) if isinstance(value, str) else value

    # ------------------------------------------------------------------ documents
    def build(self, b: EngineBuild) -> EngineBuild:
        if not self.policy.active:
            return b
        n, t = self.name, self.text
        facts: dict[str, Any] = {k: t(v) if isinstance(v, str) else v for k, v in b.facts.items()}
        if isinstance(b.facts.get("bindings"), str):
            facts["bindings"] = ",".join(n(x) for x in str(b.facts["bindings"]).split(","))
        update: dict[str, Any] = {
            "layers": [layer.model_copy(update={"name": n(layer.name)}) for layer in b.layers],
            "fusions": [f.model_copy(update={"layers": [n(x) for x in f.layers], "result": n(f.result) if f.result else None}) for f in b.fusions],
            "removed_layers": [n(x) for x in b.removed_layers],
            "dla_fallbacks": [d.model_copy(update={"name": n(d.name)}) for d in b.dla_fallbacks],
            "quantization_missing": [n(x) for x in b.quantization_missing],
            "fp16_affected_weights": [n(x) for x in b.fp16_affected_weights],
            "plugin_kernels": {n(k): v for k, v in b.plugin_kernels.items()},
            "tactic_timings": [x.model_copy(update={"layer": n(x.layer) if x.layer else None}) for x in b.tactic_timings],
            "diagnostics": [d.model_copy(update={"message": t(d.message)}) for d in b.diagnostics],
        }
        if b.calibration_info:
            ci = b.calibration_info
            update["calibration_info"] = ci.model_copy(update={"zero_ranges": [n(x) for x in ci.zero_ranges],
                                                               "suspicious_ranges": [n(x) for x in ci.suspicious_ranges]})  # fmt: skip
        for field in ("calibration", "quantization_scales"):
            values: dict[str, float] = getattr(b, field)
            if self.policy.ranges:
                update[field] = {}
                if values:
                    facts[f"redacted.{'calibration_tensors' if field == 'calibration' else field}"] = len(values)
            else:
                update[field] = {n(k): v for k, v in values.items()}
        update["facts"] = facts
        return b.model_copy(update=update)

    def profile(self, rows: list[LayerProfile]) -> list[LayerProfile]:
        if not self.policy.active:
            return rows
        return [row.model_copy(update={"layer": self.name(row.layer)}) for row in rows]

    def finding(self, f: Finding) -> Finding:
        return f.model_copy(update={"layer": self.name(f.layer) if f.layer else None, "layers": [self.name(x) for x in f.layers],
                                    "message": self.text(f.message)})  # fmt: skip

    def checks(self, checks: list[CheckResult]) -> list[CheckResult]:
        if not self.policy.active:
            return checks
        return [dataclasses.replace(c, rule=self.text(c.rule), message=self.text(c.message), value=self.value(c.value),
                                    limit=self.value(c.limit), findings=tuple(self.finding(f) for f in c.findings))
                for c in checks]  # fmt: skip

    def diff(self, d: BuildDiff | None) -> BuildDiff | None:
        if d is None or not self.policy.active:
            return d
        n, t = self.name, self.text
        return d.model_copy(update={
            "newly_unfused": [n(x) for x in d.newly_unfused], "newly_fused": [n(x) for x in d.newly_fused],
            "layers_added": [n(x) for x in d.layers_added], "layers_removed": [n(x) for x in d.layers_removed],
            "precision_changes": [c.model_copy(update={"layer": n(c.layer)}) for c in d.precision_changes],
            "new_warnings": [t(x) for x in d.new_warnings], "resolved_warnings": [t(x) for x in d.resolved_warnings],
            "new_errors": [t(x) for x in d.new_errors], "new_dla_fallbacks": [n(x) for x in d.new_dla_fallbacks],
            "layer_time": [x.model_copy(update={"metric": n(x.metric)}) for x in d.layer_time],
        })  # fmt: skip

    def report(self, r: BuildReport, build: EngineBuild | None = None) -> BuildReport:
        """``build``: the already redacted build (else it is redacted here)."""
        if not self.policy.active:
            return r
        violations = [v.model_copy(update={"rule": self.text(v.rule), "message": self.text(v.message), "value": self.value(v.value),
                                           "limit": self.value(v.limit)}) for v in r.violations]  # fmt: skip
        return r.model_copy(update={"report": build or self.build(r.report), "violations": violations,
                                    "findings": [self.finding(f) for f in r.findings]})  # fmt: skip


def redact_build(build: EngineBuild, policy: RedactionPolicy, names: NameMap | None = None) -> EngineBuild:
    """The build with every layer, tensor and weight name redacted (``policy.mode == "off"``: unchanged)."""
    return (names or NameMap(policy, collect_names([build]))).build(build)


def redact_profile(rows: list[LayerProfile], policy: RedactionPolicy, names: NameMap | None = None) -> list[LayerProfile]:
    return (names or NameMap(policy, collect_names(profiles=rows))).profile(rows)


def redact_events(events: list, policy: RedactionPolicy) -> list:
    """``engine_build`` and ``layer_profile`` events of one log, redacted with one shared name map."""
    if not policy.active:
        return events
    builds = [e for e in events if isinstance(e, EngineBuild)]
    rows = [e for e in events if isinstance(e, LayerProfile)]
    names = NameMap(policy, collect_names(builds, rows))
    return [names.build(e) if isinstance(e, EngineBuild) else names.profile([e])[0] if isinstance(e, LayerProfile) else e for e in events]
