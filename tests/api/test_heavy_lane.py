"""The heavy lane holds the collector's middle and full passes back while it is busy."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from api.garbage_collection import HELD_BACK
from api.heavy_lane import HeavyLane


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(10_000, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*before)


async def test_middle_and_full_passes_wait_while_heavy_operations_run(
    thresholds: tuple[int, int, int],
) -> None:
    lane = HeavyLane(2)
    # when two heavy operations run at once, then one leaves
    await lane.wait_turn(1)
    await lane.wait_turn(1)
    held = gc.get_threshold()
    lane.leave()
    still_held = gc.get_threshold()
    lane.leave()
    # then the thresholds were out of reach until the last one left
    assert held == still_held == (10_000, HELD_BACK, HELD_BACK)
    assert gc.get_threshold() == thresholds
    assert (lane.running, lane.most_running) == (0, 2)


async def test_the_pass_that_came_due_runs_at_the_lanes_door(
    thresholds: tuple[int, int, int],
) -> None:
    lane = HeavyLane(1)
    gc.collect()
    # given more young collections since the last middle one than the middle threshold
    for _ in range(11):
        gc.collect(0)
    assert gc.get_count()[1] >= 10
    # when a heavy operation enters
    await lane.wait_turn(1)
    lane.leave()
    # then a middle pass ran first
    assert lane.held_collections.passes == 1
    assert gc.get_count()[1] == 0
