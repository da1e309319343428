"""Process-wide resources: the resolved database, the engine, settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.database import Database, create_engine, resolve
from persistence.replicas import ReplicaSet, replica_set
from persistence.settings import Settings

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    database: Database
    engine: AsyncEngine
    clock: Clock = field(default=system_clock)
    # Process-wide services and caches (the event hub, definitions); left out of repr.
    extras: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def reader(self) -> AsyncEngine:
        """The same pool in autocommit: a read needs no BEGIN and no ROLLBACK round trip."""
        reader = self.extras.get("reader")
        if reader is None:
            reader = self.extras["reader"] = self.engine.execution_options(
                isolation_level="AUTOCOMMIT"
            )
        assert isinstance(reader, AsyncEngine)
        return reader

    @property
    def replicas(self) -> ReplicaSet:
        """The read replicas of SEGMENTQL_READ_REPLICA_URLS (empty without), made on first use."""
        replicas = self.extras.get("replicas")
        if replicas is None:
            replicas = self.extras["replicas"] = replica_set(self.settings)
        assert isinstance(replicas, ReplicaSet)
        return replicas

    @classmethod
    def start(cls, settings: Settings | None = None) -> Runtime:
        settings = settings or Settings.from_env()
        database = resolve(settings)
        return cls(settings, database, create_engine(database, settings))

    async def close(self) -> None:
        hub = self.extras.pop("hub", None)
        if hub is not None:
            await hub.close()
        webhook_client = self.extras.pop("webhook_client", None)
        if webhook_client is not None:
            await webhook_client.aclose()
        replicas = self.extras.pop("replicas", None)
        if replicas is not None:
            await replicas.close()
        await self.engine.dispose()
