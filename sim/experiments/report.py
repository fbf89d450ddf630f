"""What a sweep found: mean +/- 95% CI per variant, paired differences, and the curve with bands.

Everything reads the sweep store only, so a report can be made while a sweep runs or long after.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from fctwin.sim.experiments.stats import estimate, paired
from fctwin.sim.experiments.store import SweepStore

__all__ = ["REFERENCES", "curve_factor", "paired_rows", "plot_curve", "print_report", "summary_rows"]

# Published curves to draw beside ours: {name: (label, {x: y})}, x in the factor's units.
REFERENCES: dict[str, tuple[str, dict[float, float]]] = {
    # RAWSim-O, 1 tier, 4 pick + 4 replenishment stations, 10 s per item (docs/references.md).
    "rawsim-o": (
        "RAWSim-O (4 pick stations, published)",
        {8: 405.0, 16: 684.0, 32: 1150.0, 64: 1369.0},
    ),
}

DEFAULT_KPIS = ("units_picked_per_h", "order_cycle_p95_s", "drive_unit_utilisation")


def _by_variant(store: SweepStore, kpi: str) -> dict[int, dict[int, float]]:
    out: dict[int, dict[int, float]] = defaultdict(dict)
    for v, s, value in store.values(kpi):
        if value is not None and not math.isnan(value):
            out[v][s] = value
    return out


def summary_rows(store: SweepStore, kpi: str) -> list[dict[str, Any]]:
    """One row per variant: its factor levels, then n, mean, ci95 (half-width), sd of ``kpi``."""
    data = _by_variant(store, kpi)
    rows = []
    for v in store.variants():
        est = estimate(list(data.get(v.index, {}).values()))
        rows.append({"variant": v.index, "label": v.label, **v.levels, **est.as_dict()})
    return rows


def paired_rows(store: SweepStore, kpi: str) -> list[dict[str, Any]]:
    """For each factor, each level against the factor's first level, the other factors held fixed.

    The difference is taken seed by seed (common random numbers); ``rel`` is it as a share of the
    first level's mean over the same seeds.
    """
    data = _by_variant(store, kpi)
    variants = store.variants()
    grid = store.grid()
    rows = []
    for factor in grid.factors:
        base_level = factor.levels[0]
        for v in variants:
            level = v.levels[factor.path]
            if level == base_level:
                continue
            others = {p: x for p, x in v.levels.items() if p != factor.path}
            base = next(b for b in variants if b.levels == {**others, factor.path: base_level})
            a, b = data.get(base.index, {}), data.get(v.index, {})
            d = paired(a, b)
            common = sorted(set(a) & set(b))
            base_mean = sum(a[s] for s in common) / len(common) if common else math.nan
            rows.append(
                {
                    "factor": factor.path,
                    "level": level,
                    "base": base_level,
                    "others": " ".join(f"{p}={_text(x)}" for p, x in others.items()),
                    **d.as_dict(),
                    "rel": d.mean / base_mean if base_mean else math.nan,
                }
            )
    return rows


def _text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def _fmt(x: float, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:,.{digits}g}"


def print_report(store: SweepStore, kpis: tuple[str, ...] = DEFAULT_KPIS, *, console=None) -> None:
    """Rich tables: per KPI, mean +/- 95% CI by variant, then the paired differences."""
    from rich.console import Console
    from rich.table import Table

    if console is None:  # piped or logged: 120 columns, not rich's 80, so field paths fit
        import sys

        console = Console() if sys.stdout.isatty() else Console(width=120)
    grid = store.grid()
    counts = store.counts()
    meta = store.meta()
    console.print(
        f"[bold]sweep {meta['name']}[/]: {meta['scene_ref']}, {len(store.variants())} variants x"
        f" {len(grid.seeds)} seeds, {meta['hours'] or 'scene'} h;"
        f" {counts['done']} done, {counts['failed']} failed, {counts['pending']} pending"
    )
    known = set(store.kpi_names())
    for kpi in kpis:
        if kpi not in known:
            console.print(f"[yellow]no KPI {kpi!r} in this sweep[/]")
            continue
        table = Table(title=f"{kpi}: mean +/- 95% CI over seeds")
        for f in grid.factors:
            table.add_column(f.path, overflow="fold")  # field paths wrap, never cut to "dispatch.…"
        for col in ("n", "mean", "+/- 95% CI", "sd"):
            table.add_column(col, justify="right")
        for row in summary_rows(store, kpi):
            table.add_row(
                *(_text(row[f.path]) for f in grid.factors),
                str(row["n"]),
                _fmt(row["mean"]),
                _fmt(row["ci95"], 3),
                _fmt(row["sd"], 3),
            )
        console.print(table)
        prs = paired_rows(store, kpi)
        if prs:
            pt = Table(title=f"{kpi}: paired differences vs the first level (same seeds)")
            for col in ("factor", "level - base", "others", "n", "difference", "+/- 95% CI", "relative"):
                text = col in ("factor", "others")
                pt.add_column(
                    col, justify="left" if text else "right", overflow="fold" if text else "ellipsis"
                )
            for r in prs:
                significant = not math.isnan(r["ci95"]) and abs(r["mean"]) > r["ci95"]
                pt.add_row(
                    r["factor"],
                    f"{_text(r['level'])} - {_text(r['base'])}",
                    r["others"] or "-",
                    str(r["n"]),
                    ("[bold]" if significant else "") + _fmt(r["mean"]),
                    _fmt(r["ci95"], 3),
                    "-" if math.isnan(r["rel"]) else f"{r['rel']:+.1%}",
                )
            console.print(pt)
    failed = store.runs("failed")
    if failed:
        console.print(f"[red]{len(failed)} failed runs[/] (variant, seed: last error):")
        for r in failed[:10]:
            console.print(f"  {r.variant}, {r.seed}: {(r.error or '').splitlines()[0][:160]}")


def curve_factor(store: SweepStore) -> str | None:
    """The factor to put on the x axis: the first whose levels are all numbers (None if none is)."""
    for f in store.grid().factors:
        if all(isinstance(x, int | float) and not isinstance(x, bool) for x in f.levels):
            return f.path
    return None


def plot_curve(
    store: SweepStore,
    out: str | Path,
    *,
    kpi: str = "units_picked_per_h",
    x: str | None = None,
    reference: str | None = None,
    title: str | None = None,
) -> Path | None:
    """``kpi`` against numeric factor ``x`` (default `curve_factor`), mean with its 95% band, one line
    per combination of the other factors; ``reference`` adds a published curve (`REFERENCES`).
    Returns the file written, or None when no factor is numeric."""
    x = x or curve_factor(store)
    if x is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary_rows(store, kpi)
    lines: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        others = " ".join(f"{p}={_text(row[p])}" for p in (f.path for f in store.grid().factors) if p != x)
        lines[others].append(row)
    fig, ax = plt.subplots(figsize=(6.6, 4.2))
    n_seeds = len(store.grid().seeds)
    for label, pts in lines.items():
        pts = sorted((r for r in pts if r["n"] > 0), key=lambda r: r[x])
        xs = [r[x] for r in pts]
        mean = [r["mean"] for r in pts]
        ci = [0.0 if math.isnan(r["ci95"]) else r["ci95"] for r in pts]
        widest = max(ci, default=0.0)
        text = f"fctwin {label}".strip() + f" (mean, 95% CI up to +/-{widest:,.3g}, {n_seeds} seeds)"
        # The band, and error bars so that narrow intervals still show.
        bars = ax.errorbar(xs, mean, yerr=ci, fmt="o-", capsize=3, label=text)
        lo = [m - c for m, c in zip(mean, ci, strict=True)]
        hi = [m + c for m, c in zip(mean, ci, strict=True)]
        ax.fill_between(xs, lo, hi, color=bars.lines[0].get_color(), alpha=0.25, lw=0)
    if reference:
        ref_label, curve = REFERENCES[reference]
        ax.plot(list(curve), list(curve.values()), "s--", color="grey", label=ref_label)
    meta = store.meta()
    ax.set_xlabel(x)
    ax.set_ylabel(kpi)
    scene = Path(str(meta["scene_ref"])).stem
    ax.set_title(title or f"{scene}: {kpi} vs {x} ({meta['hours'] or 'scene'} h per run)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
