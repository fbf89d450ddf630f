"""`most_lines` pod selection, rewritten for large floors, gives the answers of the plain loops it
replaced (kept here as the reference) on random books: reservations, busy and carried pods, stock
picked and stowed, promised stow units and mass limits that bind."""

from __future__ import annotations

from collections import deque
from types import SimpleNamespace

import numpy as np
import pytest

from fctwin.controller.inventory import InventoryBook
from fctwin.controller.policies.pod_selection import (
    STOW_HEAD_LOOKAHEAD,
    MostLines,
    Nearest,
    RandomStow,
    pick_scores,
)
from fctwin.controller.records import Line, StationRec


def _reference_pick_scores(d, idx):
    book = d.book
    score = {}
    for ln in d.stations[idx].pending:
        for p in book.pods_of_sku.get(ln.sku, ()):
            if p in book.busy_pod or book.pod_cell[p] is None or book.available(p, ln.sku) < ln.units:
                continue
            score[p] = score.get(p, 0) + 1
    return score


def _distance(d, p, idx):
    (r, c), (r0, c0) = d.book.pod_cell[p], d.stations[idx].cell
    return abs(r - r0) + abs(c - c0)


def _reference_pick(d, idx):
    score = _reference_pick_scores(d, idx)
    if not score:
        return None
    top = max(score.values())
    return min((p for p, n in score.items() if n == top), key=lambda p: (_distance(d, p, idx), p))


