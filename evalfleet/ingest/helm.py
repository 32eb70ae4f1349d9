"""Import HELM 2023 metric tables into a results store, as records of the task `helm_imported`.

    table (read by evalfleet.scoring.tables.read_helm_table: team, task = scenario, metric, value)
      -> one shard per team:  RESULTS/shards/helm_imported/<team>--<track>/<fingerprint>.parquet
         one row per scenario: item_id = subset = the scenario, metrics = {HELM metric name: value or null}
      -> RESULTS/run.yaml names the edition (llm-efficiency-2023) and the track, so `evalfleet score RESULTS`
         scores imported and evaluated tasks alike (the geometric-mean view reads the metric names).

The fingerprint is a hash of the table's bytes, the team, the track and the importer's code: re-importing
the same table is a no-op, a changed table replaces nothing silently (its shards get new fingerprints).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import sys
from pathlib import Path

import pyarrow as pa

from evalfleet.errors import EvalfleetError
from evalfleet.scoring.tables import read_helm_table
from evalfleet.spec.edition import load_edition, track_in_names
from evalfleet.spec.taskspec import load_task
from evalfleet.store.results import RECORD_SCHEMA, ResultStore
from evalfleet.types import ModelRef, Shard

EDITION = "llm-efficiency-2023"
TASK = "helm_imported"
BACKEND = "helm-import"


def _metrics_json(rows) -> str:
    """{metric: value} of one team's scenario, NaN (a null in the table) written as JSON null."""
    return json.dumps({r.metric: (None if math.isnan(r.value) else r.value) for r in rows.itertuples()}, sort_keys=True)


def helm_shards(table: str | Path, *, track: str) -> list[tuple[Shard, pa.Table]]:
    """(shard, Arrow rows in RECORD_SCHEMA) per team of a HELM table (pure apart from reading the file)."""
    path = Path(table)
    frame = read_helm_table(path)
    spec = load_task(TASK)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    code = hashlib.sha256(inspect.getsource(sys.modules[__name__]).encode()).hexdigest()
    out = []
    for team, rows in frame.groupby("team", sort=True):
        model = ModelRef(team=str(team), family=track or "helm", path=str(path))
        scenarios = list(dict.fromkeys(rows["task"]))
        fp = hashlib.sha256(json.dumps([digest, str(team), track, code, spec.spec_hash]).encode()).hexdigest()[:32]
        records = [
            dict(
                shard=fp,
                task=spec.id,
                task_version=spec.version,
                model=model.id,
                team=model.team,
                family=model.family,
                role=model.role,
                prompt_style=model.prompt_style,
                backend=BACKEND,
                item_id=scen,
                subset=scen,
                sample=0,
                prompt_hash="",
                output="",
                n_prompt_tokens=0,
                n_output_tokens=0,
                logliks=None,
                extracted="",
                score=None,
                metrics=_metrics_json(rows[rows["task"] == scen]),
                error=None,
                isolation=None,
                latency_s=0.0,
            )
            for scen in scenarios
        ]
        shard = Shard(task=spec, model=model, index=0, item_ids=tuple(scenarios), fingerprint=fp)
        out.append((shard, pa.Table.from_pylist(records, schema=RECORD_SCHEMA)))
    return out


def import_helm(table: str | Path, results: str, *, track: str = "") -> list[dict]:
    """Write the table's shards into `results` (skipping ones already stored); return the manifest entries written.

    `track` defaults to the track named in the file name (A100_..., 4090_...). The results root's run.yaml
    is created for the 2023 edition and track, or must already name them.
    """
    path = Path(table)
    if not path.is_file():
        raise EvalfleetError("HELM table not found", source=str(path))
    track = track or track_from_name(path)
    store = ResultStore(results)
    existing = store.read_text("run.yaml")
    if existing is None:
        store.save_run_config({"edition": EDITION, "track": track, "source": f"evalfleet import-helm {path.name}"})
    else:
        cfg = store.load_run_config()
        if cfg.get("edition") != EDITION or (cfg.get("track") or "") != track:
            raise EvalfleetError(
                f"this results root holds edition {cfg.get('edition')!r} track {cfg.get('track')!r}; "
                f"the table is {EDITION!r} track {track!r}: import into its own results root",
                source=store.path("run.yaml"),
                field="track",
            )
    written = []
    for shard, rows in helm_shards(path, track=track):
        if not store.has(shard.fingerprint):
            written.append(store.write_shard(shard, rows, 0.0))
    return written


def track_from_name(path: Path) -> str:
    """The 2023 rule file's track named in the file name ('A100_full_ranks...' -> 'A100'), else ''."""
    return track_in_names([str(path)], load_edition(EDITION).raw.get("tracks", {}) or {})
