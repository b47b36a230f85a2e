"""Release signing keys: ``cloudjobs keys create --out DIR`` and ``cloudjobs keys show DIR``.

``create`` writes ``release-key.pem`` (the private key, mode 0600: keep it in the vault
that signs releases, never on a device) and ``release-key.pub.pem``, and refuses to
overwrite an existing key. ``show`` prints the key id and the public key in the two forms
a site config accepts in ``model_updates.trusted_keys``: the PEM file's path, or the
inline base64 raw key.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fieldagent.modelupdate.signing import (
    generate_key,
    key_id,
    load_private_key,
    load_public_key,
    public_key_b64,
    public_pem,
)

PRIVATE_FILE = "release-key.pem"
PUBLIC_FILE = "release-key.pub.pem"


@dataclass(frozen=True)
class KeyInfo:
    """What a person needs to pin a key on devices."""

    key_id: str
    public_key_b64: str
    public_pem: str

    @classmethod
    def of(cls, public_key: Ed25519PublicKey) -> KeyInfo:
        return cls(key_id(public_key), public_key_b64(public_key),
                   public_pem(public_key).decode("ascii"))

    def text(self) -> str:
        return (f"key id:     {self.key_id}\npublic key: {self.public_key_b64}\n"
                f"{self.public_pem.rstrip()}")


def create_keys(out: Path) -> KeyInfo:
    """Write a new key pair into ``out`` (created if needed); never overwrites a key."""
    out.mkdir(parents=True, exist_ok=True)
    private_path, public_path = out / PRIVATE_FILE, out / PUBLIC_FILE
    for path in (private_path, public_path):
        if path.exists():
            raise FileExistsError(f"{path} already exists: not overwriting a signing key "
                                  "(devices may trust it); choose another --out folder")
    private_pem, public = generate_key()
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem)
    public_path.write_bytes(public)
    return KeyInfo.of(load_public_key(public))


def read_private_key(path: Path) -> Ed25519PrivateKey:
    """The signing key from a PEM file (or the ``release-key.pem`` in a folder)."""
    path = path / PRIVATE_FILE if path.is_dir() else path
    return load_private_key(path.read_bytes())


def read_public_key(path: Path) -> Ed25519PublicKey:
    """The public key of a folder made by ``create``, a public PEM or a private PEM."""
    if path.is_dir():
        path = path / PUBLIC_FILE
    data = path.read_bytes()
    if b"PRIVATE KEY" in data:
        return load_private_key(data).public_key()
    return load_public_key(data)


def main(argv: Sequence[str] | None = None) -> int:
    """``cloudjobs keys create|show``; 0 done, 2 bad input."""
    parser = argparse.ArgumentParser(prog="cloudjobs keys", description="Release signing keys.")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = sub.add_parser("create", help="create a new signing key pair")
    create.add_argument("--out", required=True, type=Path, help="folder for the key files")
    show = sub.add_parser("show", help="print a key's id and public key")
    show.add_argument("path", type=Path, help="key folder, public PEM or private PEM")
    args = parser.parse_args(argv)
    try:
        if args.action == "create":
            info = create_keys(args.out)
            print(f"wrote {args.out / PRIVATE_FILE} (keep it secret) and "
                  f"{args.out / PUBLIC_FILE}")
        else:
            info = KeyInfo.of(read_public_key(args.path))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(info.text())
    return 0
