"""Build ↔ runtime version consistency: TensorRT, CUDA and cuDNN of the build log
against the versions where the engine runs (given as ``trt=10.3,cuda=12.4``, or
read from a runtime log).

Two versions match when they agree on as many dotted parts as the shorter one
has: ``10.3`` matches ``10.3.0.26``, ``8.4.1`` does not match ``8.5.1``. A
runtime log that itself reports a mismatch — ``expecting library version A got
B`` or differing serialization tags (``Current Version: 237, Serialized Engine
Version: 239``) — fails the ``trt`` check whatever the build log says.
"""

from __future__ import annotations

import re

from trtlens.errors import TrtlensError
from trtlens.greybox.config import BuildRules
from trtlens.greybox.result import CheckResult
from trtlens.schemas.documents import Finding
from trtlens.schemas.events import EngineBuild

KEYS = {"trt": "trt", "tensorrt": "trt", "cuda": "cuda", "cudnn": "cudnn"}
_VERSION = re.compile(r"^v?\d+(?:\.\d+){0,3}$")


class RuntimeVersionsError(TrtlensError):
    """``--runtime-versions`` is not ``part=version[,part=version...]``.

    Attributes:
        text: the value given.
        problem: what is wrong with it.
    """

    def __init__(self, text: str, problem: str) -> None:
        self.text = text
        self.problem = problem
        super().__init__(f"--runtime-versions {text!r}: {problem} (expected e.g. trt=10.3,cuda=12.4,cudnn=9.1)")


def parse_runtime_versions(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        key = KEYS.get(key.strip().lower(), "")
        if not sep or not key:
            raise RuntimeVersionsError(text, f"{item!r}: the part must be one of {', '.join(sorted(set(KEYS)))}")
        if not _VERSION.match(value.strip()):
            raise RuntimeVersionsError(text, f"{item!r}: {value.strip()!r} is not a dotted version")
        out[key] = value.strip().lstrip("v")
    if not out:
        raise RuntimeVersionsError(text, "no version given")
    return out


def _fact(report: EngineBuild, key: str) -> str | None:
    value = report.facts.get(key)
    return str(value) if value is not None else None


def build_versions(report: EngineBuild) -> dict[str, str]:
    """Versions the build log shows: ``trt_version`` (or a loaded libnvinfer), ``cuda_version``, ``cudnn_version``."""
    found = {
        "trt": report.trt_version or _fact(report, "library_trt_version"),
        "cuda": _fact(report, "cuda_version"),
        "cudnn": _fact(report, "cudnn_version"),
    }
    return {k: v for k, v in found.items() if v}


def runtime_versions(report: EngineBuild) -> dict[str, str]:
    """Versions a runtime log shows, plus what it says the engine was built with / serialised as."""
    out = build_versions(report)
    if found := _fact(report, "found_trt_version"):
        out["trt"] = found
    for key, fact in (("engine_trt", "expected_trt_version"), ("engine_serialization", "engine_serialization_version"),
                      ("serialization", "runtime_serialization_version")):  # fmt: skip
        if (value := _fact(report, fact)) is not None:
            out[key] = value
    return out


def same_version(a: str, b: str) -> bool:
    pa = [int(x) for x in re.findall(r"\d+", a)]
    pb = [int(x) for x in re.findall(r"\d+", b)]
    n = min(len(pa), len(pb))
    return n > 0 and pa[:n] == pb[:n]


def version_checks(report: EngineBuild, runtime: dict[str, str] | None, rules: BuildRules) -> list[CheckResult]:
    out: list[CheckResult] = []
    built = build_versions(report)
    for part in rules.match_runtime_versions:
        rule = f"match_runtime_versions[{part}]"
        if not runtime:
            out.append(CheckResult(rule, "skip", "no runtime versions given (--runtime-versions / --runtime-log)"))
            continue
        problems = []
        if part == "trt" and "engine_trt" in runtime and "trt" in runtime and not same_version(runtime["engine_trt"], runtime["trt"]):
            problems.append(f"the runtime log says the engine needs {runtime['engine_trt']}, it runs {runtime['trt']}")
        if part == "trt" and "engine_serialization" in runtime and runtime["engine_serialization"] != runtime.get("serialization"):
            problems.append(f"serialization tag {runtime['engine_serialization']} vs runtime {runtime.get('serialization')}")
        b, r = built.get(part), runtime.get(part)
        if b and r and not same_version(b, r):
            problems.append(f"built with {b}, runs {r}")
        if problems:
            msg = f"{part}: " + "; ".join(problems)
            out.append(CheckResult(rule, "fail", msg, r or runtime.get("engine_trt"), b, (Finding(kind="version_mismatch", message=msg),)))
        elif b and r:
            out.append(CheckResult(rule, "pass", f"{part} {b} (build) matches {r} (runtime)", r, b))
        else:
            where = "build log" if not b else "runtime"
            out.append(CheckResult(rule, "skip", f"{part} version: not in the {where}", r, b))
    return out
