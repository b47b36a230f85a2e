"""Where everything lives in the lake: the key scheme of curated, rejected and state objects.

::

    raw/<kind>/site=<s>/date=<d>/[camera=<c>/]<HHMMSS>-<digest16><suffix>   the agents' uploads
    curated/<dataset>/site=<s>/date=<d>/part-<txn>.parquet                  Hive-partitioned tables
    rejected/<raw key>  +  rejected/<raw key>.reason.json                     what could not be read
    staging/site=<s>/<txn>/_txn.json  +  staging/site=<s>/<txn>/<curated key> a transaction's files
    state/ingest/site=<s>/log/<seq>.json                                      the commit log
    state/ingest/site=<s>/checkpoint/<seq>.parquet                            the log folded up

One function per key kind, so no module formats a key by hand. The ``raw/`` keys are the
agents' and the cloud's shared contract: ``fieldcontract.keys`` builds and parses them.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime

from fieldcontract.keys import NAME_PATTERN

CURATED = "curated/"
REJECTED = "rejected/"
STAGING = "staging/"
STATE = "state/ingest/"
MANIFEST = "_txn.json"

DATASETS = ("signals", "quality", "alerts", "heartbeats", "images", "model_reports")
"""The curated datasets ``cloudjobs ingest`` writes (docs/lake.md lists their columns)."""

_PART_KEY = re.compile(
    rf"curated/(?P<dataset>[a-z][a-z0-9_]*)/site=(?P<site>{NAME_PATTERN})/"
    r"date=(?P<date>\d{4}-\d{2}-\d{2})/part-(?P<txn>[0-9A-Za-z-]+)\.parquet"
)
_TXN = re.compile(r"(?P<stamp>\d{8}T\d{6}Z)-[0-9a-f]{8}")


def partition_prefix(dataset: str, site: str, day: str) -> str:
    return f"{CURATED}{dataset}/site={site}/date={day}/"


def part_key(dataset: str, site: str, day: str, txn: str) -> str:
    """The curated file one transaction writes into one partition (one per partition)."""
    return f"{partition_prefix(dataset, site, day)}part-{txn}.parquet"


@dataclass(frozen=True)
class PartKey:
    """The parts of a curated part file key."""

    key: str
    dataset: str
    site: str
    date: str
    txn: str


def parse_part_key(key: str) -> PartKey | None:
    """The parts of a curated file key, or None for anything else in ``curated/``."""
    m = _PART_KEY.fullmatch(key)
    return PartKey(key, m["dataset"], m["site"], m["date"], m["txn"]) if m else None


def rejected_key(raw_key: str) -> str:
    return f"{REJECTED}{raw_key}"


def reason_key(raw_key: str) -> str:
    return f"{REJECTED}{raw_key}.reason.json"


def staging_site_prefix(site: str) -> str:
    return f"{STAGING}site={site}/"


def staging_prefix(site: str, txn: str) -> str:
    return f"{staging_site_prefix(site)}{txn}/"


def staged_key(site: str, txn: str, final_key: str) -> str:
    return f"{staging_prefix(site, txn)}{final_key}"


def manifest_key(site: str, txn: str) -> str:
    return f"{staging_prefix(site, txn)}{MANIFEST}"


def log_prefix(site: str) -> str:
    return f"{STATE}site={site}/log/"


def log_key(site: str, seq: int) -> str:
    return f"{log_prefix(site)}{seq:010d}.json"


def checkpoint_prefix(site: str) -> str:
    return f"{STATE}site={site}/checkpoint/"


def checkpoint_key(site: str, seq: int) -> str:
    return f"{checkpoint_prefix(site)}{seq:010d}.parquet"


def seq_of(key: str) -> int | None:
    """The sequence number in a log or checkpoint key, None if the name is not one."""
    stem = key.rsplit("/", 1)[-1].split(".", 1)[0]
    return int(stem) if stem.isdigit() and len(stem) == 10 else None


def new_txn(now: datetime) -> str:
    """A transaction id: its start time (sortable, tells the age of leftovers) + randomness."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def txn_started(txn: str) -> datetime | None:
    """When a transaction started, from its id; None if the id is not one of ours."""
    m = _TXN.fullmatch(txn)
    if m is None:
        return None
    return datetime.strptime(m["stamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def day_of(when: datetime) -> str:
    """The UTC date partition of a time."""
    return when.astimezone(UTC).date().isoformat()


def parse_day(text: str) -> date:
    """A ``YYYY-MM-DD`` option value, with a message a person can act on."""
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"date {text!r} is not like 2024-05-31") from exc
