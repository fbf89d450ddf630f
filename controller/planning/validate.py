"""Independent checker of one step of drive-unit actions (shares no code with the planners).

Use it in tests over every planner and in the benchmark over whole runs (as Gymnasium ships its
env checker). Written with plain numpy so it is easy to audit.
"""

from __future__ import annotations

import numpy as np

__all__ = ["StepViolationError", "apply_actions", "apply_grid_actions", "check_grid_step", "check_step"]

# headings 0 E, 1 S, 2 W, 3 N; row/col step of a forward move
_FWD = np.array([[0, 1], [1, 0], [0, -1], [-1, 0]], dtype=np.int64)


class StepViolationError(AssertionError):
    """Raised by `check_step` when actions break a rule; the message lists the first offenders."""


def apply_actions(pos: np.ndarray, heading: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(new_pos int32[N, 2], new_heading int8[N])`` after F=0, R=1 (cw), C=2 (ccw), W=3."""
    actions = np.asarray(actions)
    heading = np.asarray(heading).astype(np.int64)
    fwd = actions == 0
    new_pos = np.asarray(pos).astype(np.int64).copy()
    new_pos[fwd] += _FWD[heading[fwd]]
    new_heading = heading.copy()
    new_heading[actions == 1] = (heading[actions == 1] + 1) % 4
    new_heading[actions == 2] = (heading[actions == 2] + 3) % 4
    return new_pos.astype(np.int32), new_heading.astype(np.int8)


def check_step(
    passable_unloaded: np.ndarray,
    passable_loaded: np.ndarray,
    pos: np.ndarray,
    heading: np.ndarray,
    loaded: np.ndarray,
    active: np.ndarray,
    actions: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Check one step and return the new ``(pos, heading)``; raise `StepViolationError` on any breach.

    Rules: actions in {0,1,2,3}; inactive units wait; a forward move stays on the grid and enters a
    cell passable for the unit's load state (staying on an impassable cell is allowed: a unit may
    be standing where it set down a pod); no two units share a cell afterwards (vertex conflict);
    no two units swap cells (edge conflict).
    """
    actions = np.asarray(actions)
    problems: list[str] = []
    bad = np.flatnonzero((actions < 0) | (actions > 3))
    if bad.size:
        problems.append(f"invalid action codes for units {bad[:5].tolist()}")
    bad = np.flatnonzero(~np.asarray(active, bool) & (actions != 3))
    if bad.size:
        problems.append(f"inactive units {bad[:5].tolist()} did not wait")
    new_pos, new_heading = apply_actions(pos, heading, np.where((actions >= 0) & (actions <= 3), actions, 3))
    _check_moves(
        passable_unloaded, passable_loaded, pos, new_pos, np.flatnonzero(actions == 0), loaded, problems
    )
    if problems:
        raise StepViolationError("; ".join(problems))
    return new_pos, new_heading


def _check_moves(
    passable_unloaded: np.ndarray,
    passable_loaded: np.ndarray,
    pos: np.ndarray,
    new_pos: np.ndarray,
    moved: np.ndarray,
    loaded: np.ndarray,
    problems: list[str],
) -> None:
    """Append what breaks the rules in a step from ``pos`` to ``new_pos`` (either action model).

    ``moved``: the units that changed cell. A mover stays on the grid and enters a cell passable for
    its load state (staying on an impassable cell is allowed); no two units share a cell afterwards
    (vertex conflict); no two units swap cells (edge conflict).
    """
    n = new_pos.shape[0]
    H, W = passable_unloaded.shape
    r, c = new_pos[moved, 0], new_pos[moved, 1]
    off = (r < 0) | (r >= H) | (c < 0) | (c >= W)
    if off.any():
        problems.append(f"units {moved[off][:5].tolist()} drove off the grid")
    on = moved[~off]
    rr, cc = new_pos[on, 0], new_pos[on, 1]
    ok = np.where(np.asarray(loaded, bool)[on], passable_loaded[rr, cc], passable_unloaded[rr, cc])
    if not ok.all():
        problems.append(f"units {on[~ok][:5].tolist()} entered an impassable cell")
    # cells as row * (W + 2) + col: a unit one cell off the grid cannot alias a real cell
    lin_new = new_pos[:, 0].astype(np.int64) * (W + 2) + new_pos[:, 1]
    uniq, counts = np.unique(lin_new, return_counts=True)
    if (counts > 1).any():
        cells = uniq[counts > 1][:5]
        problems.append(f"vertex conflict at {[divmod(int(x), W + 2) for x in cells]}")
    # swap: a mover entered the old cell of a unit that entered the mover's old cell
    old_lin = np.asarray(pos)[:, 0].astype(np.int64) * (W + 2) + np.asarray(pos)[:, 1]
    if moved.size:
        by_old = np.argsort(old_lin, kind="stable")
        k = np.searchsorted(old_lin[by_old], lin_new[moved])
        k = np.minimum(k, n - 1)
        j = by_old[k]
        swap = (old_lin[j] == lin_new[moved]) & (j != moved) & (lin_new[j] == old_lin[moved])
        if swap.any():
            problems.append(f"units {moved[swap][:5].tolist()} swapped cells with {j[swap][:5].tolist()}")


# 4-connected grid model (no headings): 0 right (col + 1), 1 down (row + 1), 2 left, 3 up, 4 wait
_GRID_STEP = np.array([[0, 1], [1, 0], [0, -1], [-1, 0], [0, 0]], dtype=np.int64)


def apply_grid_actions(pos: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Return ``new_pos int32[N, 2]`` after grid actions 0 right, 1 down, 2 left, 3 up, 4 wait."""
    return (np.asarray(pos).astype(np.int64) + _GRID_STEP[np.asarray(actions, np.int64)]).astype(np.int32)


def check_grid_step(
    passable_unloaded: np.ndarray,
    passable_loaded: np.ndarray,
    pos: np.ndarray,
    loaded: np.ndarray,
    active: np.ndarray,
    actions: np.ndarray,
) -> np.ndarray:
    """Check one step of the 4-connected model and return the new ``pos``; raise `StepViolationError`.

    Rules as `check_step`, for actions in {0 right, 1 down, 2 left, 3 up, 4 wait}: each move goes to
    one of the 4 neighbours (by construction of the codes), stays on the grid and enters a cell
    passable for the unit's load state; inactive units wait; no vertex conflict; no swap.
    """
    actions = np.asarray(actions)
    pos = np.asarray(pos)
    problems: list[str] = []
    valid = (actions >= 0) & (actions <= 4)
    bad = np.flatnonzero(~valid)
    if bad.size:
        problems.append(f"invalid action codes for units {bad[:5].tolist()}")
    act = np.where(valid, actions, 4).astype(np.int64)
    bad = np.flatnonzero(~np.asarray(active, bool) & (act != 4))
    if bad.size:
        problems.append(f"inactive units {bad[:5].tolist()} did not wait")
    new_pos = pos.astype(np.int64) + _GRID_STEP[act]
    _check_moves(passable_unloaded, passable_loaded, pos, new_pos, np.flatnonzero(act != 4), loaded, problems)
    if problems:
        raise StepViolationError("; ".join(problems))
    return new_pos.astype(np.int32)
