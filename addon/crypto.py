"""Encryption at rest for the tokens Clockify hands us (Fernet keyed from SECRET_KEY)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


class DecryptionError(RuntimeError):
    """A stored secret could not be decrypted (SECRET_KEY changed or the value was tampered with)."""


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"closeout-token-encryption:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(value: str, secret_key: str | None = None) -> str:
    return _fernet(secret_key or current_app.config["SECRET_KEY"]).encrypt(value.encode()).decode()


def decrypt(value: str, secret_key: str | None = None) -> str:
    try:
        return _fernet(secret_key or current_app.config["SECRET_KEY"]).decrypt(value.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("stored secret cannot be decrypted with the current SECRET_KEY") from exc


def same_secret(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(a.encode(), b.encode())


def digest(value: str, secret_key: str | None = None) -> str:
    """Keyed SHA-256 of a secret: lets a presented token be found by an indexed lookup, no decryption."""
    key = _digest_key(secret_key or current_app.config["SECRET_KEY"])
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=4)
def _digest_key(secret_key: str) -> bytes:
    return hashlib.sha256(b"closeout-token-digest:" + secret_key.encode()).digest()
