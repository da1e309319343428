"""Per-request DataLoaders: what many parents of one level ask for, loaded in one go."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.dataloader import DataLoader

from api.context import Context


def request_loader(
    ctx: Context, name: str, load: Callable[[Any], Awaitable[Any]]
) -> DataLoader[Any, Any]:
    """One loader per request and purpose; no cache, so a long WebSocket never serves stale rows."""
    loader = ctx.cache.get(name)
    if loader is None:
        loader = ctx.cache[name] = DataLoader(load_fn=load, cache=False)
    return loader


def shared(ctx: Context, name: str, read: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
    """One read per request, however many resolvers ask for it at once."""
    pending = ctx.cache.get(name)
    if pending is None:
        pending = ctx.cache[name] = asyncio.ensure_future(read())
    return pending
