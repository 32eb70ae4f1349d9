"""A real `evalfleet run` driver on an s3:// results root (moto_server, a real S3-protocol server on localhost)
SIGKILLed once some shards are recorded, then run again: only the missing shards run, each shard is listed
once, the killed driver's lease does not block the resume, and score and verify on the s3 root give the
scores of an uninterrupted run of the same config into a local root (tiny real model, real data, real Ray).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.fs as pafs
import pytest
from _runtime import short_home, write_config
from _s3 import filesystem, moto_server

from evalfleet.store.lease import is_stale, read_lease
from evalfleet.store.manifest import MANIFEST_D, parse_entry
from evalfleet.store.results import ResultStore

pytestmark = pytest.mark.slow
N_SHARDS = 24  # 1 model x 2 tasks x 12 items, shard_size 1
SUMMARY = re.compile(r"shards: (\d+) run, (\d+) already stored, (\d+) failed")
SCORE_COLUMNS = ["team", "model", "task", "metric", "value"]


@pytest.fixture(scope="module")
def s3():
    """(endpoint, S3FileSystem) of a moto_server, with the bucket `resume`."""
    with moto_server() as endpoint:
        fs = filesystem(endpoint)
        fs.create_dir("resume")
        yield endpoint, fs


def manifest_objects(fs: pafs.S3FileSystem) -> list[str]:
    selector = pafs.FileSelector(f"resume/root/{MANIFEST_D}", allow_not_found=True)
    return sorted(i.path for i in fs.get_file_info(selector) if i.path.endswith(".jsonl"))


def evalfleet(env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "evalfleet", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def scores(report: Path) -> pd.DataFrame:
    frame = pd.read_csv(report / "scores.csv")[SCORE_COLUMNS]
    return frame.sort_values(SCORE_COLUMNS[:4]).reset_index(drop=True)


def test_a_killed_driver_on_an_object_store_root_resumes_with_only_the_missing_shards(
    s3, tmp_path, tiny_models, shared_data, ray_session, monkeypatch
):
    endpoint, fs = s3
    root = f"s3://resume/root?endpoint_override={endpoint}&scheme=http&region=us-east-1"
    home = short_home(tmp_path / "home")
    extra = {"shard_size": 1, "limit": 12}
    config = write_config(tmp_path / "run.yaml", {"llama": tiny_models["llama"]}, shared_data, extra=extra)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | {"EVALFLEET_HOME": str(home)}
    env |= {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    address = ray_session.get_runtime_context().gcs_address
    run = ["run", str(config), "--workers", "1", "--address", address]

    # the reference: the same config run uninterrupted into a local root
    local = tmp_path / "local"
    clean = evalfleet(env, *run, "--results", str(local))
    assert clean.returncode == 0 and f"shards: {N_SHARDS} run, 0 already stored, 0 failed" in clean.stdout, (
        clean.stdout + clean.stderr
    )

    # a driver on the s3 root, SIGKILLed (with its process group) once a few shards are recorded
    log = tmp_path / "driver.log"
    with open(log, "wb") as out:
        command = [sys.executable, "-m", "evalfleet", *run, "--results", root]
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 300
        while proc.poll() is None and time.time() < deadline and len(manifest_objects(fs)) < 3:
            time.sleep(0.005)
        assert proc.poll() is None, "the driver ended before it could be killed:\n" + log.read_text()[-3000:]
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    recorded = len(manifest_objects(fs))
    assert 3 <= recorded < N_SHARDS, f"{recorded} shards recorded before the kill"

    # its lease is left behind, naming a process that is gone on this host: stale at once, not after STALE_S
    lease = read_lease(ResultStore(root))
    assert lease is not None and lease.pid == proc.pid and is_stale(lease, stale_s=3600)

    started = time.time()
    resumed = evalfleet(env, *run, "--results", root)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert time.time() - started < 300  # not held up by the dead driver's lease
    ran, stored, failed = map(int, SUMMARY.search(resumed.stdout).groups())
    assert (ran, stored, failed) == (N_SHARDS - recorded, recorded, 0), resumed.stdout

    # every shard recorded exactly once: one manifest.d/ object each, one line each, every shard file intact
    objects = manifest_objects(fs)
    lines = [line for path in objects for line in fs.open_input_stream(path).read().decode().splitlines()]
    fingerprints = [parse_entry(line)["fingerprint"] for line in lines]
    assert len(objects) == len(fingerprints) == len(set(fingerprints)) == N_SHARDS
    store = ResultStore(root)
    assert not store.appends and store.read_text("manifest.jsonl") is None
    assert {e["fingerprint"] for e in store.manifest()} == {
        e["fingerprint"] for e in ResultStore(str(local)).manifest()
    }
    assert read_lease(store) is None  # the finished driver released its lease

    # score and verify on the s3 root: the uninterrupted local run's scores
    for results, report in ((root, tmp_path / "s3-report"), (str(local), tmp_path / "local-report")):
        done = evalfleet(env, "score", results, "--out", str(report))
        assert done.returncode == 0, done.stdout + done.stderr
    pd.testing.assert_frame_equal(scores(tmp_path / "s3-report"), scores(tmp_path / "local-report"))
    verify = evalfleet(env, "verify", root, "--data-dir", str(shared_data))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"verified {N_SHARDS} shards" in verify.stdout and "0 file problems" in verify.stdout, verify.stdout
