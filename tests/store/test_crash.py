"""Crash anywhere: a real `evalfleet run` driver process SIGKILLed at many random moments of a small real run
(a tiny real model, real data, real Ray, real Parquet), rerun after each kill; the final records must equal
a clean run's, nothing lost, nothing duplicated. Then a real run into a small filesystem that fills up.

Kill moments are drawn (seeded: EVALFLEET_CRASH_SEED) from four kinds, equally often, so they cover the
whole life of a driver: a random delay after the start (planning, the config and model-hash cache writes,
joining Ray, starting the worker, computing), right after the manifest grows (between a shard's line and
the next write), as soon as a new temporary shard file appears (between writing a shard and renaming
it), and a random delay after a shard is recorded. Each kill costs a driver start (~7 s on 2 idle cores:
imports, Ray, model load; a run writes its 12 shards in its last ~1.5 s), and each finished episode a
whole run: 24 kills took 7 minutes on this 2-core machine under a load of ~10, so the default is 16
(about 4.5 minutes there, less idle); EVALFLEET_CRASH_KILLS=50 runs the full count.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _runtime import short_home, write_config

from evalfleet.commands.verify import check_files
from evalfleet.store.manifest import parse_entry
from evalfleet.store.results import ResultStore

pytestmark = pytest.mark.slow
KILLS = int(os.environ.get("EVALFLEET_CRASH_KILLS", "16"))
SEED = int(os.environ.get("EVALFLEET_CRASH_SEED", "20261201"))
N_SHARDS = 12  # 1 model x 2 tasks x 6 items, shard_size 1
KINDS = ("delay", "manifest", "temporary", "after-write")
COLUMNS = ["task", "model", "item_id", "sample", "prompt_hash", "output", "extracted", "score", "error"]
"""Compared with the clean run (not the shard fingerprint: it covers the evalfleet source, which may be edited
while a long test runs in a working tree; within one results root the fingerprints are checked to be one plan)."""


@dataclass
class Harness:
    """Starts `evalfleet run` drivers joining the test's Ray cluster, kills them, checks what they leave."""

    base: Path
    config: Path
    env: dict
    address: str
    kills: dict = field(default_factory=lambda: {k: 0 for k in KINDS})
    mid_run: int = 0
    """Kills that left a partly stored run (some shards stored, not all)."""
    mid_write: int = 0
    """Kills that left a temporary shard file behind (the driver died writing a shard)."""

    def command(self, results: Path) -> list[str]:
        run = ["run", str(self.config), "--results", str(results), "--workers", "1", "--address", self.address]
        return [sys.executable, "-m", "evalfleet.cli", *run]

    def start(self, results: Path) -> subprocess.Popen:
        """A driver in its own session (killed with its process group); output to a file, never a full pipe."""
        with open(self.base / "driver.log", "wb") as log:
            return subprocess.Popen(
                self.command(results), env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def complete(self, results: Path) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(results), env=self.env, capture_output=True, text=True, timeout=600)


def manifest_lines(results: Path) -> int:
    path = results / "manifest.jsonl"
    return path.read_bytes().count(b"\n") if path.is_file() else 0


def temporaries(results: Path) -> list[Path]:
    shards = results / "shards"
    return [p for p in shards.rglob("*.tmp-*")] if shards.is_dir() else []


def wait_for(proc: subprocess.Popen, condition, timeout: float = 120.0) -> None:
    """Poll `condition()` every few milliseconds until it holds or the driver ends."""
    deadline = time.time() + timeout
    while proc.poll() is None and time.time() < deadline and not condition():
        time.sleep(0.003)


def kill_at_random(h: Harness, results: Path, rng: random.Random, kind: str) -> bool:
    """Start a driver, kill it at a random moment of `kind`; False when it finished first."""
    before, old = manifest_lines(results), set(temporaries(results))
    proc = h.start(results)
    try:
        if kind == "delay":
            wait_for(proc, lambda: False, timeout=rng.uniform(0.5, 12.0))
        elif kind == "manifest":
            wait_for(proc, lambda: manifest_lines(results) > before)
        elif kind == "temporary":
            wait_for(proc, lambda: bool(set(temporaries(results)) - old))
        else:
            wait_for(proc, lambda: manifest_lines(results) > before)
            wait_for(proc, lambda: False, timeout=rng.uniform(0.0, 1.5))
        finished = proc.poll() is not None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    if finished:
        assert proc.returncode == 0, (h.base / "driver.log").read_text()[-3000:]
        return False
    h.kills[kind] += 1
    h.mid_run += 0 < manifest_lines(results) < N_SHARDS
    h.mid_write += bool(set(temporaries(results)) - old)
    return True


