"""`uv run python -m bench [--customers N] [--only NAME] [--runs N] [--webhook-down-s S]
[--subscribers N]`:
see bench/harness.py."""

from __future__ import annotations

import argparse
import asyncio

from bench.harness import run


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--customers", type=int, default=1_000_000, help="size of the bench workspace"
    )
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="run this scenario family (repeatable)"
    )
    parser.add_argument("--runs", type=int, default=100, help="timed calls per latency figure")
    parser.add_argument(
        "--webhook-down-s",
        type=float,
        default=60.0,
        help="how long the webhooks scenario's receiver answers 503",
    )
    parser.add_argument(
        "--subscribers",
        type=int,
        default=10_000,
        help="concurrent WebSocket subscribers of the live_fanout scenario",
    )
    args = parser.parse_args()
    raise SystemExit(
        asyncio.run(
            run(args.customers, args.only, args.runs, args.webhook_down_s, args.subscribers)
        )
    )


if __name__ == "__main__":  # the guard matters: seeding spawns worker processes
    main()
