"""What a closed person-worked station does with its work, and for how long it keeps it.

`StationClosures` is one part of `Dispatcher` (a mixin over the same state). A station closes when
its associates go to 0 (`LeverEntryPoints.set_station_staff`: a break, a shift handing over to a
smaller crew, an outage, an associate moved away). At once, the work no unit carries yet moves to
the open stations (`_move_work_from`). The pods already lifted for it wait in its queue: for a
30-minute break that is right, the picker is back before a pod could go to storage and return.

Once the station has been closed for ``DispatchConfig.closed_queue_hold_s`` (or at once, when
nobody is known to be back within that hold: see below), it is **drained**:
each trip for it that is not yet at the face hands its lines back (to the open stations, as at
closing) and its pod goes back to storage, and no new trip is made for it until it reopens.
Before this, a night shift that closes two pick stations at 22:00 (eluna_three_shifts) left eight
drive units, a fifth of the fleet, waiting in those queues with their pods until 06:00: their
batteries ran empty there, the units failed with the pods on them, and the lines for the stock on
those pods held their stations' places for the rest of the run (a 72-hour run stopped keeping up
on day 3).

When the hold is waited. The labour board says, on closing, when people are known to be back
(``reopen_s``: a break's end, an outage's people walking back after its planned end, the next
shift's crew; inf when nobody is due: a release, a move away, the night). A station nobody is due
back at within the hold is drained at once: waiting the hold then only kept its pods, their units
and their lines from the open stations (with the 45-minute hold alone, every release by the shift
lead or the agent parked the closed station's queued pods, two to four drive units of a 40-unit
fleet, for 45 minutes). Without a known reopening (``reopen_s`` None: a caller that does not
say) the hold alone decides, as before.

The trip at the face has its serves with the station, which starts no line while closed. A
station that takes `Withdraw` (a person-worked one) is sent one at the drain: it drops the serves it
has not started, answering each with a ``withdrawn`` event; a line under way finishes and reports
``done`` as usual. Once every serve of the trip is resolved (dropped or done), its unserved lines
go back as those of the queued trips do and the pod goes to storage (``trip_withdrawn`` with phase
AT_STATION; a trip whose lines were all done leaves as usual, ``leave_station``).
Before this a released station's last person (sent home for the shift) held one drive unit and its
pod at the face until the station reopened: overnight that is ~0.2 of the unit's charge. Races:
the station reopening before the answers come keeps the pod (a dropped serve is
sent again, as an aborted one is); a face unit lost meanwhile hands its trip back as any lost unit
does (the late answers then name no open serve and are ignored); a station that never answers
keeps the pod at its face, as before. A station that does not declare ``withdraw`` (an external
one that does not say it does) keeps its face pod until it reopens.
"""

from __future__ import annotations

from fctwin.controller.records import (
    AT_STATION,
    LIFTING,
    NO_STATION_WORK,
    TO_POD,
    TO_STATION,
    TO_STORAGE,
    Trip,
)
from fctwin.robots.messages import Withdraw


