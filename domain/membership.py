"""What happens to a customer's membership of an ACTIVE segment."""

from __future__ import annotations

import enum


class MembershipEventKind(enum.Enum):
    ENTERED = "ENTERED"
    LEFT = "LEFT"
