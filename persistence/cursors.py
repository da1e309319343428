"""Opaque keyset cursors: a kind letter and the key, base64url-encoded.

The kind letter keeps one list's cursor from being accepted by another.
"""

from __future__ import annotations

import base64


def encode(kind: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode()


def decode(kind: str, cursor: str) -> str | None:
    """The key `cursor` holds, or None if it is not a cursor of this kind."""
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    prefix = f"{kind}:"
    return raw[len(prefix) :] if raw.startswith(prefix) else None
