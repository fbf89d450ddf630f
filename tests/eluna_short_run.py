"""A short agent run of the mis-staffed floor (pick backlog from the start, so the agent decides at
its first period), for tests that spy on what the agent's guards or lookahead were given."""

from __future__ import annotations

from pathlib import Path

from fctwin.sim.run import RunOptions, run_fc

SCENES = Path(__file__).resolve().parents[1] / "scenes"


def run_misstaffed_briefly(runs_dir: Path, **overrides) -> None:
    """12 simulated minutes of `eluna_misstaffed`, seed 11, the agent in auto with a 10-minute
    period and horizon (one decision), ``overrides`` as scene fields (``{"agent.NAME": value}``)."""
    opts = RunOptions(
        hours=0.2,
        seed=11,
        link="local",
        world=False,
        runs_dir=runs_dir,
        record_poses=False,
        agent="auto",
        overrides={"agent.horizon_min": 10, "agent.period_min": 10, **overrides},
        cpu="off",
    )
    run_fc(SCENES / "eluna_misstaffed.toml", opts)
