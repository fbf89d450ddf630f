"""The dispatcher's inventory book: what each pod holds, what is reserved, where pods stand.

The book is the warehouse-management view; the physical truth lives with the units (the fleet
host in simulation). Units are reserved when a trip is planned and removed when the station
reports the line done, so two trips never promise the same units.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

Cell = tuple[int, int]


class PodSet(set):
    """A set of pods that tells its owner which pods joined or left (``on_change(pods)``).

    The book's ``busy_pod``: pod selection caches each SKU's usable pods (`InventoryBook.usable_free`)
    and must forget a SKU when a pod holding it becomes busy or free, wherever that happens. Reads
    (``in``, iteration) are the plain set's; every mutator reports. Bulk updates report every pod
    they were given, whether or not it changed membership (harmless: a cache entry is dropped).
    """

    def __init__(self, pods=(), on_change=None):
        super().__init__(pods)
        self.on_change = on_change

    def __reduce__(self):  # copies and pickles are plain sets of the same pods
        return (set, (list(self),))

    def _changed(self, pods) -> None:
        if self.on_change is not None:
            self.on_change(pods)

    def add(self, pod) -> None:
        super().add(pod)
        self._changed((pod,))

    def discard(self, pod) -> None:
        super().discard(pod)
        self._changed((pod,))

    def remove(self, pod) -> None:
        super().remove(pod)
        self._changed((pod,))

    def pop(self):
        pod = super().pop()
        self._changed((pod,))
        return pod

    def clear(self) -> None:
        pods = list(self)
        super().clear()
        self._changed(pods)

    def update(self, *others) -> None:
        pods = [p for o in others for p in o]
        super().update(pods)
        self._changed(pods)

    def difference_update(self, *others) -> None:
        pods = [p for o in others for p in o]
        super().difference_update(pods)
        self._changed(pods)

    def symmetric_difference_update(self, other) -> None:
        pods = list(other)
        super().symmetric_difference_update(pods)
        self._changed(pods)

    def intersection_update(self, *others) -> None:
        before = list(self)
        super().intersection_update(*others)
        self._changed(before)

    def __ior__(self, other):
        self.update(other)
        return self

    def __isub__(self, other):
        self.difference_update(other)
        return self

    def __ixor__(self, other):
        self.symmetric_difference_update(other)
        return self

    def __iand__(self, other):
        self.intersection_update(other)
        return self


class InventoryBook:
    def __init__(
        self,
        *,
        pod_cells: np.ndarray,
        slot_sku: np.ndarray,
        slot_units: np.ndarray,
        capacity_units: int,
        empty_mass_kg: float,
        max_gross_mass_kg: float,
        sku_mass_kg: np.ndarray,
    ):
        n_pods = pod_cells.shape[0]
        self.capacity_units = capacity_units
        self.empty_mass_kg = empty_mass_kg
        self.max_gross_mass_kg = max_gross_mass_kg
        self.sku_mass_kg = sku_mass_kg
        # pod -> {sku: units}
        self.contents: list[dict[int, int]] = [dict() for _ in range(n_pods)]
        for p in range(n_pods):
            for s, u in zip(slot_sku[p], slot_units[p], strict=True):
                if s >= 0 and u > 0:
                    self.contents[p][int(s)] = self.contents[p].get(int(s), 0) + int(u)
        self.reserved: list[dict[int, int]] = [dict() for _ in range(n_pods)]
        # Per-pod totals kept beside the contents: stow selection asks them of every pod each time.
        self._units_total: list[int] = [sum(c.values()) for c in self.contents]
        self._mass_kg: list[float | None] = [None] * n_pods  # computed lazily, dropped on change
        # Array mirrors for readers of every pod at once (the slotting stow kernel): units plus
        # promised, gross mass (valid unless in mass_stale) plus promised.
        self.mass_stale: set[int] = set(range(n_pods))
        self.units_with_incoming = np.array(self._units_total, dtype=np.int64)
        self.mass_arr_kg = np.zeros(n_pods)
        self.incoming_mass_arr_kg = np.zeros(n_pods)
        self.incoming: list[int] = [0] * n_pods  # units promised to stow trips
        self.incoming_mass: list[float] = [0.0] * n_pods
        # sku -> set of pods holding it
        self.pods_of_sku: dict[int, set[int]] = defaultdict(set)
        for p, c in enumerate(self.contents):
            for s in c:
                self.pods_of_sku[s].add(p)
        # Per-SKU totals over all pods, kept current by every update: whether a line can be filled at
        # all (or must wait as a backorder) and the replenishment's inventory position are O(1).
        n_skus = len(sku_mass_kg)
        self.sku_on_hand: list[int] = [0] * n_skus
        self.sku_reserved: list[int] = [0] * n_skus
        for c in self.contents:
            for s, u in c.items():
                self.sku_on_hand[s] += u
        # Pods out of reach (on a failed drive unit, or one no unit can lift): their stock is on
        # hand but serves no line and fills no order (`strand`), so lines for it wait as
        # backorders and replenishment orders more, instead of lines waiting at a station for a
        # pod that does not come back (they held its places for the rest of a 72-hour run).
        self.stranded: dict[int, dict[int, int]] = {}  # pod -> {sku: its free units counted stranded}
        self.sku_stranded: list[int] = [0] * n_skus
        self.pod_cell: list[Cell | None] = [tuple(map(int, c)) for c in pod_cells]  # None while carried
        # the same as an int64[P, 2] array, (-1, -1) while carried: slotting reads all pods at once
        self.pod_rc = np.array(pod_cells, dtype=np.int64).reshape(n_pods, 2)
        self.pod_at: dict[Cell, int] = {c: p for p, c in enumerate(self.pod_cell)}
        # pods committed to a trip; a `PodSet`, so the per-SKU pod arrays hear of every change
        self.busy_pod: set[int] = PodSet(on_change=self._pods_changed)
        # Per-SKU arrays of the pods holding it, for pod selection over hundreds of pods at once
        # (`sku_pods`): built on the first ask, then updated in place by every change below.
        self._sku_arrays: dict[int, SkuPods] = {}
        self.score_scratch = np.zeros(n_pods, np.int32)  # per-pod counts for `most_lines_pod`, kept zero

    # -------------------------------------------------------------- queries

    def available(self, pod: int, sku: int) -> int:
        return self.contents[pod].get(sku, 0) - self.reserved[pod].get(sku, 0)

    def sku_free(self, sku: int) -> int:
        """Units of ``sku`` in pods within reach and not yet reserved by a trip (anywhere on the floor)."""
        return self.sku_on_hand[sku] - self.sku_reserved[sku] - self.sku_stranded[sku]

    def most_available(self, sku: int) -> int:
        """The most unreserved units of ``sku`` that one pod within reach can give (a line is served
        from one pod)."""
        best = 0
        stranded = self.stranded
        for p in self.pods_of_sku.get(sku, ()):
            free = self.contents[p].get(sku, 0) - self.reserved[p].get(sku, 0)
            if free > best and p not in stranded:
                best = free
        return best

    def strand(self, pod: int) -> None:
        """``pod`` is out of reach until `unstrand` (its stock counts in ``sku_stranded``)."""
        if pod in self.stranded:
            return
        counted = {sku: self.available(pod, sku) for sku in self.contents[pod]}
        self.stranded[pod] = counted
        for sku, units in counted.items():
            self.sku_stranded[sku] += units

    def unstrand(self, pod: int) -> None:
        counted = self.stranded.pop(pod, None)
        for sku, units in (counted or {}).items():
            self.sku_stranded[sku] -= units

    def sku_pods(self, sku: int) -> SkuPods:
        """The pods holding ``sku`` as arrays: ``pods``, ``free`` units (contents minus reserved) and
        ``usable`` (on the floor and not busy), valid in ``[:n]``, in no particular order.

        Kept up to date in place (`_refresh`) by every change of stock, reservations, pod place and
        ``busy_pod``: on fc_2000 a popular SKU sits on ~350 pods and one of them changes nearly every
        step, so a list rebuilt on change would be rebuilt on almost every ask.
        """
        arr = self._sku_arrays.get(sku)
        if arr is None:
            arr = SkuPods()
            for p in self.pods_of_sku.get(sku, ()):
                arr.put(p, self.available(p, sku), self._usable(p))
            self._sku_arrays[sku] = arr
        return arr

    def _usable(self, pod: int) -> bool:
        return pod not in self.busy_pod and self.pod_cell[pod] is not None

    def _refresh(self, pod: int, sku: int) -> None:
        """Bring ``sku``'s arrays (if built) up to date for ``pod``: its free units, whether it is
        usable, and whether it still holds the SKU at all."""
        counted = self.stranded.get(pod) if self.stranded else None
        if counted is not None:  # a stranded pod's stock changed (a serve that was under way)
            free = self.available(pod, sku)
            self.sku_stranded[sku] += free - counted.get(sku, 0)
            counted[sku] = free
        arr = self._sku_arrays.get(sku)
        if arr is None:
            return
        if sku in self.contents[pod]:
            arr.put(pod, self.available(pod, sku), self._usable(pod))
        else:
            arr.drop(pod)

    def _pods_changed(self, pods) -> None:
        """Pods lifted, set down, or made busy or free: their usable flag in each SKU's arrays."""
        arrays = self._sku_arrays
        if arrays:
            for p in pods:
                ok = self._usable(p)
                for s in self.contents[p]:
                    arr = arrays.get(s)
                    if arr is not None and p in arr.index:
                        arr.usable[arr.index[p]] = ok

    def units_in(self, pod: int) -> int:
        return self._units_total[pod]

    def mass_kg(self, pod: int) -> float:
        mass = self._mass_kg[pod]
        if mass is None:
            mass = self.empty_mass_kg + sum(
                u * float(self.sku_mass_kg[s]) for s, u in self.contents[pod].items()
            )
            self._mass_kg[pod] = mass
            self.mass_arr_kg[pod] = mass
            self.mass_stale.discard(pod)
        return mass

    def total_units(self) -> int:
        return sum(self._units_total)

    def room_for(self, pod: int, sku: int, units: int) -> bool:
        if self.units_in(pod) + self.incoming[pod] + units > self.capacity_units:
            return False
        extra_kg = units * float(self.sku_mass_kg[sku])
        return self.mass_kg(pod) + self.incoming_mass[pod] + extra_kg <= self.max_gross_mass_kg

    # -------------------------------------------------------------- updates

    def reserve(self, pod: int, sku: int, units: int) -> None:
        self.reserved[pod][sku] = self.reserved[pod].get(sku, 0) + units
        self.sku_reserved[sku] += units
        self._refresh(pod, sku)

    def release(self, pod: int, sku: int, units: int) -> None:
        held = self.reserved[pod].get(sku, 0)
        self.sku_reserved[sku] -= min(units, held)
        left = held - units
        if left > 0:
            self.reserved[pod][sku] = left
        else:
            self.reserved[pod].pop(sku, None)
        self._refresh(pod, sku)

    def picked(self, pod: int, sku: int, units: int) -> None:
        self.release(pod, sku, units)
        left = self.contents[pod].get(sku, 0) - units
        if left < 0:
            raise ValueError(f"pod {pod} had fewer than {units} units of sku {sku}")
        if left:
            self.contents[pod][sku] = left
        else:
            self.contents[pod].pop(sku, None)
            self.pods_of_sku[sku].discard(pod)
        self._units_total[pod] -= units
        self.units_with_incoming[pod] -= units
        self.sku_on_hand[sku] -= units
        self._mass_kg[pod] = None
        self.mass_stale.add(pod)
        self._refresh(pod, sku)

    def promise_stow(self, pod: int, sku: int, units: int) -> None:
        self.incoming[pod] += units
        self.incoming_mass[pod] += units * float(self.sku_mass_kg[sku])
        self.units_with_incoming[pod] += units
        self.incoming_mass_arr_kg[pod] = self.incoming_mass[pod]

    def unpromise_stow(self, pod: int, sku: int, units: int) -> None:
        self.incoming[pod] -= units
        self.incoming_mass[pod] -= units * float(self.sku_mass_kg[sku])
        self.units_with_incoming[pod] -= units
        self.incoming_mass_arr_kg[pod] = self.incoming_mass[pod]

    def stowed(self, pod: int, sku: int, units: int) -> None:
        self.unpromise_stow(pod, sku, units)
        self.contents[pod][sku] = self.contents[pod].get(sku, 0) + units
        self.pods_of_sku[sku].add(pod)
        self._units_total[pod] += units
        self.units_with_incoming[pod] += units
        self.sku_on_hand[sku] += units
        self._mass_kg[pod] = None
        self.mass_stale.add(pod)
        self._refresh(pod, sku)

    def lifted(self, pod: int) -> None:
        cell = self.pod_cell[pod]
        if cell is not None:
            self.pod_at.pop(cell, None)
        self.pod_cell[pod] = None
        self.pod_rc[pod] = -1
        self._pods_changed((pod,))

    def set_down(self, pod: int, cell: Cell) -> None:
        self.pod_cell[pod] = cell
        self.pod_rc[pod] = cell
        self.pod_at[cell] = pod
        self._pods_changed((pod,))


