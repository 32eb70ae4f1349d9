"""Feed: results of a thread handed to the polling thread as they come, `ready` run there; errors raised there."""

from __future__ import annotations

import threading

import pytest

from evalfleet.run.arrivals import Feed


def test_results_arrive_in_order_through_ready_in_the_polling_thread():
    go = threading.Event()
    polled_in = []

    def results():
        yield "a"
        go.wait(10)
        yield "skip"
        yield "b"

    def ready(result):
        polled_in.append(threading.current_thread())
        return [] if result == "skip" else [f"{result}0", f"{result}1"]

    feed = Feed(ready).start(results())
    assert feed.poll(5.0) == [["a0", "a1"]] and not feed.closed
    assert feed.poll(0.0) == []  # nothing more yet: no wait
    go.set()
    got = []
    while not feed.closed:
        got += feed.poll(1.0)
    assert got == [["b0", "b1"]]  # a result `ready` turns into no shards is not handed over
    assert set(polled_in) == {threading.current_thread()}


def test_an_error_of_the_thread_is_raised_by_poll_and_close_stops_it():
    def broken():
        yield "a"
        raise OSError("disk gone")

    feed = Feed(lambda r: [r]).start(broken())
    with pytest.raises(OSError, match="disk gone"):
        while True:
            feed.poll(1.0)
    assert feed.closed

    closed = []

    def endless():
        try:
            while True:
                yield "x"
        finally:
            closed.append(True)

    feed = Feed(lambda r: [r]).start(endless())
    assert feed.poll(1.0)
    feed.close()
    feed.thread.join(5)
    assert closed == [True] and not feed.thread.is_alive()
