"""Slotting kernels equal their slow pure-Python references on random instances, with and without numba."""

from __future__ import annotations

import numpy as np
import pytest
from jit_compare import jit_and_nojit_outputs

from fctwin.controller.slotting import (
    affinity_mix,
    decayed_velocity,
    pod_rates,
    reslot_step,
    sku_affinity,
    storage_choice,
    storage_potential,
    stow_choice,
)
from fctwin.controller.slotting import reference as ref


def random_orders(rng, n_orders: int, n_skus: int, max_lines: int = 6):
    ptr, skus = [0], []
    for _ in range(n_orders):
        s = np.unique(rng.integers(0, n_skus, rng.integers(1, max_lines + 1)))
        skus.extend(int(x) for x in s)
        ptr.append(len(skus))
    return np.array(ptr), np.array(skus, dtype=np.int32)


@pytest.mark.parametrize("seed", range(5))
def test_affinity_equals_reference(seed):
    rng = np.random.default_rng(seed)
    n_skus = int(rng.integers(5, 60))
    ptr, skus = random_orders(rng, int(rng.integers(0, 400)), n_skus)
    k = int(rng.integers(1, 8))
    nbr, cnt = sku_affinity(ptr, skus, n_skus, k=k, max_lines_per_order=4)
    rn, rc = ref.sku_affinity_ref(ptr, skus, n_skus, k, max_lines=4)
    assert nbr.tolist() == rn and cnt.tolist() == rc


def test_affinity_rejects_bad_input():
    with pytest.raises(ValueError):
        sku_affinity([0, 2], [0, 9], 5)
    with pytest.raises(ValueError):
        sku_affinity([0, 3], [0, 1], 5)


@pytest.mark.parametrize("seed", range(3))
def test_velocity_and_pod_rates_equal_reference(seed):
    rng = np.random.default_rng(seed)
    n = 30
    ids = rng.integers(0, n, 200)
    t = rng.random(200) * 10
    w = rng.random(200) + 0.5
    got = decayed_velocity(ids, t, n, now_h=8.0, half_life_h=2.0, weights=w)
    assert np.allclose(got, ref.decayed_counts_ref(ids, t, w, n, 8.0, 2.0), rtol=1e-12, atol=0)
    slot_sku = rng.integers(-1, 20, (15, 4))
    slot_units = rng.integers(0, 30, (15, 4))
    rate = rng.random(20)
    assert np.allclose(pod_rates(slot_sku, slot_units, rate), ref.pod_rates_ref(slot_sku, slot_units, rate))


def stow_instance(rng, n_pods=60, n_skus=40, k=4):
    slot_sku = rng.integers(-1, n_skus, (n_pods, 5))
    pods_of_sku: dict[int, set[int]] = {}
    for p in range(n_pods):
        for s in slot_sku[p]:
            if s >= 0:
                pods_of_sku.setdefault(int(s), set()).add(p)
    sku = int(rng.integers(0, n_skus))
    nbr = rng.choice(n_skus, k, replace=False)
    nbr_w = rng.integers(1, 9, k).astype(float)
    aff_pods, aff_w = [], []
    for s, w in zip(nbr, nbr_w, strict=True):
        for p in sorted(pods_of_sku.get(int(s), ())):
            aff_pods.append(p)
            aff_w.append(w)
    common = dict(
        units_in=rng.integers(0, 400, n_pods),
        mass_kg=120 + rng.random(n_pods) * 330,
        usable=rng.random(n_pods) < 0.8,
        dist=rng.integers(1, 30, n_pods).astype(float),
        pod_class=rng.integers(0, 3, n_pods),
        carton_units=12,
        carton_mass_kg=12 * 2.0,
        sku_class=int(rng.integers(0, 3)),
        capacity_units=400,
        max_mass_kg=450.0,
        w_aff=float(rng.random()),
        w_same=float(rng.random()),
        w_class=float(rng.random()),
        w_dist=float(rng.random()) / 10,
        w_fill=float(rng.random()),
    )
    kernel_args = dict(common, same_pods=sorted(pods_of_sku.get(sku, ())), aff_pods=aff_pods, aff_w=aff_w)
    ref_args = dict(common, pods_of_sku=pods_of_sku, sku=sku, nbr_skus=nbr, nbr_w=nbr_w)
    return kernel_args, ref_args


@pytest.mark.parametrize("seed", range(10))
def test_stow_choice_equals_reference_and_respects_limits(seed):
    rng = np.random.default_rng(seed)
    kargs, rargs = stow_instance(rng)
    best = stow_choice(**kargs)
    assert best == ref.stow_choice_ref(**rargs)
    if best >= 0:  # the chosen pod can take the carton: capacity and mass limits hold
        assert kargs["usable"][best]
        assert kargs["units_in"][best] + 12 <= 400 and kargs["mass_kg"][best] + 24 <= 450


def storage_instance(rng, n_cells=80, n_pods=60):
    cells = np.stack([rng.integers(0, 20, n_cells), rng.integers(0, 30, n_cells)], axis=1)
    dist_st = rng.integers(2, 40, n_cells).astype(float)  # ties on purpose
    rates = rng.exponential(1.0, n_pods)
    free = rng.random(n_cells) < 0.3
    return cells, dist_st, rates, free


