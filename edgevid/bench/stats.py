"""Latency statistics: percentiles, spread, a distribution-free confidence interval of the median."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

#: coefficient of variation above which a run is flagged as too noisy to trust
NOISY_CV = 0.15


@dataclass
class Summary:
    """Latency figures in milliseconds over ``n`` runs."""

    n: int
    min: float
    p50: float
    p90: float
    p99: float
    max: float
    mean: float
    std: float
    cv: float
    ci95_low: float
    ci95_high: float

    @property
    def noisy(self) -> bool:
        """True when the spread is too large for the median to be trusted as a comparison point."""
        return self.cv > NOISY_CV

    @property
    def ci_halfwidth(self) -> float:
        """Half the 95% CI of the median, relative to the median."""
        return (self.ci95_high - self.ci95_low) / 2 / self.p50 if self.p50 else math.inf

    def as_dict(self) -> dict:
        """JSON-ready, rounded to microseconds, with the noise flag."""
        return {**{k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()},
                "noisy": self.noisy}


def median_ci(sorted_ms: np.ndarray, z: float = 1.96) -> tuple[float, float]:
    """95% CI of the median from order statistics (binomial, normal approximation; no distribution assumed)."""
    n = len(sorted_ms)
    if n < 6:
        return float(sorted_ms[0]), float(sorted_ms[-1])
    half = z * math.sqrt(n) / 2
    lo = max(0, int(math.floor(n / 2 - half)))
    hi = min(n - 1, int(math.ceil(n / 2 + half)))
    return float(sorted_ms[lo]), float(sorted_ms[hi])


def summarize(ms) -> Summary:
    """Summary of latencies given in milliseconds."""
    a = np.sort(np.asarray(ms, np.float64))
    if a.size == 0:
        raise ValueError("no latency samples")
    mean, std = float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0
    lo, hi = median_ci(a)
    p50, p90, p99 = (float(np.percentile(a, q)) for q in (50, 90, 99))
    return Summary(int(a.size), float(a[0]), p50, p90, p99, float(a[-1]), mean, std,
                   std / mean if mean else 0.0, lo, hi)


def stable(window_prev: list[float], window_cur: list[float], tolerance: float = 0.05) -> bool:
    """Warm-up is over when consecutive windows' medians agree within ``tolerance``."""
    a, b = float(np.median(window_prev)), float(np.median(window_cur))
    return abs(a - b) <= tolerance * max(a, b)
