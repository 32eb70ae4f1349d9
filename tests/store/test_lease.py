"""One writer per results root: a second `evalfleet run` refuses naming the first driver; a finished, killed or
silent (stale) driver's lease is taken over."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import yaml

from evalfleet.store import lease
from evalfleet.store.results import ResultStore

HOLDER = """
import sys, time
from evalfleet.store import lease
from evalfleet.store.results import ResultStore
held = lease.hold(ResultStore(sys.argv[1]), heartbeat_s=0.2)
print(held.run_id, flush=True)
time.sleep(float(sys.argv[2]))
"""


def config(tmp_path: Path, results: Path) -> Path:
    path = tmp_path / "finals.yaml"
    subs = [{"team": "A", "models": [{"path": str(tmp_path / "no-such-checkpoint"), "family": "phi-2"}]}]
    cfg = {"edition": "edge-llm-2024", "track": "compression", "submissions": subs, "results": str(results)}
    path.write_text(yaml.safe_dump({**cfg, "tasks": ["gsm8k"], "data_dir": str(tmp_path)}))
    return path


def start_holder(root: Path, seconds: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(root), str(seconds)], stdout=subprocess.PIPE, text=True)
    run_id = proc.stdout.readline().strip()
    assert run_id, "the holder did not take the lease"
    return proc, run_id


def second_run(cfg: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "evalfleet", "run", str(cfg)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_a_second_driver_refuses_naming_the_first_then_proceeds_once_it_ended(tmp_path):
    root = tmp_path / "results"
    cfg = config(tmp_path, root)
    first, run_id = start_holder(root, 60)
    try:
        time.sleep(0.5)  # a heartbeat or two
        held = json.loads((root / "lease.json").read_text())
        assert held["pid"] == first.pid and held["heartbeat"] > held["started"]
        done = second_run(cfg)
        assert done.returncode == 2, done.stderr
        assert f"pid {first.pid}" in done.stderr and socket.gethostname() in done.stderr and run_id in done.stderr
        assert "Traceback" not in done.stderr
    finally:
        first.kill()
        first.wait()
    # killed without releasing: its process is gone on this host, so the lease is taken over at once
    assert json.loads((root / "lease.json").read_text())["pid"] == first.pid
    done = second_run(cfg)
    assert "another driver" not in done.stderr and not (root / "lease.json").exists(), done.stderr


def test_a_finished_driver_releases_its_lease(tmp_path):
    root = tmp_path / "results"
    proc, _ = start_holder(root, 0.1)
    assert proc.wait(timeout=30) == 0
    assert not (root / "lease.json").exists()
    proc, _ = start_holder(root, 0.1)
    assert proc.wait(timeout=30) == 0


def test_a_silent_lease_of_another_host_goes_stale(tmp_path):
    store = ResultStore(str(tmp_path))
    other = replace(lease.mine("20250101T000000Z-aaaaaa"), host="node-elsewhere", pid=1)
    store.save_json(lease.LEASE, asdict(other))
    with pytest.raises(lease.LeaseHeldError, match="run 20250101T000000Z-aaaaaa .* on host node-elsewhere, pid 1"):
        lease.acquire(store, "mine")
    store.save_json(lease.LEASE, {**asdict(other), "heartbeat": time.time() - lease.STALE_S - 1})
    assert lease.acquire(store, "mine").run_id == "mine"


def test_heartbeat_refreshes_and_a_killed_holder_stops_it(tmp_path):
    proc, _ = start_holder(tmp_path, 60)
    try:
        first = json.loads((tmp_path / "lease.json").read_text())["heartbeat"]
        time.sleep(0.6)
        assert json.loads((tmp_path / "lease.json").read_text())["heartbeat"] > first
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert lease.is_stale(lease.read_lease(ResultStore(str(tmp_path))), lease.STALE_S)
