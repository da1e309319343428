"""Webhook endpoints: which URLs may receive events, which events they get, and
when a failed delivery is tried again. Plain rules; no I/O."""

from __future__ import annotations

import base64
import enum
import ipaddress
import random
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from domain.errors import DomainError, ErrorCode

SECRET_PREFIX = "whsec_"
MAX_URL_LENGTH = 2_000
MAX_DESCRIPTION_LENGTH = 500
MAX_ATTEMPTS = 10
BACKOFF_FACTOR = 4
BACKOFF_CAP_S = 8 * 3600
JITTER = 0.2


class EventType(enum.Enum):
    """What a webhook can be sent for; the log's kinds are ENTERED and LEFT."""

    SEGMENT_ENTERED = "SEGMENT_ENTERED"
    SEGMENT_LEFT = "SEGMENT_LEFT"

    @property
    def log_kind(self) -> str:
        return self.value.removeprefix("SEGMENT_")

    @classmethod
    def of_log_kind(cls, kind: str) -> EventType:
        return cls(f"SEGMENT_{kind}")


class DeliveryStatus(enum.Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    """Given up after MAX_ATTEMPTS; webhookDeliveryRetry sends it again."""


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: whsec_ and 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def new_endpoint_id() -> str:
    return f"whe_{secrets.token_hex(10)}"


def delivery_id(endpoint_id: str, seq: int) -> str:
    return f"{endpoint_id}.{seq}"


def parse_delivery_id(value: str) -> tuple[str, int] | None:
    endpoint_id, _, seq = value.rpartition(".")
    if not endpoint_id or not seq.isdigit():
        return None
    return endpoint_id, int(seq)


def check_url(url: str, allowed_http_hosts: Iterable[str]) -> str:
    """The URL's host, if the URL may receive webhooks; raises otherwise.

    http(s) only; plain http only to hosts the operator listed; no credentials.
    Where the host points is checked apart (it needs DNS): see refused_address.
    """
    if len(url) > MAX_URL_LENGTH:
        raise DomainError(ErrorCode.TOO_LONG, f"At most {MAX_URL_LENGTH} characters.", ["url"])
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError as exc:
        raise DomainError(ErrorCode.INVALID, f"Not a URL: {exc}.", ["url"]) from exc
    if parts.scheme not in ("http", "https") or not host:
        raise DomainError(ErrorCode.INVALID, "The URL must be http(s)://host/...", ["url"])
    if parts.username or parts.password:
        raise DomainError(ErrorCode.INVALID, "The URL must not carry credentials.", ["url"])
    if parts.scheme == "http" and host.lower() not in {h.lower() for h in allowed_http_hosts}:
        raise DomainError(
            ErrorCode.WEBHOOK_URL_REFUSED,
            "Webhook URLs must be https (plain http only to hosts the operator allows).",
            ["url"],
        )
    return host


def refused_address(address: str) -> bool:
    """Loopback, link-local, private, unspecified, multicast and reserved addresses,
    any other address that is not global (such as shared 100.64.0.0/10, where a cloud
    metadata service can live), and IPv6 addresses embedding such an IPv4 one (mapped,
    6to4, Teredo)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and refused_address(str(embedded)):
            return True
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
    return bool(
        not ip.is_global
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_unspecified
        or ip.is_multicast
        or ip.is_reserved
    )


def check_description(description: str | None) -> str | None:
    if description is not None and len(description) > MAX_DESCRIPTION_LENGTH:
        raise DomainError(
            ErrorCode.TOO_LONG, f"At most {MAX_DESCRIPTION_LENGTH} characters.", ["description"]
        )
    return description


def check_event_types(event_types: Sequence[EventType]) -> list[EventType]:
    if not event_types:
        raise DomainError(ErrorCode.TOO_FEW, "At least one event type.", ["eventTypes"])
    return sorted(set(event_types), key=lambda t: t.value)


def retry_delay_s(attempts: int, base_s: float, rng: random.Random | None = None) -> float:
    """Seconds before the next attempt after `attempts` failed ones.

    base * 4^(attempts-1), capped at 8 h, +/-20% jitter so endpoints that failed
    together are not all retried in the same instant. With the default 5 s base:
    5 s, 20 s, 80 s, 5 min, 21 min, 85 min, 5.7 h, 8 h, 8 h: about 24 h in all.
    """
    delay = min(base_s * float(BACKOFF_FACTOR ** max(attempts - 1, 0)), BACKOFF_CAP_S)
    return float(delay) * (1 + (rng or random).uniform(-JITTER, JITTER))


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    description: str | None
    segment_ids: list[str]
    event_types: list[EventType]
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    failing_since: datetime | None
    secret: str = field(repr=False)
    previous_secret: str | None = field(default=None, repr=False)
    previous_secret_until: datetime | None = None

    def signing_secrets(self, now: datetime) -> list[str]:
        """The current secret, and the one before it during its overlap after rotation."""
        keys = [self.secret]
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            keys.append(self.previous_secret)
        return keys


@dataclass(frozen=True)
class Delivery:
    endpoint_id: str
    seq: int
    event_type: EventType
    segment_id: str
    segment_name: str
    customer_id: str
    occurred_at: datetime
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None

    @property
    def id(self) -> str:
        return delivery_id(self.endpoint_id, self.seq)

    def body(self) -> dict[str, object]:
        """The Standard Webhooks payload: type, timestamp, and the event as data."""
        occurred = self.occurred_at.isoformat()
        return {
            "type": self.event_type.value,
            "timestamp": occurred,
            "data": {
                "id": str(self.seq),
                "type": self.event_type.value,
                "segmentId": self.segment_id,
                "segmentName": self.segment_name,
                "customerId": self.customer_id,
                "occurredAt": occurred,
            },
        }
