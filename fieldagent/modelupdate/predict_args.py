"""The arguments of ``fieldagent model predict``, apart from the command's heavy imports.

The ``fieldagent`` parser is built on every invocation; it must not load ONNX Runtime.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The command's arguments (also used by the ``fieldagent`` parser)."""
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, ...)")
    p.add_argument("--zones", metavar="CONFIG",
                   help="site config: judge each zone of its camera instead of the whole image")
    p.add_argument("--camera", help="camera id in --zones (default: the first camera)")
    p.add_argument("--model", metavar="DIR",
                   help="model folder (default: the config's model, else the packaged one)")
    p.add_argument("--json", action="store_true", help="one JSON object per image per line")
