"""Errors of the training jobs: bad input the person running the job can fix."""

from __future__ import annotations

from fieldagent.errors import FieldAgentError

MAX_SHOWN = 50  # an agronomist fixes a file top-down; a thousand lines of errors help no one


class TrainingError(FieldAgentError):
    """The job cannot run on this input (lake folder, labels, data sizes, output folder).

    The message says what is wrong, where, and what to do next.
    """


class LabelsError(TrainingError):
    """The labels file has problems; ``problems`` holds one ``file:line: what`` per problem."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_SHOWN]
        more = len(problems) - len(shown)
        super().__init__("\n".join(shown + ([f"... and {more} more"] if more else [])))
        self.problems = problems

