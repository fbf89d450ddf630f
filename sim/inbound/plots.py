"""Plots beside the run database: stock and in-transit per node over time, lead-time histogram; disruption
windows
shaded. Headless (Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend must be chosen first)
import numpy as np  # noqa: E402

from .network import RunResult  # noqa: E402

__all__ = ["save_plots"]


def _shade(ax, res: RunResult) -> None:
    W, end = res.warmup_days, res.days
    for i, d in enumerate(res.disruptions):
        a, b = max(d.start_d - W, 0), min(d.end_d - W, end)
        if b > a:
            ax.axvspan(a, b, color="tab:red", alpha=0.12, label="disruption" if i == 0 else None)


def save_plots(results: dict[str, RunResult], out_dir: Path) -> list[Path]:
    """One PNG per policy with inventory and in-transit per node, plus one lead-time histogram for all
    policies."""
    paths = []
    for policy, res in results.items():
        W = res.warmup_days
        days = np.arange(res.daily_on_hand.shape[0]) - W
        fig, (a1, a2) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
        for i, name in enumerate(res.node_names):
            a1.plot(days, res.daily_on_hand[:, i], lw=1, label=name)
            a2.plot(days, res.daily_in_transit[:, i], lw=1, label=name)
        for ax, title in ((a1, "on hand (units, end of day)"), (a2, "in transit to node (units)")):
            _shade(ax, res)
            ax.axvline(0, color="grey", lw=0.8, ls=":")
            ax.set_ylabel("units")
            ax.set_title(title, fontsize=10)
        a1.legend(fontsize=7, ncol=3)
        a2.set_xlabel("day of run (warm-up before 0)")
        fig.suptitle(f"{res.scene.name} - policy {policy}", fontsize=10)
        fig.tight_layout()
        p = out_dir / f"inventory_{policy}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    fig, ax = plt.subplots(figsize=(8, 4))
    for policy, res in results.items():
        lt = np.array([s[8] - s[7] for s in res.shipments if s[3] is not None])
        w = np.array([s[6] for s in res.shipments if s[3] is not None], dtype=float)
        if lt.size:
            ax.hist(lt, bins=40, weights=w, histtype="step", label=policy)
    ax.set_xlabel("lane lead time, door to node (days)")
    ax.set_ylabel("units")
    ax.legend(fontsize=8)
    fig.tight_layout()
    p = out_dir / "lead_time_hist.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths.append(p)
    return paths
