"""``cloudjobs keys create|show``: a key pair the devices can pin, never overwritten."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cloudjobs.release.keys import PRIVATE_FILE, PUBLIC_FILE, main, read_private_key
from fieldagent.modelupdate.signing import key_id, load_public_key, sign, trusted_keys, verify


def _field(out: str, label: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in out.splitlines()
                if line.startswith(label))


def test_create_writes_a_private_key_only_its_owner_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["create", "--out", str(tmp_path / "k")]) == 0
    out = capsys.readouterr().out
    private = tmp_path / "k" / PRIVATE_FILE
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    key = read_private_key(tmp_path / "k")
    assert _field(out, "key id") == key_id(key.public_key())
    inline = load_public_key(_field(out, "public key"))
    payload = b"manifest"
    assert verify(payload, sign(payload, key), trusted_keys([inline])) == key_id(inline)


def test_show_prints_the_same_id_from_folder_public_and_private_pem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["create", "--out", str(tmp_path)])
    created = _field(capsys.readouterr().out, "key id")
    for path in (tmp_path, tmp_path / PUBLIC_FILE, tmp_path / PRIVATE_FILE):
        assert main(["show", str(path)]) == 0
        out = capsys.readouterr().out
        assert _field(out, "key id") == created
        assert "BEGIN PUBLIC KEY" in out and "PRIVATE" not in out


def test_create_never_overwrites_a_key(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    main(["create", "--out", str(tmp_path)])
    before = (tmp_path / PRIVATE_FILE).read_bytes()
    assert main(["create", "--out", str(tmp_path)]) == 2
    assert "not overwriting" in capsys.readouterr().err
    assert (tmp_path / PRIVATE_FILE).read_bytes() == before


def test_show_of_something_that_is_no_key_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "x.pem").write_text("hello")
    assert main(["show", str(tmp_path / "x.pem")]) == 2
    assert "public key" in capsys.readouterr().err
    assert main(["show", str(tmp_path / "missing")]) == 2
