"""The long-running agent: ``fieldagent run`` (see ``agent.py`` and ``runner.py``)."""
