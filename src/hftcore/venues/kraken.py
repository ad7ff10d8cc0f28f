"""Kraken spot: signing (and, below, the venue).

REST private endpoints carry ``API-Key`` and ``API-Sign`` headers; ``API-Sign`` is the base64
HMAC-SHA512 of ``path + SHA256(nonce + body)`` keyed with the base64-decoded secret, as Kraken
documents (:func:`sign`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

__all__ = ["sign"]


def sign(secret: str, path: str, nonce: str, body: str) -> str:
    """Kraken ``API-Sign``: base64(HMAC-SHA512(base64decode(secret), path + SHA256(nonce +
    body))).  ``path`` is the URI path (``/0/private/AddOrder``), ``body`` the URL-encoded POST
    data that contains the same ``nonce``."""
    for name, v in (("secret", secret), ("path", path), ("nonce", nonce), ("body", body)):
        if not isinstance(v, str):
            raise TypeError(f"sign: {name} must be str")
    try:
        key = base64.b64decode(secret, validate=True)
    except binascii.Error:
        raise ValueError("sign: the secret is not base64 (as Kraken issues it)") from None
    digest = hashlib.sha256((nonce + body).encode()).digest()
    mac = hmac.new(key, path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()
