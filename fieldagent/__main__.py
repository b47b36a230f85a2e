"""``python -m fieldagent ...``: the same command as the ``fieldagent`` console script.

Useful where the script is not on PATH (a venv not activated, a systemd unit that names
the interpreter).
"""

from fieldagent.cli import main

raise SystemExit(main())
