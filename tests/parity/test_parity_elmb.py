"""ELMB parity with lm-evaluation-harness 0.4.13 (in .venv-lmeval, scripts/test-setup/30-lmeval-env.sh).

lm-eval scores the project's ELMB fixture items with HFLM on the same tiny checkpoints, from task YAMLs
written for the fixture files (lmeval_elmb.py); evalfleet scores them through its own path (task spec →
items → the hf backend → evaluate_shard). Per item: the context string, the continuations, every
log-likelihood (within 1e-4), acc and acc_norm must agree; and so must the task means.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from evalfleet.benchmarks.elmb import load_items
from evalfleet.benchmarks.prompting import render
from evalfleet.spec.taskspec import load_task
from evalfleet.types import ModelRef

pytestmark = [pytest.mark.parity, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "evalfleet" / "benchmarks" / "fixtures"
VENV_PY = ROOT / ".venv-lmeval" / "bin" / "python"
USE_CASES = ["roleplay", "reasoning", "function_calling", "chatrag"]


def run_lm_eval(model_dir: Path, out: Path) -> dict:
    assert VENV_PY.is_file(), "lm-eval parity env missing: run scripts/test-setup/30-lmeval-env.sh"
    files = [str(FIXTURES / "elmb" / f"{u}.jsonl") for u in USE_CASES]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(
        [str(VENV_PY), str(Path(__file__).with_name("lmeval_elmb.py")), str(model_dir), str(out), *files],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=out.parent,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize("family", ["llama", "qwen2"])
def test_elmb_matches_lm_eval(tiny_models, tmp_path, family):
    from evalfleet.backends import load_backend
    from evalfleet.run.evaluate import evaluate_shard

    model_dir = tiny_models[family]
    reference = run_lm_eval(model_dir, tmp_path / "lmeval.json")
    model = ModelRef(team="parity", family=family, path=str(model_dir))
    backend = load_backend("hf", model, batch_size=4)
    compared = 0
    try:
        for use_case in USE_CASES:
            spec = load_task(f"elmb_{use_case}")
            items = load_items(spec, FIXTURES)
            theirs = reference["tasks"][f"elmb_fixture_{use_case}"]
            rows = evaluate_shard(backend, spec, items, model, backend_name="hf").to_pylist()
            assert len(rows) == len(items) == len(theirs["docs"])
            for item, row, doc in zip(items, rows, theirs["docs"]):
                where = f"{use_case} item {item.id}"
                assert row["error"] is None, where
                assert render(item.messages, "base") == doc["context"], where
                assert list(item.choices) == doc["continuations"], where
                assert row["logliks"] == pytest.approx(doc["logliks"], abs=1e-4), where
                metrics = json.loads(row["metrics"])
                assert (metrics["acc"], metrics["acc_norm"]) == (doc["acc"], doc["acc_norm"]), where
                compared += 1
            for metric in ("acc", "acc_norm"):
                mine = sum(json.loads(r["metrics"])[metric] for r in rows) / len(rows)
                assert mine == pytest.approx(theirs["metrics"][metric], abs=1e-12), (use_case, metric)
    finally:
        backend.close()
    assert compared == 24
