"""Runtime settings, read once from the environment.

Every knob has a sensible default so `segmentql serve` needs nothing set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import platformdirs

N = TypeVar("N", int, float)


def _int(name: str, default: int) -> int:
    return _number(name, default, int, "a whole number")


def _float(name: str, default: float) -> float:
    return _number(name, default, float, "a number of seconds")


def _number(name: str, default: N, kind: type[N], what: str) -> N:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return kind(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be {what}, got {raw!r}") from exc


def _list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    data_dir: Path = Path(".")
    pool_size: int = 10
    pool_max_overflow: int = 10
    statement_timeout_ms: int = 15_000
    host: str = "127.0.0.1"
    port: int = 8000
    allowed_origins: list[str] = field(default_factory=list)
    max_query_depth: int = 12
    max_query_cost: int = 100_000
    request_connections: int = 3
    cost_bucket_size: int = 200_000
    cost_restore_rate: int = 20_000
    request_timeout_ms: int = 30_000
    heavy_query_cost: int = 10_000
    heavy_queries_at_once: int = 1
    heavy_slice_ms: float = 2
    heavy_pause_ms: float = 20
    gc_young_threshold: int = 10_000
    trusted_documents: str | None = None
    max_request_bytes: int = 5_000_000
    max_import_bytes: int = 20_000_000_000
    stats_max_age_s: int = 60
    slow_evaluation_ms: int = 1_000
    background_jobs: bool = True
    sweep_interval_s: float = 5
    event_retention_days: int = 30
    subscriber_buffer: int = 10_000
    export_timeout_ms: int = 600_000
    import_statement_timeout_ms: int = 600_000
    tracked_event_retention_days: int = 400
    webhook_allow_private: bool = False
    webhook_http_hosts: list[str] = field(default_factory=list)
    webhook_backoff_base_ms: int = 5_000
    webhook_disable_after_s: int = 3 * 24 * 3600
    webhook_poll_ms: int = 1_000
    webhook_timeout_s: float = 10.0
    metrics: bool = True
    read_replica_urls: list[str] = field(default_factory=list)
    replica_max_lag_s: float = 5.0
    metrics_token: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        default_dir = Path(platformdirs.user_data_dir("segmentql"))
        return cls(
            database_url=os.environ.get("DATABASE_URL") or None,
            data_dir=Path(os.environ.get("SEGMENTQL_DATA_DIR") or default_dir),
            pool_size=_int("SEGMENTQL_POOL_SIZE", 10),
            pool_max_overflow=_int("SEGMENTQL_POOL_MAX_OVERFLOW", 10),
            statement_timeout_ms=_int("SEGMENTQL_STATEMENT_TIMEOUT_MS", 15_000),
            host=os.environ.get("SEGMENTQL_HOST", "127.0.0.1"),
            port=_int("SEGMENTQL_PORT", 8000),
            allowed_origins=_list("SEGMENTQL_ALLOWED_ORIGINS", []),
            max_query_depth=_int("SEGMENTQL_MAX_QUERY_DEPTH", 12),
            max_query_cost=_int("SEGMENTQL_MAX_QUERY_COST", 100_000),
            request_connections=max(1, _int("SEGMENTQL_REQUEST_CONNECTIONS", 3)),
            cost_bucket_size=_int("SEGMENTQL_COST_BUCKET_SIZE", 200_000),
            cost_restore_rate=_int("SEGMENTQL_COST_RESTORE_RATE", 20_000),
            request_timeout_ms=_int("SEGMENTQL_REQUEST_TIMEOUT_MS", 30_000),
            heavy_query_cost=_int("SEGMENTQL_HEAVY_QUERY_COST", 10_000),
            heavy_queries_at_once=max(1, _int("SEGMENTQL_HEAVY_QUERIES_AT_ONCE", 1)),
            heavy_slice_ms=_float("SEGMENTQL_HEAVY_SLICE_MS", 2),
            heavy_pause_ms=_float("SEGMENTQL_HEAVY_PAUSE_MS", 20),
            gc_young_threshold=_int("SEGMENTQL_GC_YOUNG_THRESHOLD", 10_000),
            trusted_documents=os.environ.get("SEGMENTQL_TRUSTED_DOCUMENTS") or None,
            max_request_bytes=_int("SEGMENTQL_MAX_REQUEST_BYTES", 5_000_000),
            max_import_bytes=_int("SEGMENTQL_MAX_IMPORT_BYTES", 20_000_000_000),
            stats_max_age_s=_int("SEGMENTQL_STATS_MAX_AGE_S", 60),
            slow_evaluation_ms=_int("SEGMENTQL_SLOW_EVALUATION_MS", 1_000),
            sweep_interval_s=_float("SEGMENTQL_SWEEP_INTERVAL_S", 5),
            event_retention_days=_int("SEGMENTQL_EVENT_RETENTION_DAYS", 30),
            subscriber_buffer=_int("SEGMENTQL_SUBSCRIBER_BUFFER", 10_000),
            export_timeout_ms=_int("SEGMENTQL_EXPORT_TIMEOUT_MS", 600_000),
            import_statement_timeout_ms=_int("SEGMENTQL_IMPORT_STATEMENT_TIMEOUT_MS", 600_000),
            tracked_event_retention_days=_int("SEGMENTQL_TRACKED_EVENT_RETENTION_DAYS", 400),
            webhook_allow_private=os.environ.get("SEGMENTQL_WEBHOOK_ALLOW_PRIVATE") == "1",
            webhook_http_hosts=_list("SEGMENTQL_WEBHOOK_HTTP_HOSTS", []),
            webhook_backoff_base_ms=_int("SEGMENTQL_WEBHOOK_BACKOFF_BASE_MS", 5_000),
            webhook_disable_after_s=_int("SEGMENTQL_WEBHOOK_DISABLE_AFTER_S", 3 * 24 * 3600),
            webhook_poll_ms=_int("SEGMENTQL_WEBHOOK_POLL_MS", 1_000),
            webhook_timeout_s=_int("SEGMENTQL_WEBHOOK_TIMEOUT_S", 10),
            read_replica_urls=_list("SEGMENTQL_READ_REPLICA_URLS", []),
            replica_max_lag_s=_float("SEGMENTQL_REPLICA_MAX_LAG_S", 5.0),
            metrics=os.environ.get("SEGMENTQL_METRICS", "1") not in ("0", "false"),
            metrics_token=os.environ.get("SEGMENTQL_METRICS_TOKEN") or None,
            background_jobs=os.environ.get("SEGMENTQL_BACKGROUND_JOBS", "1") not in ("0", "false"),
        )
