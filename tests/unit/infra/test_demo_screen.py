"""The demo's live screen renders every state it can be in (it only runs on a terminal)."""

from rich.console import Console

from trtlens.demo import SLOW_P99_MS, _render
from trtlens.demo.watch import WatchState


def _window(key: str, p99: float | None) -> dict:
    return {
        "scope": "model_version", "scope_key": key, "window_start_ms": 1_795_000_000_000, "requests": 120,
        "qps": 24.0, "errors": 1, "cold_start_rate": 0.05, "latency_ms": {"p99": p99},
    }


def _screen(state: WatchState) -> str:
    console = Console(record=True, width=120, force_terminal=True)
    console.print(_render(state, 12.0, 60.0, []))
    return console.export_text()


def test_empty_state_renders():
    text = _screen(WatchState())
    assert "(none yet)" in text and "DLQ" in text


def test_windows_and_alerts_render_with_and_without_highlight():
    state = WatchState(events_in=5000, dlq=2)
    state.latest = {
        "resnet50/v2": _window("resnet50/v2", SLOW_P99_MS * 3),
        "resnet50/v1": _window("resnet50/v1", 12.5),
        "bert-base/v1": _window("bert-base/v1", None),
    }
    for state_name in ("firing", "resolved"):
        state.alerts[("p99", state_name)] = {
            "rule_id": "p99", "scope_key": "resnet50/v2", "state": state_name, "window_start_ms": 1_795_000_000_000,
            "value": 300.0, "threshold": SLOW_P99_MS,
        }
    text = _screen(state)
    assert "300.0" in text and "12.5" in text and "firing" in text and "resolved" in text
    assert "DLQ 2" in text
