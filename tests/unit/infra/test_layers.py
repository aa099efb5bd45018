"""Imports point one way: base ← contract ← library ← components ← app (issue 10).

Every ``import trtlens…`` in the source (function-level lazy imports included;
``if TYPE_CHECKING:`` blocks too) is checked against the layer table below, and
the package-level import graph must have no cycle. Adding a module outside the
table fails here until it is placed in a layer.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

# layer → module prefixes (longest prefix wins)
LAYERS: dict[str, tuple[str, ...]] = {
    "base": ("trtlens.errors", "trtlens.listen", "trtlens.settings", "trtlens.kafka", "trtlens.es", "trtlens.obs"),
    "contract": ("trtlens.schemas",),
    "library": ("trtlens.greybox",),
    "component": ("trtlens.producers", "trtlens.streams", "trtlens.sinks"),
    "app": ("trtlens.__main__", "trtlens.cli", "trtlens.stack", "trtlens.demo", "trtlens.bench",
            "trtlens.dashboard", "trtlens.explain"),
}
ORDER = ["base", "contract", "library", "component", "app"]


def _modules() -> dict[str, Path]:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    out = {}
    for package, folder in cfg.items():
        base = ROOT / folder
        for path in base.rglob("*.py"):
            rel = path.relative_to(base).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([package, *parts])
            # a sub-folder mapped to its own package (e.g. trtlens.schemas) is listed under that package
            if name.split(".")[1:2] and f"trtlens.{name.split('.')[1]}" in cfg and package == "trtlens":
                continue
            out[name] = path
    return out


MODULES = _modules()


def layer_of(module: str) -> str:
    if module == "trtlens":
        return "base"
    best, best_len = None, -1
    for layer, prefixes in LAYERS.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = layer, len(prefix)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")
    return best


def component_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def imports_of(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("trtlens"):
            out.append((node.module, node.lineno))
            out.extend((f"{node.module}.{a.name}", node.lineno) for a in node.names if f"{node.module}.{a.name}" in MODULES)
        elif isinstance(node, ast.Import):
            out.extend((a.name, node.lineno) for a in node.names if a.name.startswith("trtlens"))
    return out


def test_every_module_has_a_layer():
    assert [m for m in MODULES if not any(m == p or m.startswith(p + ".") for ps in LAYERS.values() for p in ps)
            and m != "trtlens"] == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    mine = layer_of(module)
    wrong = []
    for target, line in imports_of(MODULES[module]):
        theirs = layer_of(target)
        if ORDER.index(theirs) > ORDER.index(mine):
            wrong.append(f"line {line}: {target} ({theirs}) from a {mine} module")
        elif mine == theirs == "component" and component_of(target) != component_of(module):
            wrong.append(f"line {line}: {target} is another component")
    assert wrong == [], f"{MODULES[module].relative_to(ROOT)} imports the wrong way:\n" + "\n".join(wrong)


def package_of(module: str) -> str:
    if module == "trtlens.__main__":  # the `python -m trtlens` shim: imported by nothing
        return module
    if module in MODULES and MODULES[module].name == "__init__.py":
        return module
    return module.rsplit(".", 1)[0]


def test_no_import_cycle_between_packages():
    """The root package ``trtlens`` holds only the base layer, so every package may depend on it and it on none."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        for target, _ in imports_of(path):
            if package_of(target) != package_of(module):
                graph.setdefault(package_of(module), set()).add(package_of(target))
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        seen[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if seen.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in seen:
                visit(nxt)
        stack.pop()
        seen[node] = 2

    for node in sorted(graph):
        if node not in seen:
            visit(node)
