"""Means with 95% confidence intervals over seeds, and paired differences between variants.

Runs of different variants with the same seed share their random streams (common random numbers),
so the difference between two variants is estimated from per-seed differences: its interval is
usually much narrower than the two variants' intervals suggest. Intervals are Student-t intervals
of the mean over seeds (independent replications); with one seed there is no interval (NaN).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "estimate", "paired"]


@dataclass(frozen=True)
class Estimate:
    """Mean of ``n`` values, its 95% interval half-width ``ci`` (mean +/- ci) and standard deviation."""

    n: int
    mean: float
    ci: float
    sd: float

    @property
    def low(self) -> float:
        return self.mean - self.ci

    @property
    def high(self) -> float:
        return self.mean + self.ci

    def as_dict(self) -> dict:
        return {"n": self.n, "mean": self.mean, "ci95": self.ci, "sd": self.sd}


def _t975(dof: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, dof))


def estimate(values: Sequence[float], *, level: float = 0.95) -> Estimate:
    """Mean and Student-t interval; ``n == 0`` gives NaNs, ``n == 1`` a NaN interval."""
    x = np.asarray(values, dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return Estimate(0, math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if n == 1:
        return Estimate(1, mean, math.nan, math.nan)
    sd = float(x.std(ddof=1))
    if level == 0.95:
        q = _t975(n - 1)
    else:
        from scipy.stats import t

        q = float(t.ppf(0.5 + level / 2.0, n - 1))
    return Estimate(n, mean, q * sd / math.sqrt(n), sd)


def paired(a: dict[int, float], b: dict[int, float]) -> Estimate:
    """The mean of ``b[s] - a[s]`` over the seeds both have, with its 95% interval."""
    seeds = sorted(set(a) & set(b))
    return estimate([b[s] - a[s] for s in seeds])
