"""The `segmentql` command: serve, migrate, keys, schema export, demo data, imports, CSV export.

Typer declares the commands and their flags (help, completion, exit codes:
0 done, 1 refused with a message, 2 a usage error). Each command body is a few
lines that call one service; the longer ones live in api/commands/.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.progress import CommandProgress
from api.runtime import Runtime
from domain.access import Role

if TYPE_CHECKING:
    from persistence.settings import Settings

app = typer.Typer(
    name="segmentql",
    help="Customer segments as a GraphQL API over PostgreSQL.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
segments_app = typer.Typer(help="Segments.", no_args_is_help=True)
snapshots_app = typer.Typer(help="Segment snapshots.", no_args_is_help=True)
import_app = typer.Typer(help="Bulk loads.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(segments_app, name="segments")
app.add_typer(snapshots_app, name="snapshots")
app.add_typer(import_app, name="import")

Workspace = Annotated[str, typer.Option(help="Workspace name.")]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress bar (for cron).")]


def with_runtime(work: Callable[[Runtime], Awaitable[None]]) -> None:
    """Start the runtime on the configured database, migrate, run `work`, close."""

    async def run() -> None:
        runtime = Runtime.start()
        try:
            from api import garbage_collection
            from persistence.migrate import migrate

            # collected as `serve` collects: an import parses a few hundred objects a line
            garbage_collection.tune(runtime.settings.gc_young_threshold)

            await migrate(runtime.engine)
            await work(runtime)
        finally:
            await runtime.close()

    asyncio.run(run())


def _exit_normally_on_sigterm() -> None:
    """After a graceful shutdown, uvicorn raises the SIGTERM it stopped on again under the
    handler it found. The default handler would end the process without running `atexit`,
    which stops the embedded PostgreSQL: it was left running. Exit as `sys.exit` does
    instead, with the conventional status 143."""
    import signal

    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
    workers: Annotated[
        int, typer.Option(min=1, help="Processes serving the one port (background jobs: one).")
    ] = 1,
) -> None:
    """Run the API (migrates first)."""
    import os

    import uvicorn

    from api.open_files import raise_open_file_limit
    from persistence.settings import Settings

    raise_open_file_limit()  # one file per WebSocket subscriber; workers inherit it
    _exit_normally_on_sigterm()
    # The workers read their settings from the environment: the flags go there too.
    if host:
        os.environ["SEGMENTQL_HOST"] = host
    if port:
        os.environ["SEGMENTQL_PORT"] = str(port)
    settings = Settings.from_env()
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": log_level,
        "timeout_graceful_shutdown": 30,
        "ws": "websockets-sansio",
        # Events are a few hundred bytes: compressing each one for each subscriber
        # cost more CPU than it saved bytes, and the zlib state of every idle
        # WebSocket was most of its memory (docs/operations.md, live_fanout).
        "ws_per_message_deflate": False,
    }
    if workers == 1:
        from api.app import create_app

        uvicorn.run(create_app(settings), **options)
        return
    with shared_metrics():
        if not settings.database_url:
            os.environ["DATABASE_URL"] = embedded_for_workers(settings)
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            workers=workers,
            # A worker busy starting (imports, migrations) on a loaded machine is not hung.
            timeout_worker_healthcheck=30,
            **options,
        )


def embedded_for_workers(settings: Settings) -> str:
    """Start the embedded PostgreSQL here, in the supervisor, and prepare it; its URL.

    The workers then use it as an external database: the supervisor stops it when it
    exits (worker processes end without running exit handlers, so a server started
    by them would be left running).
    """
    from api.services.bootstrap import prepare_database
    from persistence.database import start_embedded

    url = start_embedded(str(settings.data_dir))

    async def prepare() -> None:
        runtime = Runtime.start(settings)
        try:
            await prepare_database(runtime)
        finally:
            await runtime.close()

    asyncio.run(prepare())
    return url


@contextlib.contextmanager
def shared_metrics() -> Iterator[None]:
    """A PROMETHEUS_MULTIPROC_DIR for the workers (a fresh one, removed after) unless set."""
    import os
    import shutil
    import tempfile

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    directory = tempfile.mkdtemp(prefix="segmentql-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    try:
        yield
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@app.command()
def migrate() -> None:
    """Apply database migrations."""

    async def work(runtime: Runtime) -> None:
        print("migrations applied")

    with_runtime(work)


@keys_app.command("create")
def keys_create(
    workspace: Annotated[str, typer.Option(help="Workspace name (created if new).")],
    role: Annotated[Role, typer.Option(help="What the key may do.")] = Role.WRITE,
    label: Annotated[str | None, typer.Option(help="A note to tell keys apart.")] = None,
) -> None:
    """Print a new API key (shown once)."""
    from api.services.bootstrap import create_key

    async def work(runtime: Runtime) -> None:
        print(await create_key(runtime, workspace, role, label))

    with_runtime(work)


@keys_app.command("list")
def keys_list(workspace: Annotated[str, typer.Option(help="Workspace name.")]) -> None:
    """The workspace's keys: id, role, prefix, created, last used, expires, revoked, name."""
    from api.services import api_keys

    async def work(runtime: Runtime) -> None:
        workspace_pk = await api_keys.workspace_pk_of(runtime, workspace)
        print(f"{'ID':<12} {'ROLE':<6} {'PREFIX':<11} {'CREATED':<20} {'LAST USED':<20} "
              f"{'EXPIRES':<20} {'REVOKED':<20} NAME")  # fmt: skip
        for k in await api_keys.list_keys(runtime, workspace_pk):
            times = [_when(t) for t in (k.created_at, k.last_used_at, k.expires_at, k.revoked_at)]
            print(f"{k.id:<12} {k.role.value:<6} {k.prefix:<11} "
                  + " ".join(f"{t:<20}" for t in times) + f" {k.name or ''}")  # fmt: skip

    with_runtime(work)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(metavar="ID", help="The key's id, e.g. key_42.")],
    workspace: Annotated[str, typer.Option(help="Workspace name.")],
) -> None:
    """Revoke a key: every process refuses it from its next request on."""
    from api.services import api_keys
    from domain.errors import DomainError

    async def work(runtime: Runtime) -> None:
        try:
            workspace_pk = await api_keys.workspace_pk_of(runtime, workspace)
            revoked = await api_keys.revoke_key(runtime, workspace_pk, key_id)
        except DomainError as exc:
            raise SystemExit(exc.message) from exc
        print(f"revoked {revoked.id} ({revoked.prefix}...)")

    with_runtime(work)


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


