"""How far behind the primary a replica is, judged by WAL positions, not by the replica alone.

A replica cannot tell on its own that it is behind: when its WAL receiver has
stopped (the primary's walsender was killed, the network is cut, the
replication slot or `primary_conninfo` is wrong) it has replayed everything it
received and looks current. So each round of checks first samples the
primary's `pg_current_wal_lsn()`. WAL a replica has not replayed was written
after the last round that saw the primary at or before the replica's position,
so the replica lags at most the time since that round: the figure errs high,
by at most one check interval, never low, and a replica lagging more than the
allowed lag is always skipped. An idle primary's position does not move, so an
idle pair is current (lag 0); once the primary writes, a replica that does not
follow lags from the last round before that write.

Samples older than the history keeps are dropped, the newest dropped one
remembered: a replica that has not reached it lags at least that long, which
is more than any allowed lag (the history is kept longer than that), so the
decision to skip it stays right while the figure is a lower bound.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

PRIMARY_LSN = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"
"""The primary's WAL write position, in bytes."""

REPLAY_LSN = """
SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
             ELSE pg_current_wal_lsn() END - '0/0'::pg_lsn)::bigint
"""
"""How far a replica has replayed, in bytes; NULL before it replayed anything.

A server out of recovery (the primary named as its own replica, say) is as far
as it has written: the primary is current, a promoted replica falls behind."""

MIN_HISTORY_S = 600.0


@dataclass
class _Sample:
    """The primary at `lsn`: first seen at `first_at`, last seen at `last_at`."""

    lsn: int
    first_at: float
    last_at: float


@dataclass
class WalHistory:
    """The primary's WAL positions over time, one sample each time it moved."""

    keep_s: float
    """Samples older than this are dropped (more than any allowed lag)."""
    _samples: deque[_Sample] = field(default_factory=deque)
    _dropped: _Sample | None = None

    @classmethod
    def for_max_lag(cls, max_lag_s: float) -> WalHistory:
        return cls(keep_s=max(MIN_HISTORY_S, 2 * max_lag_s))

    @property
    def sampled(self) -> bool:
        return bool(self._samples) or self._dropped is not None

    def record(self, at: float, lsn: int) -> None:
        """The primary had written up to `lsn` at monotonic time `at`."""
        if self._samples and lsn <= self._samples[-1].lsn:
            self._samples[-1].last_at = at
        else:
            self._samples.append(_Sample(lsn, at, at))
        # the newest sample stays, however old: it is where a current replica must be
        while len(self._samples) > 1 and self._samples[0].first_at < at - self.keep_s:
            self._dropped = self._samples.popleft()

    def lag_s(self, replayed: int, now: float) -> float | None:
        """At most how many seconds the replica, at `replayed`, is behind (0: not behind).

        None before the primary was ever sampled: nothing says the replica is current.
        """
        if not self.sampled:
            return None
        before = self._dropped
        if before is not None and replayed < before.lsn:
            # behind everything kept: at least the history, which no allowed lag reaches
            return max(0.0, now - before.first_at)
        for sample in self._samples:
            if sample.lsn > replayed:
                # written after the primary was last seen where the replica is
                since = before.last_at if before is not None else sample.first_at
                return max(0.0, now - since)
            before = sample
        return 0.0
