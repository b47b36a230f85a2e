"""Commands sit on top: no part of the agent imports a command module.

A command module (argument parsing, printing for people) is where a reader looks last for
something the agent needs; when core code imported ``outbox_cli`` to learn the data
folder's file names, the layout had two owners. File names live in
``fieldagent.datadir``; the commands import the parts, never the other way round.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.project.test_project_imports import imports

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = frozenset({
    "fieldagent.cli", "fieldagent.outbox_cli", "fieldagent.modelupdate.cli",
    "fieldagent.service.status", "fieldagent.__main__",
})
"""The modules behind ``fieldagent <command>`` (and ``python -m fieldagent``) that only
print for people."""
MAY_IMPORT_COMMANDS = COMMANDS | {"fieldagent.demo"}
"""The commands themselves, and the demo, which prints the status screen."""


def command_imports(source: str, module: str) -> list[str]:
    """``module:line: imports <command>`` for each command module ``source`` imports."""
    if module in MAY_IMPORT_COMMANDS:
        return []
    found = []
    for line, imported, name in imports(source):
        targets = {imported, f"{imported}.{name}" if name else imported}
        for command in sorted(targets & COMMANDS):
            found.append(f"{module}:{line}: imports {command}")
    return found


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def test_no_part_of_the_agent_imports_a_command() -> None:
    files = sorted((ROOT / "fieldagent").rglob("*.py"))
    assert {_module(p) for p in files} >= COMMANDS  # the walk found the commands
    assert [v for p in files for v in command_imports(p.read_text(), _module(p))] == []


@pytest.mark.parametrize(("source", "module", "caught"), [
    ("from fieldagent.outbox_cli import data_dir", "fieldagent.service.agent", True),
    ("def f():\n    from fieldagent.modelupdate.cli import x", "fieldagent.sinks.store", True),
    ("from fieldagent import cli", "fieldagent.pipeline", True),
    ("from fieldagent.outbox_cli import outbox_report", "fieldagent.service.status", False),
    ("from fieldagent.datadir import DataDir", "fieldagent.service.agent", False),
])
def test_a_planted_command_import_is_caught(source: str, module: str, caught: bool) -> None:
    assert bool(command_imports(source, module)) is caught
