"""Pure rendering: one alert record → the request body of each endpoint kind.

Bodies are deterministic (sorted keys, no send time): every attempt and every
re-send after a restart carries the same bytes and the same idempotency key.

* ``webhook``: ``{"version": 1, "source": "trtlens", "kind": "alert", "state",
  "idempotency_key", "endpoint", "summary", "url", "alert": <the document as published>}``;
* ``slack``: an incoming-webhook message ``{"text": <one line>, "blocks": [...]}``
  (mrkdwn, ``& < >`` escaped; the key in a context block);
* ``alertmanager``: the API v2 ``POST /api/v2/alerts`` body, a list of one
  ``{labels, annotations, startsAt, endsAt, generatorURL}``.

Fields issue 11 adds to ``Alert`` (``explanation``, ``attribution``,
``exemplars``, ``url``) are read from the published document when present, in
whatever shape they come (text, object, list), and left out when absent.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import orjson

from trtlens import __version__
from trtlens.sinks.notify.config import LINK_FIELDS, EndpointConfig
from trtlens.sinks.notify.core import AlertRecord

MEASURES: dict[str, str] = {
    "p99_above": "p99",
    "error_rate_above": "error rate",
    "cold_start_rate_above": "cold-start rate",
    "gpu_memory_above": "GPU memory",
    "qps_below": "QPS",
    "gpu_memory_trend": "projected GPU memory",
}
MAX_EXEMPLARS = 5
MAX_TEXT = 300  # characters of one explanation/attribution rendering
SLACK_SECTION_MAX = 3000  # Slack's limit on a section's text


# ---------------------------------------------------------------- formatting


def iso_ms(ts_ms: int) -> str:
    """RFC 3339 UTC with milliseconds: ``2026-11-21T01:00:00.000Z`` (Alertmanager's timestamps)."""
    dt = _dt.datetime.fromtimestamp(ts_ms / 1000, tz=_dt.timezone.utc)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso_short(ts_ms: int) -> str:
    dt = _dt.datetime.fromtimestamp(ts_ms / 1000, tz=_dt.timezone.utc)
    return dt.isoformat(timespec="milliseconds" if ts_ms % 1000 else "seconds").replace("+00:00", "Z")


def measure(rule_kind: str, value: float | None) -> str:
    """A rule's value in its unit: ``1450 ms``, ``7.5%``, ``11.20 GiB``, ``3.2 req/s``."""
    if value is None:
        return "n/a"
    if rule_kind == "p99_above":
        return f"{value:.0f} ms" if abs(value) >= 100 else f"{value:.1f} ms"
    if rule_kind.endswith("_rate_above") or rule_kind == "gpu_memory_trend":  # the trend's value: share of total
        return f"{value * 100:.1f}%"
    if rule_kind == "gpu_memory_above":
        return f"{value / 2**30:.2f} GiB"
    if rule_kind == "qps_below":
        return f"{value:.1f} req/s"
    return f"{value:g}"


def brief(obj: Any, *, limit: int = MAX_TEXT) -> str:
    """A short one-line text of a value of unknown shape (explanation, attribution)."""

    def text(o: Any, depth: int) -> str:
        if o is None:
            return ""
        if isinstance(o, str):
            return " ".join(o.split())
        if isinstance(o, bool):
            return str(o).lower()
        if isinstance(o, float):
            return f"{o:.3g}"
        if isinstance(o, int):
            return str(o)
        if depth > 2:
            return "…"
        if isinstance(o, Mapping):
            for k in ("summary", "text", "message", "reason"):  # an object that carries its own sentence
                if isinstance(o.get(k), str):
                    return text(o[k], depth + 1)
            return ", ".join(f"{k}: {text(v, depth + 1)}" for k, v in o.items() if v is not None)
        if isinstance(o, (list, tuple)):
            return ", ".join(t for t in (text(v, depth + 1) for v in o) if t)
        return str(o)

    out = text(obj, 0)
    return out if len(out) <= limit else out[: limit - 1] + "…"


def exemplar_ids(obj: Any) -> list[str]:
    """Request ids out of ``exemplars``: a list of ids, a list of objects with ``request_id``
    (or ``id``), or an object holding such a list."""
    if isinstance(obj, Mapping):
        for k in ("request_ids", "exemplars", "items"):
            if k in obj:
                return exemplar_ids(obj[k])
        obj = [obj]
    if not isinstance(obj, (list, tuple)):
        return [str(obj)] if isinstance(obj, (str, int)) else []
    out = []
    for item in obj:
        if isinstance(item, (str, int)):
            out.append(str(item))
        elif isinstance(item, Mapping):
            rid = item.get("request_id", item.get("id"))
            if isinstance(rid, (str, int)):
                out.append(str(rid))
    return out


def alert_link(rec: AlertRecord, template: str | None) -> str | None:
    """The alert's own ``url`` when it has one, else ``link_template`` filled in, else None."""
    url = rec.doc.get("url")
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        return url
    if template is None:
        return None
    a = rec.alert
    fields = {
        "rule_id": a.rule_id, "rule_kind": a.rule_kind, "scope": a.scope, "scope_key": a.scope_key,
        "state": a.state, "window_start_ms": a.window_start_ms, "window_end_ms": a.window_start_ms + a.window_ms,
        "doc_id": a.doc_id,
    }
    assert set(fields) == set(LINK_FIELDS)
    return template.format(**{k: quote(str(v), safe="") for k, v in fields.items()})


# ---------------------------------------------------------------- facts


@dataclass(frozen=True, slots=True)
class Facts:
    """What every rendering says about one alert, already as text."""

    state: str
    rule_id: str
    scope: str
    scope_key: str
    reading: str  # "p99 1450 ms > threshold 1000 ms"
    window: str  # "2026-11-21T01:00:00Z +10s"
    message: str
    explanation: str | None = None
    attribution: str | None = None
    exemplars: list[str] = field(default_factory=list)
    link: str | None = None


def facts(rec: AlertRecord, *, link_template: str | None = None) -> Facts:
    a, doc = rec.alert, rec.doc
    name = MEASURES.get(a.rule_kind, "value")
    value, threshold = measure(a.rule_kind, a.value), measure(a.rule_kind, a.threshold)
    if a.state == "firing":
        op = "<" if a.rule_kind.endswith("_below") else ">"
        reading = f"{name} {value} {op} threshold {threshold}"
    else:
        reading = f"{name} {value} (threshold {threshold})"
    explanation = brief(doc.get("explanation")) or None
    attribution = brief(doc.get("attribution")) or None
    return Facts(
        state=a.state, rule_id=a.rule_id, scope=a.scope, scope_key=a.scope_key, reading=reading,
        window=f"{_iso_short(a.window_start_ms)} +{a.window_ms / 1000:g}s", message=a.message,
        explanation=explanation, attribution=attribution,
        exemplars=exemplar_ids(doc.get("exemplars"))[:MAX_EXEMPLARS], link=alert_link(rec, link_template),
    )


def summary_line(f: Facts) -> str:
    """The one line: what fired, its value and threshold, scope, window, then why, exemplars, link."""
    parts = [f"[{f.state.upper()}] {f.rule_id} on {f.scope} {f.scope_key}: {f.reading}, window {f.window}"]
    if f.explanation:
        parts.append(f"why: {f.explanation}")
    if f.attribution:
        parts.append(f"attribution: {f.attribution}")
    if f.exemplars:
        parts.append("exemplars: " + ", ".join(f.exemplars))
    if f.link:
        parts.append(f.link)
    return " · ".join(parts)


# ---------------------------------------------------------------- bodies


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def render_webhook(rec: AlertRecord, endpoint: str, *, link_template: str | None = None) -> bytes:
    f = facts(rec, link_template=link_template)
    return _dumps({
        "version": 1, "source": "trtlens", "kind": "alert", "state": rec.alert.state,
        "idempotency_key": rec.key, "endpoint": endpoint, "summary": summary_line(f), "url": f.link,
        "alert": rec.doc,
    })


def slack_escape(text: str) -> str:
    """Slack mrkdwn control characters (``& < >``) as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str, label: str) -> str:
    safe = url.replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    return f"<{safe}|{slack_escape(label)}>"


def _cut(text: str, limit: int = SLACK_SECTION_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_slack(rec: AlertRecord, *, link_template: str | None = None) -> bytes:
    f = facts(rec, link_template=link_template)
    icon = ":rotating_light:" if f.state == "firing" else ":white_check_mark:"
    e = slack_escape
    line = summary_line(replace(f, link=None))
    text = f"{icon} {e(line)}" + (f" · {_slack_link(f.link, 'open')}" if f.link else "")
    head = (f"{icon} *{f.state.upper()}* `{e(f.rule_id)}` on {e(f.scope)} `{e(f.scope_key)}`\n"
            f"{e(f.reading)}\nwindow {e(f.window)}")
    if f.message:
        head += f"\n_{e(f.message)}_"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": _cut(head)}}]
    details = []
    if f.explanation:
        details.append(f"*Why:* {e(f.explanation)}")
    if f.attribution:
        details.append(f"*Attribution:* {e(f.attribution)}")
    if f.exemplars:
        details.append("*Exemplars:* " + ", ".join(f"`{e(x)}`" for x in f.exemplars))
    if f.link:
        details.append(f"*Query:* {_slack_link(f.link, 'open in trtlens')}")
    if details:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut("\n".join(details))}})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"trtlens · idempotency key `{rec.key}`"},
    ]})
    return _dumps({"text": text, "blocks": blocks})


def render_alertmanager(rec: AlertRecord, endpoint: EndpointConfig, *, link_template: str | None = None) -> bytes:
    """Alertmanager identifies an alert by its labels, so they hold only what stays the same
    from firing to resolved (rule, scope); the window, value and key are annotations."""
    a, f = rec.alert, facts(rec, link_template=link_template)
    labels = {**endpoint.labels, "alertname": a.rule_id, "rule_kind": a.rule_kind, "scope": a.scope,
              "scope_key": a.scope_key, "source": "trtlens"}
    annotations = {
        "summary": summary_line(f), "description": a.message, "value": measure(a.rule_kind, a.value),
        "threshold": measure(a.rule_kind, a.threshold), "window_start": iso_ms(a.window_start_ms),
        "window_ms": str(a.window_ms), "idempotency_key": rec.key, "doc_id": a.doc_id,
    }
    if f.explanation:
        annotations["explanation"] = f.explanation
    if f.attribution:
        annotations["attribution"] = f.attribution
    if f.exemplars:
        annotations["exemplars"] = ", ".join(f.exemplars)
    item: dict[str, Any] = {"labels": labels, "annotations": annotations, "startsAt": iso_ms(a.window_start_ms)}
    if a.state == "resolved":
        item["endsAt"] = iso_ms(a.window_start_ms + a.window_ms)
    elif endpoint.firing_ends_after_s > 0:
        item["endsAt"] = iso_ms(a.window_start_ms + int(endpoint.firing_ends_after_s * 1000))
    if f.link:
        item["generatorURL"] = f.link
    return _dumps([item])


def render(endpoint: EndpointConfig, rec: AlertRecord, *, link_template: str | None = None) -> bytes:
    """The request body for this endpoint."""
    if endpoint.kind == "slack":
        return render_slack(rec, link_template=link_template)
    if endpoint.kind == "alertmanager":
        return render_alertmanager(rec, endpoint, link_template=link_template)
    return render_webhook(rec, endpoint.name, link_template=link_template)


def request_headers(endpoint: EndpointConfig, key: str) -> dict[str, str]:
    """Headers of every request: the configured ones (secret values) plus ours."""
    out = {name: value.get_secret_value() for name, value in endpoint.headers.items()}
    out.update({"Content-Type": "application/json", "Idempotency-Key": key,
                "User-Agent": f"trtlens-notify/{__version__}"})
    return out
