"""The serving process's collector: start-up's objects frozen, young collections rarer."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from api import garbage_collection


@pytest.fixture
def collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_tune_freezes_what_is_alive_and_raises_the_young_threshold(collector: None) -> None:
    middle, old = gc.get_threshold()[1:]
    garbage_collection.tune(10_000)
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (10_000, middle, old)


def test_a_threshold_of_zero_keeps_pythons(collector: None) -> None:
    before = gc.get_threshold()
    garbage_collection.tune(0)
    assert gc.get_threshold() == before
