"""The run's KPIs: one row per simulated minute, the summary at the end, and throughput per station type."""

from __future__ import annotations

import numpy as np

from fctwin.controller.dispatcher import Dispatcher
from fctwin.sim.run.tracker import Tracker
from fctwin.sim.scene import Scene


def kpi_row(
    minute: int,
    *,
    t_s: float,
    wall_s: float,
    scene: Scene,
    dispatcher: Dispatcher,
    tracker: Tracker,
    state: dict,
    counters: dict,
    initial_units: int,
) -> dict:
    """The KPIs of the minute that just ended (the tracker's per-minute counts) and the run so far."""
    st = dispatcher.stats
    n_pick = max(1, sum(1 for s in scene.stations if s.kind == "pick"))
    n_stow = max(1, sum(1 for s in scene.stations if s.kind == "stow"))
    ticks = max(1, tracker.ticks)
    units_in = initial_units + state["stowed_phys"]
    stored = dispatcher.book.total_units()
    in_process = counters["units_arrived"] - state["stowed_phys"]
    conserved = initial_units + counters["units_arrived"] == stored + in_process + state["picked_phys"]
    return {
        "minute": minute,
        "t_s": t_s,
        "units_picked": st["units_picked"],
        "units_stowed": st["units_stowed"],
        "orders_completed": st["orders_completed"],
        "orders_open": dispatcher.open_orders(),
        "backlog": len(dispatcher.backlog),
        "pick_utilisation": tracker.busy_ticks["pick"] / (ticks * n_pick),
        "stow_utilisation": tracker.busy_ticks["stow"] / (ticks * n_stow),
        "queue_mean": tracker.queue_sum / ticks / n_pick,
        "unit_utilisation": tracker.unit_busy / (ticks * max(1, len(scene.units))),
        "distance_m": tracker.distance_cells * scene.cell_size_m,
        "planner_ms_per_step": 1000.0 * st["planner_s"] / max(1, st["planner_steps"]),
        "collisions": state["collisions"],
        "moves_vetoed": state["vetoed"],
        "units_in": units_in,
        "units_stored": stored,
        "units_in_process": in_process,
        "conserved": int(conserved),
        "wall_s": wall_s,
        "units_ordered": counters["units_ordered"],
        "lines_backordered": dispatcher.backordered_lines,
        "backorder_age_max_s": dispatcher.oldest_backorder_age_s(),
        "skus_out_of_stock": dispatcher.skus_out_of_stock(),
        "units_inbound": sum(dispatcher.sku_inbound),
    }


def station_kpi_rows(minute: int, *, t_s: float, minute_s: float, tracker: Tracker) -> list[dict]:
    """The minute's ``kpi_station_minute`` rows: one per station group (unit type, line kind).

    ``units`` moved this minute (an arm's hand-offs to people included, as in ``by_station_type``),
    ``units_total`` since the run began, ``busy_share`` the share of the group's station-ticks spent
    serving, ``queue_mean`` the pods waiting per station (dispatcher's queue, mean over the ticks).
    """
    ticks = max(1, tracker.ticks)
    hours = max(minute_s, 1e-9) / 3600.0
    rows = []
    for (unit_type, kind), n in tracker.groups.items():
        g = tracker.group_minute[(unit_type, kind)]
        units = g["units"]
        rows.append(
            {
                "minute": minute,
                "t_s": t_s,
                "station_type": unit_type,
                "kind": kind,
                "stations": n,
                "lines": g["lines"],
                "units": units,
                "units_to_person": g["to_person"],
                "units_total": tracker.group_units_total[(unit_type, kind)],
                "units_per_station_h": round(units / hours / n, 2),
                "success_rate": round(1.0 - g["to_person"] / units, 4) if units else None,
                "busy_share": round(g["busy"] / (ticks * n), 4),
                "queue_mean": round(g["queue"] / (ticks * n), 3),
            }
        )
    return rows


