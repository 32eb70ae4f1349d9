"""Hostile programs in the sandbox, at every isolation level where containing them is meaningful.

Each program is run through `sandbox.run_program` (or, for exit tricks, HumanEval's check), must end
'failed' or 'timeout', and the host is checked afterwards: planted files intact, nothing written
outside, no listener contacted, no secret seen, no process left. The rlimit level (no namespaces)
is only asked to contain what ordinary permissions and limits can: it has no network or /tmp
isolation, and that is what `strict` refuses.
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

from evalfleet.sandbox import runner as sandbox
from evalfleet.sandbox.runner import run_program

pytestmark = pytest.mark.slow
ROOT = os.geteuid() == 0
LEVELS = [lvl for lvl in sandbox.LEVELS if lvl in sandbox.available_levels()]
NAMESPACED = [lvl for lvl in LEVELS if lvl in sandbox.NAMESPACED]
TIMEOUT = 3.0
"""Wall clock for programs that must time out; the others get FINISH, generous for loaded CI machines."""
FINISH = 30.0


def sandbox_processes() -> list[psutil.Process]:
    """Processes started by a sandbox launcher (its source is in their command line) or running as a check's uid."""
    found = []
    for p in psutil.process_iter(["cmdline", "uids", "status"]):
        try:
            if p.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            in_range = sandbox._UID_RANGE[0] <= p.info["uids"].real < sandbox._UID_RANGE[1]
            if (
                in_range
                or "evalfleet-sandbox" in " ".join(p.info["cmdline"] or [])
                or "987654" in (p.info["cmdline"] or [])
            ):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def assert_no_survivors() -> None:
    deadline = time.time() + 3
    while sandbox_processes() and time.time() < deadline:
        time.sleep(0.05)
    assert not sandbox_processes(), [p.info for p in sandbox_processes()]


@pytest.fixture(autouse=True)
def host_clean():
    """No sandbox temp directory and no sandbox process survives any test."""
    before = set(Path(tempfile.gettempdir()).glob("evalfleet-sandbox-*"))
    yield
    assert_no_survivors()
    assert set(Path(tempfile.gettempdir()).glob("evalfleet-sandbox-*")) <= before


def run(source: str, level: str, timeout: float = FINISH) -> sandbox.Verdict:
    verdict = run_program(source, timeout=timeout, isolation=level)
    assert verdict.isolation == level
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
    assert v.status == "failed" and ("File too large" in v.detail or "SIGXFSZ" in v.detail)  # Python ignores SIGXFSZ


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
        assert (v.status, v.isolation) == ("failed", level), (completion, v)
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
