"""Run one untrusted Python program (a HumanEval completion and its test) in a sandbox → a Verdict.

Every check gets its own process tree: an empty environment, resource limits, a wall-clock
timeout that kills the whole tree, and — when evalfleet runs as root — a dedicated random uid,
so the process limit counts this check alone and the program owns nothing on the host. The
strongest isolation that works on this machine is used, tried once per process, strongest first:

    bwrap    bubblewrap: new PID, network, IPC, UTS and mount namespaces; a root holding only
             /usr, the /lib dirs and the Python install, read-only; the only writable place a
             size-limited tmpfs /tmp, working directory /tmp/sandbox; capabilities dropped.
    unshare  util-linux unshare: the same namespaces; the same writable tmpfs /tmp; read-only
             empty tmpfs over /var/tmp, /dev/shm, /run, /root and /home (the Python install
             bound back); the host's other files are read-only to it only through ordinary
             permissions.
    rlimit   no namespaces: limits, own uid (as root), own process group; no network isolation;
             its working directory is a host temp dir whose size is watched.

The whole check is bounded, not just each process. Where evalfleet can create cgroups (see
`cgroup.support()`), each check gets its own: memory (its processes, its tmpfs pages, kernel
memory) and processes of the whole tree limited together (`Limits.memory`, `Limits.processes`),
the isolation recorded as e.g. 'bwrap+cgroup'. Without one, the per-process limits are cut so
that processes × address space stays within `Limits.memory` (`Limits.rlimits`). Disk: one
tmpfs of `Limits.disk` bytes (and `Limits.files` inodes where the sandbox may set them) at the
namespaced levels; a watched total at the rlimit level, killed when over.

`strict=True` needs a namespaced level and a per-check cgroup, and refuses to run otherwise
(status 'error'). Status: 'passed' (exit 0), 'failed' (non-zero exit, an exception, killed by a
limit), 'timeout' (wall clock), 'error' (the sandbox itself could not start the program). The
caller is never killed or hung: the tree is killed with SIGKILL on timeout and always swept
afterwards (process group, cgroup, uid).
"""

from __future__ import annotations

import math
import os
import random
import select
import shutil
import signal
import site
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache

from evalfleet.sandbox import cgroup as cgroups
from evalfleet.sandbox.launcher import LAUNCHER

