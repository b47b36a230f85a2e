"""The one error the contract raises: something does not follow it.

``ContractError`` is a ``ValueError``: a key, batch or document that breaks the contract is
bad input, and callers that already treat ``ValueError`` as "bad input, set it aside" (the
lake's ingest, the config checks) need no new ``except``. The message is a sentence that
names the field and says what it should be.
"""

from __future__ import annotations


class ContractError(ValueError):
    """A key, batch or record does not follow the device-to-cloud contract."""


class UnsupportedVersion(ContractError):
    """The object was written under a contract major version this reader has no reader for.

    It is not broken: keep it (the lake leaves it in ``raw/``) for a reader that knows it.
    """

    def __init__(self, what: str, version: object, readable: frozenset[int]) -> None:
        super().__init__(f"{what} version {version!r} is not supported (this reader knows "
                         f"{sorted(readable)})")
        self.version = version
