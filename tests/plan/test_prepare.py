"""prepare in two steps: tasks and checks first (no checkpoint read), then one ModelReady per model as its
checkpoint is hashed, the digest cache saved as models finish; `prepare` is both at once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _runtime import short_home, write_config

from evalfleet.plan import modelhash
from evalfleet.plan.modelhash import cache_key, checkpoint_files
from evalfleet.plan.prepare import HASH_CACHE, hash_models, plan_tasks, prepare
from evalfleet.spec.config import load_config
from evalfleet.store.results import ResultStore


@pytest.fixture()
def setup(tmp_path, tiny_models, shared_data, monkeypatch):
    monkeypatch.setenv("EVALFLEET_HOME", str(short_home(tmp_path / "home")))
    models = {fam: Path(shutil.copytree(p, tmp_path / "models" / fam)) for fam, p in tiny_models.items()}
    (models["phi"] / "extra.txt").symlink_to(tmp_path / "nowhere")  # passes the checks, cannot be hashed
    extra = {"tasks": ["gsm8k"], "limit": 2, "shard_size": 1}
    path = write_config(tmp_path / "f.yaml", models, shared_data, results=str(tmp_path / "res"), extra=extra)
    cfg = load_config(path)
    return cfg, models


def test_models_arrive_as_hashed_with_the_cache_saved_and_a_broken_one_reported(setup):
    cfg, models = setup
    store = ResultStore(cfg.results)
    planning = plan_tasks(cfg, store)
    assert [m.family for m in planning.models] == ["llama", "qwen2", "phi"] and planning.planned == 6
    n_files = sum(len(checkpoint_files(p)) for p in models.values()) - 1  # the dangling link has no key
    assert planning.uncached() == n_files and store.load_json(HASH_CACHE, None) is None

    def qwen_last(files):  # the stream finishes qwen2's files last
        for n in sorted(range(len(files)), key=lambda n: models["qwen2"] in files[n].parents):
            yield n, modelhash.content_digest(files[n])

    ready = hash_models(planning, store, qwen_last, save_every=0)
    first = next(ready)
    assert first.model.family == "llama" and [s.index for s in first.shards] == [0, 1] and not first.problem
    second = next(ready)  # phi's files are done: it is reported, and the cache on disk holds llama's digests
    assert second.model.family == "phi" and second.shards == []
    assert second.problem.startswith("model team2--phi skipped:")
    saved = json.loads((Path(cfg.results) / HASH_CACHE).read_text())
    assert {cache_key(f) for f in checkpoint_files(models["llama"])} <= set(saved)
    third = next(ready)
    assert third.model.family == "qwen2" and next(ready, None) is None
    assert len(json.loads((Path(cfg.results) / HASH_CACHE).read_text())) >= n_files

    again = prepare(cfg, store)  # everything from the cache; the shards of the valid models in config order
    assert [s.fingerprint for s in again.shards] == [s.fingerprint for s in first.shards + third.shards]
    assert again.problems == [second.problem] and [m.family for m in again.models] == ["llama", "qwen2"]
