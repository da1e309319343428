"""Segment references must not form a cycle.

A segment's predicate may name other segments (`{"segment": "seg_..."}`),
which are evaluated live. Before saving a predicate, the caller asks whether
the segment being saved can reach itself through the references, using the
new predicate's references for that segment and the stored ones for others.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

MAX_VISITED = 1000


def find_cycle(start: str, references: Callable[[str], set[str]]) -> list[str] | None:
    """The shortest reference path from `start` back to itself, or None.

    The path begins and ends with `start` (`["a", "b", "a"]`; a segment naming
    itself gives `["a", "a"]`). Breadth-first, visiting references in sorted
    order, so the answer is deterministic. At most MAX_VISITED segments are
    expanded (each is one `references` call, likely a query); past that the
    search stops and reports no cycle, since no workspace chains that many
    segments and an unbounded search would be the bigger risk.
    """
    parents: dict[str, str] = {}
    queue: deque[str] = deque([start])
    expanded = 0
    while queue and expanded < MAX_VISITED:
        current = queue.popleft()
        expanded += 1
        for target in sorted(references(current)):
            if target == start:
                return [*_path_to(current, parents, start), start]
            if target not in parents:
                parents[target] = current
                queue.append(target)
    return None


def _path_to(node: str, parents: dict[str, str], start: str) -> list[str]:
    path = [node]
    while path[-1] != start:
        path.append(parents[path[-1]])
    return path[::-1]
