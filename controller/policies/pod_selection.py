"""Pod selection: which pod a station's next trip brings (RAWSim-O: PodSelectionManager for picks,
ItemStorageManager for where inbound units are stowed).

The dispatcher asks while a station has pending lines and fewer trips in flight than its queue
holds. It then builds the trip itself: a pick trip takes every pending line the pod can serve (in
arrival order, reserving stock as it goes), a stow trip up to `STOW_LINES_PER_TRIP` cartons the
pod has room for, first carton first.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING

import numpy as np

from fctwin.controller.policies.base import Policy
from fctwin.controller.records import LIFTING

if TYPE_CHECKING:
    from fctwin.controller.dispatcher import Dispatcher
    from fctwin.controller.records import Line

STOW_LINES_PER_TRIP = 6


def pick_scores(d: Dispatcher, idx: int) -> dict[int, int]:
    """Pod -> how many of station ``idx``'s pending lines it can serve now (pods on a trip left out).

    Each line is counted on its own (two lines of one SKU both count if the pod holds enough for
    either). The pods' keys come in first-seen order, which tie-breaking rules may rely on.
    """
    book = d.book
    score: dict[int, int] = {}
    busy, pod_cell, contents, reserved = book.busy_pod, book.pod_cell, book.contents, book.reserved
    pods_of_sku = book.pods_of_sku
    # This loop is the hot path of large floors (a popular SKU sits on hundreds of pods), so each
    # SKU's usable pods and their free units are listed once per call, in the set's order, and
    # lines of the same SKU reuse the list. book.available(p, sku), inlined.
    free_by_sku: dict[int, list[tuple[int, int]]] = {}
    get = score.get
    for ln in d.stations[idx].pending:
        sku, units = ln.sku, ln.units
        free = free_by_sku.get(sku)
        if free is None:
            free = []
            for p in pods_of_sku.get(sku, ()):
                if p in busy or pod_cell[p] is None:
                    continue
                r = reserved[p]
                free.append((p, contents[p].get(sku, 0) - r.get(sku, 0) if r else contents[p].get(sku, 0)))
            free_by_sku[sku] = free
        for p, n in free:
            if n >= units:
                score[p] = get(p, 0) + 1
    return score


def most_lines_pod(d: Dispatcher, idx: int) -> int | None:
    """The pod serving the most of station ``idx``'s pending lines (counted as `pick_scores` counts
    them), ties to the nearest (Manhattan cells) and then the lowest id; None if no pod serves any.

    The same answer as the maximum of `pick_scores` and `nearest_pod` over its best pods, computed over
    the book's per-SKU arrays (`InventoryBook.sku_pods`, kept current in place): a popular SKU sits
    on hundreds of pods on fc_2000, and the dict pass over them was the dispatcher's largest cost.
    """
    book = d.book
    score = book.score_scratch
    hits = []
    for ln in d.stations[idx].pending:
        arr = book.sku_pods(ln.sku)
        n = arr.n
        if n == 0:
            continue
        pods = arr.pods[:n][arr.usable[:n] & (arr.free[:n] >= ln.units)]
        if pods.size:
            score[pods] += 1  # a pod appears once per SKU: no repeated index within one line
            hits.append(pods)
    if not hits:
        return None
    # a pod may repeat across lines: harmless (same score, same distance; np.unique cost ~2 ms here)
    cand = np.concatenate(hits) if len(hits) > 1 else hits[0]
    sc = score[cand]
    score[cand] = 0  # the scratch stays all zero between calls
    best = cand[sc == sc.max()]
    if best.size == 1:
        return int(best[0])
    r0, c0 = d.stations[idx].cell
    rc = book.pod_rc[best]
    dist = np.abs(rc[:, 0] - r0) + np.abs(rc[:, 1] - c0)
    return int(best[np.lexsort((best, dist))[0]])


def nearest_pod(d: Dispatcher, pods, idx: int) -> int:
    """The pod of ``pods`` (non-empty, all on the floor) nearest station ``idx`` in Manhattan cells;
    ties to the lowest id. ``min`` by `pod_distance` and id, without a call per pod."""
    pod_cell = d.book.pod_cell
    r0, c0 = d.stations[idx].cell
    best, best_key = -1, None
    for p in pods:
        r, c = pod_cell[p]
        key = (abs(r - r0) + abs(c - c0), p)
        if best_key is None or key < best_key:
            best, best_key = p, key
    return best


def pod_distance(d: Dispatcher, pod: int, idx: int) -> int:
    """Manhattan cells from where ``pod`` stands to station ``idx``."""
    cell = d.book.pod_cell[pod]
    st = d.stations[idx].cell
    return abs(cell[0] - st[0]) + abs(cell[1] - st[1])


class PodSelection(Policy):
    """Chooses the pod for a station's next trip.

    `pick_pod` returns a pod that can serve at least one of ``d.stations[idx].pending`` (stock
    available: ``d.book.available(pod, sku) >= units``) and is not in ``d.book.busy_pod``, or None
    to wait. `stow_pod` returns a pod not busy with room for the station's first pending carton
    (``d.book.room_for``), or None. Both must not mutate anything: the dispatcher reserves the
    stock, marks the pod busy and logs the trip.
    """

    family = "pod_selection"

    @abstractmethod
    def pick_pod(self, d: Dispatcher, idx: int) -> int | None: ...

    @abstractmethod
    def stow_pod(self, d: Dispatcher, idx: int) -> int | None: ...


class MostLines(PodSelection):
    """Pick: the pod covering the most pending lines (ties: nearest, then lowest id). Stow: a pod
    already holding the SKU, then emptier (in steps of 50 units), then nearer. The default."""

    def pick_pod(self, d, idx):
        return most_lines_pod(d, idx)

    def stow_pod(self, d, idx):
        # Prefer pods already holding the SKU (fewer places to look later), then emptier (in steps of
        # 50 units) and nearer, then the lowest id: over every usable pod with room, as arrays (a
        # Python pass over fc_2000's 20,000 pods took ~50 ms a decision).
        book = d.book
        units_in, mass, usable, dist = _stow_candidates(d, idx)
        first, ok = stow_head(d, idx, units_in, mass, usable)
        if first is None:
            return None
        cand = np.flatnonzero(ok)
        same = np.zeros(ok.shape[0], bool)
        holding = [p for p in book.pods_of_sku.get(first.sku, ()) if first.sku in book.contents[p]]
        same[np.asarray(holding, np.int64)] = True
        fill = (units_in - np.asarray(book.incoming, np.int64)) // 50  # units_in(p), without promises
        # lexsort: last key first; pod id (ascending in cand) breaks the remaining ties
        order = np.lexsort((cand, dist[cand], fill[cand], ~same[cand]))
        return int(cand[order[0]])


class LeanStow(MostLines):
    """As `most_lines`, but a stow station has at most ``stow_trips`` trips in flight (its pod at the
    face, pods queued or on their way, trips waiting for a unit) instead of the queue's length.

    A pod on a stow trip is out of the pick side's reach until it is back in storage. A stow trip
    carries about one carton (pods are near their mass limit), served in ~3 minutes, and the trips
    behind it wait in the stow queue: with one stow station closed on eluna_balanced the pods
    waited 229 s between lift and face instead of 120 s (13.1 -> 17.2 pod-hours a run on stow trips).
    Fewer trips ahead of the stower keep those pods in storage, where picks can take them, while
    the next pod still arrives before the face is free (travel ~1-2 min against ~3 min a carton).
    """

    def __init__(self, *, stow_trips: int = 2):
        if int(stow_trips) < 1:
            raise ValueError(f"stow_trips must be at least 1, got {stow_trips}")
        self.stow_trips = int(stow_trips)

    def stow_pod(self, d, idx):
        if stow_trips_in_flight(d, idx) >= self.stow_trips:
            return None
        return super().stow_pod(d, idx)


def stow_trips_in_flight(d: Dispatcher, idx: int) -> int:
    """Trips for station ``idx`` not yet served: queued (lifted), on a unit not yet lifted, or
    waiting for a unit; as `Decisions._make_trips` counts them."""
    n = len(d.stations[idx].queue)
    n += sum(1 for t in d.trips if t.station == idx and t.kind != "move")
    for u in d.units:
        t = u.trip
        if t is not None and t.station == idx and t.phase <= LIFTING and t.kind != "move":
            n += 1
    return n


class Nearest(PodSelection):
    """Pick: the nearest pod that serves any pending line. Stow: the nearest pod with room.

    Shorter trips, more of them: the usual baseline against which pile-on rules are measured.
    """

    def pick_pod(self, d, idx):
        score = pick_scores(d, idx)
        if not score:
            return None
        return nearest_pod(d, score, idx)

    def stow_pod(self, d, idx):
        book = d.book
        first, _ = stow_head(d, idx, *_stow_candidates(d, idx)[:3])
        if first is None:
            return None
        best, best_key = -1, None
        for p in range(len(book.pod_cell)):
            if p in book.busy_pod or book.pod_cell[p] is None or not book.room_for(p, first.sku, first.units):
                continue
            key = (pod_distance(d, p, idx), p)
            if best_key is None or key < best_key:
                best, best_key = p, key
        return None if best < 0 else best


# How far down a stow station's carton queue a pod is looked for when the front carton fits none.
STOW_HEAD_LOOKAHEAD = 20


def stow_head(d: Dispatcher, idx: int, units_in, mass, usable) -> tuple[Line | None, np.ndarray | None]:
    """The carton a stow trip is planned for, and the usable pods with room for it: the front carton
    of station ``idx``'s queue if any pod has room for it, else the first of the next ones that fits
    (up to `STOW_HEAD_LOOKAHEAD`). Planning only for the front carton blocked a station whenever it
    fitted no pod: a 44 kg carton at the head of every stow queue of a floor whose pods were near
    their mass limit stopped all stowing for 85 minutes while lighter cartons behind it fitted
    dozens of pods. ``(None, None)`` when none of them fits any pod."""
    book = d.book
    for k, line in enumerate(d.stations[idx].pending):
        if k >= STOW_HEAD_LOOKAHEAD:
            break
        ok = _room_mask(book, units_in, mass, usable, line.sku, line.units)
        if ok.any():
            return line, ok
    return None, None


def _room_mask(book, units_in, mass, usable, sku: int, units: int) -> np.ndarray:
    """bool[P]: usable pods with room for ``units`` of ``sku``: `InventoryBook.room_for` over every
    pod at once, with the same arithmetic (units plus promised plus these within capacity; gross
    mass plus promised mass plus these, summed in that order, within the limit)."""
    extra_kg = units * float(book.sku_mass_kg[sku])
    return (
        (usable > 0) & (units_in + units <= book.capacity_units) & (mass + extra_kg <= book.max_gross_mass_kg)
    )


def _stow_candidates(d: Dispatcher, idx: int):
    """Per pod: units held plus promised, gross mass plus promised, usable (on the floor, not on a
    trip) and Manhattan cells to station ``idx``, as arrays for the stow kernel.

    Read from the book's array mirrors, not a Python call per pod: on fc_large (5,000 pods) the
    per-pod pass took ~3 ms a decision against the kernel's ~0.04 ms. Masses of pods changed since
    the last call are recomputed first (the book's lazy cache).
    """
    book = d.book
    for p in list(book.mass_stale):
        book.mass_kg(p)
    units_in = book.units_with_incoming.copy()
    mass = book.mass_arr_kg + book.incoming_mass_arr_kg
    rc = book.pod_rc
    usable = (rc[:, 0] >= 0).astype(np.uint8)
    if book.busy_pod:
        usable[np.fromiter(book.busy_pod, dtype=np.int64, count=len(book.busy_pod))] = 0
    r0, c0 = d.stations[idx].cell
    dist = np.where(rc[:, 0] >= 0, np.abs(rc[:, 0] - r0) + np.abs(rc[:, 1] - c0), 0).astype(np.float64)
    return units_in, mass, usable, dist


class RandomStow(MostLines):
    """Pick as `most_lines`; stow: a pod with room drawn at random (seeded), the baseline that
    mixes SKUs on pods with no regard for what is ordered together."""

    def setup(self, d):
        self._rng = np.random.default_rng([d.config.seed, 0x570])

    def stow_pod(self, d, idx):
        units_in, mass, usable, _ = _stow_candidates(d, idx)
        first, ok = stow_head(d, idx, units_in, mass, usable)
        if first is None:
            return None
        cand = np.flatnonzero(ok)
        return int(cand[self._rng.integers(cand.size)])


class _ScoredStow(MostLines):
    """Pick as `most_lines`; stow: the pod of best score from `fctwin.controller.slotting.stow_choice`
    (affinity with the pod's SKUs, holding the SKU already, velocity class match, distance, fill)."""

    W_AFF, W_SAME, W_CLASS, W_DIST, W_FILL = 0.0, 0.0, 0.0, 0.01, 0.2

    def __init__(
        self,
        *,
        w_aff: float | None = None,
        w_same: float | None = None,
        w_class: float | None = None,
        w_dist: float | None = None,
        w_fill: float | None = None,
    ):
        self.w = {
            "w_aff": self.W_AFF if w_aff is None else w_aff,
            "w_same": self.W_SAME if w_same is None else w_same,
            "w_class": self.W_CLASS if w_class is None else w_class,
            "w_dist": self.W_DIST if w_dist is None else w_dist,
            "w_fill": self.W_FILL if w_fill is None else w_fill,
        }

    def stow_pod(self, d, idx):
        from fctwin.controller.slotting.estimates import estimate_for
        from fctwin.controller.slotting.kernels import stow_choice

        book = d.book
        units_in, mass, usable, dist = _stow_candidates(d, idx)
        first, _ = stow_head(d, idx, units_in, mass, usable)
        if first is None:
            return None
        est = estimate_for(d)
        est.refresh(d)
        aff_pods: list[int] = []
        aff_w: list[float] = []
        if self.w["w_aff"] > 0:
            nbr, cnt = est.affinity(d)
            top = float(cnt[first.sku, 0]) if cnt.shape[1] else 0.0
            for s, c in zip(nbr[first.sku], cnt[first.sku], strict=True):
                if s < 0:
                    break
                pods = book.pods_of_sku.get(int(s), ())
                aff_pods.extend(pods)
                aff_w.extend([c / top] * len(pods))
        best = stow_choice(
            units_in=units_in,
            mass_kg=mass,
            usable=usable,
            dist=dist,
            pod_class=est.pod_class,
            same_pods=sorted(book.pods_of_sku.get(first.sku, ())),
            aff_pods=aff_pods,
            aff_w=aff_w,
            carton_units=first.units,
            carton_mass_kg=first.units * float(book.sku_mass_kg[first.sku]),
            sku_class=int(est.sku_class[first.sku]),
            capacity_units=book.capacity_units,
            max_mass_kg=book.max_gross_mass_kg,
            **self.w,
        )
        return None if best < 0 else best


class ClassStow(_ScoredStow):
    """Stow into pods of the SKU's velocity class (A SKUs to A pods), then nearer and emptier."""

    W_CLASS = 1.0


class AffinityStow(_ScoredStow):
    """Stow beside the SKUs it is ordered with (Mirzaei, Zaerpour & de Koster 2021), or onto a pod
    already holding it; then nearer and emptier."""

    W_AFF, W_SAME = 1.0, 0.5


class CombinedStow(_ScoredStow):
    """Affinity, same SKU and velocity class together."""

    W_AFF, W_SAME, W_CLASS = 1.0, 0.5, 0.5
