"""Slotting end to end: demand structure, initial placement, the policies in runs.

Stories over invariants: the default demand draws exactly as before; baskets keep lines in the
family; placements put every SKU somewhere within the pod limits; every slotting policy gives the
same run for the same seed and conserves units; affinity finds no gain where demand has no baskets.
"""

from __future__ import annotations

import numpy as np
import pytest

import fctwin
from fctwin.sim.demand_model import DemandModel, sample_history

STRUCTURE = {
    "skus.families": {"size": 10},
    "orders.basket": {"same_family": 0.7},
    "orders.lines_per_order": {"dist": "geometric", "mean": 3.0, "max": 8},
}


def test_default_demand_draws_exactly_as_before():
    scene = fctwin.load_scene("fc_small")
    model = DemandModel(scene.skus.demand_prob, scene.skus.family, scene.spec.orders, scene.seed)
    assert not model.structured
    p = scene.skus.demand_prob
    cdf = np.cumsum(p)
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    for n in (1, 3, 6, 2):
        model.at(3.0)
        old = [int(min(s, len(p) - 1)) for s in np.searchsorted(cdf, a.random(n) * cdf[-1], side="right")]
        assert model.draw(b, n).tolist() == old


def test_baskets_keep_further_lines_in_the_family():
    scene = fctwin.load_scene("fc_small", overrides=STRUCTURE)
    fam = scene.skus.family
    assert fam is not None and np.bincount(fam).max() == 10
    ptr, skus = sample_history(
        scene.skus.demand_prob, fam, scene.spec.orders, seed=1, n_orders=3000, name="test"
    )
    same = total = 0
    for o in range(len(ptr) - 1):
        s = skus[ptr[o] : ptr[o + 1]]
        # the first line of an order is not kept in order after np.unique: count pairs instead
        for i in range(len(s)):
            for j in range(i + 1, len(s)):
                same += fam[s[i]] == fam[s[j]]
                total += 1
    assert total > 1000 and same / total > 0.3  # without baskets: about 1% of pairs


def test_drift_and_promotions_move_popularity_deterministically():
    over = {
        "skus.families": {"size": 10},
        "orders.drift": {"interval_h": 1.0, "swap_frac": 0.1},
        "orders.promotions": [{"family": 3, "start_h": 2.0, "hours": 1.0, "multiplier": 20.0}],
    }
    scene = fctwin.load_scene("fc_small", overrides=over)
    models = [
        DemandModel(scene.skus.demand_prob, scene.skus.family, scene.spec.orders, scene.seed)
        for _ in range(2)
    ]
    for m in models:
        m.at(2.5)
    assert np.array_equal(models[0].weights, models[1].weights)
    w = models[0].weights
    assert not np.allclose(models[0].popularity, scene.skus.demand_prob)  # drifted
    promo = scene.skus.family == 3
    assert w[promo].sum() > 5 * (models[0].popularity[promo].sum() / models[0].popularity.sum())
    models[0].at(3.5)  # promotion over
    assert models[0].weights[promo].sum() < w[promo].sum()


def test_baskets_need_families():
    with pytest.raises(fctwin.SceneError, match="families"):
        fctwin.load_scene("fc_small", overrides={"orders.basket": {"same_family": 0.5}})


@pytest.mark.parametrize("placement", ["class_based", "turnover", "affinity", "combined"])
def test_placement_puts_every_sku_on_a_pod_within_limits(placement):
    scene = fctwin.load_scene(
        "fc_small",
        overrides={**STRUCTURE, "pods.placement": placement, "pods.placement_history_orders": 3000},
    )
    pods = scene.pods
    held = pods.slot_sku[pods.slot_units > 0]
    assert set(held.tolist()) == set(range(scene.skus.count))
    assert (pods.slot_units.sum(axis=1) <= pods.capacity_units).all()
    mass = np.where(pods.slot_sku >= 0, scene.skus.mass_kg[np.maximum(pods.slot_sku, 0)], 0.0)
    assert (pods.empty_mass_kg + (mass * pods.slot_units).sum(axis=1) <= pods.max_gross_mass_kg + 1e-9).all()
    for row in pods.slot_sku:
        row = row[row >= 0]
        assert len(set(row.tolist())) == len(row)
    cells = {tuple(c) for c in pods.home_cells.tolist()}
    assert len(cells) == pods.count  # one pod per cell


