"""The lake's one error type: every cloud job raises it when the lake cannot be read or used."""

from __future__ import annotations

from fieldagent.errors import FieldAgentError


class LakeError(FieldAgentError):
    """The lake cannot be opened or read, or is not in a state this job can work with.

    The message names the place, table or object and says what to do next. Ingest,
    compaction, the analysis, the fleet view, ``cloudjobs query`` and the report all raise
    this one type, so a caller catches "the lake is the problem" in one place.
    """
