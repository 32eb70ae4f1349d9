"""Hostile programs in the sandbox, at every isolation level where containing them is meaningful.

Each program is run through `sandbox.run_program` (or, for exit tricks, HumanEval's check), must end
'failed' or 'timeout', and the host is checked afterwards: planted files intact, nothing written
outside, no listener contacted, no secret seen, no process and no cgroup left. The rlimit level (no
namespaces) is only asked to contain what ordinary permissions and limits can: it has no network or
/tmp isolation, and that is what `strict` refuses.

The whole-check bounds (memory, processes, disk of the whole tree) are checked from outside while the
program runs — host MemAvailable, the summed RSS of the check's processes, host disk — with a per-check
cgroup where this machine allows one and with the budgeted rlimits without.
"""

from __future__ import annotations

import os
import secrets
import socket
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from evalfleet.sandbox import cgroup as cgroups
from evalfleet.sandbox import runner as sandbox
from evalfleet.sandbox.runner import Limits, run_program

pytestmark = pytest.mark.slow
ROOT = os.geteuid() == 0
LEVELS = [lvl for lvl in sandbox.LEVELS if lvl in sandbox.available_levels()]
NAMESPACED = [lvl for lvl in LEVELS if lvl in sandbox.NAMESPACED]
TIMEOUT = 3.0
"""Wall clock for programs that must time out; the others get FINISH, generous for loaded CI machines."""
FINISH = 30.0
CGROUPS = cgroups.support()
CGROUP_MODES = [True, False] if CGROUPS.ok else [False]
"""Whole-check bounds are tested with a per-check cgroup (where one can be created) and with budgeted rlimits."""
if not CGROUPS.ok:
    print(f"per-check cgroups cannot be created here, only budgeted rlimits are tested: {CGROUPS.reason}")


def sandbox_processes() -> list[psutil.Process]:
    """Processes of this session's checks: sandbox processes below this test process, any process of a check's uid
    that was orphaned (reparented to init: escaped its tree), and the marked daemons of the daemon tests.

    Other sessions' checks running beside on a shared machine are not counted.
    """
    found, me = [], os.getpid()
    for p in psutil.process_iter(["cmdline", "uids", "status", "ppid"]):
        try:
            if p.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            cmdline = p.info["cmdline"] or []
            in_range = sandbox._UID_RANGE[0] <= p.info["uids"].real < sandbox._UID_RANGE[1]
            mine = any(a.pid == me for a in p.parents())
            if (
                (mine and (in_range or "evalfleet-sandbox" in " ".join(cmdline)))
                or (in_range and p.info["ppid"] == 1)
                or "987654" in cmdline
            ):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def leftover_cgroups() -> list[str]:
    """Per-check cgroups of this process still present."""
    mine = f"{cgroups.PREFIX}{os.getpid()}-"
    return [os.path.join(p, n) for p in CGROUPS.parents for n in os.listdir(p) if n.startswith(mine)]


def assert_no_survivors() -> None:
    deadline = time.time() + 3
    while sandbox_processes() and time.time() < deadline:
        time.sleep(0.05)
    assert not sandbox_processes(), [p.info for p in sandbox_processes()]


@pytest.fixture(autouse=True)
def host_clean():
    """No sandbox temp directory and no sandbox process survives any test."""
    mine = f"evalfleet-sandbox-{os.getpid()}-*"  # other sessions' checks may run beside on a shared machine
    before = set(Path(tempfile.gettempdir()).glob(mine))
    yield
    assert_no_survivors()
    assert set(Path(tempfile.gettempdir()).glob(mine)) <= before
    assert not leftover_cgroups()


def run(source: str, level: str, timeout: float = FINISH, **kwargs) -> sandbox.Verdict:
    verdict = run_program(source, timeout=timeout, isolation=level, **kwargs)
    assert sandbox.base_level(verdict.isolation) == level
    assert verdict.isolation.endswith(sandbox.CGROUP) == (kwargs.get("cgroup", CGROUPS.ok) is not False)
    assert verdict.status in ("failed", "timeout"), verdict
    return verdict


@pytest.mark.parametrize("level", LEVELS)
def test_infinite_loop(level):
    t0 = time.perf_counter()
    assert run("while True:\n    pass\n", level, TIMEOUT).status == "timeout"
    assert time.perf_counter() - t0 < TIMEOUT + 2


