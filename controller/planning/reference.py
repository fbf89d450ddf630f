"""Readable pure-Python reference of one planner step (same outputs as `_kernels.pibt_step_kernel`).

Written for reading and for testing the kernel, not for speed (about 1,000x slower). It follows
pypibt's ``funcPIBT`` (recursive priority inheritance) with the swap/pull operation of LaCAM3's
PIBT (Okumura, AAMAS 2024), and then turns the planned next cells into
rotation-model actions exactly as the kernel does.
"""

from __future__ import annotations

import numpy as np

F, R, C, W_ = 0, 1, 2, 3  # actions (W_ so as not to clash with the grid width W)
DELTA = ((0, 1), (1, 0), (0, -1), (-1, 0))  # row/col step of headings E, S, W, N


def reference_step(
    H: int,
    W: int,
    pos_lin: np.ndarray,
    heading: np.ndarray,
    goal_slot: np.ndarray,
    loaded: np.ndarray,
    active: np.ndarray,
    pass_u: np.ndarray,
    pass_l: np.ndarray,
    cell_index: np.ndarray,
    tables: np.ndarray,
    move_cost: np.ndarray,
    order: np.ndarray,
    tie: np.ndarray,
    use_swap: bool = False,
    push_penalty: int = 0,
    stall: np.ndarray | None = None,
    stall_div: int = 0,
) -> np.ndarray:
    """Return ``int8[N]`` actions for one step; arguments as in `pibt_step_kernel` (no scratch)."""
    n = len(pos_lin)
    cur = [int(p) for p in pos_lin]

    # entries per cell: 1, or 5 for rotation-aware tables (4 headings, then their minimum, which
    # ``cell_index`` points at); move_cost has one row per compact cell
    stride = tables.shape[1] // max(move_cost.shape[0], 1)

    def dist(u: int, i: int) -> int:
        if goal_slot[i] < 0:
            return 0 if u == cur[i] else 1
        ci = cell_index[u]
        return 65535 if ci < 0 else int(tables[goal_slot[i], ci])

    def dist_facing(u: int, h: int, i: int) -> int:
        """Steps to the goal from ``u`` facing ``h`` (rotation-aware tables), else `dist`."""
        if stride == 1 or goal_slot[i] < 0:
            return dist(u, i)
        ci = cell_index[u]
        return 65535 if ci < 0 else int(tables[goal_slot[i], ci - stride + 1 + h])

    stopped = {cur[i] for i in range(n) if not active[i]}

    def candidates(i: int, pusher: int | None = None) -> list[int]:
        """Stay and passable neighbours, best first (costs as documented in the kernel)."""
        moves = []
        r, c = divmod(cur[i], W)
        passable = pass_l if loaded[i] else pass_u
        for d, (dr, dc) in enumerate(DELTA):
            rr, cc = r + dr, c + dc
            if not (0 <= rr < H and 0 <= cc < W) or not passable[rr * W + cc]:
                continue
            if rr * W + cc in stopped:
                continue  # stopped units are obstacles
            turns = min((d - int(heading[i])) % 4, (int(heading[i]) - d) % 4)
            ci = cell_index[cur[i]]
            step_cost = int(move_cost[ci // stride, d]) if ci >= 0 and goal_slot[i] >= 0 else 1
            cost = turns + step_cost + dist_facing(rr * W + cc, d, i)
            # pushed straight on, the pusher follows: stepping aside may be better (push_penalty)
            straight_on = pusher is not None and cur[i] - cur[pusher] == rr * W + cc - cur[i]
            moves.append((cost, cost + (push_penalty if straight_on else 0), int(tie[i, d]), rr * W + cc))
        d_cur = dist_facing(cur[i], int(heading[i]), i)
        if d_cur == 0:
            stay_cost = 0
        else:
            stay_cost = 1 + (min(m[0] for m in moves) if moves else d_cur)
            if moves and stall_div > 0:  # long without progress: waiting loses its appeal
                stay_cost += int(stall[i]) // stall_div
        scored = [(8 * stay_cost + 4, 0, cur[i])]
        scored += [(8 * ranked + t, k + 1, v) for k, (_, ranked, t, v) in enumerate(moves)]
        scored.sort()  # the kernel's insertion sort is stable too: ties keep insertion order
        return [v for _, _, v in scored]

    occ_now = {cur[i]: i for i in range(n)}
    occ_next: dict[int, int] = {}
    nxt: list[int | None] = [None] * n
    cands: dict[int, list[int]] = {}
    for i in range(n):
        if not active[i]:  # stopped or failed units are obstacles
            nxt[i] = cur[i]
            occ_next[cur[i]] = i

    def neighbours(u: int) -> list[int]:
        """Cells next to ``u`` that an unloaded unit may enter, in heading order E, S, W, N."""
        r, c = divmod(u, W)
        out = []
        for dr, dc in DELTA:
            if 0 <= r + dr < H and 0 <= c + dc < W and pass_u[(r + dr) * W + c + dc]:
                out.append((r + dr) * W + c + dc)
        return out

    def on_dead_end_goal(u: int) -> bool:
        a = occ_now.get(u)
        return a is not None and goal_slot[a] >= 0 and len(neighbours(u)) == 1 and dist(u, a) == 0

    def exits(v_pusher: int, v_puller: int) -> list[int]:
        return [u for u in neighbours(v_puller) if u != v_pusher and not on_dead_end_goal(u)]

    def swap_required(pusher: int, puller: int, v_pusher: int, v_puller: int) -> bool:
        """Pushing ``puller`` down the corridor would never let ``pusher`` pass (Okumura's test)."""
        while dist(v_puller, pusher) < dist(v_pusher, pusher):
            ex = exits(v_pusher, v_puller)
            if len(ex) >= 2:
                return False
            if not ex:
                break
            v_pusher, v_puller = v_puller, ex[-1]
        return dist(v_pusher, puller) < dist(v_puller, puller) and (
            dist(v_pusher, pusher) == 0 or dist(v_puller, pusher) < dist(v_pusher, pusher)
        )

    def swap_possible(v_pusher_origin: int, v_puller_origin: int) -> bool:
        """Pulling along the corridor reaches a junction where the two can pass."""
        v_pusher, v_puller = v_pusher_origin, v_puller_origin
        while v_puller != v_pusher_origin:
            ex = exits(v_pusher, v_puller)
            if len(ex) >= 2:
                return True
            if not ex:
                return False
            v_pusher, v_puller = v_puller, ex[-1]
        return False

    def swap_agent(i: int, c0: int) -> int | None:
        j = occ_now.get(c0)
        if (
            j is not None
            and j != i
            and nxt[j] is None
            and swap_required(i, j, cur[i], cur[j])
            and swap_possible(cur[j], cur[i])
        ):
            return j
        if c0 != cur[i]:
            for u in neighbours(cur[i]):
                k = occ_now.get(u)
                if (
                    k is not None
                    and c0 != cur[k]
                    and swap_required(k, i, cur[i], c0)
                    and swap_possible(c0, cur[i])
                ):
                    return k
        return None

    def pibt(i: int, pusher: int | None = None) -> bool:
        cands[i] = candidates(i, pusher)
        partner = swap_agent(i, cands[i][0]) if use_swap else None
        if partner is not None:
            # move away first and pull the partner along (PIBT swap): farthest from the goal first,
            # then fewest rotations (see the kernel for why this is not a plain reversal)
            def away_key(v: int) -> tuple[int, int]:
                if v == cur[i]:
                    return (-dist(v, i), int(tie[i, 4]))
                (r, c), (tr, tc) = divmod(cur[i], W), divmod(v, W)
                d = DELTA.index((tr - r, tc - c))
                turns = min((d - int(heading[i])) % 4, (int(heading[i]) - d) % 4)
                return (-dist(v, i), 4 * turns + int(tie[i, d]))

            cands[i] = sorted(cands[i], key=lambda v: 16 * away_key(v)[0] + away_key(v)[1])
        for k, v in enumerate(cands[i]):
            if v in occ_next:
                continue
            j = occ_now.get(v)
            if j is not None and nxt[j] == cur[i]:
                continue  # swap
            nxt[i] = v
            occ_next[v] = i
            if j is not None and j != i and nxt[j] is None and not pibt(j, i):
                continue
            if (
                k == 0
                and partner is not None
                and nxt[partner] is None
                and cur[i] not in occ_next
                and (pass_l if loaded[partner] else pass_u)[cur[i]]
            ):
                nxt[partner] = cur[i]
                occ_next[cur[i]] = partner
            return True
        nxt[i] = cur[i]
        occ_next[cur[i]] = i
        return False

    for i in order:
        if nxt[i] is None:
            pibt(int(i))

    actions = np.full(n, W_, np.int8)
    for i in range(n):
        if not active[i]:
            continue
        target = nxt[i]
        if target == cur[i]:
            target = cands[i][0]  # blocked: turn towards the preferred cell meanwhile
            if target == cur[i]:
                continue
        (r, c), (tr, tc) = divmod(cur[i], W), divmod(target, W)
        d = DELTA.index((tr - r, tc - c))  # heading that faces the target cell
        t = (d - int(heading[i])) % 4
        if t == 0:
            actions[i] = F if nxt[i] != cur[i] else W_
        elif t == 1:
            actions[i] = R
        elif t == 3:
            actions[i] = C
        else:
            actions[i] = R if tie[i, 4] % 2 == 0 else C

    # a unit that turns keeps its cell; units planning to enter it wait (fixed point of the chain)
    changed = True
    while changed:
        changed = False
        final = {cur[i] if actions[i] != F else nxt[i]: i for i in range(n) if actions[i] != F}
        for k in range(n):
            if actions[k] == F and nxt[k] in final:
                actions[k] = W_
                changed = True
    return actions
