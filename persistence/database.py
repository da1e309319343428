"""Where the database is: the configured server, or an embedded one we start.

With DATABASE_URL unset, the process starts its own PostgreSQL (pgserver) in
`<data dir>/pgdata`, reuses it across restarts and stops it on exit.
"""

from __future__ import annotations

import atexit
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from persistence.settings import Settings


@dataclass(frozen=True)
class Database:
    """A resolved database location and whether we started it ourselves."""

    url: URL
    embedded: bool


_embedded_servers: dict[str, Any] = {}


def start_embedded(data_dir: str) -> str:
    """Start (or join) the embedded PostgreSQL in `data_dir`; returns a libpq URI."""
    import os
    import warnings

    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime dir, which warns when XDG_RUNTIME_DIR is unset.
        warnings.simplefilter("ignore")
        import pgserver

    pgdata = os.path.join(data_dir, "pgdata")
    os.makedirs(data_dir, exist_ok=True)
    server = _embedded_servers.get(pgdata)
    if server is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
        _embedded_servers[pgdata] = server
        atexit.register(server.cleanup)
    return str(server.get_uri())


def async_url(raw: str) -> URL:
    """Turn any postgres URI (libpq form, socket host in the query) into asyncpg's."""
    parts = urlsplit(raw)
    query = parse_qs(parts.query)
    url = make_url(raw).set(drivername="postgresql+asyncpg")
    if "host" in query and not parts.hostname:
        # A Unix socket directory: asyncpg takes it as the host.
        url = url.set(host=query["host"][0], query={})
    return url


def resolve(settings: Settings) -> Database:
    if settings.database_url:
        return Database(url=async_url(settings.database_url), embedded=False)
    return Database(url=async_url(start_embedded(str(settings.data_dir))), embedded=True)


CONNECT_TIMEOUT_S = 10
"""How long opening a connection may take: a server that does not answer is unavailable,
not a request left hanging (asyncpg's own default is 60 s)."""

UNAVAILABLE_STATES = ("57P01", "57P02", "57P03")  # admin/crash shutdown, cannot connect now


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` (or what caused it) says the server is away: refused, closed under us,
    shutting down or starting up. Retrying later may succeed; nothing was committed."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        if isinstance(exc, OSError | asyncpg.exceptions.ConnectionDoesNotExistError):
            return True
        state = getattr(exc, "sqlstate", None)
        if isinstance(state, str) and (state.startswith("08") or state in UNAVAILABLE_STATES):
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return False


def create_engine(db: Database, settings: Settings) -> AsyncEngine:
    return create_async_engine(db.url, **engine_options(settings))


def engine_options(settings: Settings) -> dict[str, Any]:
    """The pool and session settings of every engine (the primary's and replicas')."""
    return {
        "pool_size": settings.pool_size,
        "max_overflow": settings.pool_max_overflow,
        "pool_pre_ping": False,
        # The most recently used connection first: at low concurrency requests keep
        # landing on a few connections, whose prepared statements (one per predicate
        # shape) are then already there; the others go idle.
        "pool_use_lifo": True,
        "connect_args": {
            # Statements prepared per connection: a workspace's segments each have their
            # own, and asyncpg's default of 100 would evict them in turn.
            "prepared_statement_cache_size": 1000,
            "timeout": CONNECT_TIMEOUT_S,
            "server_settings": {
                "statement_timeout": str(settings.statement_timeout_ms),
                "application_name": "segmentql",
                # JIT compilation costs seconds on the large generated membership queries
                # and buys nothing on these index-driven ones.
                "jit": "off",
            },
        },
    }


def pool_usage(engine: AsyncEngine) -> tuple[int, int]:
    """(connections checked out of the pool now, callers waiting for one).

    The waiters are read from the asyncio queue behind SQLAlchemy's async pool
    (no public counter exists); 0 when another pool class is in use.
    """
    pool = engine.pool
    in_use = pool.checkedout() if hasattr(pool, "checkedout") else 0
    # The queue is created on first use (a memoized property): read it without creating it.
    queue = vars(getattr(pool, "_pool", None) or object).get("_queue")
    waiting = len(getattr(queue, "_getters", ()) or ())
    return int(in_use), waiting


def libpq_dsn(db: Database) -> str:
    """The same location as a plain DSN for raw asyncpg connections (LISTEN, COPY, bench)."""
    url = db.url
    host = url.host or ""
    user = url.username or "postgres"
    password = f":{url.password}" if url.password else ""
    port = f":{url.port}" if url.port else ""
    if host.startswith("/"):
        return f"postgresql://{user}{password}@/{url.database}?host={host}"
    return f"postgresql://{user}{password}@{host}{port}/{url.database}"


@contextlib.contextmanager
def counting_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement sent through `engine` (and its autocommit reader) meanwhile.

    For tests and benchmarks that bound how many statements a request runs.
    """
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])  # (connection, cursor, statement, parameters, context, many)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
