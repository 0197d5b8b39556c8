"""The audit checkpoint key: an Ed25519 private key that lives outside the database.

Ed25519 rather than HMAC because the people who check checkpoints should not be
able to make them: auditors get the public key and can verify every checkpoint
offline, but only the holder of the private key (the application's hosts) can
sign one. With HMAC every verifier would hold the signing secret.

The same key also authenticates each audit event as it is written (an HMAC over
the event's hash with a key derived from the private key), so an event that a
database administrator appends with a correctly recomputed hash is still
recognised as forged, even before the next checkpoint covers it.

Configured by AUDIT_CHECKPOINT_KEY (PEM, or base64 of the 32-byte seed) or
AUDIT_CHECKPOINT_KEY_FILE (a file holding either). Without either, no key: events
carry no authentication code and no checkpoint can be written.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from negotiator.audit_offline import key_id as public_key_id

_MAC_LABEL = b"negotiator audit event mac/1"


@dataclass(frozen=True)
class CheckpointKey:
    private: Ed25519PrivateKey
    public: bytes
    key_id: str
    mac_key: bytes

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)

    def public_pem(self) -> str:
        return public_key_pem(self.public)


def signature_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """Ed25519 verification by the ``cryptography`` package: the same answer as
    audit_offline.ed25519_verify (a test holds them to it), twenty times faster."""
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def public_key_pem(public: bytes) -> str:
    der = bytes.fromhex("302a300506032b6570032100") + public
    body = base64.encodebytes(der).decode().strip()
    return f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"


def private_key_parse(text: str, *, source: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8) or base64 of the 32-byte seed;
    ImproperlyConfigured names ``source`` when it is neither."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError("not an Ed25519 key")
            return key
        seed = base64.b64decode(text, validate=True)
        if len(seed) != 32:
            raise ValueError("a seed has 32 bytes")
        return Ed25519PrivateKey.from_private_bytes(seed)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ImproperlyConfigured(
            f"{source} is not an Ed25519 private key ({exc}); create one with "
            "`manage.py audit_checkpoint --generate-key FILE`."
        ) from None


def key_generate() -> tuple[bytes, str]:
    """A new private key as PEM, and its public key as PEM."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem, public_key_pem(key.public_key().public_bytes_raw())


@functools.lru_cache(maxsize=4)
def _load(inline: str, path: str) -> CheckpointKey | None:
    if inline and path:
        raise ImproperlyConfigured(
            "Set AUDIT_CHECKPOINT_KEY or AUDIT_CHECKPOINT_KEY_FILE, not both."
        )
    if path:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"AUDIT_CHECKPOINT_KEY_FILE cannot be read: {exc.strerror}"
            ) from None
        key = private_key_parse(text, source="AUDIT_CHECKPOINT_KEY_FILE")
    elif inline:
        key = private_key_parse(inline, source="AUDIT_CHECKPOINT_KEY")
    else:
        return None
    seed = key.private_bytes_raw()
    public = key.public_key().public_bytes_raw()
    return CheckpointKey(
        private=key,
        public=public,
        key_id=public_key_id(public),
        mac_key=hmac.new(seed, _MAC_LABEL, hashlib.sha256).digest(),
    )


def checkpoint_key() -> CheckpointKey | None:
    """The configured key (None: not configured). A malformed key raises
    ImproperlyConfigured: audit writes then fail rather than go unauthenticated."""
    return _load(settings.AUDIT_CHECKPOINT_KEY, settings.AUDIT_CHECKPOINT_KEY_FILE)
