"""The layout of ``facewire/train``: no import circle (a function-level import counts too,
since it only hides the circle until the call), no node code in training, and no runtime
package that pulls training (torch) in when imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "facewire"
RUNTIME = ("nodes", "bus", "bridges", "models", "phones", "dsp", "messages", "launch")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST, module: str, is_package: bool, top_level_only: bool = False
             ) -> set[str]:
    """Absolute names of the modules (and ``from`` names) that ``tree`` imports."""
    nodes = tree.body if top_level_only else list(ast.walk(tree))  # type: ignore[attr-defined]
    out: set[str] = set()
    for n in nodes:
        if isinstance(n, ast.Import):
            out.update(a.name for a in n.names)
        elif isinstance(n, ast.ImportFrom):
            base = n.module or ""
            if n.level:
                pkg = module.split(".") if is_package else module.split(".")[:-1]
                pkg = pkg[: len(pkg) - (n.level - 1)]
                base = ".".join(pkg + ([n.module] if n.module else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in n.names)
    return out


def graph(package: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports, anywhere in its source."""
    mods = {module_name(p): p for p in package.rglob("*.py")}
    return {m: {d for d in imported(ast.parse(p.read_text()), m, p.name == "__init__.py")
                if d in mods and d != m}
            for m, p in mods.items()}


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for d in sorted(g[m]):
            if state.get(d) == 1:
                return path[path.index(d):] + [d]
            if d not in state and (c := visit(d)):
                return c
        path.pop()
        state[m] = 2
        return None

    for m in sorted(g):
        if m not in state and (c := visit(m)):
            return c
    return None


def test_find_cycle_finds_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_circle_in_train() -> None:
    cycle = find_cycle(graph(ROOT / "train"))
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_train_does_not_import_nodes() -> None:
    bad = [f"{module_name(p)}: {d}" for p in sorted((ROOT / "train").rglob("*.py"))
           for d in imported(ast.parse(p.read_text()), module_name(p), p.name == "__init__.py")
           if d == "facewire.nodes" or d.startswith("facewire.nodes.")]
    assert not bad, bad


def test_mesh_does_not_import_blendshapes() -> None:
    """The families share ``train/data`` and the run pieces, not each other's modules."""
    bad = [f"{module_name(p)}: {d}" for p in sorted((ROOT / "train" / "mesh").rglob("*.py"))
           for d in imported(ast.parse(p.read_text()), module_name(p), p.name == "__init__.py")
           if d.startswith("facewire.train.blendshapes")]
    assert not bad, bad


@pytest.mark.parametrize("package", RUNTIME)
def test_runtime_does_not_import_train_at_module_level(package: str) -> None:
    bad = [f"{module_name(p)}: {d}" for p in sorted((ROOT / package).rglob("*.py"))
           for d in imported(ast.parse(p.read_text()), module_name(p), p.name == "__init__.py",
                             top_level_only=True)
           if d == "facewire.train" or d.startswith("facewire.train.")]
    assert not bad, bad
