"""Global object identification: the Node interface and its global ids.

A global id names a type, the workspace and the object's own key, base64url-encoded.
It sits in `nodeId` beside each type's `id`, which stays the workspace's own key
(customers keep the id their client gave them), so no existing client changes; Relay
reads it with relay-compiler's `nodeInterfaceIdField: "nodeId"`, as with PostGraphile.
The workspace inside makes another workspace's global id resolve to nothing here, even
where both workspaces hold an object under the same key.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import strawberry

from api.context import Info

NODE_TYPES = (
    "Customer",
    "Segment",
    "SegmentInstance",
    "CustomProperty",
    "WebhookEndpoint",
    "ApiKey",
)


@strawberry.interface(
    description=(
        "An object with a stable identity, refetchable by `node(id:)` with its `nodeId` "
        "(the Global Object Identification convention, id field `nodeId`)."
    )
)
class Node:
    @strawberry.field(
        description="Globally unique, opaque id of this object, for `node(id:)` and `nodes(ids:)`."
    )
    def node_id(self, info: Info) -> strawberry.ID:
        # Every object a request returns is of the caller's workspace.
        workspace_pk = info.context.workspace_pk
        return strawberry.ID(global_id(type(self).__name__, workspace_pk, self.node_key()))

    def node_key(self) -> str:
        """The object's own key in its workspace (what its `id` or `key` field shows)."""
        raise NotImplementedError


@dataclass(frozen=True)
class GlobalId:
    type_name: str
    workspace_pk: int
    key: str


def global_id(type_name: str, workspace_pk: int, key: str) -> str:
    raw = f"{type_name}:{workspace_pk}:{key}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_global_id(value: str) -> GlobalId | None:
    """The parts of a global id this service gave out, or None for anything else."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    type_name, _, rest = raw.partition(":")
    workspace, _, key = rest.partition(":")
    if type_name not in NODE_TYPES or not workspace.isdecimal() or not key:
        return None
    return GlobalId(type_name, int(workspace), key)