@pytest.mark.parametrize("seed", range(10))
def test_storage_equals_reference(seed):
    rng = np.random.default_rng(seed)
    cells, dist_st, rates, free = storage_instance(rng)
    pot = storage_potential(dist_st, rates)
    assert np.array_equal(pot, ref.storage_potential_ref(dist_st, rates))
    here = rng.integers(0, 30, len(free)).astype(float)
    r = float(rates[rng.integers(0, len(rates))])
    got = storage_choice(free, here, dist_st, pot, rate=r, horizon_h=2.0, w_return=0.5)
    assert got == ref.storage_choice_ref(free, here, dist_st, pot, r, 2.0, 0.5)
    assert got < 0 or free[got]


def test_storage_puts_fast_pods_near_and_slow_pods_far():
    dist_st = np.arange(1.0, 101.0)
    rates = np.linspace(10.0, 0.1, 100)
    pot = storage_potential(dist_st, rates)
    free = np.ones(100, dtype=bool)
    zero = np.zeros(100)
    fast = storage_choice(free, zero, dist_st, pot, rate=10.0)
    slow = storage_choice(free, zero, dist_st, pot, rate=0.1)
    mid = storage_choice(free, zero, dist_st, pot, rate=float(rates[50]))
    assert fast == 0 and slow >= 98 and 40 <= mid <= 60  # the slowest pod is indifferent at the end


@pytest.mark.parametrize("seed", range(8))
def test_reslot_equals_reference(seed):
    rng = np.random.default_rng(seed)
    cells, dist_st, rates, free = storage_instance(rng, n_cells=90, n_pods=50)
    occupied = np.flatnonzero(~free)[:50]
    pod_slot = np.full(50, -1)
    pod_slot[: len(occupied)] = occupied
    movable = rng.random(50) < 0.9
    pot = storage_potential(dist_st, rates)
    got = reslot_step(
        pod_slot, movable, rates, free, dist_st, cells, pot, horizon_h=4.0, n_cand=5, max_moves=4
    )
    want = ref.reslot_step_ref(pod_slot, movable, rates, free, dist_st, cells.tolist(), pot, 4.0, 1.0, 5, 4)
    assert got == want
    for p, c, saving in got:  # moves go from a pod's own cell to a free one and save something
        assert movable[p] and pod_slot[p] >= 0 and free[c] and saving > 0
    assert len({c for _, c, _ in got}) == len(got) and len({p for p, _, _ in got}) == len(got)


@pytest.mark.parametrize("seed", range(5))
def test_affinity_mix_equals_reference_and_places_every_copy(seed):
    rng = np.random.default_rng(seed)
    n_skus, n_pods, slots = 40, 20, 5
    ptr, skus = random_orders(rng, 300, n_skus)
    nbr, cnt = sku_affinity(ptr, skus, n_skus, k=4)
    copies = np.ones(n_skus, dtype=np.int64)
    copies[rng.integers(0, n_skus, n_pods * slots - n_skus)] += 1
    copies = np.minimum(copies, n_pods)
    order = rng.permutation(n_skus)
    got = affinity_mix(copies, order, nbr, cnt.astype(float), n_pods=n_pods, slots=slots)
    assert got.tolist() == ref.affinity_mix_ref(copies, order, nbr, cnt.astype(float), n_pods, slots)
    placed = np.bincount(got[got >= 0], minlength=n_skus)
    assert np.array_equal(placed, copies)  # units conserved: every copy on exactly one pod slot
    for row in got:  # no SKU twice in a pod
        row = row[row >= 0]
        assert len(set(row.tolist())) == len(row)


KERNEL_SCRIPT = """
import json
import numpy as np
from fctwin.controller.slotting import (
    affinity_mix, reslot_step, sku_affinity, storage_choice, storage_potential,
)
rng = np.random.default_rng(3)
ptr, skus = [0], []
for _ in range(200):
    s = np.unique(rng.integers(0, 30, rng.integers(1, 6)))
    skus.extend(int(x) for x in s)
    ptr.append(len(skus))
nbr, cnt = sku_affinity(ptr, skus, 30, k=4)
d = rng.integers(1, 30, 50).astype(float)
rates = rng.exponential(1.0, 40)
free = rng.random(50) < 0.3
pot = storage_potential(d, rates)
cells = rng.integers(0, 20, (50, 2))
slot = np.flatnonzero(~free)[:40]
mv = reslot_step(slot, np.ones(len(slot), bool), rates[: len(slot)], free, d, cells, pot, max_moves=3)
mix = affinity_mix(np.ones(30, dtype=np.int64), np.arange(30), nbr, cnt + 0.0, n_pods=10, slots=3)
print(json.dumps([nbr.tolist(), cnt.tolist(), storage_choice(free, d, d, pot, rate=1.0), mv, mix.tolist()]))
"""


def test_kernels_same_with_and_without_jit():
    jit, nojit = jit_and_nojit_outputs(KERNEL_SCRIPT)
    assert jit == nojit
