"""Why a model release was not installed, as a short code plus a sentence for people.

The updater turns every refusal into a ``model_report`` with the code, so the fleet admin
can count refusals by reason across sites (``cloudjobs release-outcomes``).
"""

from __future__ import annotations

from fieldagent.errors import FieldAgentError


class ManifestRejected(FieldAgentError):
    """A release (its manifest, signature or artifacts) was refused; nothing was changed.

    ``reason`` is a short code: ``unsigned``, ``bad_signature``, ``unknown_key``,
    ``malformed``, ``unsupported_schema``, ``wrong_model``, ``expired``, ``older``,
    ``agent_too_old``, ``not_in_rollout``, ``rejected_before``, ``artifact_missing``,
    ``artifact_corrupt``, ``inconsistent``, ``load_failed``, ``golden_mismatch``,
    ``too_slow``. The message says what happened and what to do.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class ModelStoreError(FieldAgentError):
    """The on-device model store cannot be used (unwritable folder, missing slot)."""
