"""Per-check cgroups: the memory and the processes of a check's whole process tree, limited together.

A check's cgroup is created before the check starts, below evalfleet's own cgroup (or below the
directory named by EVALFLEET_SANDBOX_CGROUP), its limits written, the sandbox's first process put
into it before anything else runs (a `sh` that writes itself to cgroup.procs, then execs the
sandbox, so every later process is born inside), and after the check its processes are killed
and the cgroup removed.

    v2   one directory: memory.max, memory.swap.max = 0, pids.max (needs the memory and pids
         controllers enabled for the parent's children: written to its cgroup.subtree_control,
         which the kernel refuses for a non-root cgroup that holds processes itself).
    v1   one directory in the memory hierarchy (memory.limit_in_bytes, memory.memsw.limit_in_bytes
         where swap is accounted) and one in the pids hierarchy (pids.max).

The memory limit covers everything the kernel charges to the cgroup: the processes' pages, the
pages of a tmpfs they write (the sandbox's private /tmp) and kernel memory (inodes, dentries).
`support()` finds out, once per process and by trying (create, write the limits, remove), whether
and where this works; a failure gives the reason.
"""

from __future__ import annotations

import os
import random
import shlex
import signal
import time
from dataclasses import dataclass
from functools import lru_cache

ENV = "EVALFLEET_SANDBOX_CGROUP"
"""Parent cgroup directory (v2), or the memory and pids directories joined by ':' (v1), to use instead of our own."""
PREFIX = "evalfleet-"
"""Names of per-check cgroups: evalfleet-<creator pid>-<random hex>."""
STALE_S = 3600.0
"""A per-check cgroup or working dir is swept once its creator is gone and it is older than this (the pid may be
another PID namespace's where cgroups or /tmp are shared)."""


@dataclass(frozen=True)
class Support:
    """Where per-check cgroups can be created on this machine, or why not."""

    version: int
    """2 or 1; 0 when no cgroup can be created."""
    parents: tuple[str, ...] = ()
    """Directories the per-check cgroups go below: v2 one; v1 the memory one, then the pids one."""
    reason: str = ""
    """Why cgroups cannot be used (version 0), e.g. the error writing the limits."""

    @property
    def ok(self) -> bool:
        """Per-check cgroups work here."""
        return self.version > 0


