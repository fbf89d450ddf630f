"""The idempotence window of a unit: the last N distinct command ids it has taken.

The robot contract asks every unit to acknowledge a command id it has already seen (the last 4,096
at least) as a duplicate and not to execute it again. A ``deque`` plus a ``set`` of Python ints held
that window at about 0.2 MB per unit once full, so a 2,000-unit fleet host spent some 400 MB on it
within an hour. `RecentCommandIds` keeps the same window in one ``array('q')`` ring (8 bytes an
id, 32 kB per unit when full) and answers the common question, "is this id newer than every id I
hold?", with one comparison: dispatchers number commands from one counter, so almost every id is.
Anything else (a resent or out-of-order id) scans the ring, which only a duplicate or a reordering
link pays.
"""

from __future__ import annotations

from array import array

__all__ = ["RecentCommandIds"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class RecentCommandIds:
    """The last ``capacity`` distinct command ids remembered, oldest forgotten first.

    `check_and_remember(cid)` is True when ``cid`` is in the window (a duplicate: nothing changes),
    else it remembers ``cid`` (forgetting the oldest id when the window is full) and returns False.
    Exactly the answers of a ``deque(maxlen=capacity)`` of distinct ids with a ``set`` beside it.
    """

    __slots__ = ("capacity", "_ids", "_oldest", "_newest", "_outside")

    def __init__(self, capacity: int = 4096):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, not {capacity}")
        self.capacity = int(capacity)
        self._ids = array("q")
        self._oldest = 0  # ring position of the oldest id once the window is full
        # The largest id ever remembered: an id above it cannot be in the window.
        self._newest: int | None = None
        # Ids an int64 cannot hold (none a dispatcher sends): kept for good, which the contract's
        # "the last 4,096 at least" allows.
        self._outside: set[int] = set()

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, cid: int) -> bool:
        if not _INT64_MIN <= cid <= _INT64_MAX:
            return cid in self._outside
        newest = self._newest
        return newest is not None and cid <= newest and cid in self._ids

    def check_and_remember(self, cid: int) -> bool:
        if not _INT64_MIN <= cid <= _INT64_MAX:
            if cid in self._outside:
                return True
            self._outside.add(cid)
            return False
        newest = self._newest
        if newest is None or cid > newest:
            self._newest = cid
        elif cid in self._ids:
            return True
        ids = self._ids
        if len(ids) < self.capacity:
            ids.append(cid)
        else:
            ids[self._oldest] = cid
            self._oldest = (self._oldest + 1) % self.capacity
        return False
