"""The operator's Accept applies the agent's recommendation: the advice inbox's handler for runs
with the Eluna agent (`fctwin.sim.advice.AdviceInbox.handler`).

In ``advise`` mode the agent only recommends. When an operator accepts a recommendation (the
console's Accept button, or anything calling `AdviceInbox.submit`), the run loop calls this handler
at the start of the next tick, in the simulation's thread. Each action of the recommendation is
checked against the floor as it is *now* (people may have moved, a station may be down since the
recommendation was made) and applied through the same levers auto mode uses, with their physical
delays (`fctwin.controller.eluna.Levers`). The event log gets ``rec_accepted`` (subject
``console``, a = rec_id) and then the levers' own records; an action infeasible now is not applied
and the log gets ``rec_infeasible`` (a = rec_id, subject = why). A reject logs ``rec_rejected``. The
returned outcome is stored with the decision (``recommendation_decisions.outcome``).

Deciding twice on one recommendation applies it once; a recommendation the agent applied itself
(auto mode) is never applied again.
"""

from __future__ import annotations

from fctwin.controller.eluna.actions import from_dict
from fctwin.controller.eluna.agent import clock


def decision_handler(manager):
    """``handler(dispatcher, rec_id, accepted, t_s) -> outcome`` for ``manager``'s agent."""
    agent = manager.agent
    done: set[int] = set()

    def handle(d, rec_id: int, accepted: bool, t_s: float) -> str:
        rec = next((r for r in agent.recommendations if r.rec_id == rec_id), None)
        d.log.append((t_s, "rec_accepted" if accepted else "rec_rejected", "console", int(rec_id), 0, 0))
        if not accepted:
            return "rejected"
        if rec is None:
            return f"unknown recommendation {rec_id}"
        if rec.applied or rec_id in done:
            return "already applied"
        actions = [from_dict(dict(a)) for a in rec.action.get("actions", [])]
        levers = agent.levers
        # check the whole plan on copies first: apply all of it or none
        if not agent.feasible_plan(actions, t_s):
            why = next(
                (w for a in actions if (w := levers.infeasible(a)) is not None),
                "the plan is no longer feasible as a whole",
            )
            d.log.append((t_s, "rec_infeasible", why[:200], int(rec_id), 0, 0))
            return f"infeasible now: {why}"
        effective = t_s
        for a in actions:
            effective = max(effective, levers.apply(a, t_s))
        done.add(rec_id)
        rec.accepted_t_s = t_s
        manager.actions_applied += 1
        return f"applied: {len(actions)} action(s), in effect by {clock(effective, agent.start_hour)}"

    return handle
