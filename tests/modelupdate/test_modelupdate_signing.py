"""Signatures: round trip, tampering, unknown keys, key rotation, malformed documents."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fieldagent.modelupdate.errors import ManifestRejected
from fieldagent.modelupdate.signing import (
    generate_key,
    key_id,
    load_private_key,
    load_public_key,
    public_key_b64,
    sign,
    trusted_keys,
    verify,
)
from fieldcontract.manifest import Signature

PAYLOAD = b'{"name":"stress","version":"0.2.0"}'


def _reason(payload: bytes, sig: Signature | bytes | None, trusted: dict) -> str:
    with pytest.raises(ManifestRejected) as info:
        verify(payload, sig, trusted)
    assert str(info.value)  # a sentence for people, not only a code
    return info.value.reason


def test_generated_keys_round_trip_through_pem_and_base64() -> None:
    private_pem, public_pem = generate_key()
    private = load_private_key(private_pem)
    public = load_public_key(public_pem)
    assert key_id(public) == key_id(private.public_key())
    assert len(key_id(public)) == 16 and int(key_id(public), 16) >= 0
    inline = load_public_key(public_key_b64(public))
    assert key_id(inline) == key_id(public)
    sig = sign(PAYLOAD, private)
    assert verify(PAYLOAD, Signature.from_bytes(sig.to_bytes()), trusted_keys([public])) \
        == key_id(public)


def test_every_flipped_byte_of_the_payload_is_refused() -> None:
    private = Ed25519PrivateKey.generate()
    sig = sign(PAYLOAD, private).to_bytes()
    trusted = trusted_keys([private.public_key()])
    for i in range(len(PAYLOAD)):
        tampered = bytearray(PAYLOAD)
        tampered[i] ^= 0x01
        assert _reason(bytes(tampered), sig, trusted) == "bad_signature"


def test_a_flipped_signature_byte_is_refused() -> None:
    private = Ed25519PrivateKey.generate()
    sig = sign(PAYLOAD, private)
    broken = bytearray(sig.signature)
    broken[10] ^= 0x80
    trusted = trusted_keys([private.public_key()])
    assert _reason(PAYLOAD, Signature(sig.key_id, bytes(broken)), trusted) == "bad_signature"


def test_a_key_the_device_does_not_trust_is_refused() -> None:
    trusted = trusted_keys([Ed25519PrivateKey.generate().public_key()])
    assert _reason(PAYLOAD, sign(PAYLOAD, Ed25519PrivateKey.generate()), trusted) \
        == "unknown_key"


def test_a_forged_key_id_cannot_pass_another_key_off_as_trusted() -> None:
    trusted_private, attacker = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    trusted = trusted_keys([trusted_private.public_key()])
    forged = Signature(key_id(trusted_private.public_key()), attacker.sign(PAYLOAD))
    assert _reason(PAYLOAD, forged, trusted) == "bad_signature"


def test_rotation_two_pinned_keys_both_verify_and_dropping_one_refuses_it() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    both = trusted_keys([old.public_key(), new.public_key()])
    assert verify(PAYLOAD, sign(PAYLOAD, old), both) == key_id(old.public_key())
    assert verify(PAYLOAD, sign(PAYLOAD, new), both) == key_id(new.public_key())
    only_new = trusted_keys([new.public_key()])
    assert _reason(PAYLOAD, sign(PAYLOAD, old), only_new) == "unknown_key"


@pytest.mark.parametrize("raw", [None, b"", b"  \n"])
def test_missing_signature_is_unsigned(raw: bytes | None) -> None:
    trusted = trusted_keys([Ed25519PrivateKey.generate().public_key()])
    assert _reason(PAYLOAD, raw, trusted) == "unsigned"


@pytest.mark.parametrize("doc", [
    b"not json",
    json.dumps({"key_id": "ab"}).encode(),
    json.dumps({"algorithm": "ed25519", "key_id": "ab", "signature": "%%%"}).encode(),
    json.dumps({"algorithm": "rsa", "key_id": "ab",
                "signature": base64.b64encode(b"x" * 64).decode()}).encode(),
])
def test_malformed_signature_documents_are_bad_signatures(doc: bytes) -> None:
    trusted = trusted_keys([Ed25519PrivateKey.generate().public_key()])
    assert _reason(PAYLOAD, doc, trusted) == "bad_signature"


@pytest.mark.parametrize("text", ["", "abc", base64.b64encode(b"x" * 31).decode(),
                                  "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"])
def test_things_that_are_not_public_keys_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="key"):
        load_public_key(text)


def test_a_public_key_is_not_a_private_key() -> None:
    _, public_pem = generate_key()
    with pytest.raises(ValueError, match="private key"):
        load_private_key(public_pem)
