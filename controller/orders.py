"""Demand the dispatcher receives: customer orders and inbound cartons."""

from __future__ import annotations

import msgspec


class OrderLine(msgspec.Struct, frozen=True):
    sku: int
    units: int


class Order(msgspec.Struct, frozen=True):
    order_id: int
    t_s: float  # arrival time
    lines: list[OrderLine]


class Carton(msgspec.Struct, frozen=True):
    """An inbound carton ready at a stow station's input (after the dock hand-off)."""

    carton_id: int
    t_s: float
    sku: int
    units: int
    po_id: int = 0  # the purchase order it fills (0: not ordered by this dispatcher)
