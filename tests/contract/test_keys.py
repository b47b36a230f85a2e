"""The object key scheme is a contract with the cloud side: pin it down exactly, and check
that the one definition parses back every key it builds."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from fieldcontract import keys
from fieldcontract.keys import check_name, object_key, parse_raw_key

DIGEST = hashlib.sha256(b"frame bytes").hexdigest()
WHEN = datetime(2026, 5, 1, 6, 30, 5, tzinfo=UTC)


def test_the_key_layout() -> None:
    key = object_key("image", "farm-01", WHEN, DIGEST, suffix=".jpg", camera="cam2")
    assert key == f"raw/image/site=farm-01/date=2026-05-01/camera=cam2/063005-{DIGEST[:16]}.jpg"


def test_site_wide_objects_have_no_camera_partition() -> None:
    key = object_key("heartbeat", "farm-01", WHEN, DIGEST, suffix=".json.gz")
    assert key == f"raw/heartbeat/site=farm-01/date=2026-05-01/063005-{DIGEST[:16]}.json.gz"


def test_the_date_is_utc_whatever_the_local_zone() -> None:
    local = WHEN.astimezone(timezone(timedelta(hours=-7)))  # 23:30 the day before
    assert local.day == 30
    assert object_key("image", "s", local, DIGEST, suffix=".jpg") == object_key(
        "image", "s", WHEN, DIGEST, suffix=".jpg"
    )


def test_same_content_same_key_other_content_other_key() -> None:
    other = hashlib.sha256(b"other frame").hexdigest()
    a = object_key("image", "s", WHEN, DIGEST, suffix=".jpg")
    assert a == object_key("image", "s", WHEN, DIGEST, suffix=".jpg")
    assert a != object_key("image", "s", WHEN, other, suffix=".jpg")


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("site", {"site": "Farm"}),
        ("site", {"site": "a/b"}),
        ("site", {"site": "a=b"}),
        ("site", {"site": ""}),
        ("camera", {"camera": "cam.1"}),
        ("kind", {"kind": "1image"}),
        ("digest", {"digest": "XYZ"}),
        ("digest", {"digest": DIGEST[:8]}),
        ("suffix", {"suffix": "jpg"}),
        ("suffix", {"suffix": ".j/pg"}),
        ("time zone", {"when": datetime(2026, 5, 1, 6, 30)}),
    ],
)
def test_bad_parts_are_refused_with_a_reason(field: str, kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {
        "kind": "image", "site": "s", "when": WHEN, "digest": DIGEST, "suffix": ".jpg",
    }  # fmt: skip
    args.update(kwargs)
    with pytest.raises(ValueError, match=field):
        object_key(**args)  # type: ignore[arg-type]


def test_check_name_is_usable_by_config_validation() -> None:
    assert check_name("site", "greenhouse_3") == "greenhouse_3"
    with pytest.raises(ValueError, match="lower-case"):
        check_name("camera", "Cam 1")


@pytest.mark.parametrize("kind", keys.KINDS)
@pytest.mark.parametrize("camera", [None, "cam-2"])
def test_every_kind_parses_back_into_what_built_it(kind: str, camera: str | None) -> None:
    suffix = {keys.SIGNALS: ".ndjson.gz", keys.IMAGE: ".jpg", keys.EVIDENCE: ".jpg"}.get(
        kind, ".json")
    key = object_key(kind, "farm-01", WHEN, DIGEST, suffix=suffix, camera=camera)
    raw = parse_raw_key(key)
    assert (raw.key, raw.kind, raw.site, raw.camera, raw.when, raw.digest, raw.suffix) == (
        key, kind, "farm-01", camera, WHEN.replace(microsecond=0), DIGEST[:16], suffix)
    assert raw.date == "2026-05-01" and raw.hms == "063005"
    assert raw.is_image == (kind in keys.IMAGE_KINDS)
    assert key.startswith(keys.site_prefix(kind, "farm-01"))


@pytest.mark.parametrize(("key", "needle"), [
    ("raw/alert/site=east/date=2024-05-06/notes.txt", "raw key scheme"),
    ("raw/image/site=East/date=2024-05-06/063005-0123456789abcdef.jpg", "raw key scheme"),
    ("raw/image/site=e/date=2024-02-30/063005-0123456789abcdef.jpg", "impossible date"),
    ("raw/image/site=e/date=2024-05-06/256161-0123456789abcdef.jpg", "impossible date"),
    ("curated/signals/site=e/date=2024-05-06/part-x.parquet", "raw key scheme"),
])
def test_keys_outside_the_scheme_are_refused_with_a_reason(key: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        parse_raw_key(key)
