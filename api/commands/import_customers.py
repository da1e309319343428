"""`segmentql import customers FILE`: the body of the command (flags are in api/cli.py)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from api.progress import CommandProgress
from api.runtime import Runtime
from api.services.customer_import import CHUNK, ImportRefused, file_lines, import_customers
from domain.import_job import ImportOptions, ImportReport
from persistence.unit_of_work import UnitOfWork

EXIT_REJECTED = 3
"""The import completed, but some lines were rejected (each printed with its number)."""


async def resolve_workspace(runtime: Runtime, name: str | None) -> int:
    """The named workspace, or the only one there is; otherwise the command stops with why."""
    async with UnitOfWork(runtime.engine, 0) as uow:
        if name is not None:
            found = await uow.workspaces.find(name)
            if found is None:
                raise SystemExit(f"segmentql import: no workspace named {name!r}")
            return found
        names = await uow.workspaces.names()
        if len(names) != 1:
            raise SystemExit(
                "segmentql import: --workspace is required when there is not exactly one "
                f"workspace (found: {', '.join(names) or 'none'}...)"
            )
        only = await uow.workspaces.find(names[0])
        assert only is not None
        return only


async def run_import(
    runtime: Runtime, file: str, workspace: str | None, options: ImportOptions, quiet: bool
) -> int:
    """Import `file` (`-` is standard input); prints rejections and a summary; the exit code."""
    workspace_pk = await resolve_workspace(runtime, workspace)
    with tempfile.TemporaryDirectory(prefix="segmentql-import-") as spool:
        path = Path(file)
        if file == "-":  # read twice in replace mode, so kept while the import runs
            path = Path(spool) / "stdin"
            with path.open("wb") as out:
                shutil.copyfileobj(sys.stdin.buffer, out, CHUNK)
        elif not path.is_file():
            raise SystemExit(f"segmentql import: no file {file!r}")
        with CommandProgress("import", quiet=quiet, unit="lines") as bar:
            try:
                report = await import_customers(
                    runtime, workspace_pk, file_lines(path), options, bar
                )
            except ImportRefused as refused:
                raise SystemExit(f"segmentql import: {refused}") from refused
    return _print_report(report)


def _print_report(report: ImportReport) -> int:
    for rejection in report.rejections:
        where = f" {'.'.join(rejection.field)}:" if rejection.field else ""
        print(
            f"line {rejection.line}:{where} {rejection.message} [{rejection.code.value}]",
            file=sys.stderr,
        )
    if report.rejected > len(report.rejections):
        print(f"... and {report.rejected - len(report.rejections):,} more", file=sys.stderr)
    print(report.summary())
    if report.failure is not None:
        print(f"segmentql import: {report.failure}", file=sys.stderr)
        return 1
    return EXIT_REJECTED if report.rejected else 0
