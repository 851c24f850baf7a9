"""Timing loops: warm-up until stable, then a stopping rule on duration, count and (optionally) precision."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .stats import Summary, stable, summarize


@dataclass(frozen=True)
class Budget:
    """How long to measure: at least ``min_runs`` and ``min_seconds``; stop early at ``max_seconds``.

    ``target_ci`` (e.g. 0.02) ends the run once the median's 95% CI is within ±2%, after the minimums.
    ``runs`` fixes the count exactly (``--runs N``) and overrides the time limits.
    """

    min_runs: int = 50
    min_seconds: float = 2.0
    max_seconds: float = 20.0
    target_ci: float | None = None
    runs: int | None = None
    warmup_window: int = 5
    warmup_max_seconds: float = 3.0


@dataclass
class Timing:
    """What a timing loop measured: warm-up runs spent and the latency summary."""

    warmup_runs: int
    summary: Summary
    samples_ms: list[float]


def warm_up(fn: Callable[[], object], budget: Budget) -> int:
    """Run ``fn`` until two consecutive windows have the same median (within 5%), at least 2 windows."""
    windows: list[list[float]] = []
    t_end = time.perf_counter() + budget.warmup_max_seconds
    runs = 0
    while True:
        w = []
        for _ in range(budget.warmup_window):
            t0 = time.perf_counter()
            fn()
            w.append(time.perf_counter() - t0)
        runs += len(w)
        windows.append(w)
        if len(windows) >= 2 and stable(windows[-2], windows[-1]) or time.perf_counter() > t_end:
            return runs


def time_calls(fn: Callable[[], object], budget: Budget) -> Timing:
    """Warm up, then time ``fn`` per the budget's stopping rule."""
    warm = warm_up(fn, budget)
    samples: list[float] = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        samples.append((t1 - t0) * 1000)
        n, elapsed = len(samples), t1 - start
        if budget.runs is not None:
            if n >= budget.runs:
                break
            continue
        if elapsed >= budget.max_seconds:
            break
        if n >= budget.min_runs and elapsed >= budget.min_seconds:
            if budget.target_ci is None or (n % 10 == 0 and summarize(samples).ci_halfwidth <= budget.target_ci):
                break
    return Timing(warm, summarize(samples), samples)
