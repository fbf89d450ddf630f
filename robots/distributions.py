"""Samplers for the named distributions used by scenes and calibrated station models.

A distribution is a plain mapping such as ``{"dist": "lognormal", "mean": 10.0, "cv": 0.3}`` (the
scene schema validates it); `make_sampler` turns it into a callable taking a numpy Generator.
Kept free of `sim` so that robot units and hardware clients can use it alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

Sampler = Callable[[np.random.Generator], float]


def make_sampler(spec: Mapping) -> Sampler:
    """Build a sampler; raises ValueError naming an unknown ``dist``."""
    kind = spec["dist"]
    if kind == "constant":
        value = float(spec["value"])
        return lambda rng: value
    if kind == "exponential":
        mean = float(spec["mean"])
        return lambda rng: float(rng.exponential(mean))
    if kind == "uniform":
        lo, hi = float(spec["low"]), float(spec["high"])
        return lambda rng: float(rng.uniform(lo, hi))
    if kind == "lognormal":
        mean, cv = float(spec["mean"]), float(spec["cv"])
        if cv == 0:
            return lambda rng: mean
        sigma2 = math.log1p(cv * cv)
        mu = math.log(mean) - sigma2 / 2.0
        sigma = math.sqrt(sigma2)
        return lambda rng: float(rng.lognormal(mu, sigma))
    if kind == "gamma":
        mean, cv = float(spec["mean"]), float(spec["cv"])
        shape = 1.0 / (cv * cv)
        scale = mean / shape
        return lambda rng: float(rng.gamma(shape, scale))
    if kind == "geometric":
        mean, cap = float(spec["mean"]), int(spec.get("max", 1000))
        p = 1.0 / mean
        return lambda rng: float(min(int(rng.geometric(p)), cap))
    if kind == "empirical":
        values = np.asarray(spec["values"], dtype=np.float64)
        return lambda rng: float(values[rng.integers(len(values))])
    raise ValueError(f"unknown distribution {kind!r}")


def mean_of(spec: Mapping) -> float:
    """The mean of a distribution spec (for capacity estimates)."""
    kind = spec["dist"]
    if kind == "constant":
        return float(spec["value"])
    if kind == "uniform":
        return (float(spec["low"]) + float(spec["high"])) / 2.0
    if kind == "empirical":
        return float(np.mean(spec["values"]))
    if kind == "geometric":
        p = 1.0 / float(spec["mean"])
        cap = int(spec.get("max", 1000))
        k = np.arange(1, cap + 1)
        pmf = p * (1 - p) ** (k - 1)
        pmf[-1] += 1.0 - pmf.sum()
        return float((k * pmf).sum())
    return float(spec["mean"])
