"""How many ACTIVE segments customer writes re-evaluated: a process-level counter.

A write re-evaluates only the segments reading something it changed
(api.services.tracked_segments); these counts show it. Plain integers, for a
metrics endpoint to export and for tests to read in-process before and after
a write.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Reevaluations:
    """Totals since the process started (all workspaces), and per workspace."""

    writes: int = 0  # customer writes checked against ACTIVE segments
    segments_evaluated: int = 0  # distinct segments each write's statement evaluated, summed
    segments_skipped: int = 0  # ACTIVE segments a write did not need to evaluate, summed
    customer_evaluations: int = 0  # (customer, segment) pairs evaluated
    by_workspace: dict[int, Reevaluations] = field(default_factory=dict, repr=False)

    def record(self, workspace_pk: int, active: int, wanted: dict[int, frozenset[int]]) -> None:
        """One write of a workspace with `active` ACTIVE segments, needing `wanted`."""
        for counts in (self, self.by_workspace.setdefault(workspace_pk, Reevaluations())):
            evaluated = len(frozenset().union(*wanted.values())) if wanted else 0
            counts.writes += 1
            counts.segments_evaluated += evaluated
            counts.segments_skipped += active - evaluated
            counts.customer_evaluations += sum(len(s) for s in wanted.values())

    def of(self, workspace_pk: int) -> Reevaluations:
        return self.by_workspace.get(workspace_pk) or Reevaluations()

    def snapshot(self) -> dict[str, int]:
        """The totals by name, e.g. for a Prometheus counter each."""
        return {
            "writes": self.writes,
            "segments_evaluated": self.segments_evaluated,
            "segments_skipped": self.segments_skipped,
            "customer_evaluations": self.customer_evaluations,
        }


REEVALUATIONS = Reevaluations()


@dataclass
class Sweeps:
    """What the time sweeper re-evaluated: totals since the process started, and the last
    sweep of each workspace (customers whose boundary had passed, segments compared whole)."""

    sweeps: int = 0
    customers_due: int = 0  # customers re-evaluated because a time boundary passed
    segments_primed: int = 0  # time-bounded segments compared whole to (re)compute their rows
    segments_rescanned: int = 0  # segments whose instants cannot be computed, compared whole
    last: dict[int, tuple[int, int, int]] = field(default_factory=dict, repr=False)

    def record(self, workspace_pk: int, due: int, primed: int, rescanned: int) -> None:
        self.sweeps += 1
        self.customers_due += due
        self.segments_primed += primed
        self.segments_rescanned += rescanned
        self.last[workspace_pk] = (due, primed, rescanned)

    def snapshot(self) -> dict[str, int]:
        return {
            "sweeps": self.sweeps,
            "customers_due": self.customers_due,
            "segments_primed": self.segments_primed,
            "segments_rescanned": self.segments_rescanned,
        }


SWEEPS = Sweeps()
