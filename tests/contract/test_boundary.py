"""The contract package imports neither side: both import it, so it must stay a leaf.

An AST walk over every module (imports inside functions too): only the standard library,
the package itself, and two named exceptions (the release manifest's pydantic and packaging,
see ``fieldcontract.manifest``; zstandard, imported only when a batch is zstd).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import fieldcontract
import fieldcontract.records.heartbeat as heartbeat_module
from fieldcontract.records.heartbeat import FIELDS

PACKAGE = Path(fieldcontract.__file__).parent
ALLOWED = {"manifest.py": {"pydantic", "packaging"}, "batch.py": {"zstandard"}}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_contract_imports_only_the_standard_library_and_itself() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 8
    for path in modules:
        foreign = _imports(path) - sys.stdlib_module_names - {"fieldcontract"}
        assert foreign <= ALLOWED.get(path.name, set()), f"{path.relative_to(PACKAGE)}: {foreign}"


def test_the_heartbeat_table_documents_exactly_the_fields() -> None:
    table = (heartbeat_module.__doc__ or "").split("Fields\n------\n", 1)[1]
    documented = {line.split("``")[1] for line in table.splitlines() if line.startswith("``")}
    assert documented == FIELDS