class SkuPods:
    """The pods holding one SKU as growable arrays (see `InventoryBook.sku_pods`): ``pods``,
    ``free`` and ``usable`` valid in ``[:n]``; ``index`` maps a pod to its position."""

    def __init__(self):
        self.n = 0
        self.pods = np.empty(8, np.int64)
        self.free = np.empty(8, np.int64)
        self.usable = np.empty(8, bool)
        self.index: dict[int, int] = {}

    def put(self, pod: int, free: int, usable: bool) -> None:
        k = self.index.get(pod)
        if k is None:
            k = self.n
            if k == self.pods.size:
                self.pods = np.concatenate([self.pods, np.empty_like(self.pods)])
                self.free = np.concatenate([self.free, np.empty_like(self.free)])
                self.usable = np.concatenate([self.usable, np.empty_like(self.usable)])
            self.pods[k] = pod
            self.index[pod] = k
            self.n += 1
        self.free[k] = free
        self.usable[k] = usable

    def drop(self, pod: int) -> None:
        k = self.index.pop(pod, None)
        if k is None:
            return
        last = self.n - 1
        if k != last:  # the last entry takes the hole
            moved = int(self.pods[last])
            self.pods[k] = moved
            self.free[k] = self.free[last]
            self.usable[k] = self.usable[last]
            self.index[moved] = k
        self.n = last
