"""The public logs the parser was not written against (tests/data/trt-logs/public/):
every figure a reader expects (public_figures.py, public_figures_blind.py) is checked,
one case per log.

A figure marked ``miss`` is a known gap: it must still be missed (so fixing it
forces the table to say so), and it counts against the coverage floor.
"""

from __future__ import annotations

import pytest
from public_figures import PUBLIC, all_figures, parse, score

from trtlens.producers.trtlog import parse_log

COVERAGE_FLOOR = 0.95
README = PUBLIC.parent / "README.md"
FIGURES = all_figures()


def test_every_public_log_has_figures_and_a_source_row() -> None:
    names = sorted(p.name for p in PUBLIC.glob("*.log"))
    assert names == sorted(FIGURES)
    readme = README.read_text(encoding="utf-8")
    assert [n for n in names if f"| `{n}` |" not in readme] == []
    assert all(FIGURES[n] for n in names)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_public_log_figures(name: str) -> None:
    r = parse(name)
    wrong = [(f.what, f.want, f.got(r)) for f in FIGURES[name] if not f.miss and not f.matches(r)]
    fixed = [f.what for f in FIGURES[name] if f.miss and f.matches(r)]
    assert wrong == [], f"{name}: figures the parser got wrong (what, want, got)"
    assert fixed == [], f"{name}: marked as known misses but now matched; drop the mark"
    assert r.build.event == "engine_build" and r.stats.lines > 0
    r.build.model_dump_json()


def test_public_coverage_floor() -> None:
    matched, total, _ = score()
    assert total >= 200 and matched / total >= COVERAGE_FLOOR


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_public_log_is_deterministic_and_line_input_matches(name: str) -> None:
    path = PUBLIC / name
    a = parse_log(path, now_ms=1)
    b = parse_log(path.read_text(encoding="utf-8").splitlines(), source=str(path), now_ms=1)
    assert a.build.event_id == parse_log(path, now_ms=1).build.event_id
    assert a.build.model_dump(exclude={"worker_id"}) == b.build.model_dump(exclude={"worker_id"})
