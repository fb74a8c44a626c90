"""The contracts package must install and import on its own, with pydantic only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import passerelle_contracts

PACKAGE = Path(passerelle_contracts.__file__).resolve().parent


def test_contracts_import_only_the_standard_library_and_pydantic() -> None:
    allowed = set(sys.stdlib_module_names) | {"pydantic", "passerelle_contracts"}
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = {node.module.split(".")[0]}
            else:
                continue
            assert roots <= allowed, f"{path.name} imports {roots - allowed}"


def test_the_distribution_declares_pydantic_as_its_only_dependency() -> None:
    text = (PACKAGE.parent / "pyproject.toml").read_text("utf-8")
    assert 'dependencies = ["pydantic>=2.6,<3"]' in text
