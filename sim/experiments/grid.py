"""The grid of a sweep: factors (field paths with several values), fixed overrides and seeds.

``--set fleet[0].count=10,20,30`` is a factor with three levels; ``--set orders.rate_per_h=700`` (one
value) is a fixed override applied to every variant. Values use the syntax of ``fctwin run --set``
(`fctwin.sim.scene.overrides.parse_value`), split at top-level commas, so ``[1, 2],[3, 4]`` is two
list values. Variants are the product of the factors' levels in the order given; every variant runs
every seed (common random numbers: a seed gives the same orders and cartons to every variant, since
each random stream is a named child of the seed, `fctwin.sim.seeds`).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fctwin.sim.scene.overrides import OverrideError, parse_path, parse_value

MAX_SEEDS = 100_000  # a sweep store row per seed and variant: more is a typo, not a study

__all__ = ["Factor", "Grid", "Variant", "parse_factor", "parse_seeds", "split_values"]


@dataclass(frozen=True)
class Factor:
    """One swept field: its path (``fleet[0].count``) and its levels, in the order given."""

    path: str
    levels: tuple[Any, ...]


@dataclass(frozen=True)
class Variant:
    """One cell of the grid: ``index`` (0-based, grid order), the factor levels and all overrides."""

    index: int
    levels: dict[str, Any]  # factor path -> level
    overrides: dict[str, Any]  # fixed overrides + levels: what the run applies

    @property
    def label(self) -> str:
        return " ".join(f"{k}={_text(v)}" for k, v in self.levels.items()) or "base"


@dataclass(frozen=True)
class Grid:
    factors: tuple[Factor, ...] = ()
    fixed: dict[str, Any] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)

    def variants(self) -> list[Variant]:
        out = []
        combos = itertools.product(*(f.levels for f in self.factors)) if self.factors else [()]
        for k, combo in enumerate(combos):
            levels = {f.path: v for f, v in zip(self.factors, combo, strict=True)}
            out.append(Variant(index=k, levels=levels, overrides={**self.fixed, **levels}))
        return out

    def to_json(self) -> str:
        return json.dumps(
            {
                "factors": [{"path": f.path, "levels": list(f.levels)} for f in self.factors],
                "fixed": self.fixed,
                "seeds": list(self.seeds),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Grid:
        d = json.loads(text)
        return cls(
            factors=tuple(Factor(f["path"], tuple(f["levels"])) for f in d["factors"]),
            fixed=dict(d["fixed"]),
            seeds=tuple(d["seeds"]),
        )

    @classmethod
    def from_assignments(cls, assignments: Iterable[tuple[str, Sequence[Any]]], seeds: Sequence[int]) -> Grid:
        """From ``[(path, [values...]), ...]``: one value is a fixed override, more make a factor.

        Raises `OverrideError` for a path given twice or a factor with a repeated level.
        """
        factors: list[Factor] = []
        fixed: dict[str, Any] = {}
        seen: set[str] = set()
        for path, values in assignments:
            if path in seen:
                raise OverrideError(path, "given twice; list all its values in one --set (a,b,c)")
            seen.add(path)
            values = tuple(values)
            if len(values) == 1:
                fixed[path] = values[0]
                continue
            keys = [json.dumps(v, sort_keys=True) for v in values]
            if len(set(keys)) != len(keys):
                raise OverrideError(path, f"a value is repeated in {', '.join(map(_text, values))}")
            factors.append(Factor(path, values))
        return cls(factors=tuple(factors), fixed=fixed, seeds=tuple(seeds))


def _text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def split_values(text: str) -> list[str]:
    """Split at commas outside brackets, braces and quotes: ``'1,[2, 3],"a,b"'`` -> 3 pieces."""
    pieces, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            pieces.append(text[start:i])
            start = i + 1
    pieces.append(text[start:])
    return [p.strip() for p in pieces]


def parse_factor(text: str) -> tuple[str, list[Any]]:
    """``"fleet[0].count=10,20"`` -> ``("fleet[0].count", [10, 20])``; raises `OverrideError`."""
    path, sep, values = text.partition("=")
    if not sep:
        raise OverrideError(text, "expected FIELD=VALUE[,VALUE...], e.g. fleet[0].count=10,20,30")
    path = path.strip()
    parse_path(path)
    out = []
    for piece in split_values(values):
        if not piece:
            raise OverrideError(path, f"empty value in {values!r}")
        try:
            out.append(parse_value(piece))
        except OverrideError as exc:
            raise OverrideError(path, str(exc)) from None
    return path, out


def parse_seeds(text: str | int | Sequence[int]) -> tuple[int, ...]:
    """Seeds: ``10`` (0..9), ``"3-7"`` (3..7 inclusive), ``"1,5,9"``, or a sequence; ValueError otherwise."""
    if isinstance(text, int):
        if text < 1:
            raise ValueError(f"need at least one seed, got {text}")
        if text > MAX_SEEDS:
            raise ValueError(f"at most {MAX_SEEDS:,} seeds, got {text:,}")
        return tuple(range(text))
    if not isinstance(text, str):
        seeds = tuple(int(s) for s in text)
    elif text.strip().isdigit():
        return parse_seeds(int(text))
    elif "," in text:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    elif "-" in text:
        a, _, b = text.partition("-")
        lo, hi = int(a), int(b)
        if hi < lo:
            raise ValueError(f"empty seed range {text!r}")
        seeds = tuple(range(lo, hi + 1))
    else:
        raise ValueError(f"expected N, A-B or a,b,c, got {text!r}")
    from fctwin.sim.scene.schema import MAX_SEED

    if not seeds or min(seeds) < 0 or max(seeds) > MAX_SEED or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct integers from 0 to {MAX_SEED}, got {text!r}")
    if len(seeds) > MAX_SEEDS:
        raise ValueError(f"at most {MAX_SEEDS:,} seeds, got {len(seeds):,}")
    return seeds
