"""A PUB socket for dashboards when no dispatcher server owns one (`fctwin run --pub`).

`fctwin serve --pub` publishes on the dispatcher server's own PUB socket
(`DispatcherServer.publish_recommendation`); a headless `fctwin run` with the in-process fleet
host has no server, so this publisher binds a PUB socket with the same options and sends the same
messages (sender ``dispatcher``, sequence numbers from 1).
"""

from __future__ import annotations

import zmq

from fctwin.network import protocol as p
from fctwin.network.dispatcher_side import SERVER_ID
from fctwin.network.security import check_bind_allowed


class RecommendationPublisher:
    def __init__(self, endpoint: str, *, context: zmq.Context | None = None, insecure: bool = False):
        check_bind_allowed(endpoint, keys=None, insecure=insecure)
        self.context = context or zmq.Context.instance()
        self.pub = self.context.socket(zmq.PUB)
        self.pub.linger = 0
        self.pub.setsockopt(zmq.SNDHWM, 100)  # a slow dashboard drops messages, never stalls the run
        self.pub.bind(endpoint)
        self.endpoint = self.pub.getsockopt_string(zmq.LAST_ENDPOINT)
        self.published = 0
        self.dropped = 0

    def publish_recommendation(self, body: p.Recommendation) -> None:
        data = p.encode(p.RECOMMENDATION, body, sender=SERVER_ID, seq=self.published + 1, t_sim_s=body.t_s)
        try:
            self.pub.send(data, flags=zmq.NOBLOCK)
            self.published += 1
        except zmq.Again:
            self.dropped += 1

    def close(self) -> None:
        self.pub.close(linger=0)
