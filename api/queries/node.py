"""node(id), nodes(ids): any object with a stable identity, by its global id."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from api.context import Info
from api.services import nodes as service
from api.services.nodes import NodeModel
from api.types.api_key import ApiKey
from api.types.custom_property import CustomProperty
from api.types.customer import Customer
from api.types.node import Node, parse_global_id
from api.types.segment import Segment
from api.types.snapshot import SegmentInstance
from api.types.webhook import WebhookEndpoint
from domain.custom_property import CustomPropertyDef
from domain.records import CustomerView
from domain.segment import Segment as SegmentModel
from domain.webhook import Endpoint
from persistence.workspaces import KeyInfo

MAX_NODES = 100


def _to_type(model: NodeModel) -> Node:
    if isinstance(model, CustomerView):
        return Customer.from_domain(model)
    if isinstance(model, SegmentModel):
        return Segment.from_domain(model)
    if isinstance(model, CustomPropertyDef):
        return CustomProperty.from_domain(model)
    if isinstance(model, Endpoint):
        return WebhookEndpoint.from_domain(model)
    if isinstance(model, KeyInfo):
        return ApiKey.from_domain(model)
    return SegmentInstance.from_domain(model)


def _wanted(info: Info, node_id: str) -> tuple[str, str] | None:
    """(type name, key) of a global id of this workspace; None for any other id."""
    parsed = parse_global_id(node_id)
    if parsed is None or parsed.workspace_pk != info.context.workspace_pk:
        return None  # malformed, or another workspace's: nothing to show here
    return parsed.type_name, parsed.key


async def _node(info: Info, node_id: str) -> Node | None:
    wanted = _wanted(info, node_id)
    if wanted is None:
        return None
    model = await service.fetch(info.context, *wanted)
    return _to_type(model) if model is not None else None


@strawberry.type
class NodeQueries:
    @strawberry.field(
        description=(
            "Any object by its global `nodeId`; null for a malformed id, another workspace's, "
            "a deleted object's, or one the key's role may not read (webhook endpoints and "
            "API keys need an ADMIN key)."
        )
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await _node(info, str(id))

    @strawberry.field(
        description=(
            f"Objects by global `nodeId`, in the order asked (at most {MAX_NODES}); "
            "null in the place of each id `node` would give null for. One read per type, "
            "not one per id."
        )
    )
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise GraphQLError(
                f"`ids` takes at most {MAX_NODES} ids (got {len(ids)}).",
                extensions={"code": "BAD_USER_INPUT"},
            )
        wanted = [_wanted(info, str(i)) for i in ids]
        found = await service.fetch_many(info.context, [w for w in wanted if w is not None])
        models = [found.get(w) if w is not None else None for w in wanted]
        return [_to_type(m) if m is not None else None for m in models]
