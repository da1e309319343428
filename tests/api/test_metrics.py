"""`/metrics`: Prometheus text that prometheus_client parses, and that moves with requests."""

from __future__ import annotations

from dataclasses import replace

import httpx
from prometheus_client.parser import text_string_to_metric_families

from api.runtime import Runtime
from tests.api.event_documents import active_segment, in_germany, move
from tests.api.segment_documents import upsert_ok
from tests.conftest import Workspace, serving

PROBE = "query MetricsProbe { customers(first: 1) { totalCount } }"
BAD_UPSERT = """
mutation MetricsBadUpsert {
  customersUpsert(customers: [{id: "m1", country: "XX"}]) { userErrors { code } }
}
"""
MOVE = """
mutation MetricsMove {
  customersUpsert(customers: [{id: "m2", country: "FR"}]) { userErrors { code } }
}
"""


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(http: httpx.AsyncClient, base_url: str) -> Samples:
    """Every sample of /metrics, keyed by (sample name, sorted labels)."""
    response = await http.get(f"{base_url}/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_parse_and_move_with_requests(
    workspace: Workspace, http: httpx.AsyncClient
) -> None:
    # Given the metrics as they are now
    before = await scrape(http, workspace.base_url)
    assert ("segmentql_pool_connections_in_use", ()) in before
    assert ("segmentql_pool_waiting", ()) in before
    assert ("segmentql_subscribers", ()) in before

    # When a named query runs twice, a mutation is refused by a userError, a query is
    # malformed, and a write goes through
    for _ in range(2):
        assert (await workspace.gql(PROBE)).status == 200
    refused = await workspace.gql(BAD_UPSERT)
    assert refused.data["customersUpsert"]["userErrors"][0]["code"] == "INVALID_COUNTRY"
    malformed = await workspace.gql("query MetricsBroken { customers(first: 1) { nope } }")
    assert malformed.errors[0]["extensions"]["code"] == "BAD_REQUEST"
    assert (await workspace.gql(MOVE)).data["customersUpsert"]["userErrors"] == []

    # Then the histogram of that operation counted both, with their time
    after = await scrape(http, workspace.base_url)
    name = "segmentql_graphql_operation_duration_seconds"
    count = value(after, f"{name}_count", operation="MetricsProbe") - value(
        before, f"{name}_count", operation="MetricsProbe"
    )
    assert count == 2
    assert value(after, f"{name}_sum", operation="MetricsProbe") > value(
        before, f"{name}_sum", operation="MetricsProbe"
    )
    assert value(after, f"{name}_bucket", operation="MetricsProbe", le="+Inf") >= 2
    # and the errors by code
    errors = "segmentql_graphql_errors_total"
    assert value(after, errors, code="BAD_REQUEST") == value(before, errors, code="BAD_REQUEST") + 1
    user = "segmentql_user_errors_total"
    assert value(after, user, code="INVALID_COUNTRY") == (
        value(before, user, code="INVALID_COUNTRY") + 1
    )
    assert ("segmentql_event_log_head", ()) in after


async def test_event_log_head_follows_recorded_events(
    workspace: Workspace, http: httpx.AsyncClient
) -> None:
    # Given an ACTIVE segment of German customers
    await active_segment(workspace, "Germans", in_germany())
    before = value(await scrape(http, workspace.base_url), "segmentql_event_log_head")

    # When a customer moves to Germany, it enters the segment (one event)
    await move(workspace, "m3", "DE")

    # Then the head moved by one
    after = value(await scrape(http, workspace.base_url), "segmentql_event_log_head")
    assert after == before + 1


async def test_live_work_counts_the_segments_a_write_evaluated_and_skipped(
    workspace: Workspace, http: httpx.AsyncClient
) -> None:
    # Given an ACTIVE segment reading only the country, and a stored customer
    await active_segment(workspace, "Germans by country", in_germany())
    await move(workspace, "m4", "FR")
    before = await scrape(http, workspace.base_url)

    # When the customer's country changes, then (a second write) only its name
    await move(workspace, "m4", "DE")
    await upsert_ok(workspace, {"id": "m4", "name": "Nobody reads this"})

    # Then the first write evaluated the segment and the second skipped it
    after = await scrape(http, workspace.base_url)

    def moved(name: str) -> float:
        return value(after, f"segmentql_live_{name}_total") - value(
            before, f"segmentql_live_{name}_total"
        )

    assert moved("writes") == 2
    assert moved("segments_evaluated") == 1
    assert moved("segments_skipped") == 1
    assert moved("customer_evaluations") == 1


async def test_metrics_token_and_switch(runtime: Runtime, http: httpx.AsyncClient) -> None:
    # Given a server whose metrics need a token, and one with metrics turned off
    guarded = replace(runtime, settings=replace(runtime.settings, metrics_token="s3cret"))
    off = replace(runtime, settings=replace(runtime.settings, metrics=False))
    async with serving(guarded) as url:
        # Then /metrics refuses a missing or wrong token, and answers with the right one
        assert (await http.get(f"{url}/metrics")).status_code == 401
        wrong = await http.get(f"{url}/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = await http.get(f"{url}/metrics", headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 200
        assert "segmentql_event_log_head" in right.text
    async with serving(off) as url:
        assert (await http.get(f"{url}/metrics")).status_code == 404