def summarize(
    scene, dispatcher, state, counters, totals, tracker, wall_s, initial_units, *, simulated_s=None
) -> dict:
    """The run's KPIs; ``simulated_s``: how far an interrupted run got (default: the whole run)."""
    hours = (scene.run_s if simulated_s is None else simulated_s) / 3600.0
    hours = max(hours, 1e-9)
    st = dispatcher.stats
    ct = np.asarray(dispatcher.cycle_times_s, dtype=np.float64)
    bw = np.asarray(dispatcher.backorder_waits_s, dtype=np.float64)
    n_pick = max(1, sum(1 for s in scene.stations if s.kind == "pick"))
    n_stow = max(1, sum(1 for s in scene.stations if s.kind == "stow"))
    ticks = max(1, totals["ticks"])
    stored = dispatcher.book.total_units()
    in_process = counters["units_arrived"] - state["stowed_phys"]
    conserved = initial_units + counters["units_arrived"] == stored + in_process + state["picked_phys"]
    return {
        "scene": scene.name,
        "seed": scene.seed,
        "simulated_h": round(hours, 4),
        "drive_units": len(scene.units),
        "planner": dispatcher.config.planner,
        "units_picked": st["units_picked"],
        "units_picked_per_h": round(st["units_picked"] / hours, 2),
        "units_stowed": st["units_stowed"],
        "units_stowed_per_h": round(st["units_stowed"] / hours, 2),
        "orders_arrived": counters["orders"],
        "orders_completed": st["orders_completed"],
        "order_cycle_p50_s": round(float(np.percentile(ct, 50)), 2) if ct.size else None,
        "order_cycle_p95_s": round(float(np.percentile(ct, 95)), 2) if ct.size else None,
        "pick_station_utilisation": round(totals["pick_busy"] / (ticks * n_pick), 4),
        "stow_station_utilisation": round(totals["stow_busy"] / (ticks * n_stow), 4),
        "pick_queue_mean": round(totals["queue"] / ticks / n_pick, 3),
        "drive_unit_utilisation": round(totals["unit_busy"] / (ticks * max(1, len(scene.units))), 4),
        "distance_m": round(tracker.distance_cells * scene.cell_size_m, 1),
        "planner_ms_per_step": round(1000.0 * st["planner_s"] / max(1, st["planner_steps"]), 4),
        "collisions": state["collisions"],
        "moves_vetoed": state["vetoed"],
        "trips_completed": st["trips_completed"],
        "units_to_person": st["units_to_person"],
        "units_ordered": counters["units_ordered"],
        "lines_backordered": st["lines_backordered"],
        "lines_backordered_open": dispatcher.backordered_lines,
        "backorder_wait_p95_s": round(float(np.percentile(bw, 95)), 2) if bw.size else None,
        "backorder_age_max_s": round(dispatcher.oldest_backorder_age_s(), 2),
        "skus_out_of_stock": dispatcher.skus_out_of_stock(),
        "purchase_orders": st["purchase_orders"],
        "units_ordered_from_supplier": st["units_ordered_from_supplier"],
        "by_station_type": by_station_type(scene, tracker.by_type, hours),
        "units_in": initial_units + counters["units_arrived"],
        "units_stored": stored,
        "units_in_process": in_process,
        "units_conserved": bool(conserved),
        "wall_s": round(wall_s, 3),
        "realtime_factor": round(scene.run_s / wall_s, 1) if wall_s > 0 else None,
    }


def by_station_type(scene, counts: dict, hours: float) -> dict:
    """Throughput, success rate and hand-offs per station type (``{type: {...}}``, types in scene order).

    ``success_rate`` is the share of units the station's own unit moved (an arm's failures go to a
    person and still count as moved); None when the type moved nothing.
    """
    out = {}
    for unit_type, c in counts.items():
        stations = [s for s in scene.stations if s.unit == unit_type]
        units = c["units"]
        out[unit_type] = {
            "stations": len(stations),
            "kinds": sorted({s.kind for s in stations}),
            "lines": c["lines"],
            "units": units,
            "units_per_h": round(units / hours, 2),
            "units_per_station_h": round(units / hours / len(stations), 2),
            "units_to_person": c["to_person"],
            "to_person_share": round(c["to_person"] / units, 4) if units else None,
            "success_rate": round(1.0 - c["to_person"] / units, 4) if units else None,
        }
    return out