def check_after_kill(results: Path) -> None:
    """What a kill may leave: never a damaged manifest, never a shard listed twice, every listed shard intact."""
    if not (results / "manifest.jsonl").is_file():
        return
    store = ResultStore(str(results))
    lines = (results / "manifest.jsonl").read_text().splitlines()
    fingerprints = [e["fingerprint"] for e in map(parse_entry, lines) if e]  # a torn last line is skipped
    assert len(fingerprints) == len(set(fingerprints)), "a shard was recorded twice"
    store.read_records()  # every listed shard reads in full, page checksums verified (raises otherwise)


def canonical(results: Path) -> list[dict]:
    frame = ResultStore(str(results)).read_records().sort_values(["task", "model", "item_id", "sample"])
    return frame[COLUMNS].astype(object).where(frame[COLUMNS].notna(), None).to_dict("records")


def check_complete(results: Path, reference: list[dict]) -> None:
    """A finished run after kills: the clean run's records exactly, each shard once, the files consistent."""
    store = ResultStore(str(results))
    entries = store.manifest()
    plans = "more shards than planned: two plans in one root (was the evalfleet source edited during the test?)"
    assert len(entries) == N_SHARDS == len({e["fingerprint"] for e in entries}), plans
    assert canonical(results) == reference
    assert all(store.has(e["fingerprint"]) for e in entries) and check_files(store) == []
    assert not (results / "quarantine").exists()  # a kill never damages a file: nothing to set aside


@pytest.fixture(scope="module")
def harness(tmp_path_factory, tiny_models, shared_data, ray_session) -> Harness:
    base = tmp_path_factory.mktemp("crash")
    home = short_home(base / "home")
    extra = {"shard_size": 1}
    config = write_config(base / "run.yaml", {"llama": tiny_models["llama"]}, shared_data, extra=extra)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | {"EVALFLEET_HOME": str(home)}
    return Harness(base, config, env, ray_session.get_runtime_context().gcs_address)


@pytest.fixture(scope="module")
def reference(harness) -> list[dict]:
    clean = harness.base / "clean"
    done = harness.complete(clean)
    assert done.returncode == 0 and f"shards: {N_SHARDS} run" in done.stdout, done.stdout + done.stderr
    return canonical(clean)


def test_killed_anywhere_then_rerun_gives_the_clean_runs_records(harness, reference):
    rng = random.Random(SEED)
    kinds = [KINDS[i % len(KINDS)] for i in range(KILLS)]
    rng.shuffle(kinds)  # every kind equally often, in random order
    episodes, results = 0, None
    while kinds:
        if results is None:
            episodes += 1
            results = harness.base / f"episode-{episodes}"
        if kill_at_random(harness, results, rng, kinds[-1]):
            kinds.pop()
            check_after_kill(results)
        else:  # the run finished before the kill: this episode is complete
            check_complete(results, reference)
            results = None
    if results is not None:
        done = harness.complete(results)
        assert done.returncode == 0, done.stdout + done.stderr
        check_complete(results, reference)
    stats = f"seed {SEED}: {harness.kills} kills over {episodes} episodes; {harness.mid_run} mid-run"
    print(f"{stats}, {harness.mid_write} mid-write")
    assert sum(harness.kills.values()) == KILLS and harness.mid_run >= KILLS // 4, stats
    assert harness.mid_write >= 1, f"no kill landed while a shard file was being written ({stats})"


def test_a_run_into_a_full_disk_stops_with_one_error_and_the_next_run_resumes(harness, reference, tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'mount failed'}): needs root in a mount ns")
    try:
        sizes = [p.stat().st_size for p in (harness.base / "clean" / "shards").rglob("*.parquet")]
        room = 4 * 4096 * (1 + math.ceil(sum(sizes) / len(sizes) / 4096))  # run.yaml, cache, log: about 4 shards
        ballast = mnt / "ballast"
        ballast.write_bytes(b"x" * (os.statvfs(mnt).f_bavail * 4096 - room))
        results = mnt / "results"
        first = harness.complete(results)
        assert first.returncode == 2 and "Traceback" not in first.stderr, first.stdout + first.stderr
        error = first.stderr.strip().splitlines()[-1]
        assert error.startswith(f"evalfleet: error: {results}/") and "No space left on device" in error
        stored = ResultStore(str(results)).manifest()
        assert 0 < len(stored) < N_SHARDS
        check_after_kill(results)
        ballast.unlink()
        second = harness.complete(results)
        assert second.returncode == 0, second.stdout + second.stderr
        assert f"shards: {N_SHARDS - len(stored)} run, {len(stored)} already stored, 0 failed" in second.stdout
        check_complete(results, reference)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
    shutil.rmtree(mnt, ignore_errors=True)
