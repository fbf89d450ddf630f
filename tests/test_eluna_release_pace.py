"""A release is checked against the people's pace left, not the rate stations were seen to serve
(`ElunaAgent.people_keep_up`, ``[agent] release_pace``). On a floor that keeps up, what its
stations serve is what arrives shared over them, so the seen rate times the stations left is
always short of the arriving rate: before this, no release passed once the run's rates had
settled (eluna_balanced, session 17). Hand-made floors; the runs are in docs/eluna_s17_release17.md."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from fctwin.controller.eluna import POOL, ElunaAgent, LabourBoard, LabourConfig, Levers, MoveAssociates
from fctwin.controller.eluna.agent import RELEASE_EVIDENCE_MIN, RELEASE_LOAD

FLOOR = {"P1": 1, "P2": 1, "P3": 1, "P4": 1, "S1": 1, "S2": 1, "S3": 1, "S4": 1}
LINES_PER_MIN = 12.0  # pick: 3 pickers at 12.5 s a line would be 83% busy (over `RELEASE_LOAD`)
CARTONS_PER_MIN = 0.6  # stow: 36 an hour, 3 stowers at 180 s a carton 60% busy, 2 stowers 90%


class _Quiet:
    units = []
    stow_unit_cap = None

    def set_station_staff(self, *a, **kw):
        pass


def _digest(
    board, minute: int, *, cartons_arrived: float = CARTONS_PER_MIN, lines_arrived: float = LINES_PER_MIN
) -> dict:
    """A floor that keeps up: every open station has work waiting and serves its share of what
    arrives (the seen rate the old check read)."""
    open_ = [sid for sid, m in board.staffed.items() if m > 0]
    n = {"pick": sum(s.startswith("P") for s in open_), "stow": sum(s.startswith("S") for s in open_)}
    stations = []
    for sid, m in board.staffed.items():
        kind = "pick" if sid.startswith("P") else "stow"
        rate = LINES_PER_MIN if kind == "pick" else CARTONS_PER_MIN
        stations.append(
            {
                "id": sid,
                "kind": kind,
                "associates": m,
                "open_lines": 3 if kind == "pick" else 2,
                "pending": 0 if kind == "pick" else 2,
                "queued_pods": 1,
                "pods_on_way": 1,
                "units_served": 1,
                "lines_served": rate / max(1, n[kind]) if m > 0 else 0,
            }
        )
    return {
        "minute": minute,
        "t_s": 60.0 * minute,
        "stations": stations,
        "open_lines": 12,
        "open_cartons": 4,
        "backlog_lines": 0,
        "lines_arrived": lines_arrived,
        "cartons_arrived": cartons_arrived,
        "dock_expected_per_h": 60.0 * CARTONS_PER_MIN,
        "battery_hist": [0, 0, 0, 0, 40],
        "unit_states": {"idle": 15, "pick_trip": 20, "stow_trip": 5, "charging": 0, "failed": 0},
    }


def _agent(minutes: int, *, release_pace: bool = True, first_cartons: float | None = None):
    kinds = {sid: ("pick" if sid.startswith("P") else "stow") for sid in FLOOR}
    board = LabourBoard(LabourConfig(staffing=dict(FLOOR), kinds=kinds, pool=sum(FLOOR.values()) + 1))
    agent = ElunaAgent(
        mode="auto",
        levers=Levers(_Quiet(), board),
        service_s={sid: (12.5 if sid.startswith("P") else 180.0) for sid in FLOOR},
        forecaster=SimpleNamespace(plan_rate=lambda t_s: 1.0),
        lookahead=None,
    )
    agent.release_pace = release_pace
    agent.last_forecast = {"open_lines": {30: 12.0, 60: 12.0}, "open_cartons": {30: 4.0, 60: 4.0}}
    for minute in range(minutes):
        first = minute == 0 and first_cartons is not None
        if first:  # a first minute with nothing arriving yet
            agent._observe_rates(_digest(board, minute, cartons_arrived=first_cartons, lines_arrived=0.0))
        else:
            agent._observe_rates(_digest(board, minute))
    return agent, board


def _releases(agent, board, minute: int) -> list:
    return [p for p in agent.candidates(_digest(board, minute)) if all(a.target == POOL for a in p)]


def test_a_stower_goes_home_when_the_people_left_keep_up():
    """An hour of a floor that keeps up: one stower may go (three carry the stream at 60% of their
    pace), never a second (two at 90%), never a picker (three at 83%): what the frozen shift lead's
    rule 5 allows at the same load."""
    agent, board = _agent(60)
    plans = _releases(agent, board, 60)
    assert plans, "no release on a quiet floor whose people would keep up"
    assert all(len(p) == 1 and p[0].source.startswith("S") for p in plans), plans
    assert [MoveAssociates("S1", POOL, 1)] in plans
    st = dict(board.staffed)
    st["S1"] -= 1
    assert agent.release_load(st, "stow") == pytest.approx(0.6, abs=1e-6) and agent.people_keep_up(st, "stow")
    st["S2"] -= 1
    assert agent.release_load(st, "stow") > RELEASE_LOAD and not agent.people_keep_up(st, "stow")
    picks = dict(board.staffed, P1=0)
    assert agent.release_load(picks, "pick") == pytest.approx(12.0 * 12.5 / 180.0, rel=1e-6)
    assert not agent.people_keep_up(picks, "pick")
    # a trailer on the dock schedule: its busiest hour ahead (60 cartons) is what the three left face
    agent._observe_rates({**_digest(board, 60), "dock_peak_h": 60.0})
    assert not agent.people_keep_up(dict(board.staffed, S1=0), "stow")
    assert _releases(agent, board, 61) == []


def test_the_seen_rate_never_lets_a_release_through_on_a_floor_that_keeps_up():
    """The check before (``release_pace`` off): what four stations were seen to serve is the stream
    shared by four, so three never 'keep up' with 15% to spare; the same floor, no release."""
    agent, board = _agent(60, release_pace=False)
    assert _releases(agent, board, 60) == []


def test_a_release_waits_for_evidence_and_reads_an_unbiased_mean():
    """No release before `RELEASE_EVIDENCE_MIN` minutes of arrivals; after them the rate is the
    mean of what arrived, not a running mean still filling up from a first minute with none (the
    running mean `_arriving` reads half the stream after 30 minutes)."""
    early, board = _agent(RELEASE_EVIDENCE_MIN - 1)
    assert _releases(early, board, RELEASE_EVIDENCE_MIN - 1) == []
    agent, _ = _agent(RELEASE_EVIDENCE_MIN, first_cartons=0.0)
    assert agent._arriving["stow"] < 0.8 * CARTONS_PER_MIN
    total, weight = agent._arriving_sw["stow"]
    assert total / weight == pytest.approx(CARTONS_PER_MIN, rel=0.05)
    # pick has no planned stream under it: the release reads the unbiased mean itself
    assert agent.arriving_peak("pick") < 0.8 * LINES_PER_MIN
    assert agent.release_arriving("pick") == pytest.approx(LINES_PER_MIN, rel=0.05)
    # stow never under the planned carton stream, whatever arrived so far
    agent._arriving_sw["stow"] = (0.0, 1.0)
    assert agent.release_arriving("stow") == pytest.approx(CARTONS_PER_MIN)


def _noisy_stow(agent, board, minutes: int, cartons_per_min: float, planned_per_h: float, **dock) -> None:
    """``minutes`` of ``cartons_per_min`` arriving on a ``planned_per_h`` stream; ``dock``: more of
    the digest's dock fields (``dock_landed``, ``dock_peak_h``)."""
    for minute in range(minutes):
        dg = _digest(board, minute, cartons_arrived=cartons_per_min)
        agent._observe_rates({**dg, "dock_expected_per_h": planned_per_h, **dock})


