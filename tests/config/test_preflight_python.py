"""The agent's preflight refuses an interpreter older than Python 3.11, in plain words."""

from __future__ import annotations

import sys

from fieldagent.config.preflight import python_problems


def test_this_interpreter_passes() -> None:
    assert python_problems() == []
    assert python_problems((3, 11, 0)) == []
    assert python_problems((3, 13, 1)) == []


def test_python_3_10_is_refused_with_what_to_do() -> None:
    (problem,) = python_problems((3, 10, 12))
    assert problem.startswith(f"{sys.executable}: Python 3.10.12: ")
    assert "needs Python 3.11 or newer" in problem
    assert "python3.11 -m venv" in problem