@pytest.mark.parametrize("level", LEVELS)
def test_fork_bomb(level):
    src = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    run(src, level, TIMEOUT)
    assert psutil.Process().is_running()


@pytest.mark.parametrize("level", LEVELS)
def test_memory_bomb(level):
    src = "chunks = []\nwhile True:\n    chunks.append(bytearray(64 << 20))\n"
    v = run(src, level)
    assert v.status == "failed" and "MemoryError" in v.detail


@pytest.mark.parametrize("level", LEVELS)
def test_one_gigabyte_file(level):
    src = "with open('big.bin', 'wb') as f:\n    for _ in range(1024):\n        f.write(bytes(1 << 20))\n"
    v = run(src, level)
    assert v.status == "failed"
    # Python ignores SIGXFSZ; the file size limit equals the disk budget: whichever comes first stops it
    assert any(why in v.detail for why in ("File too large", "SIGXFSZ", "No space left on device", "disk budget"))


@pytest.mark.parametrize("level", LEVELS)
def test_writes_outside_its_directory(level):
    token = secrets.token_hex(8)
    targets = [
        Path.home() / f"evalfleet-hostile-{token}",
        Path(tempfile.gettempdir()) / f"evalfleet-hostile-{token}",
        Path("/var/tmp") / f"evalfleet-hostile-{token}",
    ]
    src = (
        f"import sys\nok = []\nfor p in {[str(t) for t in targets]!r}:\n"
        "    try:\n        open(p, 'w').write('x')\n        ok.append(p)\n    except OSError:\n        pass\n"
        "sys.stderr.write('wrote %s\\n' % ok)\nraise SystemExit(1)\n"
    )
    if level == "rlimit":
        targets = targets[:1]  # no mount namespace: world-writable /tmp stays writable (documented)
    run(src, level)
    for t in targets:
        assert not t.exists(), f"{t} was written from the sandbox"


@pytest.mark.parametrize("level", LEVELS)
def test_parent_environment_is_invisible(level, monkeypatch):
    secret = "s3cret-" + secrets.token_hex(8)
    monkeypatch.setenv("EVALFLEET_PLANTED_SECRET", secret)
    src = (
        f"import os, sys\nsecret = {secret!r}\nseen = secret in repr(dict(os.environ))\n"
        "for pid in [os.getppid(), 1] + [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n"
        "    try:\n        seen = seen or secret.encode() in open('/proc/%d/environ' % pid, 'rb').read()\n"
        "    except OSError:\n        pass\n"
        "sys.stderr.write('LEAK\\n' if seen else 'NOLEAK\\n')\nraise SystemExit(1)\n"
    )
    if level == "rlimit" and not ROOT:
        pytest.skip("rlimit level without root runs as the caller's uid: /proc/PID/environ is readable")
    assert run(src, level).detail == "NOLEAK"


@pytest.mark.parametrize("level", NAMESPACED)
def test_no_network(level):
    received, stop = [], threading.Event()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.1)
    port = server.getsockname()[1]

    def accept():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                received.append(conn.recv(100))
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=accept)
    thread.start()
    src = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\ns.sendall(b'stolen')\n"
    v = run(src, level)
    stop.set()
    thread.join()
    server.close()
    assert received == [] and v.status == "failed"


@pytest.mark.parametrize("level", LEVELS)
def test_kill_parent(level):
    v = run("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nimport time\ntime.sleep(30)\n", level, TIMEOUT)
    assert v.status in ("failed", "timeout")
    assert psutil.Process().is_running()


@pytest.mark.parametrize("level", [lvl for lvl in LEVELS if lvl != "rlimit" or ROOT])
def test_kill_everything_it_can(level):
    """kill(-1, SIGKILL): every process the program may signal. Its own uid or PID namespace keeps the caller out."""
    run("import os, signal\nos.kill(-1, signal.SIGKILL)\n", level)
    assert psutil.Process().is_running()


