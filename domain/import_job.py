"""What a bulk customer import is: its options, its running figures, the state of its job."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from domain.errors import DomainError, ErrorCode

REJECTIONS_KEPT = 100


class ImportMode(enum.Enum):
    UPSERT = "upsert"
    REPLACE = "replace"


class FileFormat(enum.Enum):
    JSONL = "jsonl"
    CSV = "csv"

    @staticmethod
    def of(name: str | None) -> FileFormat:
        """By the file's name: `.csv` and `.csv.gz` are CSV, everything else JSON Lines."""
        plain = (name or "").lower().removesuffix(".gz")
        return FileFormat.CSV if plain.endswith(".csv") else FileFormat.JSONL


class JobState(enum.Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class ImportOptions:
    mode: ImportMode = ImportMode.UPSERT
    format: FileFormat = FileFormat.JSONL
    strict: bool = False
    max_delete_percent: float = 10.0
    force: bool = False

    def as_json(self) -> dict[str, object]:
        return {
            "mode": self.mode.value,
            "format": self.format.value,
            "strict": self.strict,
            "maxDeletePercent": self.max_delete_percent,
            "force": self.force,
        }


@dataclass(frozen=True)
class Rejection:
    line: int
    field: tuple[str, ...]
    code: ErrorCode
    message: str


@dataclass
class ImportReport:
    """The running figures of one import; a job's row mirrors them as it goes."""

    lines: int = 0
    written: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    failure: str | None = None
    """Why nothing (strict) or nothing more was written; None when the import completed."""
    seconds: float = 0.0

    def reject(self, line: int, error: DomainError) -> None:
        self.rejected += 1
        if len(self.rejections) < REJECTIONS_KEPT:
            self.rejections.append(Rejection(line, error.field, error.code, error.message))

    def summary(self) -> str:
        rate = (self.written + self.unchanged) / max(self.seconds, 1e-9)
        return (
            f"{self.lines:,} lines: {self.written:,} customers written, {self.unchanged:,} "
            f"unchanged, {self.deleted:,} deleted, {self.rejected:,} lines rejected, in "
            f"{self.seconds:.1f} s ({rate:,.0f} customers/s)"
        )


@dataclass(frozen=True)
class ImportJobView:
    id: str
    state: JobState
    options: dict[str, object]
    report: ImportReport
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
