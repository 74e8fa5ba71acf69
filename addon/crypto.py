"""Encryption at rest for the tokens Clockify hands us (Fernet keyed from SECRET_KEY), and key rotation.

The key ring is SECRET_KEY followed by SECRET_KEY_FALLBACKS: new values are always sealed with SECRET_KEY,
and any key of the ring opens them, so processes keep working while `flask --app addon rotate-key`
re-encrypts what is stored (README, "Rotating SECRET_KEY").
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


class DecryptionError(RuntimeError):
    """A stored secret could not be decrypted (SECRET_KEY changed or the value was tampered with)."""


@functools.lru_cache(maxsize=16)
def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"closeout-token-encryption:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def key_ring(secret_key: str | None = None, fallbacks: Sequence[str] | None = None) -> tuple[str, ...]:
    """The current key, then the old keys that still open stored values (the app's, unless given)."""
    if secret_key is None:
        secret_key = current_app.config["SECRET_KEY"]
        fallbacks = current_app.config.get("SECRET_KEY_FALLBACKS") if fallbacks is None else fallbacks
    old = [key for key in (fallbacks or ()) if key and key != secret_key]
    return (secret_key, *dict.fromkeys(old))


@functools.lru_cache(maxsize=16)
def _multi(ring: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_fernet(key) for key in ring])


def encrypt(value: str, secret_key: str | None = None) -> str:
    return _fernet(secret_key or current_app.config["SECRET_KEY"]).encrypt(value.encode()).decode()


def decrypt(value: str, secret_key: str | None = None) -> str:
    """Open a stored value with `secret_key` alone, or with any key of the app's ring."""
    try:
        opener = _fernet(secret_key) if secret_key else _multi(key_ring())
        return opener.decrypt(value.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("stored secret cannot be decrypted with SECRET_KEY or SECRET_KEY_FALLBACKS") from exc


def reseal(value: str, ring: tuple[str, ...]) -> str | None:
    """The value sealed with the ring's first key, or None when it already is (rotation is idempotent)."""
    try:
        _fernet(ring[0]).decrypt(value.encode())
        return None
    except InvalidToken:
        pass
    try:
        return _multi(ring).rotate(value.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("stored secret cannot be decrypted with SECRET_KEY or SECRET_KEY_FALLBACKS") from exc


def same_secret(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(a.encode(), b.encode())


def digest(value: str, secret_key: str | None = None) -> str:
    """Keyed SHA-256 of a secret: lets a presented token be found by an indexed lookup, no decryption."""
    key = _digest_key(secret_key or current_app.config["SECRET_KEY"])
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def fallback_digests(value: str) -> list[str]:
    """The value's digests under the old keys: rows not yet rotated are still found by them."""
    return [digest(value, key) for key in key_ring()[1:]]


@functools.lru_cache(maxsize=4)
def _digest_key(secret_key: str) -> bytes:
    return hashlib.sha256(b"closeout-token-digest:" + secret_key.encode()).digest()
