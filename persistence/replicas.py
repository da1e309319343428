"""Read replicas: their engines, how far behind each is, and which one a read may use.

Each process checks every replica once a second (`ReplicaSet.watch`): is it
reachable, and how many seconds of the primary's commits has it not replayed
yet. A read picks, in turn, a replica that answered its last check and lags at
most the allowed seconds; with none, it reads the primary. Lag is
`now() - pg_last_xact_replay_timestamp()` while WAL received is not yet
replayed, and 0 once everything received is replayed (an idle primary sends
nothing, and its replica is then current however old its last commit).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from persistence.database import async_url, engine_options
from persistence.settings import Settings

log = logging.getLogger("segmentql.replicas")

CHECK_INTERVAL_S = 1.0
CONNECT_TIMEOUT_S = 2.0
"""A replica that does not accept a connection this fast is taken for down."""

LAG = text(
    """
    SELECT CASE
      WHEN NOT pg_is_in_recovery() THEN 0
      WHEN pg_last_wal_receive_lsn() IS NULL
        OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
      ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
    END
    """
)

UNREACHABLE = (OSError, TimeoutError, OperationalError, InterfaceError, DBAPIError)
"""What connecting to (or asking) a replica raises when it is down or unreachable."""


@dataclass(eq=False)
class Replica:
    name: str
    """host:port/database, for logs and metric labels (never the password)."""
    engine: AsyncEngine
    """For reads that need one transaction (an export's checks and its rows)."""
    reader: AsyncEngine
    """The same pool in autocommit, for single statements."""
    up: bool = False
    lag_s: float | None = None
    """Seconds behind at the last check; None when unknown (down, or not checked yet)."""
    _disposing: asyncio.Task[None] | None = field(default=None, repr=False)

    async def check(self) -> None:
        try:
            async with self.reader.connect() as conn:
                lag = (await conn.execute(LAG)).scalar_one()
        except UNREACHABLE as exc:
            self.mark_down(exc)
            return
        if not self.up:
            log.info("read replica %s is up", self.name)
        self.up, self.lag_s = True, max(0.0, float(lag if lag is not None else 0))

    def mark_down(self, exc: BaseException) -> None:
        if self.up:
            log.warning("read replica %s is down (%s); reading the primary", self.name, exc)
        self.up, self.lag_s = False, None
        # Connections to a server that went away are dead: drop them, reconnect later.
        self._disposing = asyncio.get_running_loop().create_task(self.engine.dispose())


@dataclass(frozen=True)
class Fallback:
    """Where a unit of work on a replica connects instead when the replica is unreachable."""

    engine: AsyncEngine
    failed: Callable[[BaseException], None]


Skipped = Callable[[str], None]
"""Told why a read went to the primary when replicas are configured: "down" or "lagging"."""


@dataclass(eq=False)
class ReplicaSet:
    replicas: list[Replica]
    max_lag_s: float
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    def __bool__(self) -> bool:
        return bool(self.replicas)

    def choose(self, skipped: Skipped) -> Replica | None:
        """A replica fresh enough to read, in turn; None (and why, to `skipped`) for the primary."""
        fresh = [r for r in self.replicas if r.lag_s is not None and r.lag_s <= self.max_lag_s]
        if fresh:
            return fresh[next(self._turn) % len(fresh)]
        if self.replicas:
            skipped("lagging" if any(r.up for r in self.replicas) else "down")
        return None

    async def check_all(self) -> None:
        await asyncio.gather(*(replica.check() for replica in self.replicas))

    async def watch(self, checked: Callable[[ReplicaSet], None]) -> None:
        """Check every replica each CHECK_INTERVAL_S, forever; `checked` hears after each round."""
        while True:
            await self.check_all()
            checked(self)
            await asyncio.sleep(CHECK_INTERVAL_S)

    async def close(self) -> None:
        for replica in self.replicas:
            await replica.engine.dispose()


def _refuse_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled connection the replica closed (it restarted, say) is replaced, not handed out.

    Free, unlike a pre-ping: asyncpg already knows its socket was closed.
    """
    raw = getattr(dbapi_connection, "_connection", None)
    if raw is not None and raw.is_closed():
        raise DisconnectionError("the replica closed this connection")


def replica_set(settings: Settings) -> ReplicaSet:
    replicas = []
    for raw in settings.read_replica_urls:
        url = async_url(raw)
        options = engine_options(settings)
        options["connect_args"] = {**options["connect_args"], "timeout": CONNECT_TIMEOUT_S}
        engine = create_async_engine(url, **options)
        event.listen(engine.sync_engine, "checkout", _refuse_closed)
        reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        name = f"{url.host or 'localhost'}:{url.port or 5432}/{url.database}"
        replicas.append(Replica(name, engine, reader))
    return ReplicaSet(replicas, settings.replica_max_lag_s)
