"""The sandbox: verdicts, isolation levels, strict mode, the CLI, and checks as real Ray CPU tasks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from evalfleet.sandbox import runner as sandbox
from evalfleet.sandbox.runner import Limits, Verdict, run_program

LEVELS = sandbox.available_levels()


def test_a_level_is_detected_and_bwrap_preferred():
    assert LEVELS, sandbox._last_failures()
    assert list(LEVELS) == [lvl for lvl in sandbox.LEVELS if lvl in LEVELS]  # strongest first
    from shutil import which

    if which("bwrap"):  # scripts/test-setup/10-sandbox.sh installs it
        assert LEVELS[0] == "bwrap", sandbox._last_failures()
    assert run_program("pass").isolation == LEVELS[0]


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize(
    "source,status,detail",
    [
        ("x = 1\n", "passed", ""),
        ("assert 1 + 1 == 3, 'arithmetic'\n", "failed", "AssertionError: arithmetic"),
        ("raise SystemExit(4)\n", "failed", "exit status 4"),
        ("def f(:\n", "failed", "SyntaxError: invalid syntax"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n", "failed", "killed by SIGTERM"),
        ("import time\ntime.sleep(30)\n", "timeout", "killed after 1 s wall clock"),
    ],
)
def test_statuses(level, source, status, detail):
    timeout = 1.0 if status == "timeout" else 30.0  # generous where the program must finish: shared, loaded CI machines
    assert run_program(source, timeout=timeout, isolation=level) == Verdict(status, level, detail)


@pytest.mark.parametrize("level", LEVELS)
def test_fresh_empty_world(level):
    """Empty environment, a fresh working directory that is removed, not the caller's uid when root."""
    src = (
        "import os, sys\nassert not set(os.environ) - {'PWD', 'LC_CTYPE'}, dict(os.environ)\n"
        "assert os.listdir('.') == ['program.py'], os.listdir('.')\n"
        "open('scratch.txt', 'w').write('ok')\n"
        "sys.stderr.write('%s %d\\n' % (os.path.realpath('.'), os.getuid()))\nraise SystemExit(1)\n"
    )
    v = run_program(src, isolation=level)
    assert v.status == "failed" and v.detail.startswith("/"), v
    cwd, uid = v.detail.split()
    if os.geteuid() == 0:  # evalfleet as root: the check runs as its own unprivileged uid
        assert sandbox._UID_RANGE[0] <= int(uid) < sandbox._UID_RANGE[1]
    if level == "rlimit":
        assert not os.path.exists(cwd)  # the host temp dir is gone


def test_cpu_limit_kills_busy_program():
    v = run_program("while True:\n    pass\n", timeout=20, limits=Limits(cpu_seconds=1))
    assert v.status == "failed" and "SIGXCPU" in v.detail


def test_process_limit():
    src = (
        "import os\nn = 0\nfor _ in range(100):\n    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
        "    if pid == 0:\n        import time; time.sleep(5); os._exit(0)\n    n += 1\n"
        "import sys\nsys.stderr.write('%d\\n' % n)\nraise SystemExit(1)\n"
    )
    v = run_program(src, limits=Limits(processes=8))
    assert v.status == "failed" and int(v.detail) < 8


def test_success_marker_needed_when_asked():
    assert run_program("print('done')\n", success_marker="done").status == "passed"
    v = run_program("import os\nos._exit(0)\n", success_marker="done")
    assert v.status == "failed" and "marker" in v.detail


def test_strict_refuses_rlimit():
    v = run_program("pass\n", strict=True, isolation="rlimit")
    assert v.status == "error" and "strict" in v.detail
    if any(lvl in sandbox.NAMESPACED for lvl in LEVELS):
        assert run_program("pass\n", strict=True).isolation in sandbox.NAMESPACED


def test_bad_arguments():
    with pytest.raises(ValueError):
        run_program("pass", timeout=0)
    with pytest.raises(ValueError):
        run_program("pass", isolation="docker")


