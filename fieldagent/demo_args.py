"""The arguments of ``fieldagent demo``, apart from the demo's heavy imports.

The ``fieldagent`` parser is built on every invocation (even ``--version``); it must not
load the image synthesis stack (numpy, Pillow) that :mod:`fieldagent.demo` needs.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``fieldagent demo``."""
    p.add_argument("--workdir", default="fieldagent-demo", help="folder for everything (created)")
    p.add_argument("--hours", type=float, default=24.0, help="simulated hours (default 24)")
    p.add_argument("--interval", type=float, default=30.0, help="minutes between images")
    p.add_argument("--cameras", type=int, default=3, choices=(1, 2, 3), help="how many cameras")
    p.add_argument("--width", type=int, default=1600, help="simulated image width in pixels")
    p.add_argument("--seed", type=int, default=7, help="seed of the simulated greenhouse")
    p.add_argument("--no-annotate", action="store_true", help="skip the annotated images")
