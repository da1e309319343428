"""Responses are encoded by orjson, and by json where orjson refuses a value."""

from __future__ import annotations

import json

from api.app import SegmentGraphQL
from api.schema import schema

VIEW = SegmentGraphQL(schema)


def test_a_response_encodes_to_the_same_json_as_before() -> None:
    data = {"data": {"customers": {"edges": [{"node": {"id": "c1", "email": "é@x"}}]}}}

    encoded = VIEW.encode_json(data)

    assert isinstance(encoded, str)  # WebSocket clients read text frames
    assert json.loads(encoded) == data


def test_an_integer_past_64_bits_still_encodes() -> None:
    data = {"data": {"customer": {"value": 2**70}}}

    assert json.loads(VIEW.encode_json(data)) == data