class StationClosures:
    """Closing, draining and reopening stations; mixed into `Dispatcher`."""

    def _init_closures(self) -> None:
        self.closed_since_s: dict[int, float] = {}  # station index -> when it closed
        self.reopen_due_s: dict[int, float] = {}  # closed station -> when people are known back
        self.drained: set[int] = set()  # closed stations past the hold: no trips for them
        # lines left pending at each drained station after its last move (orders with a line at
        # its face stay): more than that means work came back (a trip handed back, a backorder)
        self._drained_pending: dict[int, int] = {}

    def _station_closed(self, idx: int, reopen_s: float | None = None) -> None:
        self.closed_since_s[idx] = self.t_s
        if reopen_s is not None:
            self.reopen_due_s[idx] = float(reopen_s)
        self._move_work_from(idx)

    def _station_reopened(self, idx: int) -> None:
        self.closed_since_s.pop(idx, None)
        self.reopen_due_s.pop(idx, None)
        self.drained.discard(idx)
        self._drained_pending.pop(idx, None)
        for trip in self.stations[idx].queue[:1]:  # the face trip stays: answers yet to come re-serve
            trip.withdrawing = False

    def _drain_closed_stations(self, commands: list) -> None:
        """Drain every station closed for longer than the hold (once per closure), and move on the
        work that comes back to a drained one: the lines of a trip handed back (its unit failed, its
        pod too heavy) or backorders released to it would otherwise wait for it to reopen."""
        hold = self.config.closed_queue_hold_s
        if hold is None:
            return
        for idx, since in self.closed_since_s.items():
            if idx not in self.drained:
                # nobody due back within the hold: waiting it out helps no one
                if self.t_s - since >= hold or self.reopen_due_s.get(idx, since) - self.t_s > hold:
                    self._drain(idx, commands)
            else:
                n = len(self.stations[idx].pending)  # (it shrinks when the face pod takes lines on)
                if n > self._drained_pending[idx]:
                    self._move_on(idx)
                else:
                    self._drained_pending[idx] = n

    def _drain(self, idx: int, commands: list) -> None:
        self.drained.add(idx)
        for u in self.units:
            trip = u.trip
            if trip is None or trip.station != idx or trip.kind in NO_STATION_WORK:
                continue
            if trip.phase == TO_POD:  # nothing lifted yet: the unit is free again
                self._cancel_trip(trip, requeue=True)
                self.log.append((self.t_s, "trip_withdrawn", u.unit_id, trip.trip_id, trip.pod, TO_POD))
                u.trip = None
                u.goal = None
            elif trip.phase == TO_STATION:
                self._send_pod_back(u, trip, TO_STATION)
            elif trip.phase == AT_STATION:
                self._withdraw_serves(trip, commands)
            # LIFTING: `_withdraw_on_lift` when the lift is done
        self._move_on(idx)

    def _move_on(self, idx: int) -> None:
        """Drained station ``idx``'s work to the open stations; note what stays (`_drained_pending`)."""
        self._move_work_from(idx)
        self._drained_pending[idx] = len(self.stations[idx].pending)

    def _send_pod_back(self, u, trip: Trip, phase: int) -> None:
        """A lifted pod for a drained station: its lines go back, the pod to storage (``phase``:
        the trip's phase when withdrawn, for the log)."""
        trip.phase = TO_STATION  # the pod is on the unit: `_cancel_trip` must keep it busy
        self._cancel_trip(trip, requeue=True)  # out of the queue, reservations and promises undone
        trip.lines = []
        trip.kind = "return"
        trip.phase = TO_STORAGE
        self.log.append((self.t_s, "trip_withdrawn", u.unit_id, trip.trip_id, trip.pod, phase))

    def _withdraw_serves(self, trip: Trip, commands: list) -> None:
        """Ask the station to take back the serves of ``trip``, at its face (if it takes `Withdraw`)."""
        station = self.stations[trip.station]
        if not station.accepts_withdraw or not trip.open_serves or trip.withdrawing:
            return  # no serves open: the trip leaves the face this tick anyway
        trip.withdrawing = True
        commands.append(Withdraw(self._cid(), station.station_id, trip.trip_id))
        n = len(trip.open_serves)
        self.log.append((self.t_s, "withdraw_sent", station.station_id, trip.trip_id, trip.pod, n))

    def _serve_withdrawn(self, s: int, ev, commands: list) -> None:
        """Station ``s`` dropped a serve on `Withdraw` (a ``withdrawn`` event)."""
        station = self.stations[s]
        trip = station.queue[0] if station.queue else None
        if trip is None or ev.command_id not in trip.open_serves:
            return  # its trip was handed back meanwhile (the face unit was lost)
        line = trip.open_serves.pop(ev.command_id)
        if s not in self.drained:  # it reopened before the answer came: the line is served after all
            self._issue_serves(trip, station, commands, [line])
            return
        self._face_resolved(s, trip)

    def _face_resolved(self, s: int, trip: Trip) -> None:
        """After a serve of the face trip is resolved: once none is open and the station is still
        drained, the trip's unserved lines go back and its pod to storage."""
        if not trip.withdrawing or trip.open_serves or s not in self.drained:
            return
        trip.withdrawing = False
        if all(id(ln) in trip.served for ln in trip.lines):
            return  # nothing was dropped (its last line was under way): it leaves as a trip done
        self._send_pod_back(self.units[trip.unit], trip, AT_STATION)
        self._move_on(s)

    def _withdraw_on_lift(self, u, trip: Trip) -> bool:
        """Called when a lift completes: True if the trip's station is drained (its pod goes back)."""
        if trip.station not in self.drained or trip.kind in NO_STATION_WORK:
            return False
        self._send_pod_back(u, trip, LIFTING)
        self._move_on(trip.station)
        return True


__all__ = ["StationClosures"]
