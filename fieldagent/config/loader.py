"""Load and check YAML config files, reporting every problem as
``file: key.path: value: what is wrong``."""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Hashable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import PydanticJsonSchemaWarning

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


class YamlIndex:
    """Where each key and item of a YAML document starts, for ``line N`` in messages."""

    def __init__(self, root: yaml.Node | None) -> None:
        self._root = root

    @classmethod
    def of_text(cls, text: str) -> YamlIndex:
        try:
            return cls(yaml.compose(text, Loader=_StrictLoader))
        except yaml.YAMLError:
            return cls(None)

    def line(self, loc: tuple[Any, ...]) -> int | None:
        """1-based line of the deepest node of ``loc`` that exists (None: no document)."""
        node, line = self._root, None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                hit = [(k, v) for k, v in node.value if k.value == str(part)]
                if not hit:
                    if part in _UNION_TAGS:
                        continue
                    break
                key, node = hit[0]
                line = key.start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    break
                node = node.value[part]
                line = node.start_mark.line + 1
            elif part in _UNION_TAGS:
                continue
            else:
                break
        if line is None and node is not None:
            line = node.start_mark.line + 1
        return line


NO_LINES = YamlIndex(None)


def read_text(path: str | os.PathLike[str]) -> str:
    """A config file's text, turning read errors into a ConfigError."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{p}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{p}: cannot read the file: {exc}"]) from exc


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text, turning syntax errors into a ConfigError with line and column."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{source}: {where}: YAML syntax: {problem}"]) from exc


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """Parse a YAML file, turning read and syntax errors into a ConfigError."""
    return parse_yaml(read_text(path), str(path))


def validate(model: type[M], data: Any, source: str, lines: YamlIndex = NO_LINES) -> M:
    """Validate ``data`` against ``model``; raise ConfigError listing every problem."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: (top level): {_show(data)}: expected a mapping of keys"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([format_error(source, e, lines, model)
                           for e in exc.errors()]) from None


def load(model: type[M], path: str | os.PathLike[str]) -> M:
    """Read and validate one YAML file."""
    text = read_text(path)
    return validate(model, parse_yaml(text, str(path)), str(path), YamlIndex.of_text(text))


def format_problem(source: str, loc: tuple[Any, ...], value: Any, why: str,
                   lines: YamlIndex = NO_LINES) -> str:
    """A problem found after validation, in the same ``file: key.path: value: why`` form."""
    return f"{source}: {_key_path(loc)}: {_show(value)}: {why}{_at_line(lines, loc)}"


def format_error(source: str, err: Any, lines: YamlIndex = NO_LINES,
                 model: type[BaseModel] | None = None) -> str:
    """One pydantic error as ``file: key.path: value: what is wrong (line N)``."""
    raw_loc = tuple(err.get("loc", ()))
    loc = _key_path(raw_loc)
    msg = str(err.get("msg", "invalid"))
    if err.get("type") == "extra_forbidden":
        msg = "unknown key" + did_you_mean(model, raw_loc) + " (see `fieldagent config schema`)"
    elif err.get("type") == "missing":
        msg = "required key is missing"
    msg = msg.removeprefix("Value error, ")
    value = _show(err.get("input"))
    return f"{source}: {loc or '(top level)'}: {value}: {msg}{_at_line(lines, raw_loc)}"


def _at_line(lines: YamlIndex, loc: tuple[Any, ...]) -> str:
    """' (line N)': where the key is in the file, for an editor."""
    line = lines.line(loc)
    return f" (line {line})" if line else ""


def did_you_mean(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> str:
    """'; did you mean 'settle_seconds'?' for a misspelled key, from the model's schema."""
    if model is None or not loc:
        return ""
    keys = known_keys(json_schema(model), loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), keys, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema (defaults that JSON cannot hold, such as durations, are
    left out of it rather than warned about)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PydanticJsonSchemaWarning)
        return model.model_json_schema()


def known_keys(schema: dict[str, Any], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at ``loc`` (a pydantic error location) by a JSON schema."""
    defs = schema.get("$defs", {})
    node: dict[str, Any] = schema
    for part in loc:
        node = _resolve(node, defs, part)
        if isinstance(part, int):
            node = node.get("items", {})
        elif part in node.get("properties", {}):
            node = node["properties"][part]
        elif part not in _UNION_TAGS:
            return []
    return list(_resolve(node, defs, None).get("properties", {}))


def _resolve(node: dict[str, Any], defs: dict[str, Any], part: Any) -> dict[str, Any]:
    """Follow $ref, and pick the union member that ``part`` (a tag or a key) belongs to."""
    for _ in range(10):
        if "$ref" in node:
            node = defs.get(node["$ref"].rsplit("/", 1)[-1], {})
            continue
        variants = node.get("oneOf") or node.get("anyOf")
        if not variants:
            return node
        mapping = (node.get("discriminator") or {}).get("mapping", {})
        if part in mapping:
            node = defs.get(mapping[part].rsplit("/", 1)[-1], {})
            continue
        real = [v for v in variants if v.get("type") != "null"]
        fit = [v for v in real if part in _resolve(v, defs, None).get("properties", {})]
        node = (fit or real or [{}])[0]
    return node


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
