"""Run one untrusted Python program (a HumanEval completion and its test) in a sandbox → a Verdict.

Every check gets its own process tree: a fresh temporary directory as working directory (removed
afterwards), an empty environment, resource limits (CPU seconds, address space, file size, open
files, processes), a wall-clock timeout that kills the whole tree, and — when evalfleet runs as
root — a dedicated random uid, so the process limit counts this check alone and the program owns
nothing on the host. The strongest isolation that works on this machine is used, tried once per
process, strongest first:

    bwrap    bubblewrap: new PID, network, IPC, UTS and mount namespaces; a root holding only
             /usr, the /lib dirs and the Python install, read-only; tmpfs /tmp; the temp dir
             bound writable at /sandbox; capabilities dropped.
    unshare  util-linux unshare: the same namespaces; tmpfs over /tmp, /var/tmp, /dev/shm, /run,
             /root and /home (the temp dir and the Python install bound back); the host's other
             files are read-only to it only through ordinary permissions.
    rlimit   no namespaces: limits, own uid (as root), own process group; no network isolation.

`strict=True` refuses the rlimit level (status 'error'). Status: 'passed' (exit 0), 'failed'
(non-zero exit, an exception, killed by a limit), 'timeout' (wall clock), 'error' (the sandbox
itself could not start the program). The caller is never killed or hung: the tree is killed with
SIGKILL on timeout and always swept afterwards.
"""

from __future__ import annotations

import math
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from functools import lru_cache

from evalfleet.sandbox.launcher import LAUNCHER

LEVELS = ("bwrap", "unshare", "rlimit")
"""Isolation levels, strongest first."""
NAMESPACED = ("bwrap", "unshare")
"""Levels that `strict` accepts."""
_MASKS = ("/tmp", "/var/tmp", "/dev/shm", "/run", "/root", "/home")
_UID_RANGE = (1_900_000_000, 2_000_000_000)


@dataclass(frozen=True)
class Limits:
    """Resource limits of one check (setrlimit, applied inside the sandbox)."""

    cpu_seconds: int | None = None
    """CPU seconds (RLIMIT_CPU); None = the timeout rounded up plus one."""
    address_space: int = 1 << 30
    """Virtual memory in bytes (RLIMIT_AS), default 1 GiB."""
    file_size: int = 64 << 20
    """Largest file the program may write, bytes (RLIMIT_FSIZE), default 64 MiB."""
    open_files: int = 64
    """Open file descriptors (RLIMIT_NOFILE)."""
    processes: int = 32
    """Processes and threads of the check (RLIMIT_NPROC; per check thanks to its own uid or user namespace)."""
    tmpfs_size: int = 64 << 20
    """Size of the sandbox's private /tmp (and other masks), bytes."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check."""

    status: str
    """'passed', 'failed', 'timeout' or 'error'."""
    isolation: str
    """Level used: 'bwrap', 'unshare', 'rlimit', or 'none' when nothing could run."""
    detail: str
    """Last line of the program's stderr, the signal or limit that stopped it, or why the sandbox failed."""

    def to_dict(self) -> dict:
        """{'status', 'isolation', 'detail'} for JSON."""
        return asdict(self)


def run_program(
    source: str,
    *,
    timeout: float = 10.0,
    strict: bool = False,
    limits: Limits = Limits(),
    isolation: str | None = None,
    success_marker: str | None = None,
) -> Verdict:
    """Run `source` as a Python program in the strongest sandbox available (or the `isolation` named).

    timeout: wall-clock seconds, > 0. strict: refuse levels without namespaces. isolation: force a
    level (tests). success_marker: 'passed' also needs this as the last line of the program's stdout
    (a check that exits 0 before its tests finished is then 'failed').
    """
    if timeout <= 0:
        raise ValueError("timeout must be > 0")
    if isolation is not None and isolation not in LEVELS:
        raise ValueError(f"isolation must be one of {LEVELS}, got {isolation!r}")
    if isolation is None:
        working = available_levels()
        isolation = next((lvl for lvl in working if not strict or lvl in NAMESPACED), None)
        if isolation is None:
            why = (
                "no namespace sandbox works here (install bubblewrap, or allow user namespaces)"
                if strict
                else "no sandbox level works here"
            )
            return Verdict("error", "none", f"{why}; tried {', '.join(LEVELS)}: {_last_failures()}")
    elif strict and isolation not in NAMESPACED:
        return Verdict("error", isolation, f"strict sandbox refuses level '{isolation}' (no namespaces)")
    return _execute(isolation, source, timeout, limits, success_marker)