LEVELS = ("bwrap", "unshare", "rlimit")
"""Isolation levels, strongest first."""
NAMESPACED = ("bwrap", "unshare")
"""Levels that `strict` accepts (with a cgroup)."""
CGROUP = "+cgroup"
"""Suffix of the recorded isolation when the check ran in its own cgroup."""
_MASKS = ("/tmp", "/var/tmp", "/dev/shm", "/run", "/root", "/home")
_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm")
"""World-writable host dirs an rlimit-level check can write to: watched and swept by uid."""
_UID_RANGE = (1_900_000_000, 2_000_000_000)
_CGROUP_EXTRA_PIDS = 4
"""Sandbox processes beside the program's own in the cgroup (bwrap's two, unshare's, the launcher)."""
_WATCH_S = 0.05
"""How often the rlimit level's disk use is measured."""
_WORKDIR_PREFIX = "evalfleet-sandbox-"
"""Working dirs: evalfleet-sandbox-<creator pid>-<random>, in the host's temp dir."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one check: per process (setrlimit, inside the sandbox) and for the whole check."""

    cpu_seconds: int | None = None
    """CPU seconds (RLIMIT_CPU); None = the timeout rounded up plus one."""
    address_space: int = 1 << 30
    """Virtual memory of one process, bytes (RLIMIT_AS), default 1 GiB; lowered without a cgroup (see `rlimits`)."""
    file_size: int = 64 << 20
    """Largest file the program may write, bytes (RLIMIT_FSIZE), default 64 MiB."""
    open_files: int = 64
    """Open file descriptors (RLIMIT_NOFILE)."""
    processes: int = 32
    """Processes and threads of the check (cgroup pids.max and RLIMIT_NPROC); lowered without a cgroup."""
    memory: int = 1 << 30
    """Memory of the whole check, bytes, default 1 GiB: its cgroup's limit (all processes, tmpfs and kernel memory
    together); without a cgroup, processes × address space are kept within it."""
    disk: int = 64 << 20
    """Bytes the check may write in all (its working directory and /tmp), default 64 MiB."""
    files: int = 4096
    """Files and directories the check may create (tmpfs inodes; a watched count at the rlimit level)."""
    min_address_space: int = 256 << 20
    """Without a cgroup: the least address space a process keeps; the process count is cut to memory // this."""

    def rlimits(self, cgroup: bool) -> tuple[int, int]:
        """(RLIMIT_AS, RLIMIT_NPROC): as given with a cgroup, else cut so that processes × address space ≤ memory."""
        if cgroup:
            return self.address_space, self.processes
        processes = max(1, min(self.processes, self.memory // self.min_address_space))
        return min(self.address_space, self.memory // processes), processes


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check."""

    status: str
    """'passed', 'failed', 'timeout' or 'error'."""
    isolation: str
    """Level used: 'bwrap', 'unshare', 'rlimit', with '+cgroup' when the check had its own cgroup; 'none' when
    nothing could run."""
    detail: str
    """Last line of the program's stderr, the signal or limit that stopped it, or why the sandbox failed."""
    memory_peak: int | None = field(default=None, compare=False)
    """Most memory the check's cgroup held at once, bytes (the kernel's own counter); None without a cgroup."""

    def to_dict(self) -> dict:
        """{'status', 'isolation', 'detail', 'memory_peak'} for JSON."""
        return asdict(self)


@dataclass(frozen=True)
class _Outcome:
    """What the sandbox process did."""

    started: bool
    """The launcher reported that setup worked."""
    timed_out: bool
    """Killed at the wall-clock timeout."""
    code: int
    """Exit status (128 + signal when killed)."""
    stderr: str
    """Tail of stderr."""
    stdout: str
    """Tail of stdout (only kept when a success marker is asked for)."""
    overrun: str = ""
    """Why the watchdog killed it (rlimit level: disk budget), or ''."""


def run_program(
    source: str,
    *,
    timeout: float = 10.0,
    strict: bool = False,
    limits: Limits = Limits(),
    isolation: str | None = None,
    cgroup: bool | None = None,
    success_marker: str | None = None,
) -> Verdict:
    """Run `source` as a Python program in the strongest sandbox available (or the `isolation` named).

    timeout: wall-clock seconds, > 0. strict: refuse levels without namespaces, and run only in a
    per-check cgroup. isolation: force a level (tests). cgroup: None = a per-check cgroup when
    one can be created, True = required ('error' otherwise), False = never (budgeted rlimits).
    success_marker: 'passed' also needs this as the last line of the program's stdout (a check
    that exits 0 before its tests finished is then 'failed').
    """
    if timeout <= 0:
        raise ValueError("timeout must be > 0")
    if isolation is not None and isolation not in LEVELS:
        raise ValueError(f"isolation must be one of {LEVELS}, got {isolation!r}")
    if strict and cgroup is False:
        return Verdict("error", "none", "strict sandbox needs a per-check cgroup (cgroup=False given)")
    level, refusal = _choose(isolation, strict)
    if refusal:
        return Verdict("error", level, refusal)
    found = cgroups.support() if cgroup is not False else None
    required = strict or cgroup is True
    if required and not found.ok:
        why = "strict sandbox needs" if strict else "asked for"
        return Verdict("error", level, f"{why} a per-check cgroup; none can be created here: {found.reason}")
    usable = found if found is not None and found.ok else None
    return _execute(level, source, timeout, limits, success_marker, usable, required)


def _choose(isolation: str | None, strict: bool) -> tuple[str, str]:
    """(level, '') or (level or 'none', why it is refused)."""
    if isolation is None:
        level = next((lvl for lvl in available_levels() if not strict or lvl in NAMESPACED), None)
        if level is not None:
            return level, ""
        why = (
            "no namespace sandbox works here (install bubblewrap, or allow user namespaces)"
            if strict
            else "no sandbox level works here"
        )
        return "none", f"{why}; tried {', '.join(LEVELS)}: {_last_failures()}"
    if strict and isolation not in NAMESPACED:
        return isolation, f"strict sandbox refuses level '{isolation}' (no namespaces)"
    return isolation, ""


@lru_cache(maxsize=None)
def available_levels() -> tuple[str, ...]:
    """The levels that actually run a trivial program on this machine, strongest first (tried once per process)."""
    _sweep_stale_workdirs()
    found = []
    for level in LEVELS:
        verdict = _execute(level, "pass\n", 20.0, Limits())
        _FAILURES[level] = verdict.detail
        if verdict.status == "passed":
            found.append(level)
    return tuple(found)


def _sweep_stale_workdirs() -> None:
    """Remove working dirs left by evalfleet processes killed mid-check (e.g. with their Ray worker)."""
    try:
        entries = list(os.scandir(tempfile.gettempdir()))
    except OSError:
        return
    for entry in entries:
        if cgroups.stale(entry.path, _WORKDIR_PREFIX):
            shutil.rmtree(entry.path, ignore_errors=True)


def strict_available() -> bool:
    """A strict check can run here: a namespaced level works and per-check cgroups can be created."""
    return bool(set(available_levels()) & set(NAMESPACED)) and cgroups.support().ok


def base_level(isolation: str) -> str:
    """'bwrap+cgroup' → 'bwrap' (the namespace level of a recorded isolation)."""
    return isolation.split("+", 1)[0]


_FAILURES: dict[str, str] = {}


def _last_failures() -> str:
    return "; ".join(f"{lvl}: {_FAILURES.get(lvl) or 'not tried'}" for lvl in LEVELS)


def _execute(
    level: str,
    source: str,
    timeout: float,
    limits: Limits,
    marker: str | None = None,
    found: cgroups.Support | None = None,
    required: bool = False,
) -> Verdict:
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
    group, workdir = None, tempfile.mkdtemp(prefix=f"{_WORKDIR_PREFIX}{os.getpid()}-")  # the pid says whose
    try:
        if found is not None:
            try:
                group = cgroups.create(found, limits.memory, limits.processes + _CGROUP_EXTRA_PIDS)
            except OSError as exc:
                if required:
                    return Verdict("error", level, f"cannot create the check's cgroup: {exc}")
        outcome = _launch(level, source, workdir, python, uid, timeout, limits, group, marker is not None)
        peak, oom_kills = (group.memory_peak(), group.oom_kills()) if group else (None, 0)
    finally:
        if group is not None:
            group.remove()
        if uid is not None and level == "rlimit":
            _remove_owned(uid)
        shutil.rmtree(workdir, ignore_errors=True)
    label = level + CGROUP if group is not None else level
    verdict = _verdict(label, outcome, timeout, oom_kills)
    if marker and verdict.status == "passed" and outcome.stdout.rstrip("\n").rsplit("\n", 1)[-1] != marker:
        verdict = Verdict("failed", label, "exited 0 before the check finished (no completion marker)")
    return replace(verdict, memory_peak=peak)


def _launch(
    level: str,
    source: str,
    workdir: str,
    python: str,
    uid: int | None,
    timeout: float,
    limits: Limits,
    group: cgroups.CheckCgroup | None,
    keep_stdout: bool,
) -> _Outcome:
    """Start the sandbox for the program (in `group` when given), wait for it, sweep its tree."""
    with open(os.path.join(workdir, "program.py"), "w", encoding="utf-8") as f:
        f.write(source)
    if uid is not None:
        os.chown(workdir, uid, uid)
    ready_r, ready_w = os.pipe()
    try:
        config = _config(level, workdir, timeout, limits, uid, ready_w, python, group is not None)
        cmd = _command(level, python, workdir, repr(config), limits, group)
        watch = _disk_watch(workdir, uid, limits) if level == "rlimit" else None
        with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
            try:
                proc = subprocess.Popen(
                    cmd,
                    cwd="/",
                    env={},
                    stdin=subprocess.DEVNULL,
                    stdout=out if keep_stdout else subprocess.DEVNULL,
                    stderr=err,
                    pass_fds=(ready_w,),
                    start_new_session=True,
                )
            except OSError as exc:
                return _Outcome(False, False, 125, f"cannot start the sandbox: {exc}", "")
            os.close(ready_w)
            ready_w = -1
            code, timed_out, overrun = _wait(proc, timeout, lambda: _sweep(proc.pid, group, uid), watch)
            return _Outcome(_ready(ready_r), timed_out, code, _tail(err), _tail(out) if keep_stdout else "", overrun)
    finally:
        for fd in (ready_r, ready_w):
            if fd >= 0:
                os.close(fd)


def _ready(fd: int) -> bool:
    """The launcher wrote its one byte: setup worked."""
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 1) == b"R"
    except BlockingIOError:
        return False


def _tail(f, size: int = 4096) -> str:
    f.seek(0, os.SEEK_END)
    f.seek(max(0, f.tell() - size))
    return f.read().decode("utf-8", "replace")


def _verdict(label: str, outcome: _Outcome, timeout: float, oom_kills: int = 0) -> Verdict:
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    last = lines[-1][:500] if lines else ""
    code = outcome.code
    if not outcome.started:
        return Verdict(
            "error",
            label,
            f"sandbox setup failed (exit {code}): {last}"
            if not outcome.timed_out
            else f"sandbox did not start within {timeout:g} s",
        )
    if outcome.timed_out:
        return Verdict("timeout", label, f"killed after {timeout:g} s wall clock")
    if outcome.overrun:
        return Verdict("failed", label, f"killed: {outcome.overrun}")
    oom = f" (memory limit of the check: {oom_kills} process(es) killed)" if oom_kills else ""
    if code == 0:
        return Verdict("passed", label, "")
    if code > 128:
        name = signal.Signals(code - 128).name if code - 128 in signal.valid_signals() else str(code - 128)
        why = {"SIGXCPU": " (CPU limit)", "SIGXFSZ": " (file size limit)"}.get(name, "")
        return Verdict("failed", label, f"killed by {name}{why or oom}" + (f": {last}" if last else ""))
    return Verdict("failed", label, (last or f"exit status {code}") + oom)


def _wait(
    proc: subprocess.Popen, timeout: float, sweep: Callable[[], None], watch: Callable[[], str] | None
) -> tuple[int, bool, str]:
    """Wait up to `timeout` (stopping early when `watch` gives a reason); always sweep the tree afterwards.

    → (exit status, timed out, the watch's reason or '').
    """
    timed_out, overrun = False, ""
    try:
        timed_out, overrun = _watch(proc, timeout, watch)
    finally:
        sweep()
        code = proc.wait()
    return code if code >= 0 else 128 - code, timed_out, overrun


def _watch(proc: subprocess.Popen, timeout: float, watch: Callable[[], str] | None) -> tuple[bool, str]:
    """(timed out, reason) once the process exits, `timeout` passes, or `watch` (called every _WATCH_S) objects."""
    deadline = time.monotonic() + timeout
    fd = _pidfd(proc.pid)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return True, ""
            if _exits_within(proc, fd, min(left, _WATCH_S) if watch else left):
                return False, ""
            reason = watch() if watch else ""
            if reason:
                return False, reason
    finally:
        if fd is not None:
            os.close(fd)


def _pidfd(pid: int) -> int | None:
    """A pidfd (wakes the moment the process exits; Popen.wait polls with sleeps), or None where unsupported."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _exits_within(proc: subprocess.Popen, fd: int | None, seconds: float) -> bool:
    if fd is not None:
        return bool(select.select([fd], [], [], seconds)[0])
    try:
        proc.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def _sweep(pgid: int, group: cgroups.CheckCgroup | None, uid: int | None) -> None:
    """Kill the check's process group, everything in its cgroup, and every process of its uid."""
    _kill_group(pgid)
    if group is not None:
        group.kill()
    if uid is not None:
        _kill_uid(uid)


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


def _disk_watch(workdir: str, uid: int | None, limits: Limits) -> Callable[[], str]:
    """The rlimit level's disk budget: bytes and entries in the working dir and, with its own uid, in the
    world-writable host dirs; a reason once either is over."""

    def check() -> str:
        owned = _owned(uid)
        used, entries = _usage([workdir] + owned, limits)
        entries += len(owned)
        if used > limits.disk:
            return f"disk budget of the check exceeded (over {limits.disk} bytes written)"
        if entries > limits.files:
            return f"file budget of the check exceeded (over {limits.files} files)"
        return ""

    return check


def _usage(paths: list[str], limits: Limits) -> tuple[int, int]:
    """(bytes allocated, entries) below `paths`, symlinks not followed; stops early once over a budget."""
    used, entries, dirs = 0, 0, []
    for path in paths:
        try:
            st = os.lstat(path)
        except OSError:
            continue
        used += st.st_blocks * 512
        dirs += [path] if stat.S_ISDIR(st.st_mode) else []
    while dirs and used <= limits.disk and entries <= limits.files:
        try:
            with os.scandir(dirs.pop()) as found:
                for entry in found:
                    entries += 1
                    used += entry.stat(follow_symlinks=False).st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        dirs.append(entry.path)
        except OSError:
            pass
    return used, entries


def _owned(uid: int | None) -> list[str]:
    """Entries of the world-writable host dirs owned by `uid` (what an rlimit-level check wrote there)."""
    if uid is None:
        return []
    found = []
    for d in dict.fromkeys(_WRITABLE + (tempfile.gettempdir(),)):
        try:
            found += [e.path for e in os.scandir(d) if e.stat(follow_symlinks=False).st_uid == uid]
        except OSError:
            pass
    return found


def _remove_owned(uid: int) -> None:
    """Delete what an rlimit-level check with its own uid left in the world-writable host dirs."""
    for path in _owned(uid):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def _config(
    level: str,
    workdir: str,
    timeout: float,
    limits: Limits,
    uid: int | None,
    ready_fd: int,
    python: str,
    in_cgroup: bool,
) -> dict:
    address_space, processes = limits.rlimits(in_cgroup)
    tmp = f"size={limits.disk},nr_inodes={limits.files},mode=1777"
    masks, binds, readonly, remount, source, cwd = [], [], [], [], None, workdir
    if level == "bwrap":
        cwd = "/tmp/sandbox"
        if uid is not None:  # root: bwrap can set the size only; the launcher (CAP_SYS_ADMIN until it drops to
            remount = [("/tmp", tmp)]  # the check's uid) also bounds the inodes
    elif level == "unshare":
        present = [m for m in _MASKS if os.path.isdir(m) and not os.path.islink(m)]
        masks = [(m, tmp if m == "/tmp" else "size=64k,nr_inodes=256,mode=0755") for m in present]
        readonly = [m for m in present if m != "/tmp"]
        binds = [(p, p) for p in _python_roots(python) if any(_under(p, m) for m in present)]
        source, cwd = os.path.join(workdir, "program.py"), "/tmp/sandbox"
    return {
        "masks": masks,
        "binds": binds,
        "readonly": readonly,
        "remount": remount,
        "source": source,
        "cwd": cwd,
        "program": "program.py",
        "rlimits": {
            "RLIMIT_AS": address_space,
            "RLIMIT_FSIZE": limits.file_size,
            "RLIMIT_NOFILE": limits.open_files,
            "RLIMIT_CORE": 0,
        },
        "cpu": limits.cpu_seconds or math.ceil(timeout) + 1,
        "nproc": processes,
        "nproc_shared": level == "rlimit" and uid is None,
        "pdeathsig": level == "rlimit",
        "uid": uid,
        "gid": uid,
        "ready_fd": ready_fd,
        "path": _site_dirs() if python == sys.executable else [],
    }


def _command(
    level: str, python: str, workdir: str, config: str, limits: Limits, group: cgroups.CheckCgroup | None
) -> list[str]:
    launch = [python, "-I", "-S", "-c", LAUNCHER, config]
    root = os.geteuid() == 0
    # setpriv: the sandbox's outer process dies with the caller (bwrap has --die-with-parent itself); then the
    # cgroup's `sh`, which moves itself into the check's cgroup and execs the sandbox.
    guard = ["setpriv", "--pdeathsig", "KILL"] if shutil.which("setpriv") else []
    guard += group.enter_command() if group is not None else []
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
    return guard + _bwrap_args(python, workdir, limits, root) + ["--", *launch]


def _bwrap_args(python: str, workdir: str, limits: Limits, root: bool) -> list[str]:
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
    # The one writable place: a size-limited tmpfs /tmp holding the working directory and the program (read-only).
    # It comes first: an interpreter installed below /tmp (a venv there) is bound on top of it.
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(limits.disk), "--tmpfs", "/tmp"]
    args += ["--perms", "1777", "--dir", "/tmp/sandbox"]
    args += ["--ro-bind", os.path.join(workdir, "program.py"), "/tmp/sandbox/program.py"]
    for prefix in _python_roots(python):
        if not _under(prefix, "/usr"):
            parts = prefix.split("/")
            for i in range(2, len(parts)):  # bwrap would copy a 0700 /root; the check's uid must pass through
                args += ["--perms", "0755", "--dir", "/".join(parts[:i])]
            args += ["--ro-bind", prefix, prefix]
    if root:  # SETUID/SETGID to drop to the check's uid, SYS_ADMIN to bound /tmp's inodes: all gone after the drop
        args += ["--cap-drop", "ALL"]
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SYS_ADMIN"]
    return args


def _site_dirs() -> list[str]:
    """This interpreter's site-packages: put on sys.path without running site (its .pth hooks cost 0.2 s a check)."""
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
