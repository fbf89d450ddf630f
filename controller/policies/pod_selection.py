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

from fctwin.controller.policies.base import Policy

if TYPE_CHECKING:
    from fctwin.controller.dispatcher import Dispatcher

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
    for ln in d.stations[idx].pending:
        sku, units = ln.sku, ln.units
        for p in pods_of_sku.get(sku, ()):
            # book.available(p, sku), inlined: this loop is the hot path of large floors.
            if p in busy or pod_cell[p] is None or contents[p].get(sku, 0) - reserved[p].get(sku, 0) < units:
                continue
            score[p] = score.get(p, 0) + 1
    return score


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
        score = pick_scores(d, idx)
        if not score:
            return None
        top = max(score.values())
        return min((p for p, n in score.items() if n == top), key=lambda p: (pod_distance(d, p, idx), p))

    def stow_pod(self, d, idx):
        book = d.book
        first = d.stations[idx].pending[0]
        best, best_key = -1, None
        for p in range(len(book.pod_cell)):
            if p in book.busy_pod or book.pod_cell[p] is None or not book.room_for(p, first.sku, first.units):
                continue
            # Prefer pods already holding the SKU (fewer places to look later), then emptier and nearer.
            key = (first.sku not in book.contents[p], book.units_in(p) // 50, pod_distance(d, p, idx), p)
            if best_key is None or key < best_key:
                best, best_key = p, key
        return None if best < 0 else best


class Nearest(PodSelection):
    """Pick: the nearest pod that serves any pending line. Stow: the nearest pod with room.

    Shorter trips, more of them: the usual baseline against which pile-on rules are measured.
    """

    def pick_pod(self, d, idx):
        score = pick_scores(d, idx)
        if not score:
            return None
        return min(score, key=lambda p: (pod_distance(d, p, idx), p))

    def stow_pod(self, d, idx):
        book = d.book
        first = d.stations[idx].pending[0]
        best, best_key = -1, None
        for p in range(len(book.pod_cell)):
            if p in book.busy_pod or book.pod_cell[p] is None or not book.room_for(p, first.sku, first.units):
                continue
            key = (pod_distance(d, p, idx), p)
            if best_key is None or key < best_key:
                best, best_key = p, key
        return None if best < 0 else best
