"""Exporting a segment of every customer: the CSV stream, the server's memory, a snapshot.

The segment is `bench-export-000-all` (`createdAt EXISTS`: every customer),
created on the first run. The export is read over HTTP as a client would and
thrown away; the server's peak RSS is its VmHWM, reset before each export
(`5` to /proc/<pid>/clear_refs), so it is the peak of that export alone.
Snapshots taken here are deleted after they are timed.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.harness import Bench, BenchError, Latency, scenario
from bench.scenarios.segments import cond, ensure_segments

EXPORT_RUNS = 3
SNAPSHOT_RUNS = 3
SNAPSHOT = """
mutation Snapshot($id: ID!) {
  segmentSnapshotTake(segmentId: $id) {
    instance { id numOfCustomers } userErrors { field message code }
  }
}
"""


def memory_kb(pid: int, field: str) -> int | None:
    """A `Vm...` line of /proc/<pid>/status, in kB (None off Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak(pid: int) -> bool:
    """Start VmHWM again from the current RSS (Linux 4.0+); False when not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@scenario(
    "export",
    order=60,
    description="CSV export of all customers (rows/s, server peak RSS); snapshot of them",
)
async def run(bench: Bench) -> None:
    ((segment_id, _kind),) = await ensure_segments(
        bench, "bench-export-", [("all", cond("createdAt", "EXISTS"))]
    )
    pid = bench.server.pid if bench.server else None
    url = f"{bench.base_url}/segments/{segment_id}/export.csv"

    async def export() -> tuple[int, float]:
        started = time.perf_counter()
        newlines = 0
        async with bench.http.stream("GET", url) as response:
            if response.status_code != 200:
                raise BenchError(f"export: HTTP {response.status_code}")
            async for chunk in response.aiter_bytes():
                newlines += chunk.count(b"\n")
        return newlines - 1, time.perf_counter() - started  # less the header row

    await export()  # warm-up
    before = memory_kb(pid, "VmRSS") if pid else None
    seconds, peaks, rows = [], [], 0
    for _ in range(EXPORT_RUNS):
        peak_known = pid is not None and reset_peak(pid)
        rows, elapsed = await export()
        seconds.append(elapsed)
        peak = memory_kb(pid, "VmHWM") if pid and peak_known else None
        if peak is not None:
            peaks.append(peak)
    took = Latency(seconds)
    bench.report("export.all.rows", rows, "rows")
    bench.report("export.all.seconds.p50", took.p50, "s")
    bench.report("export.all.rows_per_second", rows / took.p50, "rows/s")
    if before is not None and peaks:
        bench.report("export.all.server_rss_before", before / 1024, "MB")
        bench.report("export.all.server_peak_rss", max(peaks) / 1024, "MB")

    async def snapshot() -> float:
        started = time.perf_counter()
        data, _ms = await bench.gql(SNAPSHOT, {"id": segment_id})
        elapsed = time.perf_counter() - started
        payload = data["segmentSnapshotTake"]
        if payload["userErrors"]:
            raise BenchError(f"segmentSnapshotTake: {payload['userErrors']}")
        await bench.conn.execute(  # 1M member rows a snapshot: do not keep them
            "DELETE FROM segment_instance WHERE workspace_pk = $1 AND id = $2",
            bench.workspace_pk,
            payload["instance"]["id"],
        )
        return elapsed

    taken = Latency([await snapshot() for _ in range(SNAPSHOT_RUNS)])
    bench.report("export.snapshot_all.p50", taken.p50, "s")
    bench.report("export.snapshot_all.max", max(taken.samples), "s")