def test_cli_prints_json_verdict(tmp_path):
    prog = tmp_path / "p.py"
    prog.write_text("assert False, 'nope'\n")
    out = subprocess.run(
        [sys.executable, "-m", "evalfleet", "sandbox", str(prog), "--timeout", "5"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"status": "failed", "isolation": LEVELS[0], "detail": "AssertionError: nope"}
    missing = subprocess.run(
        [sys.executable, "-m", "evalfleet", "sandbox", str(tmp_path / "none.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "none.py" in missing.stderr


@pytest.mark.slow
def test_checks_as_ray_tasks_never_hurt_the_driver(shared_data):
    """Hostile and hung checks as real Ray CPU tasks: the driver survives and gets every verdict."""
    import ray

    started = not ray.is_initialized()
    if started:
        for attempt in range(2):  # a raylet can time out starting on an overloaded shared machine: one retry
            try:
                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
                break
            except Exception:
                ray.shutdown()
                if attempt:
                    raise
    try:

        @ray.remote(num_cpus=1)
        def check(source: str, timeout: float) -> Verdict:
            return run_program(source, timeout=timeout)

        programs = {
            "ok": ("print('hi')\n", "passed"),
            "loop": ("while True:\n    pass\n", "timeout"),
            "kill_parent": ("import os\nos.kill(os.getppid(), 9)\nimport time\ntime.sleep(9)\n", "failed"),
            "kill_all": ("import os\nos.kill(-1, 9)\n", "failed"),
            "fork_bomb": (
                "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
                "timeout",
            ),
            "exit": ("import os\nos._exit(0)\n", "passed"),
            "wrong": ("assert False\n", "failed"),
        }
        refs = {name: check.remote(src, 30.0 if want != "timeout" else 3.0) for name, (src, want) in programs.items()}
        got = {name: ray.get(ref, timeout=120) for name, ref in refs.items()}
        assert {name: v.status for name, v in got.items()} == {name: want for name, (_, want) in programs.items()}
        # A sandbox killed from outside (as the OOM killer would): its check returns promptly.
        ref = check.remote("import time\ntime.sleep(60)\n", 60.0)
        deadline = time.time() + 30
        victims = []
        while not victims and time.time() < deadline:
            victims = [
                p for p in psutil.process_iter(["cmdline"]) if "evalfleet-sandbox" in " ".join(p.info["cmdline"] or [])
            ]
            time.sleep(0.1)
        assert victims
        for p in victims:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        t0 = time.time()
        assert ray.get(ref, timeout=30).status in ("failed", "error")
        assert time.time() - t0 < 30
        assert ray.get(check.remote("pass\n", 5.0), timeout=60).status == "passed"  # the workers still work
        # HumanEval rows scored by the driver's own CPU task: score and isolation land in the record.
        from evalfleet.benchmarks import get_module
        from evalfleet.run.driver import _score_chunk
        from evalfleet.spec.taskspec import load_task

        spec = load_task("humaneval")
        items = {i.id: i for i in get_module(spec).load_items(spec, shared_data)[:3]}
        completions = {
            "000": items["000"].meta["canonical_solution"],
            "001": "    return []\n",
            "002": "    while True:\n        pass\n",
        }
        rows = [
            {
                "item_id": i,
                "error": None,
                "extracted": c,
                "logliks": None,
                "score": None,
                "metrics": "{}",
                "isolation": None,
            }
            for i, c in completions.items()
        ]
        scored = ray.get(_score_chunk.remote(rows, spec, items), timeout=120)
        assert [r["score"] for r in scored] == [1.0, 0.0, 0.0]
        assert {r["isolation"] for r in scored} == {LEVELS[0]} and all(r["error"] is None for r in scored)
        assert json.loads(scored[0]["metrics"]) == {"pass@1": 1.0}
    finally:
        if started:
            ray.shutdown()
