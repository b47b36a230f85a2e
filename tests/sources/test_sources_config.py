"""The sources config: the shared section and the per-camera source fields."""

from __future__ import annotations

from datetime import timedelta

import pytest
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ValidationError

from fieldagent.config.site import HttpSource, InboxSource
from fieldagent.sources import SourcesConfig, system_clock


@pytest.mark.parametrize("model", [SourcesConfig, InboxSource, HttpSource])
def test_every_field_is_described_and_numbers_are_bounded(model: type[BaseModel]) -> None:
    for name, field in model.model_fields.items():
        if name == "kind":
            continue
        assert field.description, f"{model.__name__}.{name} has no description"
        if field.annotation in (int, float):
            assert any(isinstance(m, Ge | Gt | Le | Lt) for m in field.metadata), name


def test_a_queue_without_room_or_an_unknown_shed_is_refused() -> None:
    with pytest.raises(ValidationError, match="queue_size"):
        SourcesConfig(queue_size=0)
    with pytest.raises(ValidationError, match="shed"):
        SourcesConfig(shed="drop_all")


def test_extensions_are_normalised_and_checked() -> None:
    cfg = InboxSource(path="/in", extensions=[".JPG", " Tiff "])
    assert cfg.extensions == ("jpg", "tiff")
    with pytest.raises(ValidationError, match="without a dot"):
        InboxSource(path="/in", extensions=["."])


@pytest.mark.parametrize("processed", [".", "./", "/in", "sub/.."])
def test_processed_dir_may_not_be_the_inbox_itself(processed: str) -> None:
    with pytest.raises(ValidationError, match="processed_dir is the inbox itself"):
        InboxSource(path="/in", after="move", processed_dir=processed)


def test_system_clock_is_aware_utc() -> None:
    assert system_clock().utcoffset() == timedelta(0)
