"""Readable pure-Python reference of LNS refinement over operations (same outputs as
`_lns_kernels.lns_refine_kernel`). Written for reading and for testing the kernel, not for speed;
the algorithm is described in `fctwin.controller.planning._lns_kernels`.
"""

from __future__ import annotations

import numpy as np

F, R, C, W_ = 0, 1, 2, 3  # actions (W_ so as not to clash with the grid width W)
DELTA = ((0, 1), (1, 0), (0, -1), (-1, 0))  # row/col step of headings E, S, W, N


class _Rng:
    """The kernel's 31-bit linear congruential generator."""

    def __init__(self, seed: int) -> None:
        self.state = seed & 0x7FFFFFFF

    def next(self) -> int:
        self.state = (self.state * 1103515245 + 12345) & 0x7FFFFFFF
        return self.state >> 8


def reference_lns_refine(
    H: int,
    W: int,
    pos_lin: np.ndarray,
    heading: np.ndarray,
    active: np.ndarray,
    ops: np.ndarray,
    ranked: list[list[tuple[int, int]]],
    opsel: list[int],
    prio_pos: np.ndarray,
    prio_slack: int | np.ndarray,
    iterations: int,
    max_size: int,
    seed: int,
    work: list[int] | None = None,
    slack_per_step: bool = False,
) -> tuple[np.ndarray, list[int]]:
    """Refine ``opsel`` (one operation per unit, conflict-free) and return (first actions
    ``int8[N]``, refined operations). ``ranked[i]`` is unit i's feasible operations best first as
    ``(operation, key)`` (empty for stopped units); ``prio_pos[i]`` unit i's place in the priority
    order (a unit placed before the seed never ends worse off by more than ``prio_slack`` key
    units, one for all or one per unit: from its operation before each neighbourhood, or with
    ``slack_per_step`` from its operation when this call began).
    ``work`` receives [iterations run, accepted]."""
    n = len(pos_lin)
    k_steps = ops.shape[1]
    opsel = [int(o) for o in opsel]

    def cells_of(i: int, o: int) -> list[int]:
        """Unit i's cells at times 0..K under operation o."""
        c, h = int(pos_lin[i]), int(heading[i])
        out = [c]
        for a in ops[o]:
            if a == F:
                r, col = divmod(c, W)
                c = (r + DELTA[h][0]) * W + col + DELTA[h][1]
            elif a == R:
                h = (h + 1) % 4
            elif a == C:
                h = (h + 3) % 4
            out.append(c)
        return out

    path = [cells_of(i, opsel[i]) for i in range(n)]
    # who holds which cell at which time (time 0: every unit's current cell)
    holder: dict[tuple[int, int], int] = {(k, path[i][k]): i for i in range(n) for k in range(k_steps + 1)}
    rank_of = [next((r for r, (o, _) in enumerate(ranked[i]) if o == opsel[i]), -1) for i in range(n)]
    key_of = [[key for _, key in ranked[i]] for i in range(n)]
    slack_of = np.broadcast_to(np.asarray(prio_slack, np.int64), (n,))
    start_key = [key_of[i][rank_of[i]] if rank_of[i] >= 0 else 1 << 62 for i in range(n)]
    cand = [i for i in range(n) if rank_of[i] > 0]
    rng = _Rng(seed)
    runs = accepted = 0

    def blocked_by(a: int, cells: list[int]) -> list[int]:
        """Units holding ``cells`` at the same time, or swapping with them, in time order."""
        found = []
        for k in range(1, k_steps + 1):
            j = holder.get((k, cells[k]), -1)
            if j in (-1, a):
                j = holder.get((k - 1, cells[k]), -1)  # a swap partner?
                if j in (-1, a) or path[j][k] != cells[k - 1]:
                    continue
            found.append(j)
        return found

    def free(a: int, cells: list[int], unplanned: set[int]) -> bool:
        for k in range(1, k_steps + 1):
            if holder.get((k, cells[k]), a) != a:
                return False
            if cells[k] != cells[k - 1]:
                j = holder.get((k - 1, cells[k]), -1)
                if j not in (-1, a) and j not in unplanned and path[j][k] == cells[k - 1]:
                    return False
        return True

    def reserve(a: int, cells: list[int]) -> None:
        path[a] = cells
        for k in range(1, k_steps + 1):
            holder[(k, cells[k])] = a

    def release(a: int) -> None:
        for k in range(1, k_steps + 1):
            if holder.get((k, path[a][k])) == a:
                del holder[(k, path[a][k])]

    for _ in range(iterations):
        if not cand:
            break
        runs += 1
        s = cand[rng.next() % len(cand)]
        if rank_of[s] <= 0:
            continue
        group = [s]
        q = 0
        while q < len(group) and len(group) < max_size:
            a = group[q]
            q += 1
            limit = rank_of[a] if q == 1 else min(len(ranked[a]), rank_of[a] + 3)
            for r in range(limit):
                if len(group) >= max_size:
                    break
                o = ranked[a][r][0]
                if o == opsel[a]:
                    continue
                for j in blocked_by(a, cells_of(a, o)):
                    if active[j] and j not in group and len(group) < max_size:
                        group.append(j)
        old = sum(key_of[a][rank_of[a]] for a in group)
        saved = {a: (opsel[a], rank_of[a], path[a]) for a in group}
        for a in group:
            release(a)
        for b in range(len(group) - 1, 1, -1):  # the seed first, the others shuffled
            x = 1 + rng.next() % b
            group[b], group[x] = group[x], group[b]
        unplanned = set(group)
        rest = sum(key_of[a][0] for a in group)
        new = 0
        ok = True
        for a in group:
            rest -= key_of[a][0]
            # a unit of higher priority than the seed must not end worse off than before (by more
            # than the slack: from before this neighbourhood, or from the start of the step)
            cap = float("inf")
            if prio_pos[a] < prio_pos[s]:
                cap = (start_key[a] if slack_per_step else key_of[a][saved[a][1]]) + int(slack_of[a])
            for r, (o, key) in enumerate(ranked[a]):
                if new + key + rest >= old or key > cap:
                    ok = False  # the group cannot beat its old total any more, or a would lose
                    break
                cells = cells_of(a, o)
                if free(a, cells, unplanned):
                    reserve(a, cells)
                    unplanned.discard(a)
                    opsel[a], rank_of[a] = o, r
                    new += key
                    break
            else:
                ok = False
            if not ok:
                break
        if ok:
            accepted += 1
        else:
            for a in group:
                if a not in unplanned:
                    release(a)
            for a in group:
                opsel[a], rank_of[a], path[a] = saved[a]
                reserve(a, path[a])
    if work is not None:
        work[:] = [runs, accepted]
    actions = np.array([ops[opsel[i], 0] if active[i] else W_ for i in range(n)], np.int8)
    return actions, opsel
