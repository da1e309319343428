"""Where a light request's time goes beside heavy ones: the event loop, callback by callback.

    DATABASE_URL=... uv run python -m bench.loop_trace [--calls 25]

Serves the real app (create_app, uvicorn, as `segmentql serve` does) in this process with
the loop instrumented, and drives it from a client subprocess the way the contention
scenario does: 8 clients of the first page alone, then beside 4 clients of the scenario's
heavy document. Every callback the loop runs is timed and charged to the request whose
context it ran in (a light one, a heavy one, or none: connections' protocol callbacks and
the server's own); the time the loop sat in `select()` with nothing to run is recorded
too, and so are the collector's pauses. For each light request the time between its
first byte and its response is then split into its own callbacks, the other light
requests', the heavy requests', the unattributed ones and idle (waiting on PostgreSQL,
the network, or a CPU that other processes hold), for all light requests beside heavy
ones and for their slowest 5%. The longest heavy callbacks are printed with where the
task was suspended after them, to find stretches the loop share does not break up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import dataclasses
import gc
import json
import os
import selectors
import socket
import statistics
import sys
import threading
import time
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

VAR: contextvars.ContextVar[Request | None] = contextvars.ContextVar("trace", default=None)
LIGHT, HEAVY = 1, 2
KINDS = {b"light": LIGHT, b"heavy": HEAVY}


@dataclasses.dataclass(eq=False)
class Request:
    kind: int
    start: float
    end: float = 0.0
    own: float = 0.0


class Timeline:
    """Every callback the loop ran (start, duration, kind: 0 none, 1 light, 2 heavy,
    3 idle in select, 4 the collector) and every request."""

    def __init__(self) -> None:
        self.starts = array("d")
        self.durations = array("d")
        self.kinds = array("b")
        self.requests: list[Request] = []
        self.longest: list[tuple[float, str]] = []
        self.collections: list[tuple[float, int]] = []
        self._gc_started = 0.0
        self.collected = 0.0

    def add(self, start: float, duration: float, kind: int) -> None:
        self.starts.append(start)
        self.durations.append(duration)
        self.kinds.append(kind)

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._gc_started = now
        else:
            self.add(self._gc_started, now - self._gc_started, 4)
            self.collections.append((now - self._gc_started, info["generation"]))
            self.collected += now - self._gc_started


TIMELINE = Timeline()


def _suspended_at(handle: Any) -> str:
    """Where the task a callback stepped is suspended now (its innermost awaited frame)."""
    callback = getattr(handle, "_callback", None)
    task = getattr(callback, "__self__", None)
    if not isinstance(task, asyncio.Task):
        return repr(callback)[:120]
    coro: Any = task.get_coro()
    where = f"done: {getattr(coro, '__qualname__', coro)}"
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        code = frame.f_code
        where = f"{code.co_filename.rsplit('/', 2)[-1]}:{frame.f_lineno} {code.co_name}"
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return where


class Sampler:
    """With --sample: the loop thread's stack every half millisecond while a heavy callback
    runs, kept for the callbacks that turn out long (what they spent their time in)."""

    def __init__(self) -> None:
        self.running = False
        self.pending: list[str] = []
        self.kept = Counter[str]()
        self.thread_id = threading.get_ident()

    def start(self) -> None:
        sys.setswitchinterval(0.0002)  # so that the sampler gets the GIL when it asks
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            time.sleep(0.0005)
            if not self.running:
                continue
            frame = sys._current_frames().get(self.thread_id)
            chain = []
            while frame is not None and len(chain) < 4:
                name = frame.f_code.co_filename
                ours = name.startswith(PROJECT) and "/.venv/" not in name
                # the project's frames, and the innermost library frame below them
                if (ours and not name.endswith("loop_trace.py")) or (not chain and not ours):
                    chain.append(f"{name.rsplit('/', 2)[-1]}:{frame.f_code.co_name}")
                frame = frame.f_back
            self.pending.append(" < ".join(chain))

    def end(self, long: bool) -> None:
        self.running = False
        if long:
            self.kept.update(self.pending)
        self.pending = []


SAMPLER: Sampler | None = None
PROJECT = str(Path(__file__).resolve().parents[1])


def instrument() -> None:
    """Time every Handle the loop runs and every select(); charge each to its request."""
    original_run = asyncio.events.Handle._run

    def timed_run(handle: Any) -> None:
        started = time.perf_counter()
        collected = TIMELINE.collected
        request = handle._context.get(VAR)
        kind = request.kind if request is not None else 0
        sampler = SAMPLER if kind == HEAVY else None
        if sampler is not None:
            sampler.running = True
        original_run(handle)
        duration = time.perf_counter() - started
        without_gc = duration - (TIMELINE.collected - collected)
        if sampler is not None:
            sampler.end(without_gc > 0.004)
        if request is not None:
            request.own += duration
        TIMELINE.add(started, duration, kind)
        if kind == HEAVY and without_gc > 0.004:
            TIMELINE.longest.append((without_gc, _suspended_at(handle)))

    asyncio.events.Handle._run = timed_run  # type: ignore[method-assign,assignment]
    original_select = selectors.EpollSelector.select

    def timed_select(self: Any, timeout: float | None = None) -> Any:
        started = time.perf_counter()
        try:
            return original_select(self, timeout)
        finally:
            TIMELINE.add(started, time.perf_counter() - started, 3)

    selectors.EpollSelector.select = timed_select  # type: ignore[method-assign]
    gc.callbacks.append(TIMELINE.on_gc)


def traced(app: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """The app, with each request marked by its `x-trace` header (light or heavy)."""

    async def wrapper(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        kind = next((KINDS.get(v, 0) for k, v in scope.get("headers", ()) if k == b"x-trace"), 0)
        if scope["type"] != "http" or not kind:
            await app(scope, receive, send)
            return
        request = Request(kind, time.perf_counter())
        VAR.set(request)
        try:
            await app(scope, receive, send)
        finally:
            request.end = time.perf_counter()
            TIMELINE.requests.append(request)

    return wrapper


# ---- analysis ---------------------------------------------------------------------

PARTS = ("own", "other light", "heavy", "unattributed", "collector", "idle")


def split(request: Request, timeline: Timeline, first: int) -> dict[str, float]:
    """The request's wall time split by what the loop did meanwhile (ms)."""
    parts = dict.fromkeys(PARTS, 0.0)
    starts, durations, kinds = timeline.starts, timeline.durations, timeline.kinds
    i = first
    while i < len(starts) and starts[i] < request.end:
        s, d, k = starts[i], durations[i], kinds[i]
        overlap = min(s + d, request.end) - max(s, request.start)
        if overlap > 0:
            if k == 4:
                parts["collector"] += overlap
            elif k == 3:
                parts["idle"] += overlap
            elif k == 2:
                parts["heavy"] += overlap
            elif k == 0:
                parts["unattributed"] += overlap
            else:
                parts["other light"] += overlap
        i += 1
    parts["other light"] -= request.own
    parts["own"] = request.own
    wall = request.end - request.start
    parts["rest"] = wall - sum(parts.values())  # between callbacks: the loop's own work
    parts["wall"] = wall
    return {k: v * 1000 for k, v in parts.items()}


