"""schedule: model affinity, stealing, bounded queues, retries on other workers, worker loss, determinism."""

from __future__ import annotations

import pytest

from evalfleet.run.schedule import Job, Scheduler


def jobs(spec: dict[str, int], cost: float = 1.0) -> list[Job]:
    return [Job(f"{m}{i}", m, cost) for m, n in spec.items() for i in range(n)]


def drain(s: Scheduler, workers: list[str]) -> dict[str, list[str]]:
    """Round-robin: each worker in turn gets work and finishes its oldest shard."""
    ran: dict[str, list[str]] = {w: [] for w in workers}
    while not s.finished:
        for w in workers:
            s.assign(w)
            if s.queued(w):
                key = s.queued(w)[0]
                s.done(w, key)
                ran[w].append(key)
    return ran


def test_affinity_one_load_per_model_when_workers_equal_models():
    s = Scheduler(jobs({"a": 4, "b": 4}), in_flight=2)
    for w in ("w0", "w1"):
        s.add_worker(w)
    ran = drain(s, ["w0", "w1"])
    assert {k[0] for k in ran["w0"]} == {"a"} and {k[0] for k in ran["w1"]} == {"b"}
    assert s.loads == 2 and sorted(ran["w0"] + ran["w1"]) == sorted(j.key for j in jobs({"a": 4, "b": 4}))


def test_new_model_is_the_unheld_one_with_most_remaining_cost():
    s = Scheduler(jobs({"a": 1, "b": 3, "c": 2}), in_flight=1)
    s.add_worker("w0")
    s.add_worker("w1")
    assert s.assign("w0") == ["b0"] and s.assign("w1") == ["c0"]


def test_idle_worker_steals_from_the_biggest_model():
    s = Scheduler(jobs({"a": 6}), in_flight=1)
    s.add_worker("w0")
    s.add_worker("w1")
    assert s.assign("w0") == ["a0"] and s.assign("w1") == ["a1"]
    assert s.loaded("w1") == "a" and s.loads == 2


def test_queue_is_bounded_by_in_flight():
    s = Scheduler(jobs({"a": 5}), in_flight=3)
    s.add_worker("w0")
    assert s.assign("w0") == ["a0", "a1", "a2"] and s.assign("w0") == []
    s.done("w0", "a0")
    assert s.assign("w0") == ["a3"]


def test_failed_shard_retries_elsewhere_then_gives_up():
    s = Scheduler(jobs({"a": 2}), in_flight=1, max_retries=1)
    s.add_worker("w0")
    s.add_worker("w1")
    assert s.assign("w0") == ["a0"] and s.assign("w1") == ["a1"]
    assert s.failed("w0", "a0") is True
    assert s.assign("w0") == []  # a0 avoids w0 while w1 lives
    s.done("w1", "a1")
    assert s.assign("w1") == ["a0"]
    assert s.failed("w1", "a0") is False and s.given_up == ["a0"] and s.finished


def test_single_worker_retries_on_itself():
    s = Scheduler(jobs({"a": 1}), in_flight=1, max_retries=2)
    s.add_worker("w0")
    for _ in range(2):
        assert s.assign("w0") == ["a0"] and s.failed("w0", "a0")
    assert s.assign("w0") == ["a0"] and not s.failed("w0", "a0")


def test_lost_worker_shards_are_requeued_in_order():
    s = Scheduler(jobs({"a": 4}), in_flight=2)
    s.add_worker("w0")
    assert s.assign("w0") == ["a0", "a1"]
    assert s.worker_lost("w0") == ["a0", "a1"]
    s.add_worker("w1")
    assert s.assign("w1") == ["a0", "a1"]
    ran = drain(s, ["w1"])
    assert sorted(ran["w1"]) == ["a0", "a1", "a2", "a3"]
    assert s.finished and not s.given_up


def test_deterministic_and_every_job_once_at_scale():
    spec = {f"m{i:03d}": 1 + i % 7 for i in range(60)}
    runs = []
    for _ in range(2):
        s = Scheduler([Job(j.key, j.model, 1 + len(j.key) % 3) for j in jobs(spec)], in_flight=2)
        workers = [f"w{i}" for i in range(8)]
        for w in workers:
            s.add_worker(w)
        runs.append(drain(s, workers))
    assert runs[0] == runs[1]
    done = [k for keys in runs[0].values() for k in keys]
    assert sorted(done) == sorted(j.key for j in jobs(spec))


def test_rejects_bad_settings():
    with pytest.raises(ValueError):
        Scheduler([], in_flight=0)


