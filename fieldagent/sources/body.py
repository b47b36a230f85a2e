"""Is this HTTP body an image? Cameras answer errors with HTML pages and a 200 status.

A login page, a "stream limit reached" notice or a captive portal must not reach the
analysis as a frame: the technician should read "the camera sent an HTML page titled
'Login'" in the log, not a decoder error. The first bytes decide (magic numbers), with the
declared content type as a fallback for image formats not listed here.
"""

from __future__ import annotations

import html
import mimetypes
import re

_MAGIC = (
    (b"\xff\xd8\xff", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"II*\x00", ".tif"),
    (b"MM\x00*", ".tif"),
    (b"GIF87a", ".gif"),
    (b"GIF89a", ".gif"),
    (b"BM", ".bmp"),
)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


def image_extension(first: bytes, content_type: str) -> str | None:
    """The file extension for a body starting with ``first``, or None if it is not an image.

    ``content_type`` is the media type without parameters, lower case ('' if absent).
    """
    if _looks_like_markup(first) or content_type.startswith("text/"):
        return None
    for magic, ext in _MAGIC:
        if first.startswith(magic):
            return ext
    if first[:4] == b"RIFF" and first[8:12] == b"WEBP":
        return ".webp"
    if content_type.startswith("image/"):
        return mimetypes.guess_extension(content_type) or ".img"
    return None


def describe(first: bytes, content_type: str) -> str:
    """A short, safe description of a body that is not an image, for error messages."""
    if _looks_like_markup(first) or content_type.startswith("text/"):
        title = _TITLE.search(first)
        if title:
            return f"an HTML page titled {_clean(title.group(1))!r}"
        kind = "an HTML page" if _looks_like_markup(first) else f"text ({content_type})"
        return f"{kind} starting {_clean(first)!r}"
    shown = content_type or "no content type"
    return f"{shown}, starting with bytes {first[:8].hex(' ')}"


def _looks_like_markup(first: bytes) -> bool:
    head = first[:1024].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")) or (
        b"<html" in head
    )


def _clean(raw: bytes, limit: int = 80) -> str:
    text = html.unescape(_TAG.sub(" ", raw[:2048].decode("utf-8", "replace")))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
