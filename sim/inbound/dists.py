"""Named duration distributions, sampled by inverse CDF so that common random numbers are exact.

Every stage duration in the inbound model is drawn as ``dist.ppf(u)`` from a uniform ``u`` that is keyed by
the
shipment (or vessel sailing), not by the order in which events happen. Two runs that differ only in policy or
disruption therefore see the same ``u`` for the same shipment: comparisons are paired.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.special import ndtri

__all__ = ["Const", "Uniform", "Triangular", "LogNormal", "Normal", "Dist"]


# Durations are days: ten years is beyond any stage of the network (and keeps every sum finite).
MAX_DAYS = 3650.0


class _DistBase(BaseModel):
    # No inf/NaN: an infinite transit time would park every shipment on the lane for ever.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def mean(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def ppf(self, u: np.ndarray | float) -> np.ndarray | float:  # pragma: no cover - overridden
        raise NotImplementedError


class Const(_DistBase):
    """Always ``value`` days (or units)."""

    dist: Literal["const"]
    value: float = Field(ge=0, le=MAX_DAYS)

    def mean(self) -> float:
        return self.value

    def ppf(self, u):
        return np.zeros_like(np.asarray(u, dtype=float)) + self.value


class Uniform(_DistBase):
    dist: Literal["uniform"]
    low: float = Field(ge=0, le=MAX_DAYS)
    high: float = Field(ge=0, le=MAX_DAYS)

    @model_validator(mode="after")
    def _order(self):
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        return self

    def mean(self) -> float:
        return 0.5 * (self.low + self.high)

    def ppf(self, u):
        return self.low + (self.high - self.low) * np.asarray(u, dtype=float)


class Triangular(_DistBase):
    dist: Literal["triangular"]
    low: float = Field(ge=0, le=MAX_DAYS)
    mode: float = Field(ge=0, le=MAX_DAYS)
    high: float = Field(ge=0, le=MAX_DAYS)

    @model_validator(mode="after")
    def _order(self):
        if not self.low <= self.mode <= self.high or self.low == self.high:
            raise ValueError(
                f"need low <= mode <= high and low < high, got {self.low}, {self.mode}, {self.high}"
            )
        return self

    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3.0

    def ppf(self, u):
        u = np.asarray(u, dtype=float)
        a, c, b = self.low, self.mode, self.high
        fc = (c - a) / (b - a)
        left = a + np.sqrt(u * (b - a) * (c - a))
        right = b - np.sqrt((1.0 - u) * (b - a) * (b - c))
        return np.where(u < fc, left, right)


class LogNormal(_DistBase):
    """Lognormal with the given median and log-space sigma (right-skewed tails such as exams or dwell)."""

    dist: Literal["lognormal"]
    median: float = Field(gt=0, le=MAX_DAYS)
    sigma: float = Field(ge=0, le=3)
    cap: float | None = Field(default=None, gt=0, le=MAX_DAYS, description="upper clip, same unit")

    def mean(self) -> float:
        m = self.median * float(np.exp(0.5 * self.sigma**2))
        return min(m, self.cap) if self.cap else m

    def ppf(self, u):
        u = np.clip(np.asarray(u, dtype=float), 1e-12, 1 - 1e-12)
        x = self.median * np.exp(self.sigma * ndtri(u))
        return np.minimum(x, self.cap) if self.cap else x


class Normal(_DistBase):
    """Normal truncated at zero (by clipping)."""

    dist: Literal["normal"]
    mean_: float = Field(alias="mean", ge=0, le=MAX_DAYS)
    sd: float = Field(ge=0, le=MAX_DAYS)

    def mean(self) -> float:
        return self.mean_

    def ppf(self, u):
        u = np.clip(np.asarray(u, dtype=float), 1e-12, 1 - 1e-12)
        return np.maximum(0.0, self.mean_ + self.sd * ndtri(u))


Dist = Annotated[Const | Uniform | Triangular | LogNormal | Normal, Field(discriminator="dist")]
