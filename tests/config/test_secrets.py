"""The secrets file: entries by name, env overrides, errors that name file, entry and field
but never a value."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldagent.config.secrets import SecretStore
from fieldagent.errors import ConfigError


def _write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    p = tmp_path / "secrets.yaml"
    p.write_text(text)
    p.chmod(mode)
    return p


def test_entries_and_fields_are_read(tmp_path: Path) -> None:
    store = SecretStore.load(_write(tmp_path, "cam2: {username: admin, password: s3cr3t}\n"),
                             environ={})
    assert store.get("cam2") == {"username": "admin", "password": "s3cr3t"}
    assert store.field("cam2", "password") == "s3cr3t"
    assert store.names() == ["cam2"]


def test_environment_overrides_one_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "s3-main: {access_key_id: a, secret_access_key: b}\n")
    store = SecretStore.load(path, environ={"FIELDAGENT_SECRET_S3_MAIN_SECRET_ACCESS_KEY": "env"})
    assert store.get("s3-main") == {"access_key_id": "a", "secret_access_key": "env"}
    only_env = SecretStore(environ={"FIELDAGENT_SECRET_NTFY_TOKEN": "t"})
    assert only_env.field("ntfy", "token") == "t"


def test_missing_entry_and_field_are_named_without_values(tmp_path: Path) -> None:
    store = SecretStore.load(_write(tmp_path, "cam2: {username: admin, password: hunter2}\n"),
                             environ={})
    with pytest.raises(ConfigError, match="cam9: no such secrets entry"):
        store.get("cam9")
    with pytest.raises(ConfigError, match=r"cam2\.token: missing") as err:
        store.field("cam2", "token")
    assert "hunter2" not in str(err.value)


def test_bad_shapes_are_refused_with_the_entry_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cam2: each entry must map field names to strings"):
        SecretStore.load(_write(tmp_path, "cam2: just-a-password\n"))
    with pytest.raises(ConfigError, match="does not exist"):
        SecretStore.load(tmp_path / "nope.yaml")


def test_a_file_open_to_other_users_is_refused(tmp_path: Path) -> None:
    for mode in (0o644, 0o640, 0o604):
        with pytest.raises(ConfigError, match="chmod 600") as err:
            SecretStore.load(_write(tmp_path, "a: {b: c}\n", mode=mode), environ={})
        assert "b: c" not in str(err.value.problems) and "mode" in err.value.problems[0]