def _iterations(tl: Timeline) -> None:
    """Heavy time per loop iteration (between two select() calls), and in how many
    callbacks: many short ones in one iteration hold the loop as one long one does."""
    per: list[tuple[float, int]] = []
    spent, count = 0.0, 0
    for duration, kind in zip(tl.durations, tl.kinds, strict=True):
        if kind == 3:
            if count:
                per.append((spent, count))
            spent, count = 0.0, 0
        elif kind == HEAVY:
            spent += duration
            count += 1
    if not per:
        return
    per.sort()
    p50, p95, top = per[len(per) // 2], per[int(0.95 * (len(per) - 1))], per[-1]
    over = [(d, n) for d, n in per if d > 0.004]
    print(
        f"# loop iterations with heavy callbacks: {len(per)}; heavy ms per iteration p50 "
        f"{p50[0] * 1000:.2f} ({p50[1]} callbacks), p95 {p95[0] * 1000:.2f} ({p95[1]}), "
        f"max {top[0] * 1000:.1f} ({top[1]}); over 4 ms: {len(over)} iterations, "
        f"{sum(d for d, _ in over) * 1000:.0f} ms, "
        f"{statistics.fmean(n for _, n in over) if over else 0:.0f} callbacks each on average"
    )


def report(timeline: Timeline) -> None:
    import bisect

    heavy = [r for r in timeline.requests if r.kind == HEAVY]
    light = sorted((r for r in timeline.requests if r.kind == LIGHT), key=lambda r: r.start)
    order = sorted(range(len(timeline.starts)), key=timeline.starts.__getitem__)
    tl = Timeline()
    for i in order:
        tl.add(timeline.starts[i], timeline.durations[i], timeline.kinds[i])

    def beside_heavy(r: Request) -> bool:
        return any(h.start < r.end and h.end > r.start for h in heavy)

    for name, group in (
        ("alone", [r for r in light if not beside_heavy(r)]),
        ("beside heavy", [r for r in light if beside_heavy(r)]),
    ):
        if not group:
            continue
        splits = []
        for r in group:
            first = max(bisect.bisect_left(tl.starts, r.start - 1.0), 0)
            splits.append(split(r, tl, first))
        splits.sort(key=lambda s: s["wall"])
        walls = [s["wall"] for s in splits]
        p95 = walls[int(0.95 * (len(walls) - 1))]
        slowest = splits[int(0.95 * len(splits)) :]
        print(
            f"# light requests {name}: {len(splits)}, server-side p50 "
            f"{statistics.median(walls):.1f} ms, p95 {p95:.1f} ms"
        )
        for label, chosen in (("all", splits), ("slowest 5%", slowest)):
            means = {k: statistics.fmean(s[k] for s in chosen) for k in (*PARTS, "rest", "wall")}
            print(f"  {label:>10}: " + ", ".join(f"{k} {v:.1f}" for k, v in means.items()))
    _iterations(tl)
    if heavy:
        walls = sorted(h.end - h.start for h in heavy)
        print(f"# heavy requests: {len(heavy)}, p50 {statistics.median(walls) * 1000:.0f} ms")
    where = Counter[str]()
    total = Counter[str]()
    for duration, at in timeline.longest:
        where[at] += 1
        total[at] += duration  # type: ignore[assignment]
    print("# heavy callbacks over 4 ms (collections taken out), by where the task was after:")
    for at, n in total.most_common(15):
        print(f"  {n * 1000:8.1f} ms in {where[at]:4d} callbacks: {at}")
    if SAMPLER is not None:
        print("# samples inside heavy callbacks over 4 ms (innermost project frames):")
        for chain, n in SAMPLER.kept.most_common(30):
            print(f"  {n:6d}  {chain}")
    big = sorted((d for d, _ in timeline.longest), reverse=True)[:10]
    print("# longest heavy callbacks (ms): " + ", ".join(f"{d * 1000:.1f}" for d in big))
    for generation in (0, 1, 2):
        gcs = sorted((d for d, g in timeline.collections if g == generation), reverse=True)
        print(
            f"# collections of generation {generation}: {len(gcs)}, {sum(gcs) * 1000:.0f} ms, "
            "longest (ms): " + ", ".join(f"{d * 1000:.1f}" for d in gcs[:8])
        )


# ---- the client (a subprocess, so that its own CPU is not the server loop's) -------------


async def client(url: str, key: str, calls: int, out: str) -> None:
    import httpx

    from bench.scenarios.contention import HEAVY as HEAVY_DOCUMENT
    from bench.scenarios.contention import HEAVY_CLIENTS, LIGHT_CLIENTS
    from bench.scenarios.read import PAGE

    headers = {"Authorization": f"Bearer {key}"}
    light_ms: dict[str, list[float]] = {"alone": [], "beside heavy": []}
    async with httpx.AsyncClient(headers=headers, timeout=120) as http:

        async def light(n: int, into: list[float]) -> None:
            for _ in range(n):
                started = time.perf_counter()
                response = await http.post(
                    f"{url}/graphql",
                    json={"query": PAGE, "variables": {"after": None}},
                    headers={"x-trace": "light"},
                )
                response.json()
                into.append((time.perf_counter() - started) * 1000)

        await light(10, [])
        await asyncio.gather(*(light(calls, light_ms["alone"]) for _ in range(LIGHT_CLIENTS)))
        stop = asyncio.Event()

        async def heavy() -> None:
            while not stop.is_set():
                response = await http.post(
                    f"{url}/graphql", json={"query": HEAVY_DOCUMENT}, headers={"x-trace": "heavy"}
                )
                response.json()

        heavies = [asyncio.create_task(heavy()) for _ in range(HEAVY_CLIENTS)]
        await asyncio.sleep(0.5)
        await asyncio.gather(
            *(light(calls, light_ms["beside heavy"]) for _ in range(LIGHT_CLIENTS))
        )
        stop.set()
        await asyncio.gather(*heavies)
    with open(out, "w") as f:
        json.dump(light_ms, f)


# ---- the server --------------------------------------------------------------------------


async def serve_and_drive(calls: int, hold: bool) -> None:
    import uvicorn

    from api import garbage_collection
    from api.app import create_app
    from api.runtime import Runtime
    from api.services.bootstrap import create_key
    from domain.access import Role
    from persistence.settings import Settings

    settings = dataclasses.replace(Settings.from_env(), background_jobs=False, cost_bucket_size=0)
    runtime = Runtime.start(settings)
    key = await create_key(runtime, "bench", Role.READ, "loop-trace")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(runtime=runtime)
    config = uvicorn.Config(traced(app), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    garbage_collection.tune(settings.gc_young_threshold)  # as `segmentql serve` does
    if not hold:
        garbage_collection.HeldCollections.hold = lambda self: None  # type: ignore[method-assign]
    out = f"/tmp/loop-trace-{os.getpid()}.json"
    args = [sys.executable, "-m", "bench.loop_trace", "--client", f"http://127.0.0.1:{port}"]
    args += ["--key", key, "--calls", str(calls), "--out", out]
    proc = await asyncio.create_subprocess_exec(*args)
    TIMELINE.__init__()  # type: ignore[misc]
    instrument()
    await proc.wait()
    server.should_exit = True
    await serving
    await runtime.close()
    report(TIMELINE)
    with open(out) as f:
        client_ms = json.load(f)
    os.unlink(out)
    for name, samples in client_ms.items():
        samples.sort()
        p95 = samples[int(0.95 * (len(samples) - 1))]
        print(
            f"# client-side light {name}: p50 {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=25, help="first pages per light client")
    parser.add_argument(
        "--collector",
        choices=("lane", "python"),
        default="lane",
        help="middle and full collections held back while heavy operations run (lane), or Python's",
    )
    parser.add_argument(
        "--sample", action="store_true", help="sample what long heavy callbacks spend time in"
    )
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(client(args.client, args.key, args.calls, args.out))
    else:
        if args.sample:
            global SAMPLER
            SAMPLER = Sampler()
            SAMPLER.start()
        asyncio.run(serve_and_drive(args.calls, args.collector == "lane"))


if __name__ == "__main__":
    main()
