"""A station line whose physics runs on the floor's clock: the arm works while drive units move.

A physics-fidelity arm station used to run a whole line's physics at the instant the line started,
then wait out the duration it had measured: the arm's state (poses, items in the pod, the PyBullet
window) ran ahead of the floor by up to a line. `LineRunner` runs the line in a greenlet instead.
Every physics step the cell takes inside it (`fctwin.robots.physics.engine.PhysicsClient.step`
calls `gate` through the running greenlet) counts against a budget: the simulated time the floor
has reached since the line started. When the line gets ahead of the floor, the greenlet hands
control back to the station, and the station resumes it at its next step with a larger budget.
Non-motion time (induction, perception, hand-offs, pod imaging) is accounted with `spend` where the
line's running duration is known: the line then waits for the floor clock the same way.

Everything runs in one thread, strictly in turn (no threads, no locks), so a run stays deterministic:
the same draws happen in the same order as when the line ran at once, and the line ends at exactly
``start + duration`` as before. Only when the work happens moves: alongside the floor.
"""

from __future__ import annotations

from collections.abc import Callable

import greenlet

__all__ = ["LineRunner", "gate_physics_step"]

SIM_HZ = 240.0  # the cells' physics rate (fctwin.robots.physics.engine.SIM_HZ), here without pybullet


class LineRunner:
    """Runs ``work(runner)`` (one line's outcome) in a greenlet, ``advance`` at a time."""

    def __init__(self, work: Callable[[LineRunner], object]):
        self._work = work
        self.physics_s = 0.0  # simulated time of the physics steps taken inside the line
        self.offset_s = 0.0  # non-motion time accounted by `spend`
        self.budget_s = 0.0  # how far the floor clock has gone since the line started
        self.result = None
        self.done = False
        self._g = greenlet.greenlet(self._run)
        self._g.gate = self.gate  # read by gate_physics_step inside the greenlet

    @property
    def elapsed_s(self) -> float:
        return self.physics_s + self.offset_s

    def _run(self) -> None:
        self.result = self._work(self)
        self.done = True

    def advance(self, budget_s: float):
        """Let the line run until ``budget_s`` after its start; its result when finished, else None.

        Exceptions raised by the line propagate to the caller (the station's step).
        """
        self.budget_s = max(self.budget_s, budget_s)
        if not self.done:
            self._g.switch()
        return self.result if self.done else None

    def _wait(self) -> None:
        while self.elapsed_s > self.budget_s + 1e-9:
            self._g.parent.switch()

    def gate(self, steps: int) -> None:
        """``steps`` physics steps were taken inside the line: yield while it is ahead of the floor."""
        self.physics_s += steps / SIM_HZ
        self._wait()

    def spend(self, line_s: float) -> None:
        """The line's running duration is ``line_s``: account the non-motion part, wait for the floor."""
        self.offset_s = line_s - self.physics_s
        self._wait()

    def close(self) -> None:
        """Abandon an unfinished line (station reset): the greenlet is ended, nothing else runs."""
        if not self.done and self._g:
            self._g.throw(greenlet.GreenletExit)
        self.done = True


def gate_physics_step(steps: int) -> None:
    """Called by every physics step of a cell: gates it if it runs inside a `LineRunner` line."""
    gate = getattr(greenlet.getcurrent(), "gate", None)
    if gate is not None:
        gate(steps)
