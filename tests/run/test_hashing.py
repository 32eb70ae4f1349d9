"""Checkpoint hashing as Ray tasks (run/hashing.py) on a real local Ray: the digests are the files' sha256,
the fingerprints those of the local hasher, the cache written by the driver only; a run joining a cluster
plans with them. The tests that start Ray are marked slow, as every Ray test of the suite is."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from _runtime import short_home, write_config

from evalfleet.plan.modelhash import cache_key, checkpoint_files, fingerprint, fingerprints
from evalfleet.run import hashing
from evalfleet.run.hashing import batches, ray_hasher, ray_stream


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_batches_pack_small_files_and_keep_large_ones_alone(tmp_path):
    sizes = [10, 10, 10, 200, 10, 10, 90, 0]
    files = []
    for n, size in enumerate(sizes):
        files.append(tmp_path / f"f{n}")
        files[-1].write_bytes(b"x" * size)
    files.append(tmp_path / "missing")  # unreadable: counted as empty, the task answers None for it
    assert batches(files, limit=100) == [[0, 1, 2], [3], [4, 5], [6, 7, 8]]
    assert batches([], limit=100) == []


@pytest.mark.slow
def test_ray_digests_are_the_files_sha256(ray_session, tmp_path, monkeypatch):
    monkeypatch.setattr(hashing, "BATCH_BYTES", 1 << 20)  # several tasks: files of 0.5-3 MiB
    files = []
    for n, size in enumerate([0, 1, 3 << 20, 1 << 19, 1 << 19, 5000, 2 << 20]):
        files.append(tmp_path / f"part-{n}.bin")
        files[-1].write_bytes(bytes((n * 7 + i) % 251 for i in range(size)))
    gone = tmp_path / "gone.bin"
    assert ray_hasher([*files, gone]) == [sha256(f) for f in files] + [None]
    streamed = list(ray_stream([*files, gone]))  # each file once, as its task finishes
    assert sorted(n for n, _ in streamed) == list(range(len(files) + 1))
    assert dict(streamed) == dict(enumerate([sha256(f) for f in files] + [None]))


@pytest.mark.slow
def test_fingerprints_on_ray_equal_the_local_ones_and_fill_the_cache(ray_session, tiny_models, tmp_path):
    paths = [*tiny_models.values(), tmp_path / "nope"]
    cache: dict = {}
    got = fingerprints(paths, cache, hasher=ray_hasher)
    assert {p: got[str(p)] for p in tiny_models.values()} == {p: fingerprint(p) for p in tiny_models.values()}
    assert "not found" in str(got[str(tmp_path / "nope")])
    files = [f for p in tiny_models.values() for f in checkpoint_files(p)]
    assert cache == {cache_key(f): sha256(f) for f in files}


@pytest.mark.slow
def test_a_run_joining_a_cluster_hashes_its_checkpoints_on_ray(
    ray_session, tiny_models, shared_data, tmp_path, monkeypatch
):
    """`run(address=...)` joins first (here: the session's Ray, already connected) and hashes with ray_stream:
    the store's digest cache holds each checkpoint file's sha256, and the run records its shards."""
    from evalfleet.pipeline import run
    from evalfleet.spec.config import load_config
    from evalfleet.store.results import ResultStore

    monkeypatch.setenv("EVALFLEET_HOME", str(short_home(tmp_path / "home")))
    asked = []
    monkeypatch.setattr(hashing, "ray_stream", lambda files: asked.extend(files) or ray_stream(files))
    results = tmp_path / "res"
    config = write_config(
        tmp_path / "run.yaml",
        {"llama": tiny_models["llama"]},
        shared_data,
        results=str(results),
        extra={"tasks": ["gsm8k"], "limit": 2},
    )
    assert run(load_config(config), address="auto", progress=False) == 0
    files = checkpoint_files(tiny_models["llama"])
    cache = json.loads((results / ".cache" / "model-hashes.json").read_text())
    assert {k: v for k, v in cache.items() if k in {cache_key(f) for f in files}} == {
        cache_key(f): sha256(f) for f in files
    }
    assert sorted(asked) == sorted(files)  # every checkpoint file went to the Ray tasks
    assert len(ResultStore(str(results)).read_records()) == 2