def test_the_planned_stream_as_a_prior_lets_an_hour_of_noise_pass_and_a_real_rise_not():
    """``[agent] release_prior_h``: an hour of the planned carton stream counted as seen. A first
    hour of 47 cartons on a 36-an-hour plan (+1.8 sd of Poisson noise, eluna_balanced seed 2) puts
    the three stowers left at 78% of their pace, over `RELEASE_LOAD`, on the hour's mean alone; with
    the prior, at 67%. A stream really at 60 an hour for three hours stays refused with it (80%),
    and with no planned stream the prior is nothing (the mean is not pulled towards zero)."""
    one_off = dict(FLOOR, S1=0)
    noisy = 47.0 / 60.0
    for prior_h, passes in ((0.0, False), (1.0, True)):
        agent, board = _agent(0)
        agent.release_prior_h = prior_h
        _noisy_stow(agent, board, 60, noisy, 60.0 * CARTONS_PER_MIN)
        load = agent.release_load(one_off, "stow")
        assert agent.people_keep_up(one_off, "stow") is passes, (prior_h, load)
    assert load == pytest.approx(0.67, abs=0.01)
    # a real rise: 60 cartons an hour for three hours
    agent, board = _agent(0)
    agent.release_prior_h = 1.0
    _noisy_stow(agent, board, 180, 1.0, 60.0 * CARTONS_PER_MIN)
    assert agent.release_load(one_off, "stow") > 0.75 and not agent.people_keep_up(one_off, "stow")
    # no planned stream: the hour's mean alone, with or without the prior
    for prior_h in (0.0, 1.0):
        agent, board = _agent(0)
        agent.release_prior_h = prior_h
        _noisy_stow(agent, board, 60, noisy, 0.0)
        assert agent.release_arriving("stow") == pytest.approx(noisy, rel=1e-9)


