"""Offload policies: what the agent keeps, what it sends first, and within which limits.

``load_policy("default")`` reads a built-in policy, ``load_policy("site/policy.yaml")`` a file;
both raise :class:`fieldagent.errors.ConfigError` listing every problem as
``file: key.path: value: what is wrong``.
"""

from fieldagent.policy.loader import (
    builtin_names,
    check_policy,
    load_policy,
    policy_check_main,
    resolve_policy,
)
from fieldagent.policy.model import KINDS, ClassPolicy, Policy

__all__ = [
    "KINDS",
    "ClassPolicy",
    "Policy",
    "builtin_names",
    "check_policy",
    "load_policy",
    "policy_check_main",
    "resolve_policy",
]
