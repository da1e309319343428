"""Tracked custom events ("checkout_started"), checked before they are stored."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.custom_property import storable_text
from domain.customer import check_id
from domain.errors import DomainError, ErrorCode, ValidationFailed

MAX_BATCH = 1000
MAX_NAME_LENGTH = 255
MAX_PROPERTIES_BYTES = 16 * 1024


@dataclass(frozen=True)
class EventChange:
    customer_id: str
    name: str
    occurred_at: datetime
    properties: dict[str, Any]
    id: str | None


def _finite(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, Mapping):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def _storable(value: object) -> bool:
    """No NUL and no lone surrogate anywhere (jsonb and UTF-8 refuse them), keys included."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, Mapping):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True


def check_event(raw: Mapping[str, Any], now: datetime, path: Sequence[str]) -> EventChange:
    errors: list[DomainError] = []
    customer_id = name = ""
    event_id: str | None = None
    try:
        customer_id = check_id(raw.get("customerId"), (*path, "customerId"))
    except DomainError as err:
        errors.append(err)
    name_raw = raw.get("name")
    if not isinstance(name_raw, str) or not name_raw.strip():
        errors.append(DomainError(ErrorCode.REQUIRED, "An event needs a name.", (*path, "name")))
    elif not storable_text(name_raw):
        errors.append(
            DomainError(
                ErrorCode.INVALID,
                "An event name cannot contain the NUL character or invalid Unicode.",
                (*path, "name"),
            )
        )
    elif len(name_raw) > MAX_NAME_LENGTH:
        errors.append(
            DomainError(
                ErrorCode.TOO_LONG,
                f"An event name has at most {MAX_NAME_LENGTH} characters.",
                (*path, "name"),
            )
        )
    else:
        name = name_raw
    if raw.get("id") is not None:
        try:
            event_id = check_id(raw.get("id"), (*path, "id"))
        except DomainError as err:
            errors.append(err)
    properties = raw.get("properties")
    if properties is None:
        properties = {}
    try:
        properties = _check_properties(properties, (*path, "properties"))
    except DomainError as err:
        errors.append(err)
    occurred = raw.get("occurredAt")
    if occurred is None:
        occurred_at = now
    elif isinstance(occurred, datetime):
        occurred_at = occurred.replace(tzinfo=UTC) if occurred.tzinfo is None else occurred
    else:
        errors.append(
            DomainError(ErrorCode.INVALID, "occurredAt must be a date-time.", (*path, "occurredAt"))
        )
        occurred_at = now
    if errors:
        raise ValidationFailed(errors)
    return EventChange(customer_id, name, occurred_at.astimezone(UTC), properties, event_id)


def _check_properties(raw: object, path: Sequence[str]) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise DomainError(ErrorCode.INVALID, "properties must be a JSON object.", path)
    if not _finite(raw):
        raise DomainError(ErrorCode.INVALID, "properties must hold finite numbers.", path)
    if not _storable(raw):
        raise DomainError(
            ErrorCode.INVALID,
            "properties cannot contain the NUL character or invalid Unicode.",
            path,
        )
    size = len(json.dumps(raw, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_PROPERTIES_BYTES:
        raise DomainError(
            ErrorCode.TOO_LONG,
            f"properties take at most {MAX_PROPERTIES_BYTES} bytes as JSON (got {size}).",
            path,
        )
    return dict(raw)


def check_events(
    items: Sequence[Mapping[str, Any]], now: datetime, path: Sequence[str] = ("events",)
) -> list[EventChange]:
    """A whole eventsTrack call: 1..1000 events; every error at once."""
    if not 1 <= len(items) <= MAX_BATCH:
        raise ValidationFailed(
            [
                DomainError(
                    ErrorCode.TOO_MANY if items else ErrorCode.TOO_FEW,
                    f"Send between 1 and {MAX_BATCH} events per call (got {len(items)}).",
                    path,
                )
            ]
        )
    errors: list[DomainError] = []
    events: list[EventChange] = []
    for index, item in enumerate(items):
        try:
            events.append(check_event(item, now, (*path, str(index))))
        except ValidationFailed as failed:
            errors.extend(failed.errors)
    if errors:
        raise ValidationFailed(errors)
    return events
