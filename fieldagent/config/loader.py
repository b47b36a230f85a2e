"""Load and check YAML config files, reporting every problem as
``file: key.path: value: what is wrong``."""

from __future__ import annotations

import os
from collections.abc import Hashable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from fieldagent.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Hashable, Any]:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """Parse a YAML file, turning read and syntax errors into a ConfigError."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{p}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{p}: cannot read the file: {exc}"]) from exc
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{p}: {where}: YAML syntax: {problem}"]) from exc


def validate(model: type[M], data: Any, source: str) -> M:
    """Validate ``data`` against ``model``; raise ConfigError listing every problem."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: (top level): {_show(data)}: expected a mapping of keys"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([format_error(source, e) for e in exc.errors()]) from None


def load(model: type[M], path: str | os.PathLike[str]) -> M:
    """Read and validate one YAML file."""
    return validate(model, read_yaml(path), str(path))


def format_problem(source: str, loc: tuple[Any, ...], value: Any, why: str) -> str:
    """A problem found after validation, in the same ``file: key.path: value: why`` form."""
    return f"{source}: {_key_path(loc)}: {_show(value)}: {why}"


def format_error(source: str, err: Any) -> str:
    """One pydantic error as ``file: key.path: value: what is wrong``."""
    loc = _key_path(err.get("loc", ()))
    msg = str(err.get("msg", "invalid"))
    if err.get("type") == "extra_forbidden":
        msg = "unknown key (check the spelling; see `fieldagent check-config --help`)"
    elif err.get("type") == "missing":
        msg = "required key is missing"
    msg = msg.removeprefix("Value error, ")
    return f"{source}: {loc or '(top level)'}: {_show(err.get('input'))}: {msg}"


def _key_path(loc: tuple[Any, ...]) -> str:
    """('cameras', 0, 'zones', 1, 'grid', 'rows') -> 'cameras[0].zones[1].rows'.

    Tagged-union members appear in pydantic's path as their tag; they are
    not keys the user wrote, so they are left out.
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _UNION_TAGS:
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


_UNION_TAGS = {"rect", "polygon", "grid", "inbox", "http", "files", "function-after"}


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "{...}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
