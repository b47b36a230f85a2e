"""Package attributes imported on first use (PEP 562), so that importing a package's light
modules (its config, as the site config does) loads none of its image or network code:
``fieldagent --version``, ``--help`` and ``status`` stay fast."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, table: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``table`` maps each public name to the
    submodule (relative to ``package``) it lives in; any other name is an AttributeError."""

    def __getattr__(name: str) -> Any:
        if name in table:
            return getattr(importlib.import_module(f"{package}.{table[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
