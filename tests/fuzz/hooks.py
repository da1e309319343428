"""schemathesis hooks (SCHEMATHESIS_HOOKS=tests.fuzz.hooks): the project's scalars and checks.

JSON arguments get arbitrary JSON (predicates, where filters, properties: the
shapes validation must refuse as well as a few it accepts); DateTime gets
ISO-8601 text, valid or nearly so. The check `no_server_fault` fails a 5xx
and a GraphQL error coded INTERNAL_SERVER_ERROR (or not coded): such an
answer comes with status 200, where HTTP-level checks cannot see it.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from graphql import language
from hypothesis import strategies as st
from schemathesis.graphql import nodes

FIELDS = ["country", "email", "ordersCount", "lastOrderAt", "properties.plan", "orders.amount"]
OPERATORS = ["EQ", "NEQ", "IN", "GTE", "LTE", "BETWEEN", "EXISTS", "MATCHES", "COUNT"]

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(FIELDS + OPERATORS + ["now-30d", "\x00"]),
)
json_values = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "condition",
                    "and",
                    "or",
                    "not",
                    "field",
                    "operator",
                    "value",
                    "values",
                    "segment",
                    "scope",
                    "plan",
                ]
            )
            | st.text(max_size=8),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)
conditions = st.builds(
    lambda field, op, value: {"condition": {"field": field, "operator": op, "value": value}},
    st.sampled_from(FIELDS),
    st.sampled_from(OPERATORS),
    json_leaf,
)


def _node(value: Any) -> language.ValueNode:
    """A JSON value as a GraphQL literal (objects as input objects, as clients send JSON)."""
    if value is None:
        return language.NullValueNode()
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if isinstance(value, str):
        return nodes.String(value)
    if isinstance(value, list):
        return nodes.List([_node(v) for v in value])
    return nodes.Object(
        [
            language.ObjectFieldNode(name=language.NameNode(value=_name(k)), value=_node(v))
            for k, v in value.items()
        ]
    )


def _name(key: str) -> str:
    cleaned = "".join(ch for ch in key if ch.isalnum() or ch == "_")
    return cleaned if cleaned and not cleaned[0].isdigit() else f"k{cleaned}"


datetimes = st.one_of(
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.sampled_from(["2026-13-01T00:00:00Z", "yesterday", "", "2026-11-01"]),
    st.text(max_size=30),
)

schemathesis.graphql.scalar("JSON", st.one_of(conditions, json_values).map(_node))
schemathesis.graphql.scalar("DateTime", datetimes.map(nodes.String))


@schemathesis.check
def no_server_fault(ctx: Any, response: Any, case: Any) -> bool | None:
    """HTTP 5xx, or a GraphQL error that is INTERNAL_SERVER_ERROR or has no code at all.

    (schemathesis's own GraphQL check also counts the coded top-level errors a query
    answers an unknown id with, which are this API's documented convention.)
    """
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:300]}")
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    for error in errors or []:
        code = (error.get("extensions") or {}).get("code")
        if code in (None, "INTERNAL_SERVER_ERROR"):
            raise AssertionError(f"error code {code}: {json.dumps(error)[:300]}")
    return None