def greedy_pods_per_line(scene, n_orders: int = 3000) -> float:
    """Pods a picker would visit per order line, covering each sampled order greedily (static)."""
    ptr, skus = sample_history(
        scene.skus.demand_prob, scene.skus.family, scene.spec.orders, seed=99, n_orders=n_orders, name="eval"
    )
    pods_of: dict[int, set[int]] = {}
    for p, row in enumerate(scene.pods.slot_sku):
        for s in row[row >= 0]:
            pods_of.setdefault(int(s), set()).add(p)
    visits = lines = 0
    for o in range(n_orders):
        need = {int(s) for s in skus[ptr[o] : ptr[o + 1]]}
        lines += len(need)
        while need:
            cand = set().union(*(pods_of[s] for s in need))
            best = max(cand, key=lambda p: (sum(p in pods_of[s] for s in need), -p))
            need = {s for s in need if best not in pods_of[s]}
            visits += 1
    return visits / lines


def test_affinity_gains_with_baskets_and_finds_no_false_gain_without():
    with_b = {**STRUCTURE, "pods.placement_history_orders": 5000}
    without = {k: v for k, v in with_b.items() if k != "orders.basket"}
    ratios = {}
    for name, over in (("baskets", with_b), ("none", without)):
        rnd = greedy_pods_per_line(fctwin.load_scene("fc_small", overrides=over))
        aff = greedy_pods_per_line(
            fctwin.load_scene("fc_small", overrides={**over, "pods.placement": "affinity"})
        )
        ratios[name] = aff / rnd
    assert ratios["baskets"] < 0.97  # co-ordered SKUs share pods: fewer pods per line
    assert ratios["none"] > 0.97  # no structure to find: no gain beyond noise


BUNDLES = {
    "random": {
        "pods.placement": "random",
        "dispatch.pod_storage": "random",
        "dispatch.pod_selection": "random",
    },
    "class_based": {
        "pods.placement": "class_based",
        "dispatch.pod_storage": "class_based",
        "dispatch.pod_selection": "class_based",
    },
    "turnover": {"pods.placement": "turnover", "dispatch.pod_storage": "turnover"},
    "affinity": {"pods.placement": "affinity", "dispatch.pod_selection": "affinity"},
    "combined": {
        "pods.placement": "combined",
        "dispatch.pod_storage": "combined",
        "dispatch.pod_selection": "combined",
        # move often and count the moves' travel free, so a short run shows re-slotting
        "dispatch.params.pod_storage": {"reslot_moves_per_h": 600.0, "reslot_move_cost": 0.0},
    },
}


@pytest.mark.parametrize("bundle", list(BUNDLES))
def test_slotting_policies_are_deterministic_and_conserve_units(bundle, tmp_path):
    over = {
        **STRUCTURE,
        "pods.placement_history_orders": 2000,
        "inbound.cartons_per_h": 120.0,
        **BUNDLES[bundle],
    }
    runs = [
        fctwin.run("fc_small", hours=0.08, seed=3, overrides=over, runs_dir=str(tmp_path), link="local")
        for _ in range(2)
    ]
    logs = [r.events(as_frame=False) for r in runs]
    assert logs[0] == logs[1]
    k = runs[0].kpis
    assert k["units_conserved"] and k["collisions"] == 0 and k["units_picked"] > 0
    if bundle == "combined":
        kinds = logs[0]["kind"]
        assert kinds.count("reslot_move") > 0


