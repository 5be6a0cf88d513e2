"""The package's folders follow its data flow: each part imports only from the parts before it.

catalog (archspec's data) -> runtime (shell templates) -> feedstock (generate, build)
-> tools (package managers' facts) -> diagnostics (doctor, explain, matrix, snippet);
the modules at the package's top (cli.py and what every part shares) may import anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "scripts" / "microarch_level"
PARTS = ("catalog", "runtime", "feedstock", "tools", "diagnostics")
SHARED = ("errors", "process", "terminal")  # top-level modules every part may use


def _modules(part: str) -> list[Path]:
    return sorted((PACKAGE / part).glob("*.py"))


def _imported_parts(path: Path) -> set[str]:
    """The top-level names of the package that `path` imports (relative imports resolved)."""
    part_depth = len(path.relative_to(PACKAGE).parts) - 1  # 1 for a module inside a part
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module and node.module.split(".")[0] == "microarch_level":
                    names = node.module.split(".")[1:2] or [a.name for a in node.names]
                    found.update(names)
            elif node.level > part_depth:  # reaches the package's top
                found.update(node.module.split(".")[:1] if node.module else [a.name for a in node.names])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names
                         if a.name.startswith("microarch_level.") and a.name.count(".") >= 1)
    return found


def test_every_module_is_in_a_part_or_shared():
    top = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__", "cli"}
    assert top == set(SHARED)
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(PARTS)


@pytest.mark.parametrize("part", PARTS)
def test_a_part_imports_only_the_parts_before_it(part):
    allowed = set(PARTS[:PARTS.index(part)]) | set(SHARED) | {"__version__"}
    upward = {f"{path.name} imports {name}" for path in _modules(part)
              for name in _imported_parts(path) - allowed - {part}}
    assert not upward, sorted(upward)
