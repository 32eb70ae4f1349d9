"""The built wheel, installed non-editable into a fresh virtual environment, works on its own.

The wheel is built with `pip wheel --no-deps --no-build-isolation` from a copy of the checkout (version
control, virtual environments, caches and build output left out), so the build neither writes `build/` and
`*.egg-info` into the working tree nor picks up a stale `build/lib` or `__pycache__` from it. The virtual
environment sees the machine's site-packages (`--system-site-packages`: torch, Ray and transformers come from
there, nothing is downloaded) and gets the wheel with `pip install --no-deps`. Commands run from a directory
outside the checkout. The machine may also hold an editable install of the checkout; the venv's own
site-packages precedes the system's on `sys.path`, so the installed copy must be the one imported, which
`test_the_venv_imports_its_own_copy` checks rather than assumes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "evalfleet"
SKIPPED_AT_TOP = {".git", "build", "dist", ".hypothesis", ".pytest_cache", ".ruff_cache", ".benchmarks", ".cache"}
"""Top-level entries of the checkout that are not source (besides .venv*, results*, demo-out*)."""


def copy_checkout(dest: Path) -> Path:
    """The checkout's source tree at `dest`, without VCS data, venvs, caches, build output or run results."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".egg-info"))}
        if Path(directory) == ROOT:
            skipped |= {n for n in names if n in SKIPPED_AT_TOP or n.startswith((".venv", "results", "demo-out"))}
        return skipped

    shutil.copytree(ROOT, dest, symlinks=True, ignore=ignore)
    return dest


def clean_env() -> dict[str, str]:
    """This process's environment without what would redirect imports, task specs or the Ray cluster."""
    dropped = ("PYTHONPATH", "PYTHONHOME", "EVALFLEET_HOME", "RAY_ADDRESS", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in dropped}


def run(args: list, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{args} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def in_a_package(path: Path) -> bool:
    """True when every directory from evalfleet/ down to `path` has an __init__.py (so setuptools packages it)."""
    directory = path.parent
    while True:
        if not (directory / "__init__.py").is_file():
            return False
        if directory == PACKAGE:
            return True
        directory = directory.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    source = copy_checkout(base / "source")
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", base / "dist", source],
        cwd=base,
        timeout=300,
    )
    (found,) = (base / "dist").glob("evalfleet-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel) -> Path:
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    run([sys.executable, "-m", "venv", "--system-site-packages", env_dir], cwd=env_dir.parent, timeout=300)
    run([env_dir / "bin" / "python", "-m", "pip", "install", "--no-deps", wheel], cwd=env_dir.parent, timeout=300)
    return env_dir


def test_the_wheel_carries_code_and_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())

    def expected(pattern: str) -> set[str]:
        found = {f"evalfleet/{p.relative_to(PACKAGE).as_posix()}" for p in PACKAGE.glob(pattern) if p.is_file()}
        assert found, f"nothing in the checkout matches evalfleet/{pattern}"
        return found

    data = (
        expected("home/tasks/*.yaml")
        | expected("home/scoring/*.yaml")
        | expected("checks/probe_corpus/*.txt")
        | expected("checks/probe_corpus/README.md")
        | expected("benchmarks/fixtures/**/*")
    )
    assert not data - names, f"data files missing from the wheel: {sorted(data - names)}"
    modules = {f"evalfleet/{p.relative_to(PACKAGE).as_posix()}" for p in PACKAGE.rglob("*.py") if in_a_package(p)}
    assert not modules - names, f"modules missing from the wheel: {sorted(modules - names)}"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")], "bytecode packed into the wheel"


def test_the_venv_imports_its_own_copy(venv, tmp_path):
    code = "import evalfleet, evalfleet.spec.paths as p; print(evalfleet.__file__); print(p.tasks_dir())"
    module, tasks = run([venv / "bin" / "python", "-c", code], cwd=tmp_path, timeout=120).stdout.split()
    site = venv.resolve()
    assert Path(module).resolve().is_relative_to(site), f"evalfleet imported from {module}, not the venv's copy"
    assert not Path(module).resolve().is_relative_to(ROOT), module
    assert Path(tasks).resolve().is_relative_to(site) and Path(tasks, "gsm8k.yaml").is_file(), tasks


def test_prompts_from_the_installed_wheel(venv, tmp_path, shared_data):
    from evalfleet.benchmarks import get_module
    from evalfleet.benchmarks.prompting import render
    from evalfleet.spec.taskspec import load_task

    out = run(
        [venv / "bin" / "evalfleet", "prompts", "gsm8k", "--data-dir", shared_data, "--limit", "20"],
        cwd=tmp_path,
        timeout=300,
    ).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    spec = load_task("gsm8k")  # the checkout's spec and module, in this process
    items = sorted(get_module(spec).load_items(spec, shared_data), key=lambda i: i.id)[:20]
    assert [(r["item_id"], r["prompt"]) for r in rows] == [(i.id, render(i.messages, "base")) for i in items]


def test_demo_from_the_installed_wheel(venv, tmp_path):
    from evalfleet.demo import TEAMS

    out = tmp_path / "demo"
    proc = run([venv / "bin" / "evalfleet", "demo", "--out", out], cwd=tmp_path, timeout=900)
    assert f"leaderboard: {out / 'report' / 'report.html'}" in proc.stdout, proc.stdout
    assert (out / "report" / "report.html").stat().st_size > 0
    board = (out / "report" / "leaderboard.md").read_text()
    assert all(team in board for team in TEAMS), board