def test_a_forecast_moves_pod_velocity_the_eluna_hook():
    """`estimate_for(d).set_forecast` (pre-positioning ahead of predicted demand) re-ranks the pods."""
    from fctwin.controller.dispatcher import Dispatcher
    from fctwin.controller.slotting.estimates import estimate_for
    from fctwin.sim.run import floorplan_from_scene

    plan, config = floorplan_from_scene(fctwin.load_scene("fc_small_peak"))
    d = Dispatcher(plan, config)
    est = estimate_for(d)
    assert estimate_for(d) is est  # one per dispatcher, shared by its policies
    est.refresh(d, force=True)
    before = est.pod_rate.copy()
    share = np.full(est.n_skus, 1e-6)
    sku = int(plan.slot_sku[17, 0])
    share[sku] = 1.0  # tomorrow everyone buys this SKU
    est.set_forecast(share)
    est.refresh(d, force=True)
    holders = sorted(d.book.pods_of_sku[sku])
    assert 17 in holders
    assert est.pod_class[holders].max() == 0  # the pods holding it are now class A
    assert not np.allclose(before, est.pod_rate)


def test_near_cells_leave_spare_cells_spread_among_the_nearest():
    from fctwin.controller.slotting.placement import near_cells

    dist = np.arange(360, dtype=np.float64)[::-1].copy()  # cell 359 is the nearest
    cells = near_cells(dist, 300, spare_frac=0.05)
    assert len(set(cells.tolist())) == 300
    ranks = np.sort(359 - cells)  # 0 = the nearest cell
    assert ranks.max() == 314  # 15 spare cells among the nearest 315
    assert np.diff(ranks).max() == 2  # spread out: never two spare cells side by side
    gaps = np.flatnonzero(np.diff(ranks) == 2)
    assert len(gaps) == 15 and gaps[0] < 25  # one every ~21 ranks, from the front
    assert near_cells(dist, 355, spare_frac=0.05).max() <= 359  # only as many spares as the floor has
    spread = np.sort(359 - near_cells(dist, 300))  # the default: every spare cell, spread evenly
    assert spread.max() == 359 and np.diff(spread).max() == 2 and (np.diff(spread) == 2).sum() == 60
    assert sorted(near_cells(dist, 300, spare_frac=0.0).tolist()) == list(range(60, 360))


def test_turnover_placement_does_not_jam_the_balanced_floor(tmp_path):
    """Regression: turnover placement packed the cells next to the stations solid; loaded units had
    nowhere to step aside and the planner livelocked in the one-cell aisles (fc_small at balanced
    load, seed 6: 424 units/h and 47 m per unit picked in the first hour, against about 700 and 25).
    Spare cells spread among the filled ones (`near_cells`) keep it flowing."""
    over = {
        **STRUCTURE,
        "orders.rate_per_h": 154.0,
        "pods.placement": "turnover",
        "dispatch.pod_storage": "turnover",
    }
    r = fctwin.run("fc_small", hours=1.0, seed=6, overrides=over, runs_dir=str(tmp_path), link="local")
    k = r.kpis
    assert k["orders_completed"] >= 0.9 * k["orders_arrived"]
    assert k["distance_m"] / k["units_picked"] < 35.0


def test_promotions_from_the_coupled_inbound_network():
    """`orders.promotions_from_inbound`: the SKUs the network's demand model lifts are lifted in the
    FC's order stream, over the same days, by the network's promo_lift."""
    from pathlib import Path

    from fctwin.sim.inbound.network import InboundModel
    from fctwin.sim.inbound.scene import load_scene as load_inbound
    from fctwin.sim.run.inbound import inbound_promotions

    with pytest.raises(fctwin.SceneError, match="promotions_from_inbound needs inbound.scenario"):
        fctwin.load_scene("fc_small", overrides={"orders.promotions_from_inbound": True})
    scene = fctwin.load_scene("fc_small_inbound", overrides={"orders.promotions_from_inbound": True})
    windows = inbound_promotions(scene)
    assert windows and all(w.multiplier == 2.5 and w.hours == 120.0 for w in windows)
    assert any(w.start_h <= 1.0 < w.start_h + w.hours for w in windows)  # one is on during the run
    # the network itself (replication 0 of the same seed) draws exactly these promotions
    net = load_inbound(Path(scene.base_dir) / scene.spec.inbound.scenario)
    dm = InboundModel(net, seed_seq=np.random.SeedSequence(scene.seed, spawn_key=(0,))).demand
    t0 = net.warmup_days + scene.spec.inbound.start_day
    on = {
        (int(s) % scene.skus.count, (int(a) - t0) * 24.0 - scene.spec.orders.start_hour)
        for s, a in zip(dm._promo_sku, dm._promo_start, strict=True)
        if a < t0 + 1 and a + net.demand.promo_length_d > t0
    }
    assert {(w.sku, w.start_h) for w in windows} == on
    model = DemandModel(
        scene.skus.demand_prob, scene.skus.family, scene.spec.orders, scene.seed, sku_promotions=windows
    )
    model.at(1.0)
    live = [w.sku for w in windows if w.start_h <= 1.0 < w.start_h + w.hours]
    ratio = model.weights / scene.skus.demand_prob
    assert np.allclose(ratio[live] / np.median(ratio), 2.5)
    plain = fctwin.load_scene("fc_small_inbound")
    assert not DemandModel(plain.skus.demand_prob, None, plain.spec.orders, plain.seed).structured


