"""codehash: the evalfleet source in each fingerprint is derived from the code, and edits move exactly it.

References: the modules Python actually imports to run a task (sys.modules in a fresh interpreter),
and edits made to a temporary copy of the package.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evalfleet.plan import codehash
from evalfleet.spec.taskspec import available_tasks, load_task

PACKAGE = Path(codehash.__file__).resolve().parents[1]
BACKENDS = ("hf", "vllm")
MODULES = sorted({load_task(t).module for t in available_tasks()})


def _clear():
    codehash._parsed.cache_clear()
    codehash.generation_code.cache_clear()
    codehash.scoring_code.cache_clear()


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A copy of the evalfleet package that codehash reads instead of the real one."""
    copy = tmp_path / "evalfleet"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(codehash, "PACKAGE_DIR", copy)
    _clear()
    yield copy
    _clear()


def snapshot():
    _clear()
    gen = {(m, b): dict(codehash.generation_code(m, b)) for m in MODULES for b in BACKENDS}
    sco = {m: dict(codehash.scoring_code(m)) for m in MODULES}
    return gen, sco


def changed(before, after):
    return {k for k in before if before[k] != after[k]}


@pytest.mark.slow
def test_every_module_python_imports_for_a_task_is_in_a_fingerprint():
    """What a fresh interpreter loads to generate and score each task is covered (generation ∪ scoring)."""
    code = (
        "import importlib, json, sys\n"
        "for name in ['evalfleet.run.worker', 'evalfleet.run.evaluate', 'evalfleet.backends.hf',\n"
        "             'evalfleet.benchmarks.prompting', 'evalfleet.benchmarks.' + sys.argv[1]]:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(k for k in sys.modules if k.startswith('evalfleet'))))\n"
    )

    def imported(module):
        done = subprocess.run([sys.executable, "-c", code, module], capture_output=True, text=True, check=True)
        return json.loads(done.stdout)

    loaded = {m: imported(m) for m in MODULES}
    for module in MODULES:
        covered = set(dict(codehash.generation_code(module, "hf"))) | set(dict(codehash.scoring_code(module)))
        assert set(loaded[module]) <= covered, (module, set(loaded[module]) - covered)


def test_a_shared_prompting_edit_changes_every_generation_fingerprint_and_no_scorer(package):
    gen, sco = snapshot()
    path = package / "benchmarks" / "prompting.py"
    path.write_text(path.read_text() + "\n# edited\n")
    gen2, sco2 = snapshot()
    assert changed(gen, gen2) == set(gen)
    assert changed({m: sco[m] for m in sco if "evalfleet.benchmarks.prompting" not in sco[m]}, sco2) == set()


@pytest.mark.parametrize("module", ["backends/truncation.py", "backends/hf.py", "run/evaluate.py", "types.py"])
def test_a_backend_or_evaluate_edit_changes_the_fingerprints_of_every_task_on_that_path(package, module):
    gen, _ = snapshot()
    path = package / module
    path.write_text(path.read_text() + "\n# edited\n")
    gen2, _ = snapshot()
    assert changed(gen, gen2) == set(gen)  # vllm imports hf's helpers, so both backends move


def test_the_vllm_backend_is_only_in_vllm_fingerprints(package):
    gen, sco = snapshot()
    path = package / "backends" / "vllm.py"
    path.write_text(path.read_text() + "\n# edited\n")
    gen2, sco2 = snapshot()
    assert changed(gen, gen2) == {k for k in gen if k[1] == "vllm"}
    assert changed(sco, sco2) == set()


def test_a_scorer_edit_changes_only_that_tasks_scoring_fingerprint(package):
    gen, sco = snapshot()
    path = package / "benchmarks" / "gsm8k.py"
    text = path.read_text()
    assert "def extract(" in text
    path.write_text(text.replace("def extract(", "def extract(  # edited\n", 1))
    gen2, sco2 = snapshot()
    assert changed(gen, gen2) == set()
    assert changed(sco, sco2) == {"gsm8k"}


def test_an_item_building_edit_changes_only_that_tasks_generation_fingerprint(package):
    gen, sco = snapshot()
    path = package / "benchmarks" / "gsm8k.py"
    path.write_text(path.read_text().replace("def load_items(", "def load_items(  # edited\n", 1))
    gen2, sco2 = snapshot()
    assert changed(gen, gen2) == {("gsm8k", b) for b in BACKENDS}
    assert changed(sco, sco2) == set()


def test_a_metrics_helper_edit_rescores_longbench_without_regenerating_it(package):
    gen, sco = snapshot()
    path = package / "benchmarks" / "longbench_metrics.py"
    path.write_text(path.read_text() + "\n# edited\n")
    gen2, sco2 = snapshot()
    assert changed(gen, gen2) == set()
    assert changed(sco, sco2) == {"longbench"}


def test_readmes_docs_and_tests_change_nothing(package, tmp_path):
    gen, sco = snapshot()
    (package / "checks" / "probe_corpus" / "README.md").write_text("edited\n")
    (package / "benchmarks" / "NOTES.md").write_text("edited\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("def test_x():\n    pass\n")
    assert snapshot() == (gen, sco)
