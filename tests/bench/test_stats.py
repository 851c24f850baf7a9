"""Bench statistics and stopping rule on deterministic inputs (no timing assertions)."""

from __future__ import annotations

import numpy as np
import pytest

from edgevid.bench.measure import Budget, time_calls
from edgevid.bench.stats import median_ci, stable, summarize


def test_summary_of_a_known_distribution():
    s = summarize(np.arange(1, 101, dtype=float))  # 1..100 ms
    assert (s.n, s.min, s.max) == (100, 1.0, 100.0)
    assert s.p50 == pytest.approx(50.5) and s.p90 == pytest.approx(90.1) and s.p99 == pytest.approx(99.01)
    assert s.mean == pytest.approx(50.5) and s.std == pytest.approx(29.011, abs=1e-3)
    assert s.cv == pytest.approx(29.011 / 50.5, abs=1e-4)
    assert s.noisy  # a uniform spread from 1 to 100 ms is no stable latency
    assert not summarize([10.0, 10.1, 9.9, 10.0, 10.05, 9.95]).noisy


def test_median_ci_order_statistics():
    a = np.arange(100, dtype=float)
    lo, hi = median_ci(a)
    # n=100: ranks 50 -/+ 1.96*sqrt(100)/2 = 9.8 -> 40 and 60
    assert (lo, hi) == (40.0, 60.0)
    assert median_ci(np.array([1.0, 2.0, 3.0])) == (1.0, 3.0)


def test_warmup_stability_rule():
    assert stable([10, 10, 10], [10.2, 10.3, 10.1])
    assert not stable([20, 19, 21], [10, 10, 10])


def test_fixed_run_count_is_exact():
    calls = []
    t = time_calls(lambda: calls.append(1), Budget(runs=37, warmup_window=3, warmup_max_seconds=0.05))
    assert t.summary.n == 37 and len(calls) == 37 + t.warmup_runs and t.warmup_runs >= 6


def test_minimum_count_and_duration_both_hold():
    t = time_calls(lambda: None, Budget(min_runs=25, min_seconds=0.05, max_seconds=5, warmup_max_seconds=0.01))
    assert t.summary.n >= 25
    assert sum(t.samples_ms) <= 5000


def test_ci_target_can_end_the_run_early():
    budget = Budget(min_runs=20, min_seconds=0.0, max_seconds=3, target_ci=0.5, warmup_max_seconds=0.01)
    t = time_calls(lambda: sum(range(2000)), budget)
    assert 20 <= t.summary.n <= 200_000 and t.summary.ci_halfwidth <= 0.5
