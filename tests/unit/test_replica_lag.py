"""A replica's lag from the primary's WAL positions sampled over time."""

from __future__ import annotations

from persistence.replica_lag import WalHistory


def test_a_replica_at_the_primarys_position_is_current_however_idle() -> None:
    history = WalHistory(keep_s=600)
    history.record(0.0, 100)
    history.record(50.0, 100)
    assert history.lag_s(replayed=100, now=60.0) == 0.0


def test_a_replica_short_of_a_position_lags_since_the_primary_was_last_seen_before_it() -> None:
    # given: the primary, sampled at 100 at t=0, was at 200 by t=10 (still at t=15) and at
    # 300 by t=20; the replica stopped at 100
    history = WalHistory(keep_s=600)
    history.record(0.0, 100)
    history.record(10.0, 200)
    history.record(15.0, 200)
    history.record(20.0, 300)
    # then: the WAL it lacks was written after t=0, so it lags at most 25 s; once it
    # replays 200 (or 250), what it lacks was written after t=15
    assert history.lag_s(replayed=100, now=25.0) == 25.0
    assert history.lag_s(replayed=200, now=25.0) == 10.0
    assert history.lag_s(replayed=250, now=25.0) == 10.0
    assert history.lag_s(replayed=300, now=25.0) == 0.0


def test_the_lag_errs_high_by_at_most_one_check_interval() -> None:
    # given: checks every second; the primary writes at t=4.5, seen at the t=5 check
    history = WalHistory(keep_s=600)
    for second in range(5):
        history.record(float(second), 100)
    history.record(5.0, 200)
    # then: a replica that never replays it lags between the truth (1.5 s) and 2.0 s at
    # t=6, never less: a replica over the allowed lag is never taken for current
    lag = history.lag_s(replayed=100, now=6.0)
    assert lag is not None and 1.5 <= lag <= 2.0


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
    # and one that reached a kept sample lags from when the primary was last seen there
    assert history.lag_s(replayed=125, now=30.0) == 5.0
    assert len(history._samples) <= 12


def test_the_history_outlasts_the_allowed_lag() -> None:
    assert WalHistory.for_max_lag(5).keep_s >= 600
    assert WalHistory.for_max_lag(3600).keep_s == 7200
