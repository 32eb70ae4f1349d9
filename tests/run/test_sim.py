"""evalfleet.run.sim: small schedules worked out by hand from the policy in schedule.py's docstring,
the lower bound, the cost model's arithmetic, and invariants on random workloads (no GPU idles
while a shard waits unassigned; every shard done exactly once; no schedule beats the bound)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalfleet.run.sim import (
    Device,
    ModelSize,
    SimShard,
    WorkerLoss,
    load_seconds,
    lower_bound,
    shard_seconds,
    simulate,
)


def shards(model: str, *seconds: float) -> list[SimShard]:
    return [SimShard(f"{model}{i}", model, cost=s, seconds=s) for i, s in enumerate(seconds)]


def test_one_gpu_one_model_pays_one_load():
    # load 2, then 3 + 4: makespan 9, which is also the bound.
    r = simulate(shards("A", 3, 4), {"A": 2}, gpus=1)
    assert (r.makespan, r.lower_bound, r.loads, r.done) == (9, 9, 1, 2)


def test_two_models_two_gpus_affinity():
    # Each worker takes one model (the one with most remaining cost first; the other is free):
    # 5 + 10 + 10 = 25 on each. Bound: (40 work + 2 loads × 5) / 2 = 25.
    r = simulate(shards("A", 10, 10) + shards("B", 10, 10), {"A": 5, "B": 5}, gpus=2)
    assert (r.makespan, r.lower_bound, r.loads) == (25, 25, 2)
    assert r.idle_pending_s == 0 and r.idle_queued_s == 0


def test_stealing_when_every_model_is_held():
    # A: 4 × 10, B: 2 × 10, loads 5, in_flight 2.
    # t=0  w0 picks A (remaining 40 > 20), queues a0 a1; w1 picks B (free), queues b0 b1.
    # t=15 both finish their first shard. w0 queues a2. w1: B has nothing pending, A is held by
    #      w0 and is the only model left -> w1 steals a3 (a second load of A).
    # w0: a1 15-25, a2 25-35.  w1: b1 15-25, load A 25-30, a3 30-40.  Makespan 40, 3 loads.
    r = simulate(shards("A", 10, 10, 10, 10) + shards("B", 10, 10), {"A": 5, "B": 5}, gpus=2)
    assert (r.makespan, r.loads, r.load_s, r.busy_s) == (40, 3, 15, 60)
    assert r.lower_bound == 35  # (60 + 5 + 5) / 2
    assert r.idle_pending_s == 0


def test_queue_tail_is_counted_as_idle_while_queued():
    # One model, 3 shards of 10, 2 GPUs, load 0, in_flight 2.
    # w0 queues a0 a1; w1 steals a2. w1 ends at 10, w0 runs a1 10-20 while w1 is idle and
    # nothing waits unqueued: idle_queued stays 0 because a1 is *running*, not waiting.
    r = simulate(shards("A", 10, 10, 10), {"A": 0}, gpus=2)
    assert r.makespan == 20 and r.idle_queued_s == 0
    # in_flight 3: w0 queues all three; w1 gets nothing -> idle 0-20 while a1 / a2 wait in w0's queue.
    r3 = simulate(shards("A", 10, 10, 10), {"A": 0}, gpus=2, in_flight=3)
    assert r3.makespan == 30 and r3.idle_pending_s == 0 and r3.idle_queued_s == 20


def test_worker_loss_requeues_on_the_survivor():
    # A: 4 × 10, load 5, 2 GPUs. w0 queues a0 a1; w1 steals a2 a3 (both load A).
    # w1 dies at t=12, 7 s into a2: a2 and a3 go back to the front of A's queue.
    # w0: load 0-5, a0 5-15, a1 15-25, a2 25-35, a3 35-45 (no second load: A is already loaded).
    r = simulate(shards("A", 10, 10, 10, 10), {"A": 5}, gpus=2, losses=[WorkerLoss(at=12, worker="w1")])
    assert (r.makespan, r.done, r.lost_s, r.loads) == (45, 4, 7, 2)
    assert r.busy_s == 40 + 7 and r.given_up == ()


def test_worker_loss_with_replacement():
    # Same, but a replacement w2 joins 1 s after the loss (t=13) and takes a3 after w0 takes a2:
    # t=13 w2 joins; pending a2 a3 (a2 first). w0's queue (a0 running, a1) is full; w2 takes a2, a3
    # (avoid lists name only w1). w2: load 13-18, a2 18-28, a3 28-38. w0: a0 5-15, a1 15-25.
    r = simulate(
        shards("A", 10, 10, 10, 10), {"A": 5}, gpus=2, losses=[WorkerLoss(at=12, worker="w1", replace_after=1)]
    )
    assert (r.makespan, r.done, r.loads) == (38, 4, 3)


def test_lower_bound_uses_largest_shard_when_work_is_thin():
    # 64 GPUs, one 100 s shard of model A (load 20) and ten 1 s shards of B (load 1):
    # total (100 + 10 + 21) / 64 ≈ 2 < 120 = largest shard + its load.
    s = shards("A", 100) + shards("B", *[1] * 10)
    assert lower_bound(s, {"A": 20, "B": 1}, 64) == 120
    assert simulate(s, {"A": 20, "B": 1}, gpus=64).makespan >= 120


def test_cost_model_arithmetic():
    dev = Device("toy", prefill_flops=1e12, bandwidth=1e11, step_overhead_s=0.01, load_bandwidth=1e9, init_s=10)
    m = ModelSize(params=1e9, bytes_per_param=2)
    # load: 2e9 bytes / 1e9 B/s + 10 s
    assert load_seconds(m, dev) == pytest.approx(12.0)
    # one batch: prefill 2 × 1e9 × 400 tokens / 1e12 = 0.8 s; decode 20 steps × (2e9/1e11 + 0.01) = 0.6 s
    assert shard_seconds([100, 300], [10, 20], m, dev) == pytest.approx(1.4)
    # batch_size 1: prefill the same 0.8 s, decode (10 + 20) × 0.03 = 0.9 s
    assert shard_seconds([100, 300], [10, 20], m, dev, batch_size=1) == pytest.approx(1.7)
    # float32: twice the bytes per step, half the prefill rate
    m32 = ModelSize(params=1e9, bytes_per_param=4)
    assert shard_seconds([100, 300], [10, 20], m32, dev) == pytest.approx(1.6 + 20 * 0.05)


workload = st.lists(
    st.tuples(st.integers(0, 5), st.floats(0.5, 50), st.floats(0.1, 100)),  # (model, seconds, estimate)
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(workload, st.integers(1, 9), st.integers(1, 3), st.lists(st.floats(0, 20), min_size=6, max_size=6))
def test_invariants_on_random_workloads(jobs, gpus, in_flight, loads):
    s = [SimShard(f"k{i}", f"m{m}", cost=c, seconds=sec) for i, (m, sec, c) in enumerate(jobs)]
    load_s = {f"m{i}": x for i, x in enumerate(loads)}
    r = simulate(s, load_s, gpus=gpus, in_flight=in_flight)
    assert r.done == len(s) and not r.given_up
    assert r.idle_pending_s == 0, "a GPU idled while a shard waited unassigned"
    assert r.makespan >= r.lower_bound * (1 - 1e-9)
    assert r.busy_s == pytest.approx(sum(x.seconds for x in s))
    assert r.loads >= len({x.model for x in s})


@settings(max_examples=60, deadline=None)
@given(workload, st.integers(2, 6), st.floats(0, 200), st.booleans())
def test_loss_never_drops_or_duplicates_shards(jobs, gpus, at, replace):
    s = [SimShard(f"k{i}", f"m{m}", cost=c, seconds=sec) for i, (m, sec, c) in enumerate(jobs)]
    r = simulate(
        s,
        {f"m{i}": 3.0 for i in range(6)},
        gpus=gpus,
        losses=[WorkerLoss(at=at, worker="w0", replace_after=5.0 if replace else None)],
    )
    assert r.done + len(r.given_up) == len(s)
    assert r.given_up == ()  # one loss is one attempt; max_retries=2
    assert r.idle_pending_s == 0


def test_an_idle_gpu_copies_a_deep_queue_of_a_straggling_model():
    # One model, 8 shards of 10 s, queue depth 8 (an engine-fed worker): w0 takes them all, w1 has nothing.
    # Without copies w0 runs 5 + 80 = 85. With load_cost 15 (< 80 queued), w1 loads (5) and runs the queue from
    # its back while w0 runs it from the front: they meet in the middle, each shard counted once.
    work = shards("A", *[10] * 8)
    alone = simulate(work, {"A": 5}, gpus=2, in_flight=8)
    helped = simulate(work, {"A": 5}, gpus=2, in_flight=8, load_cost=15)
    assert alone.makespan == 85 and alone.loads == 1
    assert helped.makespan == 45 and helped.loads == 2 and helped.done == 8
    too_small = simulate(work, {"A": 5}, gpus=2, in_flight=8, load_cost=1000)
    assert too_small.makespan == 85


@settings(max_examples=100, deadline=None)
@given(workload, st.integers(1, 6), st.integers(1, 8), st.floats(0, 60))
def test_copies_never_drop_or_duplicate_shards(jobs, gpus, in_flight, load_cost):
    s = [SimShard(f"k{i}", f"m{m}", cost=c, seconds=sec) for i, (m, sec, c) in enumerate(jobs)]
    r = simulate(s, {f"m{i}": 3.0 for i in range(6)}, gpus=gpus, in_flight=in_flight, load_cost=load_cost)
    assert r.done == len(s) and not r.given_up
    assert r.idle_pending_s == 0
    assert r.makespan >= r.lower_bound * (1 - 1e-9)
