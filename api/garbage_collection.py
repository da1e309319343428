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
