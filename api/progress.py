"""The one progress display of the command line: seed, import and export all report to it.

Built on rich: a redrawn bar with rate and time left on a terminal; where stderr
is not a terminal (cron, CI logs) a plain line every few seconds and a last one
at the end, so logs stay short. The loaders only call `advance`/`note`
(persistence.bulk_load.ProgressSink); none of them draws anything itself.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

PLAIN_EVERY_S = 5.0


class CommandProgress:
    """`with CommandProgress("import", total=None) as bar: bar.advance(n)`; quiet draws nothing."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        quiet: bool = False,
        unit: str = "rows",
        stream: TextIO | None = None,
    ) -> None:
        self.label, self.unit, self.quiet = label, unit, quiet
        self.total = total
        self.done = 0
        self.rows = 0
        self.extra = ""
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._started = self._shown_at = time.perf_counter()
        self._shown_done = -1
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> CommandProgress:
        if not self.quiet and self._tty:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TextColumn("{task.fields[extra]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(file=self._stream),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total, rate="", extra="")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._refresh()
            self._bar.stop()
        elif not self.quiet and (self._shown_done != self.done or self.done == 0):
            self._plain_line()

    def set_total(self, total: int | None) -> None:
        self.total = total
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, total=total)

    def advance(self, items: int, rows: int = 0) -> None:
        """`items` more of the unit done (customers, lines, rows), `rows` more written in all."""
        self.done += items
        self.rows += rows
        if self.quiet:
            return
        if self._bar is not None:
            self._refresh()
        elif time.perf_counter() - self._shown_at >= PLAIN_EVERY_S:
            self._plain_line()

    def describe(self, extra: str) -> None:
        """A short running remark shown beside the bar, e.g. '3 rejected'."""
        self.extra = extra

    def note(self, text: str) -> None:
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.console.print(f"{self.label}: {text}")
        else:
            self._stream.write(f"{self.label}: {text}\n")
            self._stream.flush()

    def rate(self) -> float:
        return self.done / max(time.perf_counter() - self._started, 1e-9)

    def _refresh(self) -> None:
        assert self._bar is not None and self._task is not None
        self._bar.update(
            self._task,
            completed=self.done,
            rate=f"{self.rate():,.0f} {self.unit}/s",
            extra=self.extra,
        )

    def _plain_line(self) -> None:
        total = f"/{self.total:,}" if self.total else ""
        extra = f", {self.extra}" if self.extra else ""
        self._stream.write(
            f"{self.label}: {self.done:,}{total} {self.unit}, {self.rate():,.0f} {self.unit}/s"
            f"{extra}\n"
        )
        self._stream.flush()
        self._shown_done, self._shown_at = self.done, time.perf_counter()