@pytest.mark.parametrize("level", LEVELS)
def test_os_exit(level, shared_data):
    """A bare exit is a failure; a HumanEval completion that exits before its tests (even with 0) is marked failed."""
    from evalfleet.benchmarks import humaneval
    from evalfleet.spec.taskspec import load_task

    assert run("import os\nos._exit(3)\n", level).detail == "exit status 3"
    spec = load_task("humaneval")
    spec = replace(spec, options={**spec.options, "timeout_s": 1.0, "sandbox_start_s": 20.0})
    item = humaneval.load_items(spec, shared_data)[0]
    for completion in (
        "    import os\n    os._exit(0)\n",
        "    import os\n    os._exit(1)\n",
        "    import sys\n    sys.exit(0)\n",
    ):
        v = humaneval.run_check(completion, item, spec, isolation=level)
        assert (v.status, sandbox.base_level(v.isolation)) == ("failed", level), (completion, v)
        early = item.meta["canonical_solution"] + "\n" + "\n".join(line[4:] for line in completion.splitlines()) + "\n"
        assert humaneval.run_check(early, item, spec, isolation=level).status == "failed"  # exits before check() runs
    assert humaneval.run_check(item.meta["canonical_solution"], item, spec, isolation=level).status == "passed"


@pytest.mark.parametrize("level", LEVELS)
def test_cannot_delete_planted_files(level):
    plant = Path(tempfile.mkdtemp(prefix="evalfleet-plant-"))
    try:
        world = level != "rlimit"  # namespaced levels do not even see /tmp: make the files deletable if seen
        plant.chmod(0o777 if world else 0o755)
        files = [plant / f"f{i}" for i in range(3)]
        for f in files:
            f.write_text("keep")
            f.chmod(0o666 if world else 0o644)
        src = (
            f"import os, shutil, sys\ngone = []\nfor p in {[str(f) for f in files]!r}:\n"
            "    try:\n        os.remove(p)\n        gone.append(p)\n    except OSError:\n        pass\n"
            f"shutil.rmtree({str(plant)!r}, ignore_errors=True)\n"
            "sys.stderr.write('deleted %s\\n' % gone)\nraise SystemExit(1)\n"
        )
        run(src, level)
        assert all(f.read_text() == "keep" for f in files)
    finally:
        for f in plant.iterdir():
            f.unlink()
        plant.rmdir()


@pytest.mark.parametrize("level", LEVELS)
def test_detached_daemon_does_not_survive(level):
    if level == "rlimit" and not ROOT:
        pytest.skip("without root or namespaces a setsid daemon escapes the process group (documented)")
    src = (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        os.execv('/bin/sleep', ['sleep', '987654'])\n    os._exit(0)\n"
        "time.sleep(0.5)\nraise SystemExit(1)\n"
    )
    run(src, level)
    assert_no_survivors()


@pytest.mark.parametrize("level", LEVELS)
def test_other_teams_checkpoints_unreadable(level):
    private = Path(tempfile.mkdtemp(prefix="evalfleet-ckpt-"))  # 0700, as a team's directory should be
    readable = Path(tempfile.mkdtemp(prefix="evalfleet-ckpt-"))
    try:
        (private / "model.safetensors").write_text("SECRET-A")
        (private / "model.safetensors").chmod(0o600)
        readable.chmod(0o755)
        (readable / "model.safetensors").write_text("SECRET-B")
        (readable / "model.safetensors").chmod(0o644)
        paths = [str(private / "model.safetensors")]
        if level != "rlimit":  # world-readable files outside masked dirs are readable at the rlimit level (documented)
            paths.append(str(readable / "model.safetensors"))
        src = (
            f"import sys\nseen = []\nfor p in {paths!r}:\n"
            "    try:\n        seen.append(open(p).read())\n    except OSError:\n        pass\n"
            "sys.stderr.write('LEAK %s\\n' % seen if seen else 'NOLEAK\\n')\nraise SystemExit(1)\n"
        )
        assert run(src, level).detail == "NOLEAK"
    finally:
        for d in (private, readable):
            (d / "model.safetensors").unlink()
            d.rmdir()


# Whole-check bounds: memory, processes and disk of the whole tree, watched from outside.

