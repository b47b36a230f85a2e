"""How a JSON document (alert, heartbeat, model report) is encoded as an object's body.

UTF-8 JSON, keys sorted, no whitespace, non-ASCII escaped: the same document always gives the
same bytes, so its content-derived key is stable. A value JSON cannot hold is written as its
text (``str``), never refused: a document must not be lost to one odd figure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fieldcontract.errors import ContractError


def encode_document(doc: Mapping[str, Any]) -> bytes:
    """The object body of one JSON document."""
    return json.dumps(doc, sort_keys=True, default=str, separators=(",", ":")).encode()


def decode_document(body: bytes, what: str) -> dict[str, Any]:
    """The JSON object in an object body; ``ContractError`` if it is not one."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContractError(f"not JSON ({exc}), so not {what}") from exc
    if not isinstance(doc, dict):
        raise ContractError(f"JSON {type(doc).__name__}, not an object, so not {what}")
    return doc
