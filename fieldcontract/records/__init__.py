"""Every record that crosses from a device to the cloud, as a frozen, typed, versioned type.

Each has ``to_json()`` (the JSON object as it goes over the wire, byte for byte what the
agents have always sent once encoded) and ``from_json()`` (the cloud's reader: it applies
the rules in ``values``, raises ``ContractError`` naming the bad field, and keeps fields a
newer minor added in ``extra``, so nothing is lost). ``VERSION`` is the contract major the
type reads and writes (see ``fieldcontract.version`` for the evolution rule).

* ``ImageRecord``, ``ZoneRecord``: the lines of a signal batch (``signals``);
* ``AlertRecord``: one alert transition (``alert``);
* ``Heartbeat``: the device's report on itself (``heartbeat``);
* ``ModelReport``: what the model updater did (``model-report``).
"""

from fieldcontract.records.alert import AlertRecord
from fieldcontract.records.document import decode_document, encode_document
from fieldcontract.records.heartbeat import Heartbeat
from fieldcontract.records.model_report import ModelReport
from fieldcontract.records.signals import (
    ImageRecord,
    ModelOutputRecord,
    SampleRef,
    SignalRecord,
    ZoneRecord,
    read_signal_record,
    record_type,
)

__all__ = [
    "AlertRecord",
    "Heartbeat",
    "ImageRecord",
    "ModelOutputRecord",
    "ModelReport",
    "SampleRef",
    "SignalRecord",
    "ZoneRecord",
    "decode_document",
    "encode_document",
    "read_signal_record",
    "record_type",
]
