"""Every registered unit type passes the shipped contract checker."""

import pytest

from fctwin.robots import registered_types
from fctwin.robots.checker import CheckerFloor, ContractViolation, check_unit
from fctwin.robots.messages import Action, Lift, Move, SetDown
from fctwin.robots.titan import Titan, TitanParams

UNIT_TYPES = sorted(registered_types())


def test_builtin_types_registered():
    assert {"titan", "human"} <= set(UNIT_TYPES)


@pytest.mark.parametrize("unit_type", UNIT_TYPES)
def test_contract(unit_type):
    check_unit(registered_types()[unit_type])


def test_checker_catches_a_broken_unit():
    class Broken(Titan):
        unit_type = "broken"

        def handle(self, command, t_s):
            if isinstance(command, Move):
                raise RuntimeError("boom")
            return super().handle(command, t_s)

    with pytest.raises(ContractViolation):
        check_unit(Broken)


def _titan(**kw):
    floor = CheckerFloor()
    return Titan(unit_id="T-1", floor=floor, cell=(2, 1), heading=0, params=TitanParams(**kw)), floor


def test_overweight_pod_is_refused_with_error_event():
    unit, _ = _titan(payload_kg=100.0)
    unit.handle(Move(1, "T-1", int(Action.F), 0), 0.0)
    unit.step(1.0, 1.0)
    events = unit.handle(Lift(2, "T-1", 0), 1.0)
    assert [e.kind for e in events] == ["error"]
    assert events[0].data["reason"] == "overweight"
    assert unit.state().pod_id == -1


def test_lift_takes_configured_time_and_loaded_unit_cannot_enter_pod_cell():
    unit, floor = _titan(lift_s=3.0)
    unit.handle(Move(1, "T-1", int(Action.F), 0), 0.0)
    unit.step(1.0, 1.0)
    assert unit.state().col == 2  # unloaded: passes under/onto the stored pod's cell
    assert unit.handle(Lift(2, "T-1", 0), 1.0)[0].kind == "ack"
    assert unit.step(2.0, 1.0) == []  # still lifting
    done = unit.step(4.0, 2.0)
    assert [e.kind for e in done] == ["done"] and unit.state().pod_id == 0
    # Loaded, facing a cell where another pod stands: refused.
    floor.pods = {(2, 3): 5}
    floor.codes[(2, 3)] = 2
    refused = unit.handle(Move(3, "T-1", int(Action.F), 1), 4.0)
    assert refused and refused[0].kind == "refused"


def test_set_down_needs_free_storage_cell():
    unit, floor = _titan()
    unit.handle(Move(1, "T-1", int(Action.F), 0), 0.0)
    unit.step(1.0, 1.0)
    unit.handle(Lift(2, "T-1", 0), 1.0)
    unit.step(5.0, 4.0)
    floor.pods.pop((2, 2))  # the pod is now carried
    assert unit.handle(SetDown(3, "T-1"), 5.0)[0].kind == "ack"
    events = unit.step(9.0, 4.0)
    assert events[0].kind == "done" and unit.state().pod_id == -1


def test_battery_drains_while_moving_and_unit_stops_when_empty():
    unit, _ = _titan(battery_wh=0.5, power_moving_w=1000.0, power_idle_w=1000.0)
    kinds = []
    for k in range(10):
        unit.handle(Move(10 + k, "T-1", int(Action.R), k), float(k))
        kinds += [e.kind for e in unit.step(float(k + 1), 1.0)]
    assert "battery_low" in kinds and "failed" in kinds
    assert unit.state().battery_frac == 0.0


def test_round_6_equals_round_bit_for_bit():
    """Battery fractions go into the telemetry and the dispatcher's charging decisions: the fast
    rounding must give exactly what ``round(x, 6)`` gives, also next to every rounding boundary."""
    import math
    import random

    from fctwin.robots.titan import round_6

    rng = random.Random(7)
    xs = [rng.random() for _ in range(200_000)]
    xs += [rng.uniform(0.0, 2e6) for _ in range(20_000)]  # beyond the fast path's range too
    for k in range(0, 1_000_001, 7):  # every 7th boundary of [0, 1] and its neighbours
        mid = (k + 0.5) / 1e6
        xs += [k / 1e6, mid, math.nextafter(mid, 0.0), math.nextafter(mid, 1.0)]
    xs += [0.0, 1.0, -0.0, -0.25, -1.5e-7, 1e-7, 5e-7, math.inf, -math.inf]
    mismatched = [x for x in xs if math.copysign(1.0, round_6(x)) != math.copysign(1.0, round(x, 6))]
    mismatched += [x for x in xs if round_6(x) != round(x, 6)]
    assert mismatched == []
    assert math.isnan(round_6(math.nan))
