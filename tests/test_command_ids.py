"""A unit's idempotence window (`RecentCommandIds`) answers exactly as the deque + set it replaced."""

from __future__ import annotations

import pickle
from collections import deque

import numpy as np
import pytest

from fctwin.robots.command_ids import RecentCommandIds


class _Reference:
    """The window as it was: a deque of the last ``capacity`` distinct ids and a set beside it."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.order: deque[int] = deque()
        self.ids: set[int] = set()

    def check_and_remember(self, cid: int) -> bool:
        if cid in self.ids:
            return True
        if len(self.order) == self.capacity:
            self.ids.discard(self.order.popleft())
        self.order.append(cid)
        self.ids.add(cid)
        return False


@pytest.mark.parametrize("seed", range(4))
def test_same_answers_as_deque_and_set(seed):
    rng = np.random.default_rng(seed)
    capacity = 16
    win, ref = RecentCommandIds(capacity), _Reference(capacity)
    cid = 0
    for _ in range(3000):
        r = rng.random()
        if r < 0.6:  # the usual: the dispatcher's next id
            cid += int(rng.integers(1, 4))
            probe = cid
        elif r < 0.85:  # a resend of a recent or an old id
            probe = max(0, cid - int(rng.integers(0, 3 * capacity)))
        else:  # out of order: an id from the near future or far past
            probe = int(rng.integers(0, cid + 40))
        assert win.check_and_remember(probe) == ref.check_and_remember(probe), probe
        assert len(win) == len(ref.order)
        assert (probe in win) == (probe in ref.ids)


def test_forgets_the_oldest_when_full():
    win = RecentCommandIds(3)
    assert [win.check_and_remember(c) for c in (1, 2, 3, 4)] == [False] * 4
    assert 1 not in win and all(c in win for c in (2, 3, 4))
    assert win.check_and_remember(1) is False  # forgotten: taken as new (and 2 forgotten now)
    assert win.check_and_remember(3) is True and 2 not in win


def test_ids_outside_int64_are_kept_and_state_pickles():
    win = RecentCommandIds(2)
    big = 2**70
    assert win.check_and_remember(big) is False and win.check_and_remember(big) is True
    win.check_and_remember(5)
    copy = pickle.loads(pickle.dumps(win))
    assert copy.check_and_remember(5) is True and copy.check_and_remember(6) is False
    with pytest.raises(ValueError, match="capacity"):
        RecentCommandIds(0)
