"""Every file or folder a README names in backticks exists (renames leave no stale pointers).

A reference resolves against the README's own folder, any folder above it up to
the repository root, or ``tests/``. Globs, placeholders (``...``, ``{}``, ``*``),
URLs, import names and the workspace's ``shared/`` texts are not paths of this tree.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
REF = re.compile(r"`([A-Za-z0-9_.\-/]+/[A-Za-z0-9_.\-/]*)`")
PATHLIKE = re.compile(r"\.(py|md|yaml|yml|toml|json|ndjson|log|txt|html|png)$|/$")
SKIP_DIRS = {".venv", ".git", "node_modules", ".pytest_cache"}


def _readmes() -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        found += [Path(folder) / "README.md"] if "README.md" in files else []
    return sorted(found)


def _resolves(readme: Path, ref: str) -> bool:
    above = [readme.parent, *(p for p in readme.parent.parents if p == ROOT or ROOT in p.parents)]
    return any((base / ref).exists() for base in [*above, ROOT / "tests"])


def _stale() -> list[str]:
    out = []
    for readme in _readmes():
        for match in REF.finditer(readme.read_text()):
            ref = match.group(1)
            if ref.startswith(("http", "/", "..", "shared/")) or "..." in ref or set("*{}<>") & set(ref):
                continue
            if ref.startswith("trtlens.") or not PATHLIKE.search(ref):
                continue
            if not _resolves(readme, ref):
                out.append(f"{readme.relative_to(ROOT)}: `{ref}`")
    return out


def test_readmes_name_only_paths_that_exist():
    assert _readmes(), "no README found: the scan is broken"
    stale = _stale()
    assert not stale, "stale paths in READMEs (fix the README or the path):\n" + "\n".join(stale)
