"""The device-to-cloud contract: what crosses from a field agent to the cloud jobs.

Both sides import this package; it imports neither (a test checks it), only the standard
library (and, for the release manifest alone, pydantic and packaging, see ``manifest``).

* ``keys``: the object key scheme, built and parsed by one definition;
* ``batch``: the signal batch object (header, compression, writer and reader);
* ``records``: every record that crosses (image, zone, alert, heartbeat, model report) as a
  frozen, typed, versioned type with ``to_json``/``from_json``;
* ``manifest``: the model release manifest and its signature document;
* ``version``: ``CONTRACT_VERSION`` and the rule for evolving it (a new optional field is a
  compatible minor; a new major is read side by side with the old ones by the cloud).
"""

from fieldcontract.version import CONTRACT_VERSION, READABLE_MAJORS, ContractVersion

__all__ = ["CONTRACT_VERSION", "READABLE_MAJORS", "ContractVersion"]