@dataclass(frozen=True)
class CheckCgroup:
    """The cgroup (v2) or cgroups (v1: memory, pids) of one check."""

    version: int
    """2 or 1."""
    dirs: tuple[str, ...]
    """v2: (dir,); v1: (memory dir, pids dir)."""

    @property
    def memory_dir(self) -> str:
        """The directory holding the memory files."""
        return self.dirs[0]

    def enter_command(self) -> list[str]:
        """A command prefix that moves itself into this cgroup, then execs the rest of the command line."""
        moves = " && ".join(f"echo 0 > {shlex.quote(os.path.join(d, 'cgroup.procs'))}" for d in self.dirs)
        return ["/bin/sh", "-c", moves + ' && exec "$@"', "sh"]

    def pids(self) -> list[int]:
        """Processes in the cgroup now."""
        found: set[int] = set()
        for d in self.dirs:
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    found.update(int(line) for line in f if line.strip())
            except OSError:
                pass
        return sorted(found)

    def memory_peak(self) -> int | None:
        """Most memory the cgroup held at once, bytes (v1 memory.max_usage_in_bytes, v2 memory.peak), or None."""
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        try:
            return int(_read(os.path.join(self.memory_dir, name)))
        except (OSError, ValueError):
            return None

    def oom_kills(self) -> int:
        """Processes the kernel killed for the cgroup's memory limit (v1 memory.oom_control, v2 memory.events)."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            fields = dict(line.split() for line in _read(os.path.join(self.memory_dir, name)).splitlines())
            return int(fields.get("oom_kill", 0))
        except (OSError, ValueError):
            return 0

    def kill(self, wait_s: float = 2.0) -> bool:
        """SIGKILL every process in the cgroup until none is left (or `wait_s` passed); True if it is empty."""
        if self.version == 2:
            try:
                _write(os.path.join(self.dirs[0], "cgroup.kill"), "1")  # Linux >= 5.14: atomic, forks included
            except OSError:
                pass
        deadline = time.monotonic() + wait_s
        while True:
            pids = self.pids()
            if not pids:
                return True
            if time.monotonic() > deadline:
                return False
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.002)

    def remove(self, wait_s: float = 2.0) -> bool:
        """Kill what is left and remove the directories; True when all are gone."""
        self.kill(wait_s)
        return all(_rmdir(d, wait_s) for d in self.dirs)


def create(found: Support, memory: int, pids: int) -> CheckCgroup:
    """A new per-check cgroup with these limits (memory in bytes, pids counting threads); raises OSError."""
    if not found.ok:
        raise OSError(f"no cgroup: {found.reason}")
    for parent in found.parents:
        if not os.path.exists(os.path.join(parent, "cgroup.procs")):
            raise OSError(f"{parent} is not a cgroup directory (no cgroup.procs)")
    name = f"{PREFIX}{os.getpid()}-{random.SystemRandom().getrandbits(48):012x}"
    group = CheckCgroup(found.version, tuple(os.path.join(p, name) for p in found.parents))
    try:
        for d in group.dirs:
            os.mkdir(d)
        _limit(group, memory, pids)
    except OSError:
        group.remove(0.0)
        raise
    return group


def _limit(group: CheckCgroup, memory: int, pids: int) -> None:
    if group.version == 2:
        _write(os.path.join(group.dirs[0], "memory.max"), str(memory))
        _write_if_present(os.path.join(group.dirs[0], "memory.swap.max"), "0")
        _write(os.path.join(group.dirs[0], "pids.max"), str(pids))
        return
    _write(os.path.join(group.dirs[0], "memory.limit_in_bytes"), str(memory))
    _write_if_present(os.path.join(group.dirs[0], "memory.memsw.limit_in_bytes"), str(memory))  # no swap beyond it
    _write(os.path.join(group.dirs[1], "pids.max"), str(pids))


@lru_cache(maxsize=None)
def support() -> Support:
    """Whether per-check cgroups work here (v2 tried first, then v1), found by creating one; once per process."""
    reasons = []
    for version, parents in _candidates():
        if isinstance(parents, str):
            reasons.append(f"v{version}: {parents}")
            continue
        found = Support(version, parents)
        for parent in parents:
            _sweep_stale(parent)
        try:
            create(found, 64 << 20, 8).remove()
            return found
        except OSError as exc:
            reasons.append(f"v{version} below {', '.join(parents)}: {exc}")
    return Support(0, (), "; ".join(reasons) or "no cgroup filesystem mounted")


def _candidates() -> list[tuple[int, tuple[str, ...] | str]]:
    """(version, parent dirs) to try, or (version, why not) where a version cannot work."""
    configured = os.environ.get(ENV)
    if configured:
        dirs = tuple(configured.split(":"))
        version = 2 if os.path.exists(os.path.join(dirs[0], "cgroup.controllers")) else 1
        if len(dirs) != version % 2 + 1:  # v2: one dir; v1: the memory dir and the pids dir
            return [(version, f"{ENV}={configured!r}: v{version} needs {version % 2 + 1} dir(s) joined by ':'")]
        return [(version, _v2_ready(dirs[0]) if version == 2 else dirs)]
    mounts, own = _mounts(), _own_cgroups()
    return [(2, _v2_parent(mounts, own)), (1, _v1_parents(mounts, own))]


def _v2_parent(mounts: list[tuple[str, str, str, set[str]]], own: dict[str, str]) -> tuple[str, ...] | str:
    v2 = [(root, point) for root, point, fstype, _ in mounts if fstype == "cgroup2"]
    if not v2 or "" not in own:
        return "no cgroup2 filesystem mounted"
    return _v2_ready(_own_dir(*v2[0], own[""]))


def _v2_ready(parent: str) -> tuple[str, ...] | str:
    """(parent,) once its children get the memory and pids controllers, or why they cannot."""
    controllers = _words(os.path.join(parent, "cgroup.controllers"))
    missing = {"memory", "pids"} - controllers
    if missing:
        return f"controllers {', '.join(sorted(missing))} not available in {parent} (bound to cgroup v1?)"
    enabled = _words(os.path.join(parent, "cgroup.subtree_control"))
    try:
        if {"memory", "pids"} - enabled:
            _write(os.path.join(parent, "cgroup.subtree_control"), "+memory +pids")
    except OSError as exc:
        return f"cannot enable memory and pids for the children of {parent}: {exc} (set {ENV} to a delegated cgroup)"
    return (parent,)


def _v1_parents(mounts: list[tuple[str, str, str, set[str]]], own: dict[str, str]) -> tuple[str, ...] | str:
    parents = []
    for controller in ("memory", "pids"):
        found = [(root, point) for root, point, fstype, opts in mounts if fstype == "cgroup" and controller in opts]
        if not found or controller not in own:
            return f"no cgroup v1 {controller} hierarchy mounted"
        parents.append(_own_dir(*found[0], own[controller]))
    return tuple(parents)


def _own_dir(mount_root: str, mount_point: str, path: str) -> str:
    """Our cgroup's directory in a mounted hierarchy (the mount point if our cgroup lies outside the mounted part)."""
    rel = os.path.relpath(path, mount_root)
    mine = os.path.normpath(os.path.join(mount_point, rel)) if not rel.startswith("..") else mount_point
    return mine if os.path.isdir(mine) else mount_point


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(root, mount point, fstype, super options) of every cgroup mount, from /proc/self/mountinfo."""
    out = []
    try:
        lines = _read("/proc/self/mountinfo").splitlines()
    except OSError:
        return out
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            out.append((fields[3], _unescape(fields[4]), tail[0], set(tail[2].split(","))))
    return out


def _own_cgroups() -> dict[str, str]:
    """Controller → our cgroup path, from /proc/self/cgroup ('' for the v2 hierarchy)."""
    own = {}
    try:
        lines = _read("/proc/self/cgroup").splitlines()
    except OSError:
        return own
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            own[name] = path
    return own


def _sweep_stale(parent: str) -> None:
    """Remove per-check cgroups left by evalfleet processes that died before cleaning up."""
    try:
        entries = os.listdir(parent)
    except OSError:
        return
    for name in entries:
        if stale(os.path.join(parent, name), PREFIX):
            CheckCgroup(0, (os.path.join(parent, name),)).remove(0.5)


def stale(path: str, prefix: str) -> bool:
    """`path` is named <prefix><pid>-..., that process is gone, and it is older than STALE_S."""
    name = os.path.basename(path)
    pid = name[len(prefix) :].split("-", 1)[0] if name.startswith(prefix) else ""
    try:
        old = time.time() - os.lstat(path).st_mtime > STALE_S
    except OSError:
        return False
    return pid.isdigit() and old and not os.path.exists(f"/proc/{pid}")


def _rmdir(path: str, wait_s: float) -> bool:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            os.rmdir(path)
            return True
        except FileNotFoundError:
            return True
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _words(path: str) -> set[str]:
    """The words of a one-line cgroup file; empty if it cannot be read."""
    try:
        return set(_read(path).split())
    except OSError:
        return set()


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _write_if_present(path: str, value: str) -> None:
    if os.path.exists(path):
        _write(path, value)


def _unescape(path: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
