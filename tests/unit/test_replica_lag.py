"""A replica's lag from the primary's WAL positions sampled over time."""

from __future__ import annotations

from persistence.replica_lag import WalHistory


def test_a_replica_at_the_primarys_position_is_current_however_idle() -> None:
    history = WalHistory(keep_s=600)
    history.record(0.0, 100)
    history.record(50.0, 100)
    assert history.lag_s(replayed=100, now=60.0) == 0.0


def test_a_replica_short_of_a_position_lags_since_the_primary_first_had_it() -> None:
    # given: the primary moved at t=10 and again at t=20; the replica stopped at 100
    history = WalHistory(keep_s=600)
    history.record(0.0, 100)
    history.record(10.0, 200)
    history.record(15.0, 200)
    history.record(20.0, 300)
    # then: it lags since t=10, then since t=20 once it replays 200
    assert history.lag_s(replayed=100, now=25.0) == 15.0
    assert history.lag_s(replayed=250, now=25.0) == 5.0
    assert history.lag_s(replayed=300, now=25.0) == 0.0


def test_before_any_sample_the_lag_is_unknown() -> None:
    assert WalHistory(keep_s=600).lag_s(replayed=0, now=1.0) is None


def test_a_replica_behind_dropped_samples_lags_at_least_the_history() -> None:
    # given: samples each second for longer than the history keeps
    history = WalHistory(keep_s=10)
    for second in range(30):
        history.record(float(second), 100 + second)
    # then: a replica stuck at the start lags at least the kept 10 s, never "current"
    lag = history.lag_s(replayed=100, now=30.0)
    assert lag is not None and lag >= 10
    # and one that reached a kept sample is judged from it exactly
    assert history.lag_s(replayed=125, now=30.0) == 4.0
    assert len(history._samples) <= 12


def test_the_history_outlasts_the_allowed_lag() -> None:
    assert WalHistory.for_max_lag(5).keep_s >= 600
    assert WalHistory.for_max_lag(3600).keep_s == 7200
