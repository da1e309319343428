"""How far behind the primary a replica is, judged by WAL positions, not by the replica alone.

A replica cannot tell on its own that it is behind: when its WAL receiver has
stopped (the primary's walsender was killed, the network is cut, the
replication slot or `primary_conninfo` is wrong) it has replayed everything it
received and looks current. So each round of checks first samples the
primary's `pg_current_wal_lsn()`; a replica is as far behind as the oldest
sample whose position it has not replayed yet. An idle primary's position does
not move, so an idle pair is current (lag 0); once the primary writes, a
replica that does not follow lags by the time since that write was seen.

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
class WalHistory:
    """The primary's WAL positions over time, one sample each time it moved."""

    keep_s: float
    """Samples older than this are dropped (more than any allowed lag)."""
    _samples: deque[tuple[float, int]] = field(default_factory=deque)
    _dropped: tuple[float, int] | None = None

    @classmethod
    def for_max_lag(cls, max_lag_s: float) -> WalHistory:
        return cls(keep_s=max(MIN_HISTORY_S, 2 * max_lag_s))

    @property
    def sampled(self) -> bool:
        return bool(self._samples) or self._dropped is not None

    def record(self, at: float, lsn: int) -> None:
        """The primary had written up to `lsn` at monotonic time `at`."""
        if not self._samples or lsn > self._samples[-1][1]:
            self._samples.append((at, lsn))
        # the newest sample stays, however old: it is where a current replica must be
        while len(self._samples) > 1 and self._samples[0][0] < at - self.keep_s:
            self._dropped = self._samples.popleft()

    def lag_s(self, replayed: int, now: float) -> float | None:
        """Seconds since the primary first had WAL the replica has not replayed (0: none).

        None before the primary was ever sampled: nothing says the replica is current.
        """
        if not self.sampled:
            return None
        if self._dropped is not None and replayed < self._dropped[1]:
            return max(0.0, now - self._dropped[0])
        for at, lsn in self._samples:
            if lsn > replayed:
                return max(0.0, now - at)
        return 0.0
