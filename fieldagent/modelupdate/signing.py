"""Ed25519 signatures over release manifests, with more than one trusted key for rotation.

The signature document and key ids are the contract's (``fieldcontract.manifest``); this
module does the cryptography: keys, signing, verifying. Devices pin a *set* of keys: to
rotate, ship the new public key to the fleet next to the old one, start signing with the new
key, then drop the old one.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fieldagent.modelupdate.errors import ManifestRejected
from fieldcontract import manifest

RAW_KEY_BYTES = 32


def generate_key() -> tuple[bytes, bytes]:
    """A new signing key pair as ``(private_pem, public_pem)`` (PKCS#8, unencrypted)."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return private_pem, public_pem(private.public_key())


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    """The public key as PEM (SubjectPublicKeyInfo), the form devices pin in files."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of the public key."""
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_b64(public_key: Ed25519PublicKey) -> str:
    """The raw public key in base64: short enough to paste inline into a site config."""
    return base64.b64encode(raw_public_bytes(public_key)).decode("ascii")


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of the SHA-256 of the raw public key: names the key in signatures."""
    return manifest.key_id(raw_public_bytes(public_key))


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    """Parse a PEM private key; anything but an unencrypted Ed25519 key is a ``ValueError``."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an unencrypted PEM private key ({exc}); create one with "
                         "`cloudjobs keys create --out DIR`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"the private key is {type(key).__name__}, not Ed25519; create one "
                         "with `cloudjobs keys create --out DIR`")
    return key


def load_public_key(text: str | bytes) -> Ed25519PublicKey:
    """A public key from PEM text or from the base64 of its 32 raw bytes."""
    data = text.encode("ascii", "replace") if isinstance(text, str) else text
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as exc:
            raise ValueError(f"not a PEM public key ({exc})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"the public key is {type(key).__name__}, not Ed25519")
        return key
    try:
        raw = base64.b64decode(data.strip(), validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != RAW_KEY_BYTES:
        raise ValueError("not a public key: expected PEM or the base64 of 32 raw Ed25519 "
                         "bytes (as printed by `cloudjobs keys show`)")
    return Ed25519PublicKey.from_public_bytes(raw)


def trusted_keys(keys: Iterable[Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    """The pinned keys by key id, as ``verify`` wants them."""
    return {key_id(k): k for k in keys}


def sign(payload: bytes, private_key: Ed25519PrivateKey) -> manifest.Signature:
    """Sign ``payload`` (the manifest's exact bytes)."""
    return manifest.Signature(key_id=key_id(private_key.public_key()),
                              signature=private_key.sign(payload))


def verify(payload: bytes, signature: manifest.Signature | bytes | None,
           trusted: Mapping[str, Ed25519PublicKey]) -> str:
    """Check ``signature`` over ``payload`` against the pinned keys; return the key id used.

    Raises ``ManifestRejected`` with reason ``unsigned``, ``bad_signature`` or
    ``unknown_key``. The key is looked up by id and the signature checked with it, so a
    forged ``key_id`` can only make verification fail.
    """
    sig = signature if isinstance(signature, manifest.Signature) else _read(signature)
    key = trusted.get(sig.key_id)
    if key is None:
        known = ", ".join(sorted(trusted)) or "none"
        raise ManifestRejected(
            "unknown_key", f"the manifest is signed by key {sig.key_id}, which this device "
            f"does not trust (trusted: {known}); add its public key to model_updates."
            "trusted_keys or sign with a trusted key")
    try:
        key.verify(sig.signature, payload)
    except InvalidSignature:
        raise ManifestRejected(
            "bad_signature", f"the manifest's signature by key {sig.key_id} does not match "
            "its content: it was changed after signing or damaged on the way; re-publish "
            "it with `cloudjobs release`") from None
    return sig.key_id


def _read(raw: bytes | None) -> manifest.Signature:
    """The signature document, its format problems in the device's error tree."""
    try:
        return manifest.Signature.from_bytes(raw)
    except manifest.ManifestInvalid as exc:
        raise ManifestRejected(exc.reason, exc.message) from None
