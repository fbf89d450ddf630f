"""`fctwin report RUN`: one self-contained HTML file about a run (no scripts, no external links).

Sections: the scene and the run, the KPI summary, KPIs by station type, throughput / queue /
utilisation / backlog time series (inline SVG drawn with matplotlib), the congestion heat map of
the whole run (inline PNG), and the recommendation log with predicted against realised effect.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np

from fctwin.sim.console.data import RunData

__all__ = ["write_report"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}h1{margin-bottom:.2em}
.plots{display:grid;grid-template-columns:1fr 1fr;gap:1em}.muted{color:#777}
code{background:#f3f3f3;padding:0 .3em}
"""


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.find("<svg") :]


def _table(rows: list[tuple], head: tuple) -> str:
    out = ["<table><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in head) + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in r) + "</tr>")
    return "".join(out) + "</table>"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    if isinstance(v, dict | list):
        return json.dumps(v, default=str)
    return "" if v is None else str(v)


def _series_plots(d: RunData) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = d.kpi.get("minute", np.zeros(0))
    if not len(m):
        return "<p class=muted>no KPI minutes recorded</p>"
    hours = m / 60.0
    picked = np.diff(np.concatenate([[0.0], d.kpi["units_picked"]])) * 60
    stowed = np.diff(np.concatenate([[0.0], d.kpi["units_stowed"]])) * 60

    def smooth(x: np.ndarray, k: int = 10) -> np.ndarray:
        # trailing mean (edge-padded), so the last minutes are not pulled down by zero padding
        return np.convolve(np.pad(x, (k - 1, 0), mode="edge"), np.ones(k) / k, mode="valid") if len(x) else x

    panels = [
        ("Throughput (units/h, 10-min mean)", [("picked", smooth(picked)), ("stowed", smooth(stowed))]),
        (
            "Queues and backlog",
            [("pick queue mean", d.kpi["queue_mean"]), ("backlog (lines)", d.kpi["backlog"])],
        ),
        (
            "Utilisation",
            [
                ("pick", d.kpi["pick_utilisation"]),
                ("stow", d.kpi["stow_utilisation"]),
                ("units", d.kpi["unit_utilisation"]),
            ],
        ),
        (
            "Stock-outs",
            [
                ("lines backordered", d.kpi.get("lines_backordered", np.zeros(len(m)))),
                ("SKUs out of stock", d.kpi.get("skus_out_of_stock", np.zeros(len(m)))),
            ],
        ),
    ]
    out = ["<div class=plots>"]
    for title, series in panels:
        fig, ax = plt.subplots(figsize=(5.2, 2.6))
        for label, y in series:
            ax.plot(hours, np.nan_to_num(y), label=label, lw=1.2)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("simulated h", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        out.append(_svg(fig))
        plt.close(fig)
    out.append("</div>")
    return "".join(out)


def _heat_png(d: RunData) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if len(d.pose_t) < 2:
        return "<p class=muted>no poses recorded (the run used <code>--record-poses off</code>)</p>"
    heat = d.heat(d.t_end, window_s=d.t_end + 1.0)
    fig, ax = plt.subplots(figsize=(10, 10 * heat.shape[0] / max(heat.shape[1], 1) + 0.8))
    ax.imshow(d.grid == 1, cmap="Greys", alpha=0.5, interpolation="nearest")
    masked = np.ma.masked_where(heat <= 0, heat)
    im = ax.imshow(masked, cmap="inferno_r", interpolation="nearest")
    for s in d.stations:
        r, c = s["cell"]
        ax.annotate(s["id"], (c, r), fontsize=7, ha="center", va="center", color="navy")
    fig.colorbar(im, ax=ax, shrink=0.6, label="unit-steps waiting + vetoed moves")
    ax.set_xticks([])
    ax.set_yticks([])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    png = base64.b64encode(buf.getvalue()).decode()
    return f'<img alt="congestion heat map" src="data:image/png;base64,{png}">'


def _recs(d: RunData) -> str:
    recs = d.recommendations()
    if not recs:
        return "<p class=muted>no recommendations in this run</p>"
    rows = [
        (
            r["rec_id"],
            d.clock(r["t_s"]),
            r["kind"],
            r["text"],
            "applied" if r.get("applied") else (r.get("decision") or "open"),
            r.get("predicted"),
            r.get("realised"),
        )
        for r in recs
    ]
    return _table(
        rows, ("#", "time", "kind", "recommendation", "status", "predicted effect", "realised effect")
    )


def write_report(db_path: Path, out: Path) -> Path:
    """Write the report of the run at ``db_path`` to ``out`` (an .html file); returns ``out``."""
    d = RunData(db_path)
    meta, s = d.meta, dict(d.summary)
    by_type = s.pop("by_station_type", {}) or {}
    scene_rows = [
        (k, meta.get(k))
        for k in ("scene_name", "scene_file", "seed", "run_hours", "planner", "step_s", "mode", "version")
    ]
    scene_rows += [
        ("grid", f"{d.grid.shape[0]} x {d.grid.shape[1]} cells of {d.cell_size_m:g} m"),
        ("drive units", len(d.unit_ids)),
        ("pods", len(d.pod_home)),
        ("stations", ", ".join(f"{x['id']} ({x['kind']}, {x['unit']})" for x in d.stations)),
    ]
    kpi_rows = [(k, v) for k, v in s.items() if not isinstance(v, dict | list)]
    type_cols = sorted({c for v in by_type.values() for c in v if not isinstance(v[c], list | dict)})
    type_rows = [(t, *[v.get(c) for c in type_cols]) for t, v in by_type.items()]
    status = "complete" if s else "interrupted or still running (KPIs up to the last committed minute)"
    title = f"fctwin run {html.escape(d.run_id)}"
    body = f"""<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>{_CSS}</style></head><body>
<h1>{html.escape(d.scene_name)}: run report</h1>
<p>run <code>{html.escape(d.run_id)}</code> · {status} · simulated {d.t_end / 3600:.2f} h
· command <code>{html.escape(str(meta.get("command_line", "")))}</code></p>
<h2>Scene</h2>{_table(scene_rows, ("field", "value"))}
<h2>KPIs</h2>{_table(kpi_rows, ("KPI", "value")) if kpi_rows else "<p class=muted>no summary yet</p>"}
<h2>By station type</h2>{_table(type_rows, ("type", *type_cols)) if type_rows else "<p class=muted>none</p>"}
<h2>Time series</h2>{_series_plots(d)}
<h2>Congestion heat map (whole run)</h2>{_heat_png(d)}
<h2>Recommendations</h2>{_recs(d)}
<p class=muted>written by fctwin {html.escape(str(meta.get("version", "")))}
from {html.escape(str(db_path))}</p>
</body></html>"""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body)
    return out
