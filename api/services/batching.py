"""Per-request DataLoaders: what many parents of one level ask for, loaded in one go."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.dataloader import DataLoader

from api.context import Context
from api.loop_share import share_of


def request_loader(ctx: Context, name: str, load: Callable[[Any], Awaitable[Any]]) -> Loader:
    """One loader per request and purpose; no cache, so a long WebSocket never serves stale rows."""
    loader = ctx.cache.get(name)
    if loader is None:
        loader = ctx.cache[name] = Loader(ctx, DataLoader(load_fn=load, cache=False))
    return loader


class Loader:
    """A request's DataLoader; in a heavy operation, its results reach the callers through
    the operation's loop share (api.loop_share `deliver`), a few tasks at a time."""

    __slots__ = ("ctx", "loader")

    def __init__(self, ctx: Context, loader: DataLoader[Any, Any]) -> None:
        self.ctx = ctx
        self.loader = loader

    def load(self, key: Any) -> Awaitable[Any]:
        found = self.loader.load(key)
        share = share_of(self.ctx)
        return found if share is None else share.deliver(found)


def shared(ctx: Context, name: str, read: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
    """One read per request, however many resolvers ask for it at once."""
    pending = ctx.cache.get(name)
    if pending is None:
        pending = ctx.cache[name] = asyncio.ensure_future(read())
    return pending
