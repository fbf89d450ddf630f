"""What every dispatch policy shares: parameters from the scene and a one-time setup.

A policy is a small object the dispatcher asks one question per decision (which station for this
order, which pod for this station, ...). It is built once per run with the parameters of the
scene's ``[dispatch.params.<family>]`` table as keyword arguments, then `setup` is called with the
dispatcher, fully built, before the first tick.

What a policy receives: ``d``, the live `Dispatcher`. It may read any of its state (records in
`fctwin.controller.records`, the `InventoryBook` as ``d.book``, the numpy fleet arrays ``d.pos`` ...);
it must not change any of it unless its family's docstring says so. The dispatcher applies the
answer (reserves stock, logs the event, sends commands), so two policies can never disagree about
what happened. A policy may keep private state of its own (counters, its own random generator
seeded from ``d.config.seed``): runs stay deterministic as long as that state is.
"""

from __future__ import annotations

from abc import ABC
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from fctwin.controller.dispatcher import Dispatcher


class Policy(ABC):  # noqa: B024 (each family declares its abstract methods)
    """Base of the built-in policies (third-party ones may subclass it or just match a family's methods)."""

    family: ClassVar[str] = ""

    def __init__(self, **params) -> None:
        if params:
            raise TypeError(f"{type(self).__name__} takes no parameters, got {sorted(params)}")

    def setup(self, d: Dispatcher) -> None:  # noqa: B027 (an optional hook, not abstract)
        """Called once with the built dispatcher before the first tick: precompute what you need."""
