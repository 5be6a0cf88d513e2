"""The package's folders form a tree of imports: each part imports only the parts it is allowed to see.

catalog (archspec's data) is seen by everyone; runtime (shell templates) by the feedstock, which
writes and builds them, and by diagnostics, which names the guard's variable; tools (package
managers' facts, solving against a channel) need only the catalog, and the feedstock uses them
to index its channel; diagnostics (doctor, explain, matrix, snippet, check) read the catalog, the
runtime and the tools, never the feedstock.  The
modules at the package's top (cli.py and what every part shares) may import anything.  No module
imports itself back through others, and no name starting with `_` crosses a module's border.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "scripts" / "microarch_level"
ROOT = PACKAGE.name
SHARED = ("errors", "process", "terminal")  # top-level modules every part may use
# Which parts each part may import (besides itself and SHARED).
SEES = {
    "catalog": set(),
    "runtime": {"catalog"},
    "feedstock": {"catalog", "runtime", "tools"},
    "tools": {"catalog"},
    "diagnostics": {"catalog", "runtime", "tools"},
}
PARTS = tuple(SEES)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> list[tuple[str, str | None, str]]:
    """(module imported, name taken from it or None, the name it is bound to) for every import of
    the package in module `name`, at any depth (a function-level import counts: it is a loop all
    the same)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, str | None, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, None, a.asname or a.name) for a in node.names if a.name.split(".")[0] == ROOT]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != ROOT:
                continue
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                bound = alias.asname or alias.name
                found.append((sub, None, bound) if _is_module(sub) else (source, alias.name, bound))
    return found


def _part(module: str) -> str | None:
    """The part (folder) of a module of the package, None for a top-level one."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 2 or (len(pieces) == 2 and pieces[1] in SEES) else None


def test_every_module_is_in_a_part_or_shared():
    top = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__", "cli"}
    assert top == set(SHARED)
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(PARTS)


@pytest.mark.parametrize("part", PARTS)
def test_a_part_imports_only_the_parts_it_may_see(part):
    allowed = SEES[part] | {part}
    shared = {f"{ROOT}.{s}" for s in SHARED} | {ROOT}
    wrong = sorted(f"{name} imports {target}" for name in MODULES if _part(name) == part
                   for target, _, _ in _imports(name)
                   if target not in shared and _part(target) not in allowed)
    assert not wrong


def test_tools_do_not_see_the_feedstock():
    """The tree is not a line: what a package manager does is known without building anything."""
    assert "feedstock" not in SEES["tools"] | SEES["diagnostics"]


def _cycle() -> list[str] | None:
    graph = {name: sorted({t for t, _, _ in _imports(name) if t in MODULES and t != name}) for name in MODULES}
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in graph:
        if start not in state and (found := walk(start)):
            return found
    return None


def test_no_module_imports_itself_back():
    cycle = _cycle()
    assert cycle is None, " -> ".join(cycle)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_private_name_crosses_a_module_border():
    """`from .x import _name` and `x._name` (x a module of the package) reach into another module's
    insides; what others use is public."""
    crossing = [f"{name} takes {source}.{taken}" for name in MODULES for source, taken, _ in _imports(name)
                if taken and _private(taken)]
    for name, path in MODULES.items():
        modules = {bound for _, taken, bound in _imports(name) if taken is None}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                    and _private(node.attr)):
                crossing.append(f"{name} uses {node.value.id}.{node.attr}")
    assert not crossing, sorted(crossing)


def test_the_checks_see_imports_inside_functions():
    """The loop and border checks read every import, not only those at a module's top."""
    inside = [t for t, _, _ in _imports(f"{ROOT}.cli")]
    assert f"{ROOT}.feedstock.render" in inside  # cli imports it inside cmd_generate


def test_diagnostics_take_catalog_facts_from_the_catalog():
    """What a CPU family or source is (its loader, sysctl's keys) is a catalog fact; diagnostics reach
    into runtime only for what the guards themselves define (the variable that turns them off)."""
    reached = {f"{name} imports {target}" for name in MODULES if _part(name) == "diagnostics"
               for target, _, _ in _imports(name) if _part(target) == "runtime"}
    assert reached == {f"{ROOT}.diagnostics.doctor imports {ROOT}.runtime.guards"}
