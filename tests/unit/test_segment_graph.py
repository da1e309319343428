"""find_cycle: segment references must not loop back."""

from __future__ import annotations

from collections.abc import Callable

from domain.segment_graph import MAX_VISITED, find_cycle


def graph(edges: dict[str, set[str]]) -> Callable[[str], set[str]]:
    return lambda segment: edges.get(segment, set())


def test_no_references_no_cycle() -> None:
    assert find_cycle("a", graph({})) is None


def test_a_chain_without_a_loop_has_no_cycle() -> None:
    assert find_cycle("a", graph({"a": {"b"}, "b": {"c"}, "c": set()})) is None


def test_a_segment_naming_itself_is_a_cycle() -> None:
    assert find_cycle("a", graph({"a": {"a"}})) == ["a", "a"]


def test_a_loop_back_to_the_start_is_returned_as_a_path() -> None:
    # given a -> b -> c -> a
    references = graph({"a": {"b"}, "b": {"c"}, "c": {"a"}})
    # when searched from a, then the path starts and ends at a
    assert find_cycle("a", references) == ["a", "b", "c", "a"]


def test_a_loop_not_through_the_start_is_not_its_cycle() -> None:
    # given a -> b <-> c: a cycle exists, but a is not on it (it was already refused)
    assert find_cycle("a", graph({"a": {"b"}, "b": {"c"}, "c": {"b"}})) is None


def test_the_shortest_cycle_is_found_deterministically() -> None:
    # given two ways back to a
    references = graph({"a": {"z", "b"}, "z": {"y"}, "y": {"a"}, "b": {"a"}})
    # then the shortest, and among equals the first in sorted order
    assert find_cycle("a", references) == ["a", "b", "a"]
    assert find_cycle("a", graph({"a": {"c", "b"}, "b": {"a"}, "c": {"a"}})) == ["a", "b", "a"]


def test_diamonds_are_visited_once() -> None:
    calls: list[str] = []
    edges = {"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set()}

    def references(segment: str) -> set[str]:
        calls.append(segment)
        return edges.get(segment, set())

    assert find_cycle("a", references) is None
    assert sorted(calls) == ["a", "b", "c", "d"]


def test_the_search_is_bounded() -> None:
    # given an endless chain of segments
    calls: list[str] = []

    def references(segment: str) -> set[str]:
        calls.append(segment)
        return {f"{segment}+"}

    # when searched, then it stops after MAX_VISITED expansions
    assert find_cycle("a", references) is None
    assert len(calls) == MAX_VISITED
