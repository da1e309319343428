"""Read replicas: their engines, how far behind each is, and which one a read may use.

Each process checks every replica once a second (`ReplicaSet.watch`): is it
reachable, and how far behind the primary is it. Each round samples the
primary's WAL position first, and a replica lags by the time since the primary
first had WAL the replica has not replayed (persistence.replica_lag): a
replica whose WAL receiver stopped falls behind as soon as the primary writes,
though it has replayed all it received. A read picks, in turn, a replica that
answered its last check and lags at most the allowed seconds; with none, it
reads the primary.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from persistence import replica_lag
from persistence.database import async_url, engine_options
from persistence.replica_lag import WalHistory
from persistence.settings import Settings

log = logging.getLogger("segmentql.replicas")

CHECK_INTERVAL_S = 1.0
CONNECT_TIMEOUT_S = 2.0
"""A replica that does not accept a connection this fast is taken for down."""

PRIMARY_LSN = text(replica_lag.PRIMARY_LSN)
REPLAY_LSN = text(replica_lag.REPLAY_LSN)

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
    """Seconds behind at the last check; None when unknown (down, not checked yet, or the
    primary never answered its sample)."""
    _disposing: asyncio.Task[None] | None = field(default=None, repr=False)

    async def check(self, primary: WalHistory) -> None:
        """Reachable, and how far behind the positions sampled on the primary so far."""
        try:
            async with self.reader.connect() as conn:
                replayed = (await conn.execute(REPLAY_LSN)).scalar_one()
        except UNREACHABLE as exc:
            self.mark_down(exc)
            return
        if not self.up:
            log.info("read replica %s is up", self.name)
        self.up = True
        self.lag_s = primary.lag_s(int(replayed or 0), time.monotonic())

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
    primary: WalHistory
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

    async def check_all(self, primary: AsyncEngine) -> None:
        """Sample the primary's WAL position, then check every replica against the samples."""
        await self.sample(primary)
        await asyncio.gather(*(replica.check(self.primary) for replica in self.replicas))

    async def sample(self, primary: AsyncEngine) -> None:
        """Record where the primary's WAL is; skipped (older samples judge) when it is slow."""
        at = time.monotonic()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S), primary.connect() as conn:
                lsn = (await conn.execute(PRIMARY_LSN)).scalar_one()
        except UNREACHABLE as exc:
            log.debug("the primary's WAL position is unknown this round (%s)", exc)
            return
        self.primary.record(at, int(lsn))

    async def watch(self, primary: AsyncEngine, checked: Callable[[ReplicaSet], None]) -> None:
        """Check every replica each CHECK_INTERVAL_S, forever; `checked` hears after each round.

        `primary` (autocommit) is where the WAL positions are sampled."""
        while True:
            await self.check_all(primary)
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
    max_lag_s = settings.replica_max_lag_s
    return ReplicaSet(replicas, max_lag_s, WalHistory.for_max_lag(max_lag_s))
