"""The run on real local Ray with real tiny models and real Parquet: determinism, worker and driver loss, resume,
and that exactly the changed shards recompute."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import safetensors.torch as st
from _runtime import run_and_kill_a_worker, short_home, write_config

from evalfleet.plan.prepare import prepare
from evalfleet.run.driver import run_shards
from evalfleet.scoring.task_scores import task_scores
from evalfleet.spec.config import load_config
from evalfleet.store.results import ResultStore

pytestmark = pytest.mark.slow
N_SHARDS = 3 * 2 * 3  # 3 models x 2 tasks x (6 items / shard_size 2)
COLUMNS = [
    "shard",
    "task",
    "model",
    "item_id",
    "sample",
    "prompt_hash",
    "output",
    "n_prompt_tokens",
    "n_output_tokens",
    "extracted",
    "score",
    "metrics",
    "error",
]


@pytest.fixture(scope="module")
def env(tmp_path_factory, tiny_models, shared_data):
    base = tmp_path_factory.mktemp("driver")
    home = short_home(base / "home")
    old = os.environ.get("EVALFLEET_HOME")
    os.environ["EVALFLEET_HOME"] = str(home)
    models = {fam: Path(shutil.copytree(p, base / "models" / fam)) for fam, p in tiny_models.items()}
    config = write_config(base / "run.yaml", models, shared_data)
    yield {"base": base, "home": home, "config": config, "models": models}
    if old is None:
        os.environ.pop("EVALFLEET_HOME", None)
    else:
        os.environ["EVALFLEET_HOME"] = old


def run_into(env, results: Path, *, workers: int = 1, shuffle: bool = False, config: Path | None = None):
    cfg = replace(load_config(config or env["config"], results=str(results)), workers=workers)
    store = ResultStore(cfg.results)
    prep = prepare(cfg, store)
    store.save_run_config(cfg)
    shards = list(prep.shards)
    if shuffle:
        random.Random(7).shuffle(shards)
    summary = run_shards(
        shards,
        prep.items,
        store,
        backend=cfg.backend,
        batch_size=cfg.batch_size,
        workers=workers,
        in_flight=cfg.in_flight,
        max_retries=cfg.max_retries,
    )
    return store, summary


def canonical(store: ResultStore) -> list[dict]:
    frame = ResultStore(store.root).read_records().sort_values(["task", "model", "item_id", "sample"])
    frame["metrics"] = [json.dumps(m, sort_keys=True) for m in frame["metrics"]]
    return frame[COLUMNS].astype(object).where(frame[COLUMNS].notna(), None).to_dict("records")


def scores(store: ResultStore):
    return (
        task_scores(ResultStore(store.root).read_records())
        .sort_values(["model", "task", "metric"])
        .reset_index(drop=True)
    )


@pytest.fixture(scope="module")
def clean(env, ray_session):
    store, summary = run_into(env, env["base"] / "clean", workers=1)
    assert summary.run == N_SHARDS and not summary.failed
    return store


def test_three_workers_give_the_records_of_one(env, clean):
    reference = canonical(clean)
    assert len(reference) == 3 * 2 * 6 and len({(r["task"], r["model"], r["item_id"]) for r in reference}) == 36
    three, summary = run_into(env, env["base"] / "three", workers=3)
    assert summary.run == N_SHARDS and not summary.failed
    assert canonical(three) == reference
    assert scores(three).equals(scores(clean))
    assert set(scores(clean)["task"]) == {"gsm8k", "commonsenseqa"}


def test_shuffled_order_and_a_killed_worker_change_nothing(env, clean, ray_session):
    ray = ray_session
    results = env["base"] / "killed"
    killed, store, summary = run_and_kill_a_worker(
        ray, lambda: run_into(env, results, workers=2, shuffle=True), results, lines=2, poll=0.2, wait=240
    )
    assert killed, "the run ended before a worker could be killed"
    assert summary.workers_lost >= 1 and not summary.failed and summary.run == N_SHARDS
    entries = ResultStore(str(results)).manifest()
    assert len(entries) == N_SHARDS == len({e["fingerprint"] for e in entries})
    assert canonical(store) == canonical(clean)
    assert scores(store).equals(scores(clean))
    log = [json.loads(x) for x in next((results / "runs").glob("*.jsonl")).read_text().splitlines()]
    assert any(e["event"] == "shard_retry" for e in log) and log[-1]["event"] == "end"


def test_killed_driver_then_rerun_computes_only_missing_shards(env, clean, ray_session):
    """`evalfleet run` joins the test's Ray cluster as its own driver process; SIGKILL it, run again."""
    results = env["base"] / "driver-killed"
    environ = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    address = ray_session.get_runtime_context().gcs_address
    cmd = [
        sys.executable,
        "-m",
        "evalfleet.cli",
        "run",
        str(env["config"]),
        "--results",
        str(results),
        "--workers",
        "1",
        "--address",
        address,
    ]
    proc = subprocess.Popen(cmd, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    manifest = results / "manifest.jsonl"
    deadline = time.time() + 300
    try:
        while time.time() < deadline and proc.poll() is None:
            if manifest.is_file() and len(manifest.read_text().splitlines()) >= 4:
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    stored = len(ResultStore(str(results)).manifest())
    assert 4 <= stored < N_SHARDS
    again = subprocess.run(cmd, env=environ, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"shards: {N_SHARDS - stored} run, {stored} already stored, 0 failed" in again.stdout
    store = ResultStore(str(results))
    assert len(store.manifest()) == N_SHARDS
    assert canonical(store) == canonical(clean) and scores(store).equals(scores(clean))


def test_exactly_the_changed_shards_recompute(env, clean, tmp_path):
    results = tmp_path / "changed"
    shutil.copytree(clean.root, results)

    def missing(config=None):
        cfg = load_config(config or env["config"], results=str(results))
        store = ResultStore(cfg.results)
        return [s for s in prepare(cfg, store).shards if not store.has(s.fingerprint)]

    assert missing() == []
    # a prompt template: every gsm8k shard of every model, nothing else
    short_home(env["home"], template_suffix=" Think.")
    try:
        changed = missing()
        assert len(changed) == 9 and {s.task.id for s in changed} == {"gsm8k"}
        # a generation parameter (gsm8k stop strings)
        short_home(env["home"], stop=["Question:"])
        assert {(s.task.id, s.index, s.model.id) for s in missing()} == {
            (s.task.id, s.index, s.model.id) for s in changed
        }
    finally:
        short_home(env["home"])
    assert missing() == []
    # a run-config generation cap: every shard
    cap = env["base"] / "cap.yaml"
    cap.write_text(env["config"].read_text().replace("max_new_tokens: 6", "max_new_tokens: 5"))
    assert len(missing(cap)) == N_SHARDS
    # a model's weights: exactly that model's shards, and only those are computed
    weights = env["models"]["phi"] / "model.safetensors"
    tensors = st.load_file(weights)
    name = sorted(tensors)[0]
    tensors[name] = tensors[name] + 0.5
    st.save_file(tensors, weights, metadata={"format": "pt"})
    changed = missing()
    assert len(changed) == 6 and {s.model.id for s in changed} == {"team2--phi"}
    _, summary = run_into(env, results, workers=1)
    assert summary.run == 6 and summary.skipped == N_SHARDS - 6


def test_code_tasks_are_scored_in_cpu_tasks_with_isolation_recorded(
    env, tiny_models, shared_data, tmp_path, ray_session
):
    """HumanEval (SCORE_ON_CPU_TASK): rows come back unscored from the worker, the driver scores them in the sandbox."""
    config = write_config(
        tmp_path / "he.yaml",
        {"llama": tiny_models["llama"]},
        shared_data,
        extra={"tasks": ["humaneval"], "limit": 3, "shard_size": 3, "max_new_tokens": 8},
    )
    store, summary = run_into(env, tmp_path / "he", config=config)
    assert summary.run == 1 and not summary.failed
    records = ResultStore(store.root).read_records()
    assert len(records) == 3 and records["error"].isna().all()
    assert records["isolation"].notna().all()
    # random weights cannot write a function that passes HumanEval's tests
    assert list(records["score"]) == [0.0, 0.0, 0.0] and all(m == {"pass@1": 0.0} for m in records["metrics"])


class CrashesScoringTasks:
    """Unpickles to 0 in a worker actor but kills the process of a Ray task (a scoring task whose worker dies)."""

    def __reduce__(self):
        return eval, (
            "__import__('os')._exit(3) if __import__('ray').get_runtime_context().get_actor_id() is None else 0",
        )


def test_strict_sandbox_reaches_scoring_tasks_and_a_dying_scoring_task_keeps_its_rows(
    env, tiny_models, shared_data, tmp_path, ray_session, monkeypatch
):
    from evalfleet.run import driver
    from evalfleet.sandbox import runner as sandbox

    config = write_config(
        tmp_path / "he.yaml",
        {"llama": tiny_models["llama"]},
        shared_data,
        extra={"tasks": ["humaneval"], "limit": 3, "shard_size": 3, "max_new_tokens": 8, "sandbox": "strict"},
    )
    cfg = load_config(config, results=str(tmp_path / "he"))
    assert cfg.sandbox == "strict"
    store = ResultStore(cfg.results)
    prep = prepare(cfg, store)
    items = {task: dict(by_id) for task, by_id in prep.items.items()}
    (task,) = items
    poisoned = sorted(items[task])[1]
    items[task][poisoned] = replace(
        items[task][poisoned], meta={**items[task][poisoned].meta, "x": CrashesScoringTasks()}
    )
    monkeypatch.setattr(driver, "SCORE_CHUNK", 1)  # one scoring task per row
    summary = run_shards(
        prep.shards, items, store, backend=cfg.backend, batch_size=cfg.batch_size, workers=1, sandbox=cfg.sandbox
    )
    assert summary.run == 1 and not summary.failed
    records = ResultStore(store.root).read_records().sort_values("item_id").reset_index(drop=True)
    assert len(records) == 3 and all(isinstance(o, str) for o in records["output"])  # generations kept
    bad = records[records["item_id"] == poisoned].iloc[0]
    assert bad["error"].startswith("score task:") and bad["score"] == 0.0
    events = [json.loads(line) for line in store.read_text(f"runs/{store.run_id}.jsonl").splitlines()]
    assert sum(e["event"] == "score_retry" for e in events) == driver.SCORE_RETRIES
    assert sum(e["event"] == "score_failed" for e in events) == 1
    good = records[records["item_id"] != poisoned]
    if sandbox.strict_available():
        assert good["error"].isna().all() and set(good["isolation"]) <= {"bwrap+cgroup", "unshare+cgroup"}
    else:  # strict refuses without namespaces and a per-check cgroup: the rows say so
        assert good["error"].str.contains("strict").all()
