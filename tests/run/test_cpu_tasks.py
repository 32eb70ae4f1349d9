"""Many calls as Ray CPU tasks (run/cpu_tasks.py) on a real local Ray: every result once, the calls pulled only as
tasks finish (at most `in_flight` submitted), a raising call and a dying worker come back as Failed."""

from __future__ import annotations

import operator
import os

import pytest

from evalfleet.run.cpu_tasks import Failed, map_unordered, share

pytestmark = pytest.mark.slow


def test_every_call_comes_back_once_with_at_most_in_flight_submitted(ray_session):
    pulled = []

    def calls():
        for n in range(12):
            pulled.append(n)
            yield n, (n, 2)

    seen = {}
    for key, value in map_unordered(pow, calls(), in_flight=3):
        assert len(pulled) - len(seen) <= 3  # submitted and not yet handed out
        seen[key] = value
    assert seen == {n: n**2 for n in range(12)}


def test_a_shared_value_reaches_every_task(ray_session):
    ref = share({"a": 1})
    found = dict(map_unordered(operator.getitem, [(n, (ref, "a")) for n in range(3)], in_flight=2))
    assert found == {0: 1, 1: 1, 2: 1}


def test_a_raising_call_and_a_dying_worker_come_back_as_failed(ray_session):
    found = dict(map_unordered(operator.floordiv, [("raises", (1, 0)), ("fine", (7, 2))], in_flight=2, max_retries=1))
    assert found["fine"] == 3
    assert found["raises"] == Failed("ZeroDivisionError: integer division or modulo by zero", found["raises"].error)
    assert isinstance(found["raises"].error, ZeroDivisionError)
    [(_, died)] = map_unordered(os._exit, [("dies", (1,))], in_flight=1, max_retries=1)  # the worker process exits
    assert isinstance(died, Failed) and died.error is None and died.reason.startswith("WorkerCrashedError: "), died