def _wave_then_stream(agent, board, *, wave_per_min: float, landed_per_min: float, peak_h: float) -> None:
    """An hour of the 36-an-hour stream with a wave of ``wave_per_min`` on top, of which the dock
    schedule announced ``landed_per_min``; ``peak_h``: the schedule's busiest hour still to come."""
    plan_h = 60.0 * CARTONS_PER_MIN
    _noisy_stow(
        agent,
        board,
        60,
        CARTONS_PER_MIN + wave_per_min,
        plan_h,
        dock_landed=landed_per_min,
        dock_peak_h=peak_h,
    )


def test_a_landed_wave_is_not_read_as_the_stream_rate_and_a_wave_ahead_or_an_unscheduled_rise_still_is():
    """``[agent] release_unscheduled``: the cartons of a wave on the dock schedule (90 in the last
    hour, eluna_inbound_wave's) are one-off. Counted in the hour's rate they put the three stowers
    left at 118% of their pace after the wave has landed (its cartons are in the stow backlog,
    which the pressure gate reads); counted out, at the stream's 60%. A wave still to come is
    refused either way (the schedule's busiest hour is added to the stream), and so is a rise no
    schedule announced."""
    one_off = dict(FLOOR, S1=0)
    for unscheduled, passes in ((False, False), (True, True)):
        agent, board = _agent(0)
        agent.release_prior_h = 1.0
        agent.release_unscheduled = unscheduled
        _wave_then_stream(agent, board, wave_per_min=1.5, landed_per_min=1.5, peak_h=0.0)
        load = agent.release_load(one_off, "stow")
        assert agent.people_keep_up(one_off, "stow") is passes, (unscheduled, load)
        assert load == pytest.approx(0.6 if unscheduled else 1.18, abs=0.02)
    # the same hour with the wave still ahead on the schedule: the stream plus its busiest hour
    agent, board = _agent(0)
    agent.release_prior_h, agent.release_unscheduled = 1.0, True
    _wave_then_stream(agent, board, wave_per_min=0.0, landed_per_min=0.0, peak_h=90.0)
    assert agent.release_load(one_off, "stow") == pytest.approx(2.1, abs=0.03)
    assert not agent.people_keep_up(one_off, "stow")
    # 90 more cartons an hour that no schedule announced: a rise, refused with the option on
    agent, board = _agent(0)
    agent.release_prior_h, agent.release_unscheduled = 1.0, True
    _wave_then_stream(agent, board, wave_per_min=1.5, landed_per_min=0.0, peak_h=0.0)
    assert not agent.people_keep_up(one_off, "stow")
