"""The people the agent itself released stay on call (scene ``[agent] release_pace``).

A release (`ElunaAgent._releases`) sends someone to the pool for the rest of the shift because the
floor is quiet and the people left keep up. Called back from the pool, that person used to be
priced as a new hire for the rest of the shift (the labour price times the shift left over the
horizon), so the objective never brought them back: on eluna_outage seed 15 (session 17) a stower
released at 08:30 stayed in the pool when two pick stations went down at 09:00; every plan calling
them back to pick (+25 units over 30 minutes, p95 -49 s) was judged at J -200 to -430 against doing
nothing (docs/eluna_s17_release17.md). The shift lead keeps the people it released on call: its
rule 1 calls them back whenever a kind turns hot.

The rule (with ``release_pace`` on; `ElunaAgent.candidates`, `_price_of`, `_recommend`):

- **Who is on call** (`OnCall.released`): the home station of each person an applied release plan
  sent to the pool, until a recall brings them back (or the shift hands over).
- **When** (`plans`): a kind is hot (its worst pressure over the next 30 minutes at or over the
  agent's gate, the same test that lets the agent roll any plan forward) and the pool holds them.
  The plan moves them from the pool to the station of the hot kind where one more person lowers
  its pressure most (their own home station on a tie), one at a time while the kind stays hot: one
  person alone, and all of them together when there are several.
- **Price** (`RECALL_PRICE`): none. Undoing a release gives the floor back labour the objective had
  accepted until the release; the release was taken because the floor was quiet, and a recall
  judged as a hire would have to pay for the rest of the shift out of 30 minutes of service. So J
  of the recall is its service alone: units done and work left open.
- **Not for a break**: people on a break who are back within the horizon count as there when the
  kind's heat is judged. A break is a known transient; a recall stays for at least the hold below.
  On eluna_balanced (a 30-minute break for 2 at 10:00) the first version of this rule called a
  released stower back to stow at 10:10-10:20 on seeds 12, 14 and 17 (pods queued at the one or
  two stow stations left during the break): units per hour, p95 and open work no better than
  without the recall, 4-6% of the run's units per labour hour lost (docs/eluna_s18_recall18.md).
- **Not on noise**: the recall goes through the ordinary decision (`ElunaAgent._decide`): it must
  keep service (`keeps_service`) and gain more than ``min_gain`` of the horizon's throughput on the
  first sampled future and half of it on a second: an extra person who serves nothing (a pick side
  bound by drive units) is not called back.
- **No churn** (`RECALL_HOLD_MIN`): no release for an hour after a recall. A release is judged an
  hour ahead (the floor must stay quiet at 30 and 60 minutes), so a kind that turned hot enough to
  call someone back is not taken as quiet again within the hour its recall was judged to be needed.
"""

from __future__ import annotations

from collections.abc import Callable

from fctwin.controller.eluna.actions import Action, MoveAssociates, merge_moves
from fctwin.controller.eluna.labour import POOL

# J's labour price of a plan that calls back people the agent released (units per labour hour)
RECALL_PRICE = 0.0
# minutes without a release after a recall (the release's own look ahead: 60 minutes)
RECALL_HOLD_MIN = 60


class OnCall:
    """Who the agent released and is still in the pool, and when it last called someone back."""

    def __init__(self) -> None:
        self.released: list[str] = []  # home station of each released person still on call
        self.last_recall_s: float | None = None

    def clear(self) -> None:
        """A handover: the released people went home with their shift."""
        self.released.clear()
        self.last_recall_s = None

    def holds_releases(self, t_s: float) -> bool:
        """Whether a recall within `RECALL_HOLD_MIN` holds the releases back."""
        return self.last_recall_s is not None and t_s - self.last_recall_s < 60.0 * RECALL_HOLD_MIN

    def note(self, plan: list[Action], t_s: float, *, released: bool, recalled: bool) -> None:
        """An applied plan: a release puts its people on call, a recall takes them off."""
        moves = [a for a in plan if isinstance(a, MoveAssociates)]
        if released:
            self.released += [a.source for a in moves if a.target == POOL for _ in range(a.n)]
        elif recalled:
            for a in moves:
                for _ in range(a.n if a.source == POOL and self.released else 0):
                    self.released.remove(a.target if a.target in self.released else self.released[0])
            self.last_recall_s = t_s

    def plans(
        self,
        work: dict[str, float],
        staffed: dict[str, int],
        floaters: int,
        *,
        kinds: dict[str, str],
        down: set[str],
        max_per_station: int,
        pressure: Callable[[dict[str, float], dict[str, int]], float],
        gate: float,
    ) -> list[list[Action]]:
        """The plans calling released people back to the hot kinds (see the module): one person,
        and everyone the hot kinds take while they stay hot. ``pressure(work, staffed)`` is the
        agent's `_max_pressure`; ``work`` its minutes of work per kind over the next 30 minutes."""
        n = min(len(self.released), floaters)
        if n <= 0:
            return []
        homes = set(self.released)
        st = dict(staffed)
        moves: list[MoveAssociates] = []
        for _ in range(n):
            hot = [k for k in sorted(work) if pressure({k: work[k]}, st) >= gate]
            best = None
            for k in hot:
                for sid in sorted(s for s in st if kinds[s] == k):
                    if sid in down or st[sid] >= max_per_station:
                        continue
                    after = dict(st, **{sid: st[sid] + 1})
                    key = (pressure({k: work[k]}, after), sid not in homes, sid)
                    if best is None or key < best[0]:
                        best = (key, sid)
            if best is None:
                break
            moves.append(MoveAssociates(POOL, best[1], 1))
            st[best[1]] += 1
        plans = [[moves[0]]] if moves else []
        if len(moves) > 1:
            plans.append(merge_moves(moves))
        return plans
