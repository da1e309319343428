"""The `segmentql` command: serve, migrate, keys, schema export, demo data, CSV export."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import BinaryIO, TextIO

from api.runtime import Runtime
from domain.access import Role


def _with_runtime(work: Callable[[Runtime], Awaitable[None]]) -> None:
    async def run() -> None:
        runtime = Runtime.start()
        try:
            from persistence.migrate import migrate

            await migrate(runtime.engine)
            await work(runtime)
        finally:
            await runtime.close()

    asyncio.run(run())


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from api.app import create_app
    from persistence.settings import Settings

    settings = Settings.from_env()
    host = args.host or settings.host
    port = args.port or settings.port
    from dataclasses import replace

    settings = replace(settings, host=host, port=port)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=args.log_level,
        timeout_graceful_shutdown=30,
        ws="websockets-sansio",
    )


def cmd_migrate(args: argparse.Namespace) -> None:
    async def work(runtime: Runtime) -> None:
        print("migrations applied")

    _with_runtime(work)


def cmd_keys_create(args: argparse.Namespace) -> None:
    from api.services.bootstrap import create_key

    async def work(runtime: Runtime) -> None:
        key = await create_key(runtime, args.workspace, Role(args.role), args.label)
        print(key)

    _with_runtime(work)


def cmd_keys_list(args: argparse.Namespace) -> None:
    from api.services import api_keys

    async def work(runtime: Runtime) -> None:
        workspace_pk = await api_keys.workspace_pk_of(runtime, args.workspace)
        print(f"{'ID':<12} {'ROLE':<6} {'PREFIX':<11} {'CREATED':<20} {'LAST USED':<20} "
              f"{'EXPIRES':<20} {'REVOKED':<20} NAME")  # fmt: skip
        for k in await api_keys.list_keys(runtime, workspace_pk):
            times = [_when(t) for t in (k.created_at, k.last_used_at, k.expires_at, k.revoked_at)]
            print(f"{k.id:<12} {k.role.value:<6} {k.prefix:<11} "
                  + " ".join(f"{t:<20}" for t in times) + f" {k.name or ''}")  # fmt: skip

    _with_runtime(work)


def cmd_keys_revoke(args: argparse.Namespace) -> None:
    from api.services import api_keys
    from domain.errors import DomainError

    async def work(runtime: Runtime) -> None:
        try:
            workspace_pk = await api_keys.workspace_pk_of(runtime, args.workspace)
            revoked = await api_keys.revoke_key(runtime, workspace_pk, args.id)
        except DomainError as exc:
            raise SystemExit(exc.message) from exc
        print(f"revoked {revoked.id} ({revoked.prefix}...)")

    _with_runtime(work)


def _when(moment: object) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")  # type: ignore[attr-defined]


def cmd_export_schema(args: argparse.Namespace) -> None:
    from api.schema import schema

    sdl = schema.as_str() + "\n"
    if args.output:
        Path(args.output).write_text(sdl)
    else:
        sys.stdout.write(sdl)


def cmd_seed(args: argparse.Namespace) -> None:
    from persistence.seed import SeedError, seed_customers

    async def work(runtime: Runtime) -> None:
        try:
            report = await seed_customers(
                runtime,
                workspace=args.workspace,
                count=args.customers,
                seed=args.seed,
                jobs=args.jobs,
                rebuild_indexes=args.rebuild_indexes,
                progress=not args.quiet,
            )
        except SeedError as exc:
            raise SystemExit(f"segmentql seed: {exc}") from exc
        print(report.summary())

    _with_runtime(work)


def cmd_sweep(args: argparse.Namespace) -> None:
    from api.services.membership import sweep

    async def work(runtime: Runtime) -> None:
        print(f"{await sweep(runtime)} transitions recorded")

    _with_runtime(work)


def cmd_segments_list(args: argparse.Namespace) -> None:
    from api.services.segment_listing import segment_table

    async def work(runtime: Runtime) -> None:
        print(await segment_table(runtime, args.workspace))

    _with_runtime(work)


def cmd_snapshots_run_due(args: argparse.Namespace) -> None:
    from api.services.snapshots import run_due

    async def work(runtime: Runtime) -> None:
        print(f"{await run_due(runtime)} snapshots taken")

    _with_runtime(work)


def cmd_import_events(args: argparse.Namespace) -> None:
    import time

    from api.services.event_import import import_events

    async def work(runtime: Runtime) -> None:
        started = time.perf_counter()
        report = await import_events(runtime, args.workspace, Path(args.file), not args.quiet)
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

    _with_runtime(work)


class RowProgress:
    """Rows written so far on stderr: one redrawn line on a terminal; otherwise a line
    per 10% (or every few seconds when the total is unknown) and a last one at the end."""

    def __init__(self, stream: TextIO | None, total: int | None = None) -> None:
        self.stream, self.total = stream, total
        self.done = self.shown_done = 0
        self.shown_share = 0.0
        self.started = self.shown_at = time.perf_counter()
        self.tty = stream is not None and stream.isatty()

    def advance(self, rows: int) -> None:
        self.done += rows
        if self.stream is None:
            return
        if self.tty:
            self._show()
        elif self.total:
            if self._share() - self.shown_share >= 0.1:
                self._show()
        elif time.perf_counter() - self.shown_at >= 5:
            self._show()

    def close(self) -> None:
        if self.stream is None:
            return
        if self.tty:
            self._show()
            self.stream.write("\n")
        elif self.shown_done != self.done or self.done == 0:
            self._show()
        self.stream.flush()

    def _share(self) -> float:
        return self.done / max(self.total or 0, self.done, 1)

    def _show(self) -> None:
        assert self.stream is not None
        now = time.perf_counter()
        rate = self.done / max(now - self.started, 1e-9)
        if self.total:
            share = self._share()
            total = max(self.total, self.done)
            bar = "#" * int(share * 30)
            line = f"export [{bar:<30}] {share:4.0%} {self.done:,}/{total:,} rows"
            self.shown_share = share
        else:
            line = f"export {self.done:,} rows"
        line += f", {rate:,.0f} rows/s"
        self.shown_done, self.shown_at = self.done, now
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        self.stream.flush()


async def export_csv(
    runtime: Runtime,
    workspace: str,
    segment_id: str,
    fields: str | None,
    out: BinaryIO,
    progress: TextIO | None,
    instance_id: str | None = None,
) -> int:
    """Stream a segment's (or an instance's) CSV to `out`, as the HTTP export does; rows written."""
    from api.context import Context
    from api.services.exports import export_total, segment_export
    from domain.errors import DomainError
    from persistence.unit_of_work import UnitOfWork
    from persistence.workspaces import Caller, WorkspaceRepository

    async with UnitOfWork(runtime.engine, 0) as uow:
        found = await WorkspaceRepository(uow.conn).find(workspace)
    if found is None:
        raise SystemExit(f"segmentql export: no workspace named {workspace!r}")
    ctx = Context(runtime, Caller(found, workspace, Role.READ))
    bar = RowProgress(progress)
    try:
        export = await segment_export(ctx, segment_id, fields, instance_id, on_rows=bar.advance)
        bar.total = await export_total(ctx, segment_id, instance_id)
    except DomainError as exc:
        raise SystemExit(f"segmentql export: {exc.message}") from exc
    async with contextlib.aclosing(export.rows) as rows:  # frees the connection on failure
        async for chunk in rows:
            out.write(chunk)
    out.flush()
    bar.close()
    return bar.done


def cmd_export(args: argparse.Namespace) -> None:
    progress = None if args.quiet else sys.stderr

    async def work(runtime: Runtime) -> None:
        if args.output is None:
            try:
                await export_csv(
                    runtime,
                    args.workspace,
                    args.segment_id,
                    args.fields,
                    sys.stdout.buffer,
                    progress,
                    args.instance,
                )
            except BrokenPipeError:  # the reader went away (`| head`): stop quietly
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return
        target = Path(args.output)
        partial = target.with_name(target.name + ".partial")
        try:
            with partial.open("wb") as out:
                await export_csv(
                    runtime,
                    args.workspace,
                    args.segment_id,
                    args.fields,
                    out,
                    progress,
                    args.instance,
                )
            partial.replace(target)  # a failed export never leaves a truncated file behind
        finally:
            partial.unlink(missing_ok=True)

    _with_runtime(work)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segmentql", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API (migrates first)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(
        dest="keys_command", required=True
    )
    create = keys.add_parser("create", help="print a new API key (shown once)")
    create.add_argument("--workspace", required=True)
    create.add_argument("--role", choices=[r.value for r in Role], default="WRITE")
    create.add_argument("--label")
    create.set_defaults(func=cmd_keys_create)
    listing_keys = keys.add_parser("list", help="a workspace's keys (never the keys themselves)")
    listing_keys.add_argument("--workspace", required=True)
    listing_keys.set_defaults(func=cmd_keys_list)
    revoke = keys.add_parser("revoke", help="revoke a key by its id (key_...)")
    revoke.add_argument("--workspace", required=True)
    revoke.add_argument("id")
    revoke.set_defaults(func=cmd_keys_revoke)

    export = sub.add_parser("export-schema", help="print the GraphQL SDL")
    export.add_argument("-o", "--output")
    export.set_defaults(func=cmd_export_schema)

    sub.add_parser(
        "sweep", help="re-evaluate time-relative ACTIVE segments once (for cron)"
    ).set_defaults(func=cmd_sweep)

    segments = sub.add_parser("segments", help="segments").add_subparsers(
        dest="segments_command", required=True
    )
    listing = segments.add_parser("list", help="a table of segments: kind, count, share, cost")
    listing.add_argument("--workspace", default="default")
    listing.set_defaults(func=cmd_segments_list)

    snapshots = sub.add_parser("snapshots", help="segment snapshots").add_subparsers(
        dest="snapshots_command", required=True
    )
    snapshots.add_parser(
        "run-due", help="take every due scheduled snapshot (for cron)"
    ).set_defaults(func=cmd_snapshots_run_due)

    imports = sub.add_parser("import", help="bulk loads").add_subparsers(
        dest="import_command", required=True
    )
    events = imports.add_parser("events", help="load tracked events from a JSON Lines file")
    events.add_argument("file")
    events.add_argument("--workspace", default="default")
    events.add_argument("--quiet", action="store_true")
    events.set_defaults(func=cmd_import_events)

    csv_export = sub.add_parser(
        "export", help="write a segment's members (or a snapshot's) as CSV, as the HTTP export does"
    )
    csv_export.add_argument("segment_id", metavar="SEGMENT_ID")
    csv_export.add_argument("--workspace", default="default")
    csv_export.add_argument(
        "--fields",
        help="comma-separated customer field paths (default: id,email,name,country,createdAt)",
    )
    csv_export.add_argument(
        "--instance", metavar="INSTANCE_ID", help="export this snapshot instead"
    )
    csv_export.add_argument("-o", "--output", help="file to write (default: stdout)")
    csv_export.add_argument("--quiet", action="store_true", help="no progress bar")
    csv_export.set_defaults(func=cmd_export)

    seed = sub.add_parser("seed", help="load deterministic demo customers")
    seed.add_argument("--customers", type=int, default=10_000)
    seed.add_argument("--workspace", default="default")
    seed.add_argument("--seed", type=int, default=42)
    seed.add_argument(
        "--jobs", type=int, help="worker processes (default: one per core; none below 20k)"
    )
    seed.add_argument(
        "--rebuild-indexes",
        action=argparse.BooleanOptionalAction,
        help="drop secondary indexes during the load and rebuild them after "
        "(default: for 200k customers or more, and no fewer than the table holds)",
    )
    seed.add_argument("--quiet", action="store_true", help="no progress bar")
    seed.set_defaults(func=cmd_seed)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