def _reference_stow(d, idx):
    book = d.book
    fits = [
        ln
        for ln in list(d.stations[idx].pending)[:STOW_HEAD_LOOKAHEAD]
        if any(
            p not in book.busy_pod and book.pod_cell[p] is not None and book.room_for(p, ln.sku, ln.units)
            for p in range(len(book.pod_cell))
        )
    ]
    if not fits:
        return None
    first = fits[0]  # the front carton, or the first behind it that some pod has room for
    best, best_key = -1, None
    for p in range(len(book.pod_cell)):
        if p in book.busy_pod or book.pod_cell[p] is None or not book.room_for(p, first.sku, first.units):
            continue
        key = (first.sku not in book.contents[p], book.units_in(p) // 50, _distance(d, p, idx), p)
        if best_key is None or key < best_key:
            best, best_key = p, key
    return None if best < 0 else best


def _random_floor(rng, n_pods=300, n_skus=40):
    slots = 4
    side = int(np.ceil(np.sqrt(n_pods)))
    cells = np.array([(k // side, k % side) for k in range(n_pods)], np.int64)
    skus = rng.zipf(1.3, size=(n_pods, slots)) % n_skus  # popular SKUs on many pods
    units = rng.integers(0, 40, size=(n_pods, slots))
    book = InventoryBook(
        pod_cells=cells,
        slot_sku=skus,
        slot_units=units,
        capacity_units=150,
        empty_mass_kg=30.0,
        max_gross_mass_kg=120.0,  # binds for some pods: mass decides room as well as units
        sku_mass_kg=rng.uniform(0.05, 1.5, n_skus),
    )
    stations = [
        StationRec(f"S{k}", "pick", (int(rng.integers(0, side)), int(rng.integers(0, side))))
        for k in range(3)
    ]
    return SimpleNamespace(book=book, stations=stations), n_skus


@pytest.mark.parametrize("seed", range(6))
def test_fast_selection_matches_the_plain_loops(seed):
    rng = np.random.default_rng(seed)
    d, n_skus = _random_floor(rng)
    book = d.book
    n_pods = len(book.pod_cell)
    for _ in range(60):
        # a random change of the book, as trips, picks, stows and pod moves make them
        p, sku = int(rng.integers(n_pods)), int(rng.integers(n_skus))
        r = rng.random()
        if r < 0.2 and book.available(p, sku) > 0:
            book.reserve(p, sku, int(rng.integers(1, book.available(p, sku) + 1)))
        elif r < 0.3 and book.contents[p].get(sku, 0) > 0:
            book.picked(p, sku, min(book.contents[p][sku], int(rng.integers(1, 5))))
        elif r < 0.4:
            book.stowed(p, sku, int(rng.integers(1, 6)))
        elif r < 0.5:
            book.promise_stow(p, sku, int(rng.integers(1, 10)))
        elif r < 0.6:
            book.busy_pod.symmetric_difference_update({p})
        elif r < 0.7 and book.pod_cell[p] is not None:
            book.lifted(p)
        elif r < 0.8 and book.pod_cell[p] is None:
            book.set_down(p, tuple(int(x) for x in (n_pods + p, 0)))
        for st in d.stations:
            st.pending = deque(
                Line(k, int(s), int(u), 0.0)
                for k, (s, u) in enumerate(
                    zip(rng.zipf(1.3, 4) % n_skus, rng.integers(1, 12, 4), strict=True)
                )
            )
        for idx in range(len(d.stations)):
            assert pick_scores(d, idx) == _reference_pick_scores(d, idx)
            assert list(pick_scores(d, idx)) == list(_reference_pick_scores(d, idx))  # first-seen order
            assert MostLines().pick_pod(d, idx) == _reference_pick(d, idx)
            assert MostLines().stow_pod(d, idx) == _reference_stow(d, idx)
            score = _reference_pick_scores(d, idx)
            nearest = min(score, key=lambda q: (_distance(d, q, idx), q)) if score else None
            assert Nearest().pick_pod(d, idx) == nearest


def _fresh_sku_pods(book, sku):
    return sorted(
        (p, book.available(p, sku), p not in book.busy_pod and book.pod_cell[p] is not None)
        for p in book.pods_of_sku.get(sku, ())
    )


def _kept_sku_pods(book, sku):
    arr = book.sku_pods(sku)
    n = arr.n
    assert {int(p): k for k, p in enumerate(arr.pods[:n])} == arr.index
    return sorted(zip(arr.pods[:n].tolist(), arr.free[:n].tolist(), arr.usable[:n].tolist(), strict=True))


@pytest.mark.parametrize("seed", range(3))
def test_usable_pod_index_stays_exact_as_pods_move_and_stock_changes(seed):
    """The book's per-SKU pod arrays (`sku_pods`, updated in place) always equal a fresh pass after
    every kind of change: reservations made and released, picks that empty a slot, stows that add a
    SKU to a pod, pods lifted and set down, and pods made busy or free one at a time or in bulk (set
    operators on ``busy_pod``)."""
    rng = np.random.default_rng(100 + seed)
    d, n_skus = _random_floor(rng)
    book = d.book
    n_pods = len(book.pod_cell)
    for _ in range(400):
        for s in rng.integers(0, n_skus, 5):  # build the arrays of a few SKUs
            book.sku_pods(int(s))
        p, sku = int(rng.integers(n_pods)), int(rng.integers(n_skus))
        held = book.contents[p].get(sku, 0)
        r = rng.random()
        if r < 0.15 and book.available(p, sku) > 0:
            book.reserve(p, sku, int(rng.integers(1, book.available(p, sku) + 1)))
        elif r < 0.25 and book.reserved[p].get(sku, 0) > 0:
            book.release(p, sku, int(rng.integers(1, book.reserved[p][sku] + 1)))
        elif r < 0.35 and held > 0:
            book.picked(p, sku, min(held, int(rng.integers(1, 5))))
        elif r < 0.45:
            book.stowed(p, sku, int(rng.integers(1, 6)))
        elif r < 0.55:
            book.busy_pod.add(p)
        elif r < 0.65:
            book.busy_pod.discard(p)
        elif r < 0.7:
            some = {int(q) for q in rng.integers(0, n_pods, 4)}
            op = int(rng.integers(4))
            if op == 0:
                book.busy_pod |= some
            elif op == 1:
                book.busy_pod -= some
            elif op == 2:
                book.busy_pod ^= some
            else:
                book.busy_pod.symmetric_difference_update(some)
        elif r < 0.85 and book.pod_cell[p] is not None:
            book.lifted(p)
        elif book.pod_cell[p] is None:
            book.set_down(p, (n_pods + p, 0))
        for s in map(int, book._sku_arrays):
            assert _kept_sku_pods(book, s) == _fresh_sku_pods(book, s), f"sku {s}"
    assert 0 < len(book._sku_arrays) <= n_skus


def test_a_front_carton_that_fits_no_pod_does_not_block_the_cartons_behind_it():
    """Every pod is near its mass limit: the heavy carton at the front of the stow queue fits none,
    the light one behind it fits. Each stow policy plans for the light one (it used to return no pod
    at all, and the station stowed nothing until some pod lost mass), and the heavy one waits."""
    rng = np.random.default_rng(3)
    d, n_skus = _random_floor(rng)
    book = d.book
    heavy, light = 0, 1
    book.sku_mass_kg[heavy] = 30.0  # 2 units: 60 kg, more than any pod has room for (below)
    book.sku_mass_kg[light] = 0.1
    headroom = np.array([book.max_gross_mass_kg - book.mass_kg(p) for p in range(len(book.pod_cell))])
    book.max_gross_mass_kg -= max(0.0, float(headroom.max()) - 50.0)  # now every headroom <= 50 kg
    st = d.stations[0]
    st.pending = deque([Line(0, heavy, 2, 0.0), Line(1, light, 1, 0.0)])
    for policy in (MostLines(), Nearest(), RandomStow()):
        if isinstance(policy, RandomStow):
            policy.setup(SimpleNamespace(config=SimpleNamespace(seed=0)))
        pod = policy.stow_pod(d, 0)
        assert pod is not None, type(policy).__name__
        assert book.room_for(pod, light, 1) and not book.room_for(pod, heavy, 2)
    assert MostLines().stow_pod(d, 0) == _reference_stow(d, 0)
    st.pending = deque([Line(0, heavy, 2, 0.0)])  # nothing that fits: no trip, as before
    assert MostLines().stow_pod(d, 0) is None and Nearest().stow_pod(d, 0) is None
