"""Scenario families: each module registers its own with `@bench.harness.scenario`."""
