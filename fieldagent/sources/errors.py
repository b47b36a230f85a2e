"""What can go wrong while getting frames from a camera, in words a technician can act on.

``CameraUnreachable`` means "no frame this time": the service logs it, counts it in the
camera's health and tries again at the next interval. ``InboxUnavailable`` means the inbox
folder itself cannot be used (missing, not a folder, no permission): nothing will arrive
until someone fixes the folder.
"""

from __future__ import annotations

from fieldagent.errors import FieldAgentError


class SourceError(FieldAgentError):
    """Base of every error an image source raises on purpose."""


class CameraUnreachable(SourceError):
    """A snapshot could not be fetched.

    ``reason`` is a short code for logs and counters (``timeout``, ``connection``, ``tls``,
    ``unauthorized``, ``http_status``, ``not_an_image``, ``too_large``, ``io``); the
    message names the camera, the URL without credentials and the cause.
    """

    def __init__(self, message: str, *, camera: str, url: str, reason: str) -> None:
        super().__init__(message)
        self.camera = camera
        self.url = url
        self.reason = reason


class InboxUnavailable(SourceError):
    """The inbox folder cannot be created, listed or written to."""
