"""A lookahead child (`ForkLookahead.evaluate` forks the run) must never come back into the
parent's code, even when sending its result fails (the parent killed mid-run breaks the pipe)."""

from __future__ import annotations

import os

from fctwin.sim.eluna.lookahead import ForkLookahead


def test_a_child_whose_pipe_breaks_exits_instead_of_running_the_parents_code(tmp_path, monkeypatch):
    la = ForkLookahead.__new__(ForkLookahead)  # no run needed: the child's work is stubbed
    la.workers = 1
    monkeypatch.setattr(la, "_child", lambda plan, horizon_s, key: {"units_picked": 1})
    parent = os.getpid()
    real_write = os.write

    def write(fd, data):
        if os.getpid() != parent:  # in the child: the parent is gone
            raise BrokenPipeError(32, "Broken pipe")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    escaped = tmp_path / "escaped"
    try:
        la.evaluate([[]], 60.0, "k")
    except BaseException:
        pass
    finally:
        if os.getpid() != parent:  # a child got out of evaluate: leave a mark, then stop it
            escaped.write_text(str(os.getpid()))
            os._exit(0)
    assert not escaped.exists(), "a lookahead child ran on in the parent's code"


def test_a_child_sends_its_result_back():
    la = ForkLookahead.__new__(ForkLookahead)
    la.workers = 2
    la._child = lambda plan, horizon_s, key: {"plan": len(plan), "key": key}
    assert la.evaluate([[], [1], [1, 2]], 60.0, "k") == [
        {"plan": 0, "key": "k"},
        {"plan": 1, "key": "k"},
        {"plan": 2, "key": "k"},
    ]
