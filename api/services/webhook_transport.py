"""The webhook sender's connections: opened only to addresses checked as they open.

Checking a URL's host and then letting the HTTP client resolve the name again
leaves a gap: a name can answer a public address to the check and a private one
to the connection (DNS rebinding). Here the network layer under the HTTP client
resolves the name once, refuses it if any of its addresses is loopback,
link-local or private (unless SEGMENTQL_WEBHOOK_ALLOW_PRIVATE), and connects to
one of exactly those addresses. The URL itself is left as it is, so the Host
header, TLS SNI and certificate check still use the name; a kept-alive
connection stays on the address it was checked for.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

from api.services.webhooks import resolved_addresses
from domain.webhook import refused_address

Resolver = Callable[[str], Awaitable[list[str]]]
"""Every address a host name resolves to."""

NO_DELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
"""A request goes out as two writes (headers, body); without TCP_NODELAY the body can
wait for the receiver's delayed ACK of the headers (~40 ms a request)."""


class CheckedNetwork(httpcore.AsyncNetworkBackend):
    """TCP connections to the checked addresses of a name, never to a fresh lookup's."""

    def __init__(self, allow_private: bool, resolve: Resolver = resolved_addresses) -> None:
        self._allow_private = allow_private
        self._resolve = resolve
        self._network = httpcore.AnyIOBackend()

    async def checked_addresses(self, host: str) -> list[str]:
        try:
            addresses = await self._resolve(host)
        except OSError as exc:
            raise httpcore.ConnectError(f"The host {host!r} does not resolve: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"The host {host!r} does not resolve.")
        refused = [a for a in addresses if refused_address(a)]
        if refused and not self._allow_private:
            raise httpcore.ConnectError(
                f"Refused: the host {host!r} resolves to a loopback, link-local or private"
                f" address ({refused[0]}); set SEGMENTQL_WEBHOOK_ALLOW_PRIVATE=1 to allow them."
            )
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        failed: httpcore.ConnectError | None = None
        for address in await self.checked_addresses(host):
            try:
                return await self._network.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:  # the name's next address, if any
                failed = exc
        assert failed is not None
        raise failed

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("Webhooks are not sent over unix sockets.")

    async def sleep(self, seconds: float) -> None:
        await self._network.sleep(seconds)


def checked_client(
    allow_private: bool,
    timeout_s: float,
    connections: int,
    resolve: Resolver = resolved_addresses,
) -> httpx.AsyncClient:
    """An HTTP client for webhooks: connections through `CheckedNetwork`, no redirects
    followed, no proxy from the environment (it would connect in our place, unchecked),
    up to `connections` kept alive."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    transport = httpx.AsyncHTTPTransport(limits=limits, socket_options=NO_DELAY)
    # httpx builds its connection pool without a way to pass the network layer: the pool
    # is replaced by the same one over CheckedNetwork (tests/api/test_webhook_transport.py
    # fails if a later httpx stops using it).
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=CheckedNetwork(allow_private, resolve),
        socket_options=NO_DELAY,
    )
    return httpx.AsyncClient(
        transport=transport, follow_redirects=False, timeout=timeout_s, trust_env=False
    )