@lru_cache(maxsize=None)
def available_levels() -> tuple[str, ...]:
    """The levels that actually run a trivial program on this machine, strongest first (tried once per process)."""
    found = []
    for level in LEVELS:
        verdict = _execute(level, "pass\n", 20.0, Limits())
        _FAILURES[level] = verdict.detail
        if verdict.status == "passed":
            found.append(level)
    return tuple(found)


_FAILURES: dict[str, str] = {}


def _last_failures() -> str:
    return "; ".join(f"{lvl}: {_FAILURES.get(lvl) or 'not tried'}" for lvl in LEVELS)


def _execute(level: str, source: str, timeout: float, limits: Limits, marker: str | None = None) -> Verdict:
    root = os.geteuid() == 0
    uid = random.SystemRandom().randrange(*_UID_RANGE) if root else None
    python = _python(level, root)
    if python is None:
        return Verdict(
            "error", level, f"no Python interpreter reachable by an unprivileged uid (tried {sys.executable})"
        )
    tool = {"bwrap": "bwrap", "unshare": "unshare", "rlimit": None}[level]
    if tool and not shutil.which(tool):
        return Verdict("error", level, f"'{tool}' is not installed")
    workdir = tempfile.mkdtemp(prefix="evalfleet-sandbox-")
    ready_r, ready_w = os.pipe()
    try:
        with open(os.path.join(workdir, "program.py"), "w", encoding="utf-8") as f:
            f.write(source)
        if uid is not None:
            os.chown(workdir, uid, uid)
        config = _config(level, workdir, timeout, limits, uid, ready_w, python)
        cmd = _command(level, python, workdir, repr(config), limits)
        with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
            try:
                proc = subprocess.Popen(
                    cmd,
                    cwd="/",
                    env={},
                    stdin=subprocess.DEVNULL,
                    stdout=out if marker else subprocess.DEVNULL,
                    stderr=err,
                    pass_fds=(ready_w,),
                    start_new_session=True,
                )
            except OSError as exc:
                return Verdict("error", level, f"cannot start the sandbox: {exc}")
            os.close(ready_w)
            ready_w = -1
            code, timed_out = _wait(proc, timeout, uid)
            os.set_blocking(ready_r, False)
            try:
                started = os.read(ready_r, 1) == b"R"
            except BlockingIOError:
                started = False
            stderr = _tail(err)
            stdout = _tail(out) if marker else ""
    finally:
        for fd in (ready_r, ready_w):
            if fd >= 0:
                os.close(fd)
        shutil.rmtree(workdir, ignore_errors=True)
    verdict = _verdict(level, started, timed_out, code, stderr, timeout)
    if marker and verdict.status == "passed" and stdout.rstrip("\n").rsplit("\n", 1)[-1] != marker:
        return Verdict("failed", level, "exited 0 before the check finished (no completion marker)")
    return verdict


def _tail(f, size: int = 4096) -> str:
    f.seek(0, os.SEEK_END)
    f.seek(max(0, f.tell() - size))
    return f.read().decode("utf-8", "replace")


def _verdict(level: str, started: bool, timed_out: bool, code: int, stderr: str, timeout: float) -> Verdict:
    lines = [line for line in stderr.splitlines() if line.strip()]
    last = lines[-1][:500] if lines else ""
    if not started:
        return Verdict(
            "error",
            level,
            f"sandbox setup failed (exit {code}): {last}"
            if not timed_out
            else f"sandbox did not start within {timeout:g} s",
        )
    if timed_out:
        return Verdict("timeout", level, f"killed after {timeout:g} s wall clock")
    if code == 0:
        return Verdict("passed", level, "")
    if code > 128:
        name = signal.Signals(code - 128).name if code - 128 in signal.valid_signals() else str(code - 128)
        why = {"SIGXCPU": " (CPU limit)", "SIGXFSZ": " (file size limit)"}.get(name, "")
        return Verdict("failed", level, f"killed by {name}{why}" + (f": {last}" if last else ""))
    return Verdict("failed", level, last or f"exit status {code}")


def _wait(proc: subprocess.Popen, timeout: float, uid: int | None) -> tuple[int, bool]:
    """Wait up to `timeout`; always kill the process group and the check's uid afterwards."""
    timed_out = False
    try:
        if hasattr(os, "pidfd_open"):  # wakes the moment the process exits (Popen.wait polls with sleeps)
            fd = os.pidfd_open(proc.pid)
            try:
                timed_out = not select.select([fd], [], [], timeout)[0]
            finally:
                os.close(fd)
        else:
            proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        _kill_group(proc.pid)
        if uid is not None:
            _kill_uid(uid)
        code = proc.wait()
    return code if code >= 0 else 128 - code, timed_out


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_uid(uid: int) -> None:
    """SIGKILL every process whose real uid is the check's own uid (daemons that left the group), until none is left."""
    for _ in range(100):
        found = False
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    if entry.stat().st_uid == uid and not _zombie(entry.path):
                        os.kill(int(entry.name), signal.SIGKILL)
                        found = True
                except (FileNotFoundError, ProcessLookupError, IndexError):
                    pass
        if not found:
            return
        time.sleep(0.01)


