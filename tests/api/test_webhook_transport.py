"""The webhook client connects only to addresses it checked, resolving a name once
(api.services.webhook_transport), against a real receiver on 127.0.0.1."""

from __future__ import annotations

import httpx
import pytest

from api.services.webhook_transport import checked_client
from bench.webhook_receiver import receiving


class Names:
    """A resolver that knows a few names, counting the look-ups."""

    def __init__(self, **addresses: list[str]) -> None:
        self.addresses = {name.replace("_", "."): found for name, found in addresses.items()}
        self.lookups: list[str] = []

    async def __call__(self, host: str) -> list[str]:
        self.lookups.append(host)
        if host not in self.addresses:
            raise OSError(f"unknown name {host}")
        return self.addresses[host]


def port_of(url: str) -> int:
    port = httpx.URL(url).port
    assert port is not None
    return port


async def test_a_name_resolving_to_loopback_is_refused_without_the_setting() -> None:
    # given: a receiver on 127.0.0.1, and the default settings (no private addresses)
    async with receiving() as receiver, checked_client(False, 2.0, 4) as client:
        # when: it is addressed by a name that resolves to it (the system's resolver)
        url = f"http://localhost:{port_of(receiver.url)}/hook"
        with pytest.raises(httpx.ConnectError, match="loopback, link-local or private"):
            await client.post(url, content=b"{}")
        # then: nothing arrived
        assert receiver.seen == []


async def test_every_address_of_a_name_is_checked() -> None:
    names = Names(hooks_example=["8.8.8.8", "127.0.0.1"])
    async with receiving() as receiver, checked_client(False, 2.0, 4, names) as client:
        url = f"http://hooks.example:{port_of(receiver.url)}/hook"
        with pytest.raises(httpx.ConnectError, match=r"private address \(127\.0\.0\.1\)"):
            await client.post(url, content=b"{}")
        assert receiver.seen == [] and names.lookups == ["hooks.example"]


async def test_the_connection_goes_to_the_checked_address_under_the_name() -> None:
    # given: a name only our resolver knows, pointing at the receiver (private allowed)
    names = Names(hooks_invalid=["127.0.0.1"])
    async with receiving() as receiver, checked_client(True, 2.0, 4, names) as client:
        url = f"http://hooks.invalid:{port_of(receiver.url)}/hook"
        # when: two requests are sent
        for _ in range(2):
            assert (await client.post(url, content=b"{}")).status_code == 200
    # then: they arrived at the address the name was checked for (the system resolver
    # knows no .invalid name), with the name as Host, over one connection: one look-up
    assert [r.headers["host"] for r in receiver.received] == [f"hooks.invalid:{port_of(url)}"] * 2
    assert names.lookups == ["hooks.invalid"]


@pytest.mark.parametrize(
    "address",
    [
        "100.100.100.200",  # shared address space (100.64.0.0/10): a cloud metadata service
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    ],
)
async def test_non_public_addresses_hidden_in_other_ranges_are_refused(address: str) -> None:
    # given: a name resolving to an address that is not public though not "private"
    names = Names(hooks_example=[address])
    async with checked_client(False, 2.0, 4, names) as client:
        # when/then: the client refuses it before connecting
        with pytest.raises(httpx.ConnectError, match="loopback, link-local or private"):
            await client.post("https://hooks.example/hook", content=b"{}")
