"""The sandbox: verdicts, isolation levels, per-check cgroups and budgets, strict mode, the CLI, and checks as real
Ray CPU tasks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import psutil
import pytest

from evalfleet.sandbox import cgroup as cgroups
from evalfleet.sandbox import runner as sandbox
from evalfleet.sandbox.runner import Limits, Verdict, run_program

LEVELS = sandbox.available_levels()
CGROUPS = cgroups.support()
SUFFIX = sandbox.CGROUP if CGROUPS.ok else ""
"""What a default check's recorded isolation ends with on this machine."""
NO_CGROUP = f"per-check cgroups cannot be created here: {CGROUPS.reason}"


def test_a_level_is_detected_and_bwrap_preferred():
    assert LEVELS, sandbox._last_failures()
    assert list(LEVELS) == [lvl for lvl in sandbox.LEVELS if lvl in LEVELS]  # strongest first
    from shutil import which

    if which("bwrap"):  # scripts/test-setup/10-sandbox.sh installs it
        assert LEVELS[0] == "bwrap", sandbox._last_failures()
    assert run_program("pass").isolation == LEVELS[0] + SUFFIX


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize(
    "source,status,detail",
    [
        ("x = 1\n", "passed", ""),
        ("assert 1 + 1 == 3, 'arithmetic'\n", "failed", "AssertionError: arithmetic"),
        ("raise SystemExit(4)\n", "failed", "exit status 4"),
        ("def f(:\n", "failed", "SyntaxError: invalid syntax"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n", "failed", "killed by SIGTERM"),
        ("import time\ntime.sleep(30)\n", "timeout", "killed after 2 s wall clock"),
    ],
)
def test_statuses(level, source, status, detail):
    timeout = 2.0 if status == "timeout" else 30.0  # generous where the program must finish: shared, loaded CI machines
    v = run_program(source, timeout=timeout, isolation=level)
    assert (v.status, v.isolation, v.detail) == (status, level + SUFFIX, detail)


@pytest.mark.parametrize("level", LEVELS)
def test_fresh_empty_world(level):
    """Empty environment, a fresh working directory that is removed, not the caller's uid when root, and no
    capabilities left (bwrap's launcher holds CAP_SYS_ADMIN until it drops to the check's uid)."""
    src = (
        "import os, sys\nassert not set(os.environ) - {'PWD', 'LC_CTYPE'}, dict(os.environ)\n"
        "assert os.listdir('.') == ['program.py'], os.listdir('.')\n"
        "open('scratch.txt', 'w').write('ok')\n"
        "caps = [line.split()[1] for line in open('/proc/self/status') if line.startswith(('CapEff', 'CapPrm'))]\n"
        "sys.stderr.write('%s %d %s\\n' % (os.path.realpath('.'), os.getuid(), ','.join(caps)))\nraise SystemExit(1)\n"
    )
    v = run_program(src, isolation=level)
    assert v.status == "failed" and v.detail.startswith("/"), v
    cwd, uid, caps = v.detail.split()
    if os.geteuid() == 0:  # evalfleet as root: the check runs as its own unprivileged uid, without capabilities
        assert sandbox._UID_RANGE[0] <= int(uid) < sandbox._UID_RANGE[1]
        assert caps == "0000000000000000,0000000000000000", caps
    if level == "rlimit":
        assert not os.path.exists(cwd)  # the host temp dir is gone


def test_cpu_limit_kills_busy_program():
    v = run_program("while True:\n    pass\n", timeout=20, limits=Limits(cpu_seconds=1))
    assert v.status == "failed" and "SIGXCPU" in v.detail


def test_process_limit():
    src = (
        "import os\nn = 0\nfor _ in range(100):\n    try:\n        pid = os.fork()\n"
        "    except OSError:\n        break\n"
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
    if sandbox.strict_available():
        assert run_program("pass\n", strict=True).isolation in [lvl + sandbox.CGROUP for lvl in sandbox.NAMESPACED]


def test_strict_needs_a_cgroup(monkeypatch):
    """strict runs only where a per-check cgroup bounds the whole tree; cgroup=True asks for one outside strict."""
    v = run_program("pass\n", strict=True, cgroup=False)
    assert v.status == "error" and "cgroup" in v.detail
    monkeypatch.setattr(cgroups, "support", lambda: cgroups.Support(0, (), "no cgroup for this test"))
    for kwargs in ({"strict": True}, {"cgroup": True}):
        v = run_program("pass\n", **kwargs)
        assert v.status == "error" and "no cgroup for this test" in v.detail, (kwargs, v)
    v = run_program("pass\n")  # auto: budgeted rlimits instead
    assert (v.status, v.isolation, v.memory_peak) == ("passed", LEVELS[0], None)
    assert not sandbox.strict_available()


def test_budgeted_rlimits_without_cgroup():
    """Without a cgroup, processes × address space stays within the check's memory budget."""
    assert Limits().rlimits(True) == (1 << 30, 32)
    assert Limits().rlimits(False) == (256 << 20, 4)
    assert Limits(processes=2).rlimits(False) == (512 << 20, 2)
    assert Limits(memory=32 << 30).rlimits(False) == (1 << 30, 32)  # the old per-process limits
    for limits in (Limits(), Limits(processes=1), Limits(memory=3 << 30), Limits(memory=100 << 20)):
        address_space, processes = limits.rlimits(False)
        assert processes >= 1 and address_space * processes <= limits.memory


@pytest.mark.parametrize("level", LEVELS)
def test_budgeted_limits_reach_the_program(level):
    """cgroup=False: the program sees the cut RLIMIT_AS and RLIMIT_NPROC; no cgroup recorded."""
    src = (
        "import resource, sys\nsys.stderr.write('%d %d\\n' % (resource.getrlimit(resource.RLIMIT_AS)[0], "
        "resource.getrlimit(resource.RLIMIT_NPROC)[0]))\nraise SystemExit(1)\n"
    )
    v = run_program(src, isolation=level, cgroup=False)
    address_space, processes = map(int, v.detail.split())
    assert (v.isolation, v.memory_peak, address_space) == (level, None, 256 << 20)
    assert processes == 4 or (level == "rlimit" and os.geteuid() != 0)  # shared uid: its other processes added


@pytest.mark.skipif(not CGROUPS.ok, reason=NO_CGROUP)
@pytest.mark.parametrize("level", LEVELS)
def test_cgroup_made_limited_and_removed_per_check(level):
    """Each check gets its own cgroup with the check's limits, is inside it from the start, and it is removed after."""
    seen, stop = [], threading.Event()

    def watch():
        while not stop.is_set():
            for parent in CGROUPS.parents:
                for name in os.listdir(parent):
                    if name.startswith(f"{cgroups.PREFIX}{os.getpid()}-"):
                        seen.append((parent, name, _limits_in(os.path.join(parent, name))))
            time.sleep(0.02)

    thread = threading.Thread(target=watch)
    thread.start()
    v = run_program(
        "import time\ntime.sleep(1)\nraise SystemExit(5)\n", isolation=level, limits=Limits(memory=300 << 20)
    )
    stop.set()
    thread.join()
    assert (v.status, v.isolation, v.detail) == ("failed", level + sandbox.CGROUP, "exit status 5")
    assert 1 << 20 < v.memory_peak < 300 << 20
    names = {name for _, name, _ in seen}
    assert len(names) == 1, names
    (name,) = names
    limits = {k: val for _, _, found in seen for k, val in found.items() if k != "procs"}
    assert limits["memory"] == 300 << 20 and limits["pids"] == 32 + sandbox._CGROUP_EXTRA_PIDS
    assert max(found.get("procs", 0) for _, _, found in seen) >= 1  # the sandbox was inside while the program ran
    assert not [p for p in CGROUPS.parents if os.path.exists(os.path.join(p, name))]


def _limits_in(path: str) -> dict:
    """memory limit, pids limit and process count of a v1 or v2 cgroup dir (whichever files it has)."""
    out = {}
    for name, key in (("memory.limit_in_bytes", "memory"), ("memory.max", "memory"), ("pids.max", "pids")):
        try:
            out[key] = int(open(os.path.join(path, name)).read())
        except (OSError, ValueError):
            pass
    try:
        out["procs"] = len(open(os.path.join(path, "cgroup.procs")).read().split())
    except OSError:
        pass
    return out


@pytest.mark.skipif(not CGROUPS.ok, reason=NO_CGROUP)
def test_cgroup_memory_limit_kills_the_tree_and_says_so():
    """Touched memory over the check's budget (each process under its own address space) → the kernel's OOM kill."""
    src = (
        "import os, time\nfor _ in range(4):\n    if os.fork() == 0:\n        b = b'x' * (100 << 20)\n"
        "        time.sleep(30)\n        os._exit(0)\ntime.sleep(3)\nraise SystemExit(1)\n"
    )
    v = run_program(src, limits=Limits(memory=256 << 20), timeout=30)
    assert v.status == "failed" and "memory limit of the check" in v.detail, v
    assert v.memory_peak <= 256 << 20


def _dead_pid() -> int:
    return next(pid for pid in range(4_000_000, 3_000_000, -1) if not os.path.exists(f"/proc/{pid}"))


@pytest.mark.skipif(not CGROUPS.ok, reason=NO_CGROUP)
def test_stale_cgroups_of_dead_processes_are_swept():
    """Left by a dead evalfleet process and older than STALE_S: removed; a young one may be another PID namespace's."""
    dead = _dead_pid()
    old = [os.path.join(p, f"{cgroups.PREFIX}{dead}-0123456789ab") for p in CGROUPS.parents]
    young = [os.path.join(p, f"{cgroups.PREFIX}{dead}-ba9876543210") for p in CGROUPS.parents]
    try:
        for d in old + young:
            os.mkdir(d)
        for d in old:
            os.utime(d, (time.time() - cgroups.STALE_S - 60,) * 2)
        for p in CGROUPS.parents:
            cgroups._sweep_stale(p)
        assert not [d for d in old if os.path.exists(d)] and all(os.path.exists(d) for d in young)
    finally:
        for d in old + young:
            if os.path.exists(d):
                os.rmdir(d)


def test_stale_workdirs_of_dead_processes_are_swept():
    tmp = tempfile.gettempdir()
    dead, alive = _dead_pid(), os.getpid()
    dirs = {name: os.path.join(tmp, f"evalfleet-sandbox-{name}") for name in (f"{dead}-x", f"{alive}-x", "y")}
    try:
        for d in dirs.values():
            os.mkdir(d)
            open(os.path.join(d, "program.py"), "w").close()
            os.utime(d, (time.time() - cgroups.STALE_S - 60,) * 2)
        sandbox._sweep_stale_workdirs()
        assert [name for name, d in dirs.items() if os.path.exists(d)] == [f"{alive}-x", "y"]
    finally:
        for d in dirs.values():
            shutil.rmtree(d, ignore_errors=True)


def test_cgroup_v2_and_v1_files(tmp_path):
    """The cgroup files each version uses, on a fake tree (the kernel side is exercised where cgroups work)."""
    v2 = tmp_path / "v2"
    v2.mkdir()
    with pytest.raises(OSError, match="not a cgroup directory"):
        cgroups.create(cgroups.Support(2, (str(v2),)), 123 << 20, 40)
    (v2 / "cgroup.procs").write_text("")
    group = cgroups.create(cgroups.Support(2, (str(v2),)), 123 << 20, 40)
    (d,) = group.dirs
    assert open(f"{d}/memory.max").read() == str(123 << 20) and open(f"{d}/pids.max").read() == "40"
    open(f"{d}/memory.peak", "w").write("4096\n")
    open(f"{d}/memory.events", "w").write("low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n")
    assert (group.memory_peak(), group.oom_kills()) == (4096, 2)
    assert group.enter_command()[:2] == ["/bin/sh", "-c"] and f"echo 0 > {d}/cgroup.procs" in group.enter_command()[2]
    v1 = [tmp_path / "memory", tmp_path / "pids"]
    for p in v1:
        p.mkdir()
        (p / "cgroup.procs").write_text("")
    group = cgroups.create(cgroups.Support(1, tuple(map(str, v1))), 5 << 20, 9)
    mem, pids = group.dirs
    assert open(f"{mem}/memory.limit_in_bytes").read() == str(5 << 20) and open(f"{pids}/pids.max").read() == "9"
    open(f"{mem}/memory.max_usage_in_bytes", "w").write("8192\n")
    open(f"{mem}/memory.oom_control", "w").write("oom_kill_disable 0\nunder_oom 0\noom_kill 7\n")
    assert (group.memory_peak(), group.oom_kills()) == (8192, 7)
    assert all(f"echo 0 > {p}/cgroup.procs" in group.enter_command()[2] for p in group.dirs)
    with pytest.raises(OSError, match="no cgroup"):
        cgroups.create(cgroups.Support(0, (), "none here"), 1, 1)


def test_cgroup_v2_parent_found_and_enabled(tmp_path):
    """v2: our own cgroup below the mount is the parent; memory and pids enabled for its children, or a reason."""
    mine = tmp_path / "user.slice" / "ray-worker"
    mine.mkdir(parents=True)
    (mine / "cgroup.controllers").write_text("cpu io memory pids\n")
    (mine / "cgroup.subtree_control").write_text("cpu\n")
    mounts = [("/", str(tmp_path), "cgroup2", {"rw"})]
    assert cgroups._v2_parent(mounts, {"": "/user.slice/ray-worker"}) == (str(mine),)
    assert (mine / "cgroup.subtree_control").read_text() == "+memory +pids"
    (mine / "cgroup.controllers").write_text("cpu io\n")
    assert "memory, pids not available" in cgroups._v2_parent(mounts, {"": "/user.slice/ray-worker"})
    assert "no cgroup2" in cgroups._v2_parent([], {"": "/"})
    assert cgroups._own_dir("/", str(tmp_path), "/elsewhere/not-made") == str(tmp_path)
    v1 = [
        ("/", str(tmp_path / "memory"), "cgroup", {"rw", "memory"}),
        ("/", str(tmp_path / "pids"), "cgroup", {"pids"}),
    ]
    for _, point, _, _ in v1:
        os.makedirs(point)
    assert cgroups._v1_parents(v1, {"memory": "/", "pids": "/"}) == (str(tmp_path / "memory"), str(tmp_path / "pids"))
    assert "pids" in cgroups._v1_parents(v1[:1], {"memory": "/"})


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
    verdict = json.loads(out.stdout)
    assert (verdict.pop("memory_peak") is None) == (not CGROUPS.ok)
    assert verdict == {"status": "failed", "isolation": LEVELS[0] + SUFFIX, "detail": "AssertionError: nope"}
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
            victims = [p for p in psutil.process_iter(["cmdline"]) if _our_sandbox(p)]
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
        assert {r["isolation"] for r in scored} == {LEVELS[0] + SUFFIX} and all(r["error"] is None for r in scored)
        assert json.loads(scored[0]["metrics"]) == {"pass@1": 1.0}
    finally:
        if started:
            ray.shutdown()


def _our_sandbox(p: psutil.Process) -> bool:
    """A sandbox process below this test process (not another session's check on a shared machine)."""
    try:
        return "evalfleet-sandbox" in " ".join(p.info["cmdline"] or []) and os.getpid() in [a.pid for a in p.parents()]
    except psutil.NoSuchProcess:
        return False