MiB = 1 << 20
FORK_AND_ALLOCATE = """
import os, time
for _ in range(8):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        blocks = []
        try:
            while len(blocks) < 32:
                blocks.append(b"x" * (16 << 20))  # touched: 512 MiB a child, 4 GiB in all without a tree bound
        except MemoryError:
            pass
        time.sleep(60)
        os._exit(0)
time.sleep(3)
raise SystemExit(1)
"""
MANY_THREADS = """
import sys, threading, time
def hold():
    try:
        block = b"x" * (32 << 20)
    except MemoryError:
        pass
    time.sleep(60)
n = 0
try:
    while n < 200:
        threading.Thread(target=hold, daemon=True).start()
        n += 1
except (RuntimeError, MemoryError) as exc:
    sys.stderr.write("%d threads: %s\\n" % (n, exc))
    time.sleep(1)
    raise SystemExit(1)
sys.stderr.write("%d threads\\n" % n)
time.sleep(2)
raise SystemExit(1)
"""
FILL_DISK = """
import sys
written = 0
try:
    for i in range(32):  # 1 GiB in 32 MiB files, alternately in the private /tmp and the working directory
        with open(("/tmp/fill-%d" if i % 2 else "fill-%d") % i, "wb") as f:
            for _ in range(32):
                f.write(b"x" * (1 << 20))
                written += 1
except OSError as exc:
    sys.stderr.write("%d MiB: %s\\n" % (written, exc))
    raise SystemExit(1)
sys.stderr.write("%d MiB\\n" % written)
raise SystemExit(1)
"""
MANY_FILES = """
import sys
n = 0
try:
    while n < 1000000:
        open(("/tmp/f%d" if n % 2 else "f%d") % n, "w").close()
        n += 1
except OSError as exc:
    sys.stderr.write("%d files: %s\\n" % (n, exc))
    raise SystemExit(1)
"""
OUTLIVES = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", DAEMON, "TOKEN"])
    os._exit(0)
deadline = time.time() + 20
while not os.path.exists("/tmp/daemon-TOKEN.log") and time.time() < deadline:  # it holds its memory now
    time.sleep(0.02)
time.sleep(0.5)
raise SystemExit(1)
"""
DAEMON = """
import time
block = b"x" * (200 << 20)
with open("/tmp/daemon-TOKEN.log", "w") as f:
    while True:
        f.write("alive\\n")
        f.flush()
        time.sleep(0.05)
"""


def mem_available() -> int:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))


def disk_free() -> int:
    st = os.statvfs(tempfile.gettempdir())
    return st.f_bavail * st.f_frsize


def tree_rss() -> int:
    """Summed RSS of the processes running as a check's uid (as root each check has its own)."""
    total = 0
    for p in psutil.process_iter(["uids", "memory_info"]):
        try:
            if p.info["uids"] and sandbox._UID_RANGE[0] <= p.info["uids"].real < sandbox._UID_RANGE[1]:
                total += p.info["memory_info"].rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, TypeError):
            pass
    return total


def watched_run(source: str, level: str, cgroup: bool, name: str) -> tuple[sandbox.Verdict, dict]:
    """Run the check while sampling host memory, host disk and the check's RSS every 20 ms; the largest rises."""
    seen = {"mem_rise": 0, "disk_rise": 0, "tree_rss": 0}
    mem0, disk0, stop = mem_available(), disk_free(), threading.Event()

    def sample():
        while not stop.is_set():
            seen["mem_rise"] = max(seen["mem_rise"], mem0 - mem_available())
            seen["disk_rise"] = max(seen["disk_rise"], disk0 - disk_free())
            seen["tree_rss"] = max(seen["tree_rss"], tree_rss() if ROOT else 0)
            time.sleep(0.02)

    thread = threading.Thread(target=sample)
    thread.start()
    try:
        verdict = run(source, level, cgroup=cgroup)
    finally:
        stop.set()
        thread.join()
    seen["mem_after"], seen["disk_after"] = mem0 - mem_available(), disk0 - disk_free()
    mib = {k: round(v / MiB) for k, v in seen.items()}
    peak = verdict.memory_peak // MiB if verdict.memory_peak else None
    print(f"\n{name} {verdict.isolation}: {verdict.status} {verdict.detail!r}; MiB: cgroup peak {peak}, {mib}")
    return verdict, seen


def assert_memory_bounded(verdict: sandbox.Verdict, seen: dict, limits: Limits = Limits()) -> None:
    """The tree stayed within the check's memory budget: the cgroup's own peak, the summed RSS, host MemAvailable."""
    if verdict.memory_peak is not None:
        assert verdict.memory_peak <= limits.memory
    assert seen["tree_rss"] <= limits.memory + 128 * MiB  # shared interpreter pages count once per process here
    assert seen["mem_rise"] <= limits.memory + 768 * MiB  # host-wide: other work on a shared machine included