@pytest.mark.parametrize(
    "params, words",
    [
        ({"zones": "bogus"}, "zones must be"),
        ({"reslot_move_cost": -1.0}, "reslot_move_cost >= 0"),
        ({"reslot_moves_per_h": -5.0}, "reslot_moves_per_h must be >= 0"),
    ],
)
def test_bad_slotting_parameters_are_scene_errors(params, words):
    over = {"dispatch.pod_storage": "class_based", "dispatch.params.pod_storage": params}
    with pytest.raises(fctwin.SceneError, match=words) as info:
        fctwin.load_scene("fc_small", overrides=over)
    assert "dispatch.params.pod_storage" in str(info.value)


def test_the_books_array_mirrors_follow_every_update():
    """The stow kernel reads the inventory book's arrays (`_stow_candidates`): after any mix of picks,
    stows, promises, lifts and set-downs they equal what the per-pod lists and methods say."""
    from fctwin.controller.inventory import InventoryBook

    rng = np.random.default_rng(4)
    n_pods, n_skus = 40, 25
    cells = np.array([(r, c) for r in range(5) for c in range(8)], dtype=np.int64)
    book = InventoryBook(
        pod_cells=cells,
        slot_sku=rng.integers(-1, n_skus, (n_pods, 4)),
        slot_units=rng.integers(1, 30, (n_pods, 4)),
        capacity_units=400,
        empty_mass_kg=120.0,
        max_gross_mass_kg=450.0,
        sku_mass_kg=rng.random(n_skus) * 2.0,
    )
    free_cells = [(9, c) for c in range(10)]
    for _ in range(600):
        p = int(rng.integers(n_pods))
        op = rng.integers(5)
        if op == 0 and book.contents[p]:
            s = int(rng.choice(list(book.contents[p])))
            book.picked(p, s, int(rng.integers(1, book.contents[p][s] + 1)))
        elif op == 1:
            s, u = int(rng.integers(n_skus)), int(rng.integers(1, 10))
            book.promise_stow(p, s, u)
            if rng.random() < 0.5:
                book.stowed(p, s, u)
            else:
                book.unpromise_stow(p, s, u)
        elif op == 2 and book.pod_cell[p] is not None:
            free_cells.append(book.pod_cell[p])
            book.lifted(p)
        elif op == 3 and book.pod_cell[p] is None:
            book.set_down(p, free_cells.pop(int(rng.integers(len(free_cells)))))
        elif op == 4:
            book.mass_kg(p)
        if rng.random() < 0.1:
            for q in list(book.mass_stale):
                book.mass_kg(q)
            assert np.allclose(book.mass_arr_kg, [book.mass_kg(q) for q in range(n_pods)])
    assert book.units_with_incoming.tolist() == [book.units_in(q) + book.incoming[q] for q in range(n_pods)]
    assert np.allclose(book.incoming_mass_arr_kg, book.incoming_mass)
    assert book.pod_rc.tolist() == [[-1, -1] if c is None else list(c) for c in book.pod_cell]
