"""A run starts each model's shards as soon as that model's checkpoint is hashed (real Ray, real tiny models):
the first model is done while the second is still being hashed, the store equals a run that hashed everything
first, a checkpoint found unreadable while hashing is skipped and reported, and a resumed run starts no worker."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest
from _runtime import short_home, write_config

from evalfleet.pipeline import run
from evalfleet.plan.modelhash import thread_stream
from evalfleet.spec.config import load_config
from evalfleet.store.results import ResultStore

pytestmark = pytest.mark.slow
COLUMNS = ["shard", "task", "model", "item_id", "prompt_hash", "output", "extracted", "score", "error"]


def held_back(slow_dir: Path, manifest: Path, lines: int, wait: float = 45.0):
    """A DigestStream (threads) that holds back the digests of `slow_dir`'s files until `manifest` lists `lines`
    shards (the other model's, run meanwhile) or `wait` seconds have passed: a slow checkpoint."""
    inner = thread_stream()

    def stream(files):
        later = []
        for n, digest in inner(files):
            if slow_dir in files[n].parents:
                later.append((n, digest))
            else:
                yield n, digest
        deadline = time.time() + wait
        while time.time() < deadline and not (manifest.is_file() and len(manifest.read_text().splitlines()) >= lines):
            time.sleep(0.1)
        yield from later

    return stream


def events(results: Path) -> list[dict]:
    (log,) = sorted((results / "runs").glob("*.jsonl"))[-1:]
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_the_first_model_runs_while_the_second_is_hashed_and_the_store_is_a_normal_runs(
    tmp_path, tiny_models, shared_data, ray_session, monkeypatch, capsys
):
    monkeypatch.setenv("EVALFLEET_HOME", str(short_home(tmp_path / "home")))
    models = {f: Path(shutil.copytree(tiny_models[f], tmp_path / "models" / f)) for f in ("llama", "qwen2", "phi")}
    (models["phi"] / "extra.txt").symlink_to(tmp_path / "nowhere")  # passes the checks, unreadable when hashed
    extra = {"tasks": ["gsm8k"], "limit": 2, "shard_size": 1, "max_new_tokens": 4, "workers": 1}
    cfg = load_config(write_config(tmp_path / "f.yaml", models, shared_data, extra=extra))
    streamed, normal = tmp_path / "streamed", tmp_path / "normal"

    slow = held_back(models["qwen2"], streamed / "manifest.jsonl", lines=2)
    assert run(replace(cfg, results=str(streamed)), progress=False, stream=slow) == 1  # phi skipped
    captured = capsys.readouterr()
    assert "model team2--phi skipped:" in captured.err and "extra.txt" in captured.err
    assert "3 models x 1 tasks = 6 shards" in captured.out and "team0--llama: 2 shards to run: 2 new" in captured.out
    assert "shards: 4 run, 0 already stored, 0 failed" in captured.out and "skipped (1):" in captured.out
    log = events(streamed)
    kinds = [(e["event"], e.get("model")) for e in log]
    llama_done = [i for i, k in enumerate(kinds) if k == ("shard_done", "team0--llama")]
    qwen_ready = kinds.index(("model_ready", "team1--qwen2"))
    assert len(llama_done) == 2 and max(llama_done) < qwen_ready  # llama ran while qwen2 was still hashed
    assert kinds.index(("model_ready", "team0--llama")) < min(llama_done)
    assert {(e["model"], e["shards"], e["to_run"]) for e in log if e["event"] == "model_ready"} == {
        ("team0--llama", 2, 2),
        ("team1--qwen2", 2, 2),
    }
    assert ("model_skipped", "team2--phi") in kinds

    assert run(replace(cfg, results=str(normal)), progress=False) == 1
    capsys.readouterr()
    got, want = ResultStore(str(streamed)), ResultStore(str(normal))
    assert {e["fingerprint"] for e in got.manifest()} == {e["fingerprint"] for e in want.manifest()}
    assert len(got.manifest()) == 4

    def rows(store):
        return store.read_records()[COLUMNS].sort_values(["model", "item_id"]).reset_index(drop=True)

    assert rows(got).equals(rows(want))

    assert run(replace(cfg, results=str(streamed)), progress=False) == 1  # resumed: everything stored
    assert "shards: 0 run, 4 already stored, 0 failed" in capsys.readouterr().out
    again = events(streamed)
    assert next(e for e in log if e["event"] == "start")["planned"] == 6
    assert next(e for e in again if e["event"] == "start")["workers"] == 0
    assert next(e for e in again if e["event"] == "end")["workers_started"] == 0
    assert all(e["to_run"] == 0 for e in again if e["event"] == "model_ready")