@app.command("export-schema")
def export_schema(
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write.")] = None,
) -> None:
    """Print the GraphQL SDL."""
    from api.schema import schema

    sdl = schema.as_str() + "\n"
    if output:
        output.write_text(sdl)
    else:
        sys.stdout.write(sdl)


@app.command()
def seed(
    customers: Annotated[int, typer.Option(help="How many customers to add.")] = 10_000,
    workspace: Workspace = "default",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same data.")] = 42,
    jobs: Annotated[
        int | None, typer.Option(help="Worker processes (default: one per core; none below 20k).")
    ] = None,
    rebuild_indexes: Annotated[
        bool | None,
        typer.Option(
            "--rebuild-indexes/--no-rebuild-indexes",
            help="Drop secondary indexes during the load and rebuild them after (default: for "
            "200k customers or more, and no fewer than the table holds).",
        ),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Load deterministic demo customers (COPY)."""
    from persistence.seed import SeedError, seed_customers

    async def work(runtime: Runtime) -> None:
        with CommandProgress("seed", customers, quiet=quiet, unit="customers") as bar:
            try:
                report = await seed_customers(
                    runtime,
                    workspace=workspace,
                    count=customers,
                    seed=seed,
                    jobs=jobs,
                    rebuild_indexes=rebuild_indexes,
                    progress=bar,
                )
            except SeedError as exc:
                raise SystemExit(f"segmentql seed: {exc}") from exc
        print(report.summary())

    with_runtime(work)


@app.command()
def sweep() -> None:
    """Re-evaluate time-relative ACTIVE segments once (for cron)."""
    from api.services.membership import sweep as sweep_all

    async def work(runtime: Runtime) -> None:
        print(f"{await sweep_all(runtime)} transitions recorded")

    with_runtime(work)


@segments_app.command("list")
def segments_list(workspace: Workspace = "default") -> None:
    """A table of segments: kind, count, share, cost."""
    from api.services.segment_listing import segment_table

    async def work(runtime: Runtime) -> None:
        print(await segment_table(runtime, workspace))

    with_runtime(work)


@snapshots_app.command("run-due")
def snapshots_run_due() -> None:
    """Take every due scheduled snapshot (for cron)."""
    from api.services.snapshots import run_due

    async def work(runtime: Runtime) -> None:
        print(f"{await run_due(runtime)} snapshots taken")

    with_runtime(work)


@import_app.command("events")
def import_events(
    file: Annotated[Path, typer.Argument(help="A JSON Lines file of tracked events.")],
    workspace: Workspace = "default",
    quiet: Quiet = False,
) -> None:
    """Load tracked events from a JSON Lines file."""
    import time

    from api.services.event_import import import_events as load

    async def work(runtime: Runtime) -> None:
        started = time.perf_counter()
        with CommandProgress("import", quiet=quiet, unit="lines") as bar:
            report = await load(runtime, workspace, file, bar)
        elapsed = time.perf_counter() - started
        for line_no, reason in sorted(report.bad):
            print(f"line {line_no}: {reason}", file=sys.stderr)
        if report.bad_count > len(report.bad):
            print(f"... and {report.bad_count - len(report.bad)} more bad lines", file=sys.stderr)
        print(
            f"{report.loaded} events loaded, {report.duplicates} already stored, "
            f"{report.bad_count} bad lines skipped, in {elapsed:.1f} s "
            f"({report.loaded / max(elapsed, 1e-9):,.0f} events/s)"
        )

    with_runtime(work)


class ModeName(StrEnum):
    upsert = "upsert"
    replace = "replace"


class FormatName(StrEnum):
    auto = "auto"
    jsonl = "jsonl"
    csv = "csv"


@import_app.command("customers")
def import_customers(
    file: Annotated[
        str, typer.Argument(metavar="FILE", help="JSON Lines or CSV, .gz read as well; - is stdin.")
    ],
    workspace: Annotated[
        str | None, typer.Option(help="Workspace name (required when more than one exists).")
    ] = None,
    mode: Annotated[
        ModeName,
        typer.Option(
            help="upsert: create or replace the file's customers; replace: the file "
            "is the whole truth, the others are deleted."
        ),
    ] = ModeName.upsert,
    file_format: Annotated[
        FormatName, typer.Option("--format", help="auto: CSV for .csv(.gz) names, else JSONL.")
    ] = FormatName.auto,
    strict: Annotated[
        bool, typer.Option("--strict", help="All or nothing: one bad line and nothing is written.")
    ] = False,
    max_delete: Annotated[
        float, typer.Option(help="replace: refuse to delete more than this percent of customers.")
    ] = 10.0,
    force: Annotated[
        bool, typer.Option("--force", help="replace: delete beyond --max-delete.")
    ] = False,
    quiet: Quiet = False,
) -> None:
    """Load customers from a file, validated as customersUpsert validates them.

    Exit code 0: every line went in; 3: done, but some lines were rejected (printed with
    their numbers); 1: refused or failed (with --strict, nothing was written).
    """
    from api.commands.import_customers import run_import
    from domain.import_job import FileFormat, ImportMode, ImportOptions

    chosen = (
        FileFormat.of(file) if file_format is FormatName.auto else FileFormat(file_format.value)
    )
    options = ImportOptions(
        mode=ImportMode(mode.value),
        format=chosen,
        strict=strict,
        max_delete_percent=max_delete,
        force=force,
    )
    code = 0

    async def work(runtime: Runtime) -> None:
        nonlocal code
        code = await run_import(runtime, file, workspace, options, quiet)

    with_runtime(work)
    raise typer.Exit(code)


@app.command("export")
def export(
    segment_id: Annotated[str, typer.Argument(metavar="SEGMENT_ID", help="The segment.")],
    workspace: Workspace = "default",
    fields: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated field paths (default: id,email,name,country,createdAt)."
        ),
    ] = None,
    instance: Annotated[
        str | None, typer.Option(metavar="INSTANCE_ID", help="Export this snapshot instead.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Write a segment's members (or a snapshot's) as CSV, as the HTTP export does."""
    from api.commands.export import export_to

    async def work(runtime: Runtime) -> None:
        await export_to(runtime, workspace, segment_id, fields, output, instance, quiet)

    with_runtime(work)


def main(argv: list[str] | None = None) -> None:
    app(args=argv, prog_name="segmentql")


if __name__ == "__main__":
    main()