def test_idle_worker_copies_a_stragglers_queued_shards_when_they_outweigh_a_load():
    """w0 holds all of model a (a deep engine queue); idle w1 copies its last queued shards, first finish wins."""
    s = Scheduler(jobs({"a": 6}, cost=10.0), in_flight=6, load_cost=25.0)
    s.add_worker("w0")
    assert s.assign("w0") == ["a0", "a1", "a2", "a3", "a4", "a5"]
    s.add_worker("w1")
    assert s.assign("w1") == ["a5", "a4", "a3", "a2", "a1", "a0"] and s.loads == 2  # from the back
    assert s.done("w1", "a5") is True and "a5" not in s.queued("w0")  # w0's copy is dropped
    assert s.done("w0", "a0") is True and "a0" not in s.queued("w1")
    assert s.done("w0", "a5") is False  # a late copy: discarded, never recorded twice
    assert s.assign("w1") == []  # every queued shard is already copied once


def test_no_copy_when_the_remaining_work_is_below_a_load():
    s = Scheduler(jobs({"a": 2}, cost=10.0), in_flight=2, load_cost=25.0)
    s.add_worker("w0")
    s.assign("w0")
    s.add_worker("w1")
    assert s.assign("w1") == [] and s.loaded("w1") is None
    plain = Scheduler(jobs({"a": 2}, cost=10.0), in_flight=2)  # load_cost None: never copies
    plain.add_worker("w0")
    plain.assign("w0")
    plain.add_worker("w1")
    assert plain.assign("w1") == []


def test_copies_survive_failures_and_worker_loss_and_every_shard_is_recorded_once():
    s = Scheduler(jobs({"a": 4}, cost=10.0), in_flight=4, load_cost=5.0)
    s.add_worker("w0")
    s.assign("w0")
    s.add_worker("w1")
    copied = s.assign("w1")
    assert copied == ["a3", "a2", "a1", "a0"]
    assert s.failed("w1", "a3") is True and "a3" in s.queued("w0") and not s.attempts  # the other copy runs on
    assert s.worker_lost("w0") == ["a0", "a1", "a2", "a3"]
    assert s.queued("w1") == ["a2", "a1", "a0"] and s.attempts == {"a3": 1}  # a3 had no copy left: requeued
    recorded = [k for k in ("a0", "a1", "a2") if s.done("w1", k)]
    recorded += [k for k in s.assign("w1") if s.done("w1", k)]
    assert sorted(recorded) == ["a0", "a1", "a2", "a3"] and s.finished and not s.given_up


def test_every_job_recorded_once_with_copies_at_scale():
    spec = {f"m{i:02d}": 2 + i % 9 for i in range(20)}
    s = Scheduler([Job(j.key, j.model, 1 + len(j.key) % 3) for j in jobs(spec)], in_flight=4, load_cost=3.0)
    workers = [f"w{i}" for i in range(6)]
    for w in workers:
        s.add_worker(w)
    recorded: list[str] = []
    step = 0
    while not s.finished:
        for n, w in enumerate(workers):
            s.assign(w)
            if s.queued(w) and (n + step) % 3:  # uneven speeds: some workers straggle
                key = s.queued(w)[-1] if n % 2 else s.queued(w)[0]
                if s.done(w, key):
                    recorded.append(key)
        step += 1
    assert sorted(recorded) == sorted(j.key for j in jobs(spec))
    assert len(recorded) == len(set(recorded)) == sum(spec.values())


def test_jobs_added_while_running_are_taken_by_idle_workers_after_their_model():
    """Shards arriving mid-run (a model's checkpoint hashed later): a worker finishes its model first, an idle one
    takes the new model at its next assign; known keys are ignored; every job runs once."""
    s = Scheduler(jobs({"a": 3}), in_flight=1)
    s.add_worker("w0")
    s.add_worker("w1")
    assert s.assign("w0") == ["a0"] and s.assign("w1") == ["a1"]
    assert s.add_jobs(jobs({"b": 2})) == ["b0", "b1"]
    assert s.add_jobs([Job("b0", "b"), Job("a2", "a")]) == []  # known keys: nothing added twice
    assert s.assign("w0") == []  # queue full
    s.done("w0", "a0")
    assert s.assign("w0") == ["a2"]  # affinity: its own model's pending shard before the new model
    s.done("w1", "a1")
    assert s.assign("w1") == ["b0"] and s.loaded("w1") == "b"
    assert not s.finished
    ran = drain(s, ["w0", "w1"])
    assert sorted(ran["w0"] + ran["w1"]) == ["a2", "b0", "b1"] and s.finished


def test_a_scheduler_started_empty_runs_what_arrives():
    s = Scheduler([], in_flight=2)
    s.add_worker("w0")
    assert s.assign("w0") == [] and s.finished
    s.add_jobs(jobs({"a": 3}))
    assert s.assign("w0") == ["a0", "a1"] and s.loads == 1
    assert drain(s, ["w0"]) == {"w0": ["a0", "a1", "a2"]}
