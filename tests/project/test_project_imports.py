"""The agent and the cloud jobs rely only on other packages' public interfaces.

A private module (a dotted name with a part that starts with ``_``) or a private name
imported from another package can change in any patch release: watchdog 7.1.1 changed
``watchdog.observers.inotify_c`` and turned a green main red without a commit. Every
import statement in ``fieldagent`` and ``cloudjobs`` is read (inside functions and
``TYPE_CHECKING`` blocks too, and ``importlib.import_module`` with a literal name).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OWN = ("fieldagent", "cloudjobs")
KNOWN_PRIVATE = frozenset({"watchdog.observers.inotify_c"})
"""Modules documented nowhere although their names look public."""


def imports(source: str) -> Iterator[tuple[int, str, str | None]]:
    """(line, module, name or None) for each absolute import in ``source``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                yield node.lineno, node.module, alias.name
        elif (isinstance(node, ast.Call) and _called(node.func) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            yield node.lineno, node.args[0].value, None


def _called(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def private_use(module: str, name: str | None) -> str | None:
    """Why importing ``name`` from ``module`` relies on another package's internals."""
    if module == "__future__" or module.split(".")[0] in OWN:
        return None
    parts = module.split(".")
    if any(p.startswith("_") for p in parts):
        return f"{module} is a private module"
    for target in (module, f"{module}.{name}" if name else module):
        for known in KNOWN_PRIVATE:
            if target == known or target.startswith(known + "."):
                return f"{target} is an undocumented internal module"
    if name is not None and name.startswith("_") and not name.startswith("__"):
        return f"{name} is a private name of {module}"
    return None


def violations(source: str, where: str) -> list[str]:
    out = []
    for line, module, name in imports(source):
        why = private_use(module, name)
        if why is not None:
            out.append(f"{where}:{line}: {why}")
    return out


def _sources() -> list[Path]:
    return sorted(p for pkg in OWN for p in (ROOT / pkg).rglob("*.py"))


def test_no_code_of_ours_imports_another_packages_private_modules() -> None:
    files = _sources()
    assert len(files) > 100  # the walk found the packages
    found = [v for p in files for v in violations(p.read_text(), str(p.relative_to(ROOT)))]
    assert found == []


@pytest.mark.parametrize(("source", "expected"), [
    ("from watchdog.observers import inotify_c", "undocumented internal"),
    ("from watchdog.observers.inotify_c import InotifyFD", "undocumented internal"),
    ("import watchdog.observers.inotify_c as c", "undocumented internal"),
    ("def f():\n    from pyarrow._fs import FileSystem", "private module"),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import numpy._typing",
     "private module"),
    ("from onnxruntime.capi import _pybind_state", "private name"),
    ("import importlib\nimportlib.import_module('skimage._shared.utils')", "private module"),
    ("from fieldagent.sources.notify import _Watches", None),  # our own internals
    ("from __future__ import annotations", None),
    ("from dataclasses import dataclass", None),
])
def test_a_planted_private_import_is_caught(source: str, expected: str | None) -> None:
    found = violations(source, "planted.py")
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0] and found[0].startswith("planted.py:")

