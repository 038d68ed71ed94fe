"""The house rules that keep the architecture visible: imports point one way, no asserts."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "treadtwin"

#: What each subpackage may import from the others
#: (DESIGN.md: scenarios -> sim -> controllers; the emulator puts the twin behind a port).
ALLOWED = {
    "controllers": set(),
    "sim": {"controllers"},
    "emulator": {"sim", "controllers"},
    "scenarios": {"emulator", "sim", "controllers"},
}


def _modules(subpackage: str) -> list[Path]:
    return sorted((PACKAGE / subpackage).rglob("*.py"))


def _imported_subpackages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    depth = len(path.relative_to(PACKAGE).parts) - 1  # folders below treadtwin/
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and node.module.startswith("treadtwin."):
                found.add(node.module.split(".")[1])
            elif node.level > depth and node.module:  # relative, climbing out of the subpackage
                found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("treadtwin."):
                    found.add(alias.name.split(".")[1])
    return found


@pytest.mark.parametrize("subpackage", sorted(ALLOWED))
def test_imports_point_one_way(subpackage):
    for path in _modules(subpackage):
        others = _imported_subpackages(path) - {subpackage}
        assert others <= ALLOWED[subpackage], f"{path.relative_to(PACKAGE)} imports {others}"


def test_no_assert_statements_in_the_package():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        asserts = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assert)]
        assert not asserts, f"{path.relative_to(PACKAGE)} uses assert at lines {asserts}"


def test_no_global_random_generator():
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "np.random.seed" not in text and "import random" not in text, path
