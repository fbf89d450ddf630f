"""Reinforcement-learning interfaces over the simulator (needs ``pip install 'fctwin[experiments]'``).

- `OrderAssignmentEnv`: Gymnasium, one step per order-to-station decision in a full FC run.
- `FloorParallelEnv`: PettingZoo ParallelEnv, one agent per drive unit on a real layout, RWARE-like
  actions (forward, turn, wait, lift/set down), our unit model, safety layer and stations.
- `baselines`: random and heuristic policies for both, and the scores they get.

Gymnasium ids: ``fctwin/OrderAssignment-v0`` and ``fctwin/FloorParallel-v0`` is PettingZoo-only.
"""

from __future__ import annotations

__all__ = ["FloorParallelEnv", "OrderAssignmentEnv", "register"]


def __getattr__(name: str):
    if name == "OrderAssignmentEnv":
        from fctwin.sim.envs.order_assignment import OrderAssignmentEnv

        return OrderAssignmentEnv
    if name == "FloorParallelEnv":
        from fctwin.sim.envs.floor import FloorParallelEnv

        return FloorParallelEnv
    raise AttributeError(f"module 'fctwin.sim.envs' has no attribute {name!r}")


def register() -> None:
    """Register ``fctwin/OrderAssignment-v0`` with Gymnasium (``gymnasium.make`` then finds it)."""
    import gymnasium

    if "fctwin/OrderAssignment-v0" not in gymnasium.registry:
        gymnasium.register(
            id="fctwin/OrderAssignment-v0", entry_point="fctwin.sim.envs.order_assignment:OrderAssignmentEnv"
        )
