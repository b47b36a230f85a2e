"""Find, read and check policy files; every problem as ``file: key.path: value: what is wrong``.

A bare name ("default") is a built-in policy shipped in the package
(``fieldagent/policy/builtin/``, the same files as ``policies/`` in the repository); anything
that looks like a path is read from disk.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fieldagent.config.loader import (
    NO_LINES,
    YamlIndex,
    did_you_mean,
    format_error,
    parse_yaml,
    read_text,
)
from fieldagent.errors import ConfigError
from fieldagent.policy.checks import PolicyProblem, PolicyProblems
from fieldagent.policy.model import STEP_NAMES, Policy
from fieldagent.policy.removed import drop_removed

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_INDEX = re.compile(r"\[(\d+)\]")
_UNKNOWN_KEY = "unknown key (check the spelling; every key is explained in policies/default.yaml)"


def builtin_names() -> list[str]:
    """Names of the policies shipped with the agent."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def resolve_policy(name_or_path: str | os.PathLike[str], relative_to: Path | None = None) -> Path:
    """A bare name means a built-in policy; a path is taken relative to ``relative_to``
    (e.g. the site config's folder) when it is not absolute."""
    text = os.fspath(name_or_path)
    if _NAME.match(text) and not text.endswith((".yaml", ".yml")):
        path = BUILTIN_DIR / f"{text}.yaml"
        if not path.is_file():
            known = ", ".join(builtin_names()) or "none found"
            close = difflib.get_close_matches(text, builtin_names(), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError([
                f"{text}: no built-in policy of that name; {hint}(built-ins: {known}); "
                "give a name or the path of a policy YAML file"
            ])
        return path
    path = Path(text).expanduser()
    return path if path.is_absolute() or relative_to is None else relative_to / path


def load_policy(name_or_path: str | os.PathLike[str], relative_to: Path | None = None) -> Policy:
    """Read, validate and cross-check one policy; raise ConfigError listing every problem."""
    path = resolve_policy(name_or_path, relative_to)
    text = read_text(path)
    return validate_policy(parse_yaml(text, str(path)), str(path), YamlIndex.of_text(text))


def validate_policy(data: Any, source: str, lines: YamlIndex = NO_LINES) -> Policy:
    """Validate parsed YAML as a Policy, reporting each problem on its own line."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: (top level): {data!r:.60}: expected a mapping of keys"])
    data = drop_removed(data, source, lines)
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([line for e in exc.errors()
                           for line in _lines(source, e, lines)]) from None


def check_policy(name_or_path: str | os.PathLike[str]) -> list[str]:
    """Every problem of one policy file (empty when it is fine)."""
    try:
        load_policy(name_or_path)
    except ConfigError as exc:
        return exc.problems
    return []


def policy_check_main(files: list[str]) -> int:
    """``fieldagent policy check FILE...``: problems to stdout, a summary per good file to
    stderr; exit status 1 if any file has a problem, else 0."""
    problems: list[str] = []
    for f in files:
        found = check_policy(f)
        problems.extend(found)
        if not found:
            print(f"{f}: ok", file=sys.stderr)
    for line in problems:
        print(line)
    return 1 if problems else 0


def _lines(source: str, err: Any, lines: YamlIndex = NO_LINES) -> list[str]:
    """One pydantic error as report lines; the cross-field checks carry several problems."""
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, PolicyProblems):
        return [_problem_line(source, p, lines) for p in cause.problems]
    if isinstance(cause, PolicyProblem):
        return [_problem_line(source, cause, lines)]
    loc = tuple(part for part in err.get("loc", ()) if part not in STEP_NAMES)
    if err.get("type") == "extra_forbidden":
        hint = did_you_mean(Policy, loc)
        err = {**err, "type": "policy", "msg": _UNKNOWN_KEY.replace(
            "unknown key", "unknown key" + hint, 1)}
    return [format_error(source, {**err, "loc": loc}, lines)]


def _problem_line(source: str, problem: PolicyProblem, lines: YamlIndex = NO_LINES) -> str:
    loc: list[str | int] = []
    for part in problem.path.split("."):
        name, *indexes = _INDEX.split(part)
        loc.append(name)
        loc.extend(int(i) for i in indexes if i)
    err = {"loc": tuple(loc), "msg": problem.message, "input": problem.value, "type": "policy"}
    return format_error(source, err, lines)
