"""Finding sites and their raw objects by folder, without listing the whole lake."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from cloudjobs.lake.parse import KNOWN_KINDS
from cloudjobs.store import ObjectInfo, ObjectStore
from fieldcontract import keys


def raw_kinds(store: ObjectStore) -> list[str]:
    """Every kind folder under ``raw/``."""
    return [d[len(keys.RAW):].rstrip("/") for d in store.list_dirs(keys.RAW)]


def discover_sites(store: ObjectStore) -> list[str]:
    """Sites with raw objects of any kind (from ``raw/<kind>/site=<s>/`` folders)."""
    sites: set[str] = set()
    for kind in raw_kinds(store):
        prefix = f"{keys.kind_prefix(kind)}site="
        for folder in store.list_dirs(keys.kind_prefix(kind)):
            if folder.startswith(prefix):
                sites.add(folder[len(prefix):].rstrip("/"))
    return sorted(sites)


@dataclass(frozen=True)
class RawListing:
    """A site's raw objects of the kinds the ingest reads, and the kinds it left alone."""

    objects: tuple[ObjectInfo, ...]
    unknown_kinds: tuple[str, ...]


def list_raw(store: ObjectStore, site: str, since: date | None = None) -> RawListing:
    """The site's raw objects, only from date folders on or after ``since`` if given."""
    kinds = raw_kinds(store)
    known = [k for k in kinds if k in KNOWN_KINDS]
    objects = [o for kind in known for o in _list_kind(store, kind, site, since)]
    return RawListing(tuple(objects), tuple(k for k in kinds if k not in KNOWN_KINDS))


def _list_kind(
    store: ObjectStore, kind: str, site: str, since: date | None
) -> Iterator[ObjectInfo]:
    prefix = keys.site_prefix(kind, site)
    if since is None:
        yield from store.list(prefix)
        return
    for folder in store.list_dirs(prefix):
        day = folder[len(prefix):].rstrip("/").removeprefix("date=")
        if day >= since.isoformat():
            yield from store.list(folder)
