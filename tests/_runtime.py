"""Helpers of the runtime tests: a project home with short (zero-shot) task specs and run configs."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

import yaml

ROOT = Path(__file__).resolve().parent.parent


def short_home(base: Path, *, template_suffix: str = "", stop: list[str] | None = None) -> Path:
    """An EVALFLEET_HOME with the real scoring/ and tasks/, gsm8k.yaml and commonsenseqa.yaml made zero-shot.

    The copies keep the real modules, data files and last prompt round (the few-shot exemplars are
    dropped so tiny models run fast); `template_suffix` is appended to gsm8k's question round and
    `stop` sets gsm8k's stop strings (to test that exactly those shards recompute).
    """
    home = base
    (home / "tasks").mkdir(parents=True, exist_ok=True)
    if not (home / "scoring").exists():
        (home / "scoring").symlink_to(ROOT / "scoring")
    for spec in (ROOT / "tasks").glob("*.yaml"):
        if spec.stem not in ("gsm8k", "commonsenseqa"):
            (home / "tasks" / spec.name).write_text(spec.read_text())
    for name in ("gsm8k", "commonsenseqa"):
        raw = yaml.safe_load((ROOT / "tasks" / f"{name}.yaml").read_text())
        rounds = raw["options"]["rounds"]
        last_user = max(i for i, r in enumerate(rounds) if r["role"] == "user")
        raw["options"]["rounds"] = rounds[last_user:]
        raw.pop("variants", None)
        if name == "gsm8k":
            raw["options"]["rounds"][0]["content"] += template_suffix
            if stop:
                raw.setdefault("generation", {})["stop"] = stop
        (home / "tasks" / f"{name}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return home


def write_config(
    path: Path,
    models: dict[str, Path],
    data_dir: Path,
    *,
    results: str = "results",
    extra: dict | None = None,
    raw_models: list | None = None,
) -> Path:
    """A run config: team 'team<i>' per model family (name -> checkpoint), gsm8k + commonsenseqa, small limits."""
    subs = [
        {"team": f"team{i}", "models": [{"path": str(p), "family": fam}]} for i, (fam, p) in enumerate(models.items())
    ]
    if raw_models:
        subs += raw_models
    cfg = {
        "edition": "edge-llm-2024",
        "track": "compression",
        "submissions": subs,
        "tasks": ["gsm8k", "commonsenseqa"],
        "data_dir": str(data_dir),
        "results": results,
        "shard_size": 2,
        "limit": 6,
        "max_new_tokens": 6,
        "batch_size": 4,
        **(extra or {}),
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def run_and_kill_a_worker(
    ray, run: Callable[[], tuple], results: Path, *, lines: int, poll: float, wait: float
) -> tuple:
    """Start `run()` (-> (store, summary)) in a thread; once `lines` manifest lines are in `results`, kill the
    first named evalfleet worker actor. Returns (killed actor name or None, store, summary)."""
    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(zip(("store", "summary"), run())))
    thread.start()
    killed = None
    deadline = time.time() + wait
    while killed is None and time.time() < deadline and thread.is_alive():
        manifest = results / "manifest.jsonl"
        if manifest.is_file() and len(manifest.read_text().splitlines()) >= lines:
            names = sorted(n for n in ray.util.list_named_actors() if n.startswith("evalfleet-"))
            if names:
                killed = names[0]
                ray.kill(ray.get_actor(killed), no_restart=True)
        time.sleep(poll)
    thread.join(timeout=600)
    return killed, out.get("store"), out.get("summary")


def row_identity(spec, ref) -> dict:
    """The record columns that name a row's task and model (a base-prompt hf run), for hand-made rows."""
    return dict(
        task=spec.id,
        task_version=spec.version,
        model=ref.id,
        team=ref.team,
        family=ref.family,
        role=ref.role,
        prompt_style="base",
        backend="hf",
    )
