"""Charging pads: the north wall first; those it cannot hold on the south wall, between the docks."""

from __future__ import annotations

import pytest

from fctwin.sim.scene.layout import BlockParams, CellCode, LayoutError, generate_blocks


def _params(charging: int, docks: int = 3) -> BlockParams:
    return BlockParams(blocks_x=2, blocks_y=2, block_cols=3, block_rows=2, docks=docks, charging=charging)


def test_pads_fill_the_north_wall_then_the_south_wall_between_docks():
    north_cells = generate_blocks(_params(1)).shape[1] - 2
    few = generate_blocks(_params(4))
    assert (few[0] == CellCode.CHARGE).sum() == 4 and (few[-1] == CellCode.CHARGE).sum() == 0
    many = generate_blocks(_params(north_cells + 5))
    assert (many[0, 1:-1] == CellCode.CHARGE).all()
    south = many[-1]
    assert (south == CellCode.CHARGE).sum() == 5
    assert (south == CellCode.DOCK).sum() == 3  # no dock given up
    assert south[0] == CellCode.WALL and south[-1] == CellCode.WALL


def test_more_pads_than_both_walls_hold_is_a_layout_error():
    north_cells = generate_blocks(_params(1)).shape[1] - 2
    generate_blocks(_params(2 * north_cells - 3))  # every free cell of both walls
    with pytest.raises(LayoutError, match="layout too small"):
        generate_blocks(_params(2 * north_cells - 2))