@pytest.mark.parametrize("cgroup", CGROUP_MODES)
@pytest.mark.parametrize("level", LEVELS)
def test_fork_and_allocate(level, cgroup):
    """8 children × 512 MiB touched, each within its own address space: the whole check stays within 1 GiB."""
    verdict, seen = watched_run(FORK_AND_ALLOCATE, level, cgroup, "fork-and-allocate")
    assert verdict.status == "failed"
    assert_memory_bounded(verdict, seen)


@pytest.mark.parametrize("cgroup", CGROUP_MODES)
@pytest.mark.parametrize("level", LEVELS)
def test_many_threads(level, cgroup):
    """Threads count as processes: at most the check's process budget, memory within the check's budget."""
    verdict, seen = watched_run(MANY_THREADS, level, cgroup, "many-threads")
    started = int(verdict.detail.split()[0])
    assert started < Limits().rlimits(cgroup)[1] or (level == "rlimit" and not ROOT)
    assert_memory_bounded(verdict, seen)


@pytest.mark.parametrize("cgroup", CGROUP_MODES)
@pytest.mark.parametrize("level", LEVELS)
def test_fill_private_tmp_and_workdir(level, cgroup):
    """1 GiB attempted across /tmp and the working directory: one budget of 64 MiB for both."""
    limits = Limits()
    verdict, seen = watched_run(FILL_DISK, level, cgroup, "fill-disk")
    assert verdict.status == "failed"
    if level == "rlimit":  # a host dir, watched: killed within a poll of going over
        assert "disk budget" in verdict.detail
        assert seen["disk_rise"] <= limits.disk + 384 * MiB
    else:  # one size-limited tmpfs: the kernel refuses the write past it
        assert int(verdict.detail.split()[0]) <= limits.disk // MiB
        assert "No space left" in verdict.detail or "File too large" in verdict.detail
        assert seen["disk_rise"] <= 128 * MiB and seen["mem_rise"] <= limits.disk + 768 * MiB
    if ROOT:  # nothing of a check's uid left in the host's /tmp (other sessions' checks may run beside)
        left = [p for p in Path(tempfile.gettempdir()).glob("fill-*") if sandbox._UID_RANGE[0] <= _uid(p)]
        assert not left


@pytest.mark.parametrize("cgroup", CGROUP_MODES)
@pytest.mark.parametrize("level", LEVELS)
def test_many_small_files(level, cgroup):
    """Empty files cost no bytes but inodes and kernel memory: the check may create `Limits.files` of them."""
    limits = Limits()
    verdict, seen = watched_run(MANY_FILES, level, cgroup, "many-files")
    assert verdict.status == "failed"
    if level == "rlimit":
        assert "file budget" in verdict.detail
    else:
        assert int(verdict.detail.split()[0]) <= limits.files and "No space left" in verdict.detail
    assert_memory_bounded(verdict, seen)
    if ROOT:  # nothing of a check's uid left in the host's /tmp (other sessions' checks may run beside)
        left = [p for p in Path(tempfile.gettempdir()).glob("f[0-9]*") if sandbox._UID_RANGE[0] <= _uid(p)]
        assert not left


def _uid(path: Path) -> int:
    try:
        return path.lstat().st_uid
    except OSError:
        return 0


@pytest.mark.parametrize("cgroup", CGROUP_MODES)
@pytest.mark.parametrize("level", LEVELS)
def test_process_that_outlives_the_check(level, cgroup):
    """A setsid daemon holding 200 MiB and writing a file: gone, with its memory, the moment the check returns."""
    if level == "rlimit" and not ROOT and not cgroup:
        pytest.skip("without root, namespaces or a cgroup a setsid daemon escapes the process group (documented)")
    token = f"evalfleet-outlives-{secrets.token_hex(6)}"
    daemon = DAEMON.replace("TOKEN", token)
    source = OUTLIVES.replace("DAEMON", repr(daemon)).replace("TOKEN", token)
    verdict, seen = watched_run(source, level, cgroup, "outlives")
    assert verdict.status == "failed" and verdict.detail == "exit status 1"
    alive = [p.pid for p in psutil.process_iter(["cmdline"]) if token in (p.info["cmdline"] or [])]
    assert not alive  # no grace period: swept before run_program returned
    assert not leftover_cgroups()
    assert not Path(f"/tmp/daemon-{token}.log").exists()
    assert seen["tree_rss"] >= 200 * MiB or not ROOT  # it did run, and hold its memory, while the check lasted
