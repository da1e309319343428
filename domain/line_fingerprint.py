"""A fingerprint of an import line: what lets a re-import skip a line it already applied.

Applying one `CustomerInput` twice in a row changes nothing the second time
(fields are set, properties merged, records upserted by id), so a line whose
fingerprint is the one its customer last took, with no write to the customer
since, can be skipped without being parsed. The fingerprint is a hash of the
line's bytes keyed by everything else that decides what the line means: the
workspace, its custom property declarations (types and allowed values), and
for CSV the header row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from domain.custom_property import CustomPropertyDef

VERSION = b"segmentql-import-line-1"
"""Changes when what a line means changes (validation, merge rules): every stored
fingerprint stops matching, and the next import reads each line again."""


def line_key(
    workspace_pk: int, declared: Mapping[str, CustomPropertyDef], header: str | None
) -> bytes:
    """The hash key of the lines of one file in one workspace."""
    digest = hashlib.blake2b(VERSION, digest_size=32)
    digest.update(b"\0%d\0" % workspace_pk)
    for key in sorted(declared):
        definition = declared[key]
        allowed = "\x1f".join(definition.allowed_values or ())
        digest.update(f"{key}\x1e{definition.type.value}\x1e{allowed}\0".encode())
    digest.update(b"csv\0" + header.encode() if header is not None else b"jsonl")
    return digest.digest()


def fingerprint(key: bytes, data: bytes) -> bytes:
    """A 16-byte keyed hash of the line's bytes."""
    return hashlib.blake2b(data, digest_size=16, key=key).digest()