def _zombie(proc_dir: str) -> bool:
    with open(f"{proc_dir}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")


def _config(
    level: str, workdir: str, timeout: float, limits: Limits, uid: int | None, ready_fd: int, python: str
) -> dict:
    masks, binds, cwd = [], [], workdir
    if level == "bwrap":
        cwd = "/sandbox"
    elif level == "unshare":
        masks = [
            (m, "1777" if "tmp" in m or "shm" in m else "0755")
            for m in _MASKS
            if os.path.isdir(m) and not os.path.islink(m)
        ]
        cwd = "/tmp/sandbox"
        binds = [(workdir, cwd)] + [(p, p) for p in _python_roots(python) if any(_under(p, m) for m, _ in masks)]
    return {
        "masks": masks,
        "binds": binds,
        "cwd": cwd,
        "tmpfs_size": limits.tmpfs_size,
        "program": "program.py",
        "rlimits": {
            "RLIMIT_AS": limits.address_space,
            "RLIMIT_FSIZE": limits.file_size,
            "RLIMIT_NOFILE": limits.open_files,
            "RLIMIT_CORE": 0,
        },
        "cpu": limits.cpu_seconds or math.ceil(timeout) + 1,
        "nproc": limits.processes,
        "nproc_shared": level == "rlimit" and uid is None,
        "pdeathsig": level == "rlimit",
        "uid": uid,
        "gid": uid,
        "ready_fd": ready_fd,
        "path": _site_dirs() if python == sys.executable else [],
    }


def _command(level: str, python: str, workdir: str, config: str, limits: Limits) -> list[str]:
    launch = [python, "-I", "-S", "-c", LAUNCHER, config]
    root = os.geteuid() == 0
    # setpriv: the sandbox's outer process dies with the caller (bwrap has --die-with-parent itself).
    guard = ["setpriv", "--pdeathsig", "KILL"] if shutil.which("setpriv") else []
    if level == "rlimit":
        return guard + launch
    if level == "unshare":
        user = [] if root else ["--user", "--map-root-user"]
        return guard + [
            "unshare",
            *user,
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "--net",
            "--ipc",
            "--uts",
            "--propagation",
            "private",
            "--",
            *launch,
        ]
    args = [
        "bwrap",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
    ]
    if not root:
        args.append("--unshare-user")
    for d in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for f in ("/etc/ld.so.cache", "/etc/localtime"):
        args += ["--ro-bind-try", f, f]
    # The private /tmp first: an interpreter installed below /tmp (a venv there) is bound on top of it.
    args += [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--perms",
        "1777",
        "--size",
        str(limits.tmpfs_size),
        "--tmpfs",
        "/tmp",
        "--bind",
        workdir,
        "/sandbox",
    ]
    for prefix in _python_roots(python):
        if not _under(prefix, "/usr"):
            parts = prefix.split("/")
            for i in range(2, len(parts)):  # bwrap would copy a 0700 /root; the check's uid must pass through
                args += ["--perms", "0755", "--dir", "/".join(parts[:i])]
            args += ["--ro-bind", prefix, prefix]
    if root:
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return args + ["--", *launch]


def _site_dirs() -> list[str]:
    """This interpreter's site-packages: put on sys.path without running site (its .pth hooks cost 0.2 s a check)."""
    import site

    return [p for p in site.getsitepackages() if os.path.isdir(p)]


def _python(level: str, root: bool) -> str | None:
    """The interpreter: this one, unless the rlimit level (no mounts) runs as a uid that cannot reach it."""
    if level != "rlimit" or not root or _world_reachable(sys.executable):
        return sys.executable
    return next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if _world_reachable(p)), None)


def _world_reachable(path: str) -> bool:
    """Every directory above `path` is world-searchable and the file world-executable (symlinks followed)."""
    real = os.path.realpath(path)
    try:
        if not os.stat(real).st_mode & 0o001:
            return False
        parts = real.split("/")
        return all(os.stat("/".join(parts[:i]) or "/").st_mode & 0o001 for i in range(1, len(parts)))
    except OSError:
        return False


def _python_roots(python: str) -> list[str]:
    """Directories holding the interpreter and its standard library and packages (venv and base)."""
    roots = []
    for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.dirname(os.path.realpath(python)))):
        real = os.path.realpath(p)
        if real not in roots and real != "/":
            roots.append(real)
    return [r for r in roots if not any(r != o and _under(r, o) for o in roots)]


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")
