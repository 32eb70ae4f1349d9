"""verify --ray on a real local Ray: every (task, model) group a Ray task; the same report as one process on a
store with a tampered score, damaged and missing files; a group whose task fails on every attempt reported as not
verified; a root a node cannot read a clear error; an s3:// root (moto_server) with an embedded Ray."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from _s3 import filesystem, moto_server, root_uri
from _verify_store import damaged_store, verify_args, write_raising, write_shards, write_tampered

from evalfleet.commands import verify
from evalfleet.errors import EvalfleetError

pytestmark = pytest.mark.slow


def test_ray_reports_exactly_what_one_process_reports(tmp_path, shared_data, ray_session, capsys):
    damaged_store(tmp_path, shared_data)
    outs = []
    for options in ({"jobs": 1}, {"ray": ""}):  # "": the session's Ray (else RAY_ADDRESS, else an embedded one)
        status = verify.main(verify_args(tmp_path, **options))
        captured = capsys.readouterr()
        outs.append((status, captured.out))
        assert "verify: 2/2 groups" in captured.err
    assert outs[0] == outs[1]
    status, out = outs[1]
    assert status == 1
    assert "gsm8k t--llama #1 (shards/gsm8k/t--llama/fp1.parquet): truncated: " in out
    assert "gsm8k t--llama #2 (shards/gsm8k/t--llama/fp2.parquet): page checksum failed: " in out
    assert "gsm8k t--llama #3 (shards/gsm8k/t--llama/fp3.parquet): file missing" in out
    assert "re-scoring: gsm8k u--llama item 0001 sample 0: score 1.0 recorded, 0.0 now" in out
    assert "verified 7 shards, 8 rows re-scored: 3 file problems, 2 differences" in out


def test_a_group_whose_task_fails_on_every_attempt_is_reported_not_verified(tmp_path, shared_data, ray_session, capsys):
    store = write_shards(tmp_path, shared_data, 1)
    write_raising(store)  # gsm8k's extractor raises on one of u--llama's rows, on every node
    status = verify.main(verify_args(tmp_path, ray=""))
    out = capsys.readouterr().out
    assert status == 1
    assert (
        "not verified: gsm8k u--llama: AttributeError: 'float' object has no attribute 'split' (after 4 attempts)"
        in out
    )
    assert "verified 2 shards, 2 rows re-scored: 0 file problems, 0 differences, 1 groups not verified" in out


def test_a_root_the_nodes_cannot_read_is_a_clear_error(tmp_path, shared_data, ray_session):
    """The driver reads the manifest; the tasks are sent a root their node does not have (as a local path on a
    multi-node cluster would be): one error naming the node and what to do, not every shard reported missing."""
    store = write_shards(tmp_path / "here", shared_data, 2)
    elsewhere = str(tmp_path / "not-on-this-node")
    progress = verify.Progress(1)
    with pytest.raises(EvalfleetError, match=r"not readable on the Ray node .+ \(no such directory\)") as raised:
        verify._on_ray(elsewhere, store.groups(), str(shared_data), False, progress=progress)
    assert str(raised.value).startswith(f"{elsewhere}: ") and "every node can read" in str(raised.value)


def test_an_s3_root_verifies_on_an_embedded_ray(tmp_path, shared_data, monkeypatch):
    """`evalfleet verify s3://... --ray` (an embedded Ray, its workers reading the object store): the report of
    `--jobs 1`, a tampered score and a deleted object among it."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    with moto_server() as endpoint:
        root = root_uri(endpoint, "verify", "final")
        store = write_shards(root, shared_data, 2)
        write_tampered(store)
        filesystem(endpoint).delete_file(store.path(store.manifest()[0]["path"]))
        outs = []
        for options in (["--jobs", "1"], ["--ray"]):
            command = [sys.executable, "-m", "evalfleet", "verify", root, *options]
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
            assert "verify: 2/2 groups" in done.stderr, done.stderr
            outs.append((done.returncode, done.stdout))
    assert outs[0] == outs[1]
    status, out = outs[1]
    assert status == 1 and "(shards/gsm8k/t--llama/fp0.parquet): file missing" in out
    assert "verified 4 shards, 6 rows re-scored: 1 file problems, 2 differences" in out
