"""Who may import whom (docs/architecture.md): runtime code never reaches build-time code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Folder -> top-level packages its modules must never import.
FORBIDDEN = {
    "functions": {"aws_cdk", "constructs", "cdk_nag", "patterns", "localcloud", "tests"},
    "shared": {"aws_cdk", "constructs", "cdk_nag", "patterns", "localcloud", "tests"},
    "localcloud": {"patterns", "functions", "shared", "scenarios", "tests"},
    "patterns": {"functions", "shared", "localcloud", "tests"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_imports_respect_the_layers(folder):
    breaches = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[folder])
        for path in (ROOT / folder).rglob("*.py")
    }
    assert {path: names for path, names in breaches.items() if names} == {}
