"""The one shared action step of the operation and LNS kernels against the independent validator's."""

from __future__ import annotations

import numpy as np
from jit_compare import jit_and_nojit_outputs  # tests/ is on sys.path (rootdir conftest)

from fctwin.controller.planning._action_kernels import operation_cells, step_action
from fctwin.controller.planning._epibt_kernels import make_operations
from fctwin.controller.planning.validate import apply_actions

H, W = 4, 5  # small and not square, so a row/column mix-up shows


def _expected(c: int, hd: int, a: int) -> tuple[int, int]:
    """The validator's (readable, numpy) step, as a linear cell; -1 when it leaves the grid."""
    pos, head = apply_actions(np.array([[c // W, c % W]]), np.array([hd]), np.array([a]))
    r, col = int(pos[0, 0]), int(pos[0, 1])
    cell = r * W + col if (0 <= r < H and 0 <= col < W) else -1
    return cell, int(head[0])


def test_step_action_matches_the_validator_for_every_cell_heading_and_action():
    for c in range(H * W):
        for hd in range(4):
            for a in range(4):
                got = step_action(H, W, np.int64(c), np.int64(hd), np.int8(a))
                assert (int(got[0]), int(got[1])) == _expected(c, hd, a), (c, hd, a)


def test_operation_cells_follow_the_actions_one_by_one():
    ops = make_operations(3)
    cells = np.empty(4, np.int64)
    for c in range(H * W):
        for hd in range(4):
            for o in range(ops.shape[0]):
                end_hd = operation_cells(H, W, np.int64(c), np.int64(hd), ops, o, cells)
                want = [c]
                u, h = c, hd
                for a in ops[o]:
                    if u < 0:  # off the grid already: the kernels reject such operations before this
                        break
                    u, h = _expected(u, h, int(a))
                    want.append(u)
                if len(want) == 4:
                    assert cells.tolist() == want and end_hd == h, (c, hd, ops[o].tolist())
                else:
                    assert cells[: len(want)].tolist() == want


def test_action_kernels_run_as_plain_python_with_jit_disabled():
    code = (
        "import json, numpy as np\n"
        "from fctwin.controller.planning._action_kernels import operation_cells, step_action\n"
        "from fctwin.controller.planning._epibt_kernels import make_operations\n"
        f"H, W = {H}, {W}\n"
        "steps = [[int(x) for x in step_action(H, W, np.int64(c), np.int64(h), np.int8(a))]\n"
        "         for c in range(H * W) for h in range(4) for a in range(4)]\n"
        "ops = make_operations(3); cells = np.empty(4, np.int64); paths = []\n"
        "for c in range(H * W):\n"
        "    for h in range(4):\n"
        "        for o in range(ops.shape[0]):\n"
        "            end = operation_cells(H, W, np.int64(c), np.int64(h), ops, o, cells)\n"
        "            paths.append(cells.tolist() + [int(end)])\n"
        "print(json.dumps([steps, paths]))\n"
    )
    jit, nojit = jit_and_nojit_outputs(code)
    assert jit == nojit
    assert len(jit[0]) == H * W * 16 and len(jit[1]) == H * W * 4 * make_operations(3).shape[0]
