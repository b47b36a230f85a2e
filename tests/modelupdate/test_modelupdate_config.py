"""The model_update config section and what the agent builds from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from annotated_types import Ge, Gt, Le, Lt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from fieldagent.config.secrets import SecretStore
from fieldagent.errors import ConfigError
from fieldagent.modelupdate.config import (
    ModelUpdateConfig,
    device_id,
    device_limits,
    load_trusted_keys,
    open_channel_from_config,
)
from fieldagent.modelupdate.signing import key_id, public_key_b64, public_pem


def test_every_field_is_described_and_numbers_are_bounded() -> None:
    for name, field in ModelUpdateConfig.model_fields.items():
        assert field.description, name
        if field.annotation in (int, float):
            assert any(isinstance(m, Ge | Gt | Le | Lt) for m in field.metadata), name


def test_defaults_are_valid_and_disabled() -> None:
    assert not ModelUpdateConfig().enabled


@pytest.mark.parametrize(("data", "needle"), [
    ({"enabled": True, "trusted_keys": ["k"]}, "no channel"),
    ({"enabled": True, "channel": "file:///c"}, "trusted_keys"),
    ({"channel": "http://x"}, "pattern"),
    ({"device": "Dev/1"}, "device id"),
    ({"poll_interval_seconds": 1}, "greater than or equal"),
    ({"surprise": 1}, "Extra inputs"),
])
def test_bad_sections_are_refused(data: dict, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        ModelUpdateConfig.model_validate(data)


def test_trusted_keys_from_files_and_inline(tmp_path: Path) -> None:
    a, b = Ed25519PrivateKey.generate().public_key(), Ed25519PrivateKey.generate().public_key()
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "a.pub.pem").write_bytes(public_pem(a))
    config = ModelUpdateConfig(trusted_keys=["keys/a.pub.pem", public_key_b64(b)])
    keys = load_trusted_keys(config, relative_to=tmp_path)
    assert set(keys) == {key_id(a), key_id(b)}


def test_every_bad_trusted_key_is_reported(tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("hello")
    config = ModelUpdateConfig(trusted_keys=["missing.pem", "junk.pem"])
    with pytest.raises(ConfigError) as info:
        load_trusted_keys(config, relative_to=tmp_path)
    first, second = info.value.problems
    assert "trusted_keys[0]" in first and "cannot read" in first
    assert "trusted_keys[1]" in second and "public key" in second


def test_device_id_is_the_sections_else_the_sites() -> None:
    assert device_id(ModelUpdateConfig(device="dev-7"), "agent-1") == "dev-7"
    assert device_id(ModelUpdateConfig(), "agent-1") == "agent-1"


def test_device_limits_come_from_the_section() -> None:
    limits = device_limits(ModelUpdateConfig(health_window_seconds=120, max_error_rate=0.3,
                                             max_boots=5))
    assert (limits.window_seconds, limits.max_error_rate, limits.max_boots) == (120, 0.3, 5)


def test_channel_from_config_takes_credentials_from_the_secrets_entry(tmp_path: Path) -> None:
    (tmp_path / "chan").mkdir()
    (tmp_path / "chan" / "manifest.json").write_text("{}")
    for url in (f"file://{tmp_path}/chan", "file://chan", "file://./chan"):
        local = open_channel_from_config(ModelUpdateConfig(channel=url), SecretStore(), tmp_path)
        assert local.get("manifest.json") == b"{}", url
    with pytest.raises(ConfigError, match="no such secrets entry"):
        open_channel_from_config(ModelUpdateConfig(channel="s3://bucket/x", secret="s3"),
                                 SecretStore(environ={}), tmp_path)
    secrets = SecretStore({"s3": {"access_key_id": "a", "secret_access_key": "b",
                                  "note": "ignored"}}, environ={})
    s3 = open_channel_from_config(
        ModelUpdateConfig(channel="s3://bucket/stable", secret="s3",
                          endpoint_url="http://127.0.0.1:9"), secrets, tmp_path)
    assert s3.name == "s3://bucket/stable/"
    with pytest.raises(ConfigError, match="channel"):
        open_channel_from_config(ModelUpdateConfig(), SecretStore(), tmp_path)
