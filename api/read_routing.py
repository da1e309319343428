"""Which database a read goes to: a fresh read replica when there is one, else the primary.

Reads that may be a few seconds old (previews, member pages, counts, exports,
snapshot pages) ask `reader_for`; writes, and every read of a request after it
opened a transaction (a mutation's payload, membership checked right after a
write), stay on the primary (api.context). Each process checks its replicas
every second (`watched`) and reports them in /metrics.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator

from api.metrics import REPLICA_LAG, REPLICA_READS, REPLICA_SKIPPED, REPLICA_UP
from api.runtime import Runtime
from api.side_task import side_task
from persistence.replicas import Replica, ReplicaSet


def replica_for_read(runtime: Runtime) -> Replica | None:
    """A replica to read from now, or None for the primary (counted when replicas exist)."""
    replicas = runtime.replicas
    if not replicas:
        return None
    replica = replicas.choose(lambda reason: REPLICA_SKIPPED.labels(reason).inc())
    if replica is not None:
        REPLICA_READS.labels(replica.name).inc()
    return replica


def _report(replicas: ReplicaSet) -> None:
    for replica in replicas.replicas:
        REPLICA_UP.labels(replica.name).set(1 if replica.up else 0)
        REPLICA_LAG.labels(replica.name).set(math.nan if replica.lag_s is None else replica.lag_s)


@contextlib.asynccontextmanager
async def watched(runtime: Runtime) -> AsyncIterator[None]:
    """Check the replicas every second while the server runs (no task without replicas)."""
    replicas = runtime.replicas
    if not replicas:
        yield
        return
    async with side_task(replicas.watch(runtime.reader, _report), "segmentql-replicas"):
        yield
