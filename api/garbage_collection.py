"""The cyclic garbage collector, tuned for a server whose requests make many objects.

Python's collector runs a young collection every 700 new container objects and, every
so often, a full one that walks every object in the process. A heavy operation (a
thousand customers with fifty orders each) holds a few million objects while it runs,
so each full collection then stops the event loop for 50-100 ms, in front of every
light request, and no `await` can break it up (api.loop_share breaks up the rest).

At start-up, once the modules, the schema and the runtime exist, `tune()` moves what
is alive into the permanent generation (`gc.freeze()`: never walked again, it lives as
long as the process) and raises the young generation's threshold
(SEGMENTQL_GC_YOUNG_THRESHOLD), so that collections come less often; cycles are still
collected, and memory use is bounded the same way.
"""

from __future__ import annotations

import gc


def tune(young_threshold: int) -> None:
    """Freeze what start-up made; collect the young generation every `young_threshold`
    new objects (0 keeps Python's thresholds)."""
    gc.collect()
    gc.freeze()
    if young_threshold > 0:
        _, middle, old = gc.get_threshold()
        gc.set_threshold(young_threshold, middle, old)


HELD_BACK = 1 << 30
"""The middle and old generations' thresholds while heavy operations run: never reached."""


class HeldCollections:
    """The collector's middle and full passes wait for the heavy lane to be empty.

    A heavy operation keeps a few million objects alive while it runs, and almost every
    one survives the young collections into the middle generation: each middle pass then
    walks some 100,000 of them (15-30 ms on a calm machine, up to 250 ms on a loaded
    one), and a full pass all of them, in front of every light request
    (bench.loop_trace). While a heavy operation runs, the middle and old generations'
    thresholds are therefore out of reach: young collections go on (they walk only the
    young objects), cycles made meanwhile wait in the middle generation for at most the
    operation's time budget. Once the lane is empty Python's thresholds are back, and the
    next heavy operation starts with the pass that came due meanwhile, when the results
    before it are gone and little is left to walk.
    """

    __slots__ = ("_held", "passes")

    def __init__(self) -> None:
        self._held: tuple[int, int] | None = None
        self.passes = 0
        """Passes run at the lane's door (for tests and curiosity)."""

    def hold(self) -> None:
        """A heavy operation starts and none runs: collect what came due, then hold back."""
        young, middle, old = gc.get_threshold()
        if self._held is not None or middle >= HELD_BACK:
            return  # held back already (by another lane of this process)
        if gc.isenabled():
            _, young_passes, middle_passes = gc.get_count()
            if middle_passes >= old:
                gc.collect(2)
                self.passes += 1
            elif young_passes >= middle:
                gc.collect(1)
                self.passes += 1
        self._held = (middle, old)
        gc.set_threshold(young, HELD_BACK, HELD_BACK)

    def release(self) -> None:
        """The last heavy operation ended: Python's thresholds again."""
        if self._held is None:
            return
        young = gc.get_threshold()[0]
        gc.set_threshold(young, *self._held)
        self._held = None
