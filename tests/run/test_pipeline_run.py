"""evalfleet run: bad input is reported naming file and field, and the valid submissions are still evaluated."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from _runtime import short_home, write_config

from evalfleet.cli import main as cli
from evalfleet.pipeline import run as execute
from evalfleet.spec.config import load_config
from evalfleet.store.results import ResultStore


@pytest.fixture()
def home(tmp_path, monkeypatch):
    home = short_home(tmp_path / "home")
    monkeypatch.setenv("EVALFLEET_HOME", str(home))
    return home


def test_malformed_yaml_names_the_file(tmp_path, capsys):
    bad = tmp_path / "finals.yaml"
    bad.write_text("edition: edge-llm-2024\nsubmissions: [\n")
    assert cli(["run", str(bad)]) == 2
    assert f"{bad}: malformed YAML" in capsys.readouterr().err


def test_wrong_typed_top_level_field_names_file_and_field(tmp_path, capsys, shared_data, home):
    cfg = write_config(tmp_path / "finals.yaml", {"llama": tmp_path / "x"}, shared_data, extra={"shard_size": "big"})
    assert cli(["run", str(cfg)]) == 2
    assert f"{cfg}: field 'shard_size': must be int" in capsys.readouterr().err


@pytest.mark.slow
def test_bad_submissions_are_skipped_and_valid_ones_recorded(
    tmp_path, tiny_models, shared_data, home, ray_session, capsys
):
    broken = Path(shutil.copytree(tiny_models["qwen2"], tmp_path / "broken"))
    (broken / "model.safetensors").write_bytes(b"\x00not a safetensors file")
    bad_models = [
        {"team": "gone", "models": [{"path": str(tmp_path / "missing"), "family": "phi"}]},
        {"team": "corrupt", "models": [{"path": str(broken), "family": "qwen2"}]},
        {"team": "typo", "models": [{"path": str(tiny_models["phi"]), "family": "phi", "dtype": 16}]},
    ]
    cfg_path = write_config(
        tmp_path / "finals.yaml",
        {"llama": tiny_models["llama"]},
        shared_data,
        results=str(tmp_path / "res"),
        raw_models=bad_models,
        extra={"tasks": ["gsm8k", "nosuchtask"], "limit": 2},
    )
    status = execute(load_config(cfg_path), progress=False)
    captured = capsys.readouterr()
    assert status == 1
    err = captured.err
    assert f"{cfg_path}: field 'submissions[3].models[0].dtype': must be one of" in err
    assert f"model gone--phi skipped: {tmp_path / 'missing'}: checkpoint directory not found" in err
    assert "model corrupt--qwen2 skipped:" in err and str(broken / "model.safetensors") in err
    assert (
        f"{Path(os.environ['EVALFLEET_HOME']) / 'tasks' / 'nosuchtask.yaml'}: field 'tasks': unknown task 'nosuchtask'"
        in err
    )
    records = ResultStore(str(tmp_path / "res")).read_records()
    assert set(records["model"]) == {"team0--llama"} and sorted(records["item_id"]) == ["0000", "0001"]
    assert "shards: 1 run, 0 already stored, 0 failed" in captured.out


@pytest.mark.slow
def test_compact_true_folds_the_shards_when_the_run_ends_and_a_rerun_skips_them(
    tmp_path, tiny_models, shared_data, home, ray_session, capsys
):
    extra = {"tasks": ["gsm8k"], "limit": 4, "shard_size": 1, "max_new_tokens": 8, "compact": True}
    results = tmp_path / "res"
    cfg = load_config(write_config(tmp_path / "f.yaml", {"llama": tiny_models["llama"]}, shared_data, extra=extra))
    cfg = replace(cfg, results=str(results))
    assert execute(cfg, progress=False) == 0
    out = capsys.readouterr().out
    assert "shards: 4 run" in out and "compacted 4 shards of 1 (task, model) groups: 4 files -> 1" in out
    assert not list((results / "shards").rglob("*.parquet"))
    assert len(list((results / "compact").rglob("*.parquet"))) == 1
    store = ResultStore(str(results))
    assert all("row_group" in e for e in store.manifest()) and len(store.read_records()) == 4
    assert execute(cfg, progress=False) == 0
    assert "shards: 0 run, 4 already stored, 0 failed" in capsys.readouterr().out


@pytest.mark.slow
def test_the_embedded_ray_starts_while_planning_and_not_for_a_complete_store(tmp_path, tiny_models, shared_data, home):
    """A fresh embedded run starts Ray before its plan is printed (the thread still hashes and plans); run again
    with every shard stored, it starts no Ray at all."""
    extra = {"tasks": ["gsm8k"], "limit": 2, "max_new_tokens": 4}
    cfg = write_config(tmp_path / "f.yaml", {"llama": tiny_models["llama"]}, shared_data, extra=extra)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    command = [sys.executable, "-m", "evalfleet", "run", str(cfg), "--results", str(tmp_path / "res")]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=400, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    lines = first.stdout.splitlines()
    started = next(i for i, line in enumerate(lines) if line.startswith("starting Ray while planning (1 shards"))
    planned = next(i for i, line in enumerate(lines) if "shards to run" in line or "to run" in line)
    assert started < planned and "shards: 1 run" in first.stdout
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=400, cwd=tmp_path)
    assert again.returncode == 0 and "shards: 0 run, 1 already stored" in again.stdout
    assert "starting Ray" not in again.stdout and "Ray dashboard" not in again.stdout


def test_nothing_valid_to_run_reports_and_exits_without_ray(tmp_path, capsys, shared_data, home):
    """Every model and task invalid: the problems are listed, exit 1, and no Ray is started for nothing."""
    import ray

    cfg = write_config(tmp_path / "finals.yaml", {"llama": tmp_path / "missing-checkpoint"}, shared_data)
    assert cli(["run", str(cfg)]) == 1
    captured = capsys.readouterr()
    assert "missing-checkpoint: checkpoint directory not found" in captured.err
    assert "0 shards" in captured.out and not ray.is_initialized()
