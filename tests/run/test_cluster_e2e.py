"""End to end on a real multi-node Ray cluster on this machine (clusters/dev/): a head and two worker
nodes, each declaring one GPU, token authentication on.

As from a laptop, a separate client process runs `ray job submit --working-dir <checkout>` with a
tiny config (tiny real checkpoints, real benchmark items, short generations); the results root is a
shared directory (the stand-in for NFS). The recorded answers and the scores must equal those of the
same config run with the embedded Ray. Then: a worker node's raylet is killed mid-run (the run
finishes on the remaining node, no shard lost or duplicated), and the driver is killed mid-run (a
second submission computes only the missing shards).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from _runtime import short_home, write_config

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "clusters" / "dev"
RUN_TIMEOUT = 420


def free_port(start: int) -> int:
    """The first port from `start` that nobody listens on (checked on all interfaces)."""
    for port in range(start, start + 200):
        with socket.socket() as s:
            try:
                s.bind(("", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port from {start}")


class DevCluster:
    """clusters/dev/start.sh and stop.sh, in a private state directory with free ports."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="efc-", dir="/tmp"))  # short: Ray's Unix sockets live under it
        self.gcs = free_port(6390)
        self.dashboard = free_port(8275)
        self.client_port = free_port(20290)
        self.env = {
            **os.environ,
            "EVALFLEET_DEV_DIR": str(self.dir),
            "EVALFLEET_DEV_GCS_PORT": str(self.gcs),
            "EVALFLEET_DEV_DASHBOARD_PORT": str(self.dashboard),
            "EVALFLEET_DEV_CLIENT_PORT": str(self.client_port),
            "EVALFLEET_DEV_WAIT_S": "400",
            # Notice a lost node within seconds instead of Ray's default ~30 s.
            "RAY_health_check_period_ms": "1000",
            "RAY_health_check_timeout_ms": "2000",
            "RAY_health_check_failure_threshold": "3",
        }
        for name in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE"):
            self.env.pop(name, None)

    def start(self) -> None:
        proc = subprocess.run(
            ["bash", str(DEV / "start.sh")], env=self.env, capture_output=True, text=True, timeout=450
        )
        if proc.returncode != 0:
            logs = "".join(
                f"\n--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted((self.dir / "logs").glob("*.log"))
            )
            self.stop()
            pytest.fail(f"dev cluster did not start:\n{proc.stdout}\n{proc.stderr}{logs}")

    def stop(self) -> None:
        subprocess.run(["bash", str(DEV / "stop.sh")], env=self.env, capture_output=True, text=True, timeout=120)
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def token(self) -> str:
        return (self.dir / "auth_token").read_text().strip()

    def client_env(self) -> dict:
        """What a laptop sets (clusters/README.md): token mode, the token file, the job API address."""
        env = {k: v for k, v in self.env.items() if not k.startswith(("EVALFLEET_DEV", "RAY_health"))}
        env.update(
            RAY_AUTH_MODE="token",
            RAY_AUTH_TOKEN_PATH=str(self.dir / "auth_token"),
            RAY_ADDRESS=f"http://127.0.0.1:{self.dashboard}",
        )
        return env

    def jobs(self):
        from ray.job_submission import JobSubmissionClient

        return JobSubmissionClient(
            f"http://127.0.0.1:{self.dashboard}", headers={"Authorization": f"Bearer {self.token}"}
        )

    def alive_gpu_nodes(self) -> int:
        script = (
            "import sys, ray; ray.init(address=sys.argv[1], log_to_driver=False); "
            "print(sum(1 for n in ray.nodes() if n['Alive'] and n['Resources'].get('GPU')))"
        )
        env = {**self.client_env(), "RAY_ADDRESS": f"127.0.0.1:{self.gcs}"}
        out = subprocess.run(
            [sys.executable, "-c", script, f"127.0.0.1:{self.gcs}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return int(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def cluster():
    c = DevCluster()
    c.start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def shared(tiny_models, shared_data, tmp_path_factory):
    """The 'NFS' every node sees: checkpoints and result roots; plus the laptop's checkout with the config."""
    base = tmp_path_factory.mktemp("nfs")
    models = {}
    for family, path in tiny_models.items():
        models[family] = base / "checkpoints" / family
        shutil.copytree(path, models[family])
    checkout = tmp_path_factory.mktemp("laptop") / "evalfleet"
    checkout.mkdir()
    shutil.copytree(ROOT / "evalfleet", checkout / "evalfleet", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "scoring", checkout / "scoring")
    shutil.copy(ROOT / "pyproject.toml", checkout)
    (checkout / "clusters").mkdir()
    shutil.copy(ROOT / "clusters" / "runtime_env.yaml", checkout / "clusters")
    short_home(checkout)  # zero-shot gsm8k + commonsenseqa specs in the checkout's tasks/
    write_config(
        checkout / "finals.yaml",
        models,
        shared_data,
        results=str(base / "results"),
        extra={"shard_size": 1, "limit": 8, "max_new_tokens": 8},
    )
    return {"base": base, "checkout": checkout, "config": "finals.yaml"}


@pytest.fixture(scope="module")
def reference(shared):
    """The same config with the embedded Ray (no address), run from the same checkout."""
    root = shared["base"] / "results-embedded"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["RAY_TMPDIR"] = tempfile.mkdtemp(prefix="efr-", dir="/tmp")  # never join another Ray on this machine
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "evalfleet", "run", shared["config"], "--results", str(root)],
            cwd=shared["checkout"],
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
    finally:
        shutil.rmtree(env["RAY_TMPDIR"], ignore_errors=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root


def submit(cluster, shared, results: Path, job_id: str, *, wait: bool) -> subprocess.CompletedProcess:
    """`ray job submit` from a separate client process, as from a laptop."""
    cmd = [
        "ray",
        "job",
        "submit",
        "--submission-id",
        job_id,
        "--working-dir",
        str(shared["checkout"]),
        "--runtime-env",
        str(shared["checkout"] / "clusters" / "runtime_env.yaml"),
    ]
    if not wait:
        cmd.append("--no-wait")
    cmd += ["--", "python", "-m", "evalfleet", "run", shared["config"], "--results", str(results)]
    for _ in range(5):
        proc = subprocess.run(cmd, env=cluster.client_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT)
        if "No available agent to submit job" not in proc.stderr:  # the head's job agent is still starting
            return proc
        time.sleep(10)
    return proc


def wait_status(cluster, job_id: str, timeout: float = RUN_TIMEOUT) -> str:
    client = cluster.jobs()
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = str(client.get_job_status(job_id)).split(".")[-1]
        if status in ("SUCCEEDED", "FAILED", "STOPPED"):
            return status
        time.sleep(1)
    raise AssertionError(f"job {job_id} still running after {timeout} s:\n{client.get_job_logs(job_id)[-3000:]}")


def wait_manifest(root: Path, n: int, timeout: float = 240) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        lines = manifest(root)
        if len(lines) >= n:
            return len(lines)
        time.sleep(0.2)
    raise AssertionError(f"fewer than {n} shards recorded in {root} after {timeout} s")


def manifest(root: Path) -> list[dict]:
    path = root / "manifest.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def answers(root: Path):
    from evalfleet.store.results import ResultStore

    df = ResultStore(str(root)).read_records()
    cols = ["task", "model", "item_id", "sample", "prompt_hash", "output", "extracted", "score", "error"]
    return df[cols].sort_values(["task", "model", "item_id", "sample"]).reset_index(drop=True)


def scores(root: Path, checkout: Path):
    """evalfleet.scoring.task_scores.task_scores over the recorded rows, with the checkout's task specs."""
    script = (
        "import sys; from evalfleet.store.results import ResultStore; "
        "from evalfleet.scoring.task_scores import task_scores; "
        "print(task_scores(ResultStore(sys.argv[1]).read_records()).sort_values(['model','task','metric'])"
        ".to_json(orient='records'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(root)], cwd=checkout, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def check_complete(root: Path, reference: Path) -> list[dict]:
    """Every shard recorded exactly once (manifest and files), the same set as the reference run."""
    lines = manifest(root)
    fps = [x["fingerprint"] for x in lines]
    assert len(fps) == len(set(fps)), "a shard was recorded twice"
    ref = {x["fingerprint"] for x in manifest(reference)}
    assert set(fps) == ref
    files = list((root / "shards").rglob("*.parquet"))
    assert sorted(f.stem for f in files) == sorted(ref)
    return lines


def test_ray_job_submit_matches_embedded_run(cluster, shared, reference):
    results = shared["base"] / "results-submitted"
    proc = submit(cluster, shared, results, "evalfleet-clean", wait=True)  # follows the driver's log to the end
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert wait_status(cluster, "evalfleet-clean") == "SUCCEEDED"
    logs = cluster.jobs().get_job_logs("evalfleet-clean")
    assert "shards:" in logs and "0 failed" in logs, logs[-2000:]
    check_complete(results, reference)
    assert answers(results).equals(answers(reference))
    assert scores(results, shared["checkout"]) == scores(reference, shared["checkout"])
    # `evalfleet score` (the edition's views) gives the same tables from both result roots.
    reports = []
    for root in (results, reference):
        out = root.parent / f"report-{root.name}"
        proc = subprocess.run(
            [sys.executable, "-m", "evalfleet", "score", str(root), "--out", str(out)],
            cwd=shared["checkout"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        reports.append(out)
    for name in ("scores.csv", "averaged-three-model.csv", "rank-points.csv"):
        assert (reports[0] / name).read_text() == (reports[1] / name).read_text(), name
    # The workers really ran on the two GPU nodes, not on the head.
    run_log = [json.loads(x) for f in (results / "runs").glob("*.jsonl") for x in f.read_text().splitlines()]
    assert len({e["worker"] for e in run_log if e["event"] == "shard_done"}) == 2


def test_token_auth_is_enforced(cluster):
    env = {k: v for k, v in cluster.client_env().items() if not k.startswith("RAY_AUTH")}
    proc = subprocess.run(
        ["ray", "job", "list", "--address", f"http://127.0.0.1:{cluster.dashboard}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "Missing authentication token" in proc.stdout + proc.stderr
    bad = {**cluster.client_env(), "RAY_AUTH_TOKEN": "not-the-token"}
    proc = subprocess.run(["ray", "job", "list"], env=bad, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "invalid or incorrect" in proc.stdout + proc.stderr


def test_driver_killed_then_resubmitted_resumes(cluster, shared, reference):
    results = shared["base"] / "results-resumed"
    total = len(manifest(reference))
    proc = submit(cluster, shared, results, "evalfleet-killed", wait=False)
    assert proc.returncode == 0, proc.stderr
    wait_manifest(results, 1)
    # Stop through the job API at once (a `ray job stop` CLI start takes seconds, in which a quiet
    # machine finishes the whole run of tiny models).
    assert cluster.jobs().stop_job("evalfleet-killed")
    assert wait_status(cluster, "evalfleet-killed") == "STOPPED"
    first = len(manifest(results))
    assert 1 <= first < total, f"{first} of {total} shards before the driver died"

    proc = submit(cluster, shared, results, "evalfleet-resumed", wait=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert wait_status(cluster, "evalfleet-resumed") == "SUCCEEDED"
    ends = [json.loads(x) for f in (results / "runs").glob("*.jsonl") for x in f.read_text().splitlines()]
    second = [e for e in ends if e["event"] == "end"]
    assert len(second) == 1  # the killed run never wrote its end
    assert second[0]["skipped"] == first and second[0]["run"] == total - first < total
    check_complete(results, reference)
    assert answers(results).equals(answers(reference))
    assert scores(results, shared["checkout"]) == scores(reference, shared["checkout"])


def test_worker_node_lost_mid_run(cluster, shared, reference):
    assert cluster.alive_gpu_nodes() == 2
    results = shared["base"] / "results-node-lost"
    proc = submit(cluster, shared, results, "evalfleet-node-lost", wait=False)
    assert proc.returncode == 0, proc.stderr
    wait_manifest(results, 4)
    kill = subprocess.run(
        ["bash", str(DEV / "kill-node.sh"), "1"], env=cluster.env, capture_output=True, text=True, timeout=60
    )
    assert kill.returncode == 0, kill.stderr
    status = wait_status(cluster, "evalfleet-node-lost")
    logs = cluster.jobs().get_job_logs("evalfleet-node-lost")
    assert status == "SUCCEEDED", logs[-3000:]
    assert cluster.alive_gpu_nodes() == 1
    events = [json.loads(x) for f in (results / "runs").glob("*.jsonl") for x in f.read_text().splitlines()]
    end = next(e for e in events if e["event"] == "end")
    assert end["workers_lost"] >= 1 and end["failed"] == 0
    check_complete(results, reference)
    assert answers(results).equals(answers(reference))
    assert scores(results, shared["checkout"]) == scores(reference, shared["checkout"])
