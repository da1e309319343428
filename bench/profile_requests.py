"""CPU per request of the read path, in process, with an optional pyinstrument profile.

    DATABASE_URL=... uv run python -m bench.profile_requests [--requests 500] [--profile page]

Runs the real app (create_app, its lifespan, every extension) through httpx's ASGI
transport, with background jobs and cost buckets off as the benchmark's server has them,
on workspace `bench` (seeded by `python -m bench` or `segmentql seed --workspace bench`).
For `{ __typename }`, the relay scenario's node(id:) of a customer and the anchor's first
page (country IN (FR, DE) AND paymentMethodType = CARD, 50 rows) and the contention
scenario's 72,001-point document (`heavy`, a few runs only), prints the process CPU
time per request, which the machine's other load moves far less than wall time;
`--profile NAME` prints where it went; `--compare-executors ROUNDS` compares the lean
executor (api.executor) with graphql-core's in this one process.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import sys
import time
from typing import Any

import httpx
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api.app import create_app
from api.executor import LeanExecutor
from api.runtime import Runtime
from api.schema import schema
from api.services.bootstrap import create_key
from api.types.node import global_id, parse_global_id
from bench.anchor_measure import PAGE_QUERY, condition
from bench.scenarios.contention import HEAVY
from bench.scenarios.relay import NODE
from domain.access import Role
from persistence.settings import Settings

WORKSPACE = "bench"
PAGE_VARIABLES = {
    "w": {
        "and": [
            condition("country", "IN", values=["FR", "DE"]),
            condition("paymentMethodType", "EQ", value="CARD"),
        ]
    }
}
NODE_CUSTOMER = "cus_0000042"  # seeded in every bench workspace


def requests(workspace_pk: int) -> dict[str, dict[str, Any]]:
    """The profiled requests: no table read, node(id:) of one customer, a page of 50."""
    node_id = global_id("Customer", workspace_pk, NODE_CUSTOMER)
    return {
        "typename": {"query": "{ __typename }"},
        "node": {"query": NODE, "variables": {"id": node_id}},
        "page": {"query": PAGE_QUERY, "variables": PAGE_VARIABLES},
        "heavy": {"query": HEAVY},
    }


PROFILED = ("typename", "node", "page", "heavy")

OUTPUT: dict[str, dict[str, Any]] = {
    "tree": {},
    "flat": {"flat": True},
    "all": {"show_all": True},
}


async def loop(http: httpx.AsyncClient, body: bytes, n: int) -> tuple[float, float]:
    """CPU and wall ms per request over `n` requests (the in-process client's share
    included, the same for every request)."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        response = await http.post("/graphql", content=body)
        if response.status_code != 200 or b'"errors"' in response.content:
            raise SystemExit(f"HTTP {response.status_code}: {response.text[:500]}")
    return (time.process_time() - cpu) * 1000 / n, (time.perf_counter() - wall) * 1000 / n


async def bench_workspace(http: httpx.AsyncClient) -> int:
    """The pk of the key's workspace, read from a customer's global id."""
    response = await http.post(
        "/graphql",
        json={
            "query": "query($id: ID!) { customer(id: $id) { nodeId } }",
            "variables": {"id": NODE_CUSTOMER},
        },
    )
    node_id = response.json()["data"]["customer"]["nodeId"]
    parsed = parse_global_id(node_id)
    assert parsed is not None
    return parsed.workspace_pk


def quiet_client() -> None:
    """httpx's ASGI transport tries `import sniffio` for every request (to see whether trio
    runs); where sniffio is not installed, each failed import searches sys.path again, some
    0.3 ms of the client's CPU a request. Recorded as absent, it fails at once."""
    try:
        import sniffio  # noqa: F401
    except ImportError:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


async def compare_executors(
    http: httpx.AsyncClient, bodies: dict[str, bytes], rounds: int, n: int
) -> None:
    """Blocks of `n` requests with each executor in turn: the machine's load drifts alike
    over both, and each figure is the median of `rounds` blocks."""
    sides: dict[str, type[StrawberryGraphQLCoreExecutionContext]] = {
        "graphql_core": StrawberryGraphQLCoreExecutionContext,
        "lean": LeanExecutor,
    }
    cpu: dict[tuple[str, str], list[float]] = {(b, s): [] for b in bodies for s in sides}
    try:
        for _ in range(rounds):
            for name, body in bodies.items():
                for side, executor in sides.items():
                    schema.execution_context_class = executor
                    cpu[(name, side)].append((await loop(http, body, n))[0])
    finally:
        schema.execution_context_class = LeanExecutor
    for name in bodies:
        medians = {side: statistics.median(cpu[(name, side)]) for side in sides}
        for side, value in medians.items():
            print(f"cpu_per_request.{name}.{side}: {value:.3f} ms", flush=True)
        ratio = medians["lean"] / medians["graphql_core"]
        print(f"cpu_per_request.{name}.lean_vs_graphql_core: {ratio:.3f} x", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--profile", choices=PROFILED, help="profile this request")
    parser.add_argument("--output", choices=sorted(OUTPUT), default="tree")
    parser.add_argument(
        "--compare-executors",
        type=int,
        metavar="ROUNDS",
        help="then ROUNDS rounds of blocks of --requests, alternating graphql-core's "
        "executor and the lean one in this process; the median CPU of each",
    )
    args = parser.parse_args()
    quiet_client()
    settings = dataclasses.replace(Settings.from_env(), background_jobs=False, cost_bucket_size=0)
    runtime = Runtime.start(settings)
    try:
        key = await create_key(runtime, WORKSPACE, Role.READ, "profile")
        app = create_app(runtime=runtime)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://segmentql",
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            ) as http,
        ):
            workspace_pk = await bench_workspace(http)
            bodies = {
                name: json.dumps(req).encode() for name, req in requests(workspace_pk).items()
            }
            for name, body in bodies.items():
                n = max(args.requests // 100, 3) if name == "heavy" else args.requests
                await loop(http, body, 2 if name == "heavy" else 20)  # warm-up
                cpu, wall = await loop(http, body, n)
                print(f"cpu_per_request.{name}: {cpu:.3f} ms", flush=True)
                print(f"wall_per_request.{name}: {wall:.3f} ms", flush=True)
            if args.profile:
                from pyinstrument import Profiler

                with Profiler(async_mode="disabled", interval=0.001) as profiler:
                    n = max(args.requests // 100, 3) if args.profile == "heavy" else args.requests
                    await loop(http, bodies[args.profile], n)
                print(profiler.output_text(unicode=False, color=False, **OUTPUT[args.output]))
            if args.compare_executors:
                await compare_executors(http, bodies, args.compare_executors, args.requests)
    finally:
        await runtime.close()


if __name__ == "__main__":
    asyncio.run(main())
