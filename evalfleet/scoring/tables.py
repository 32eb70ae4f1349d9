"""Importers for per-task tables evaluated elsewhere, into the task-score frame the views read.

- `read_helm_table`: the 2023 HELM metric tables (a JSON list of [submission_id, {metric: value|null}]).
- `read_kit_csv`: participants' edge-llm-2024 results CSVs (the starting kit's header, with the
  aliases, optional LongBench and memory units seen in real submissions).
- `read_score_table`: a plain CSV or Parquet of team, model, task, score.
- `read_table`: picks one of the three by file type and header; a directory means every table in it.

Every importer returns the frame's columns (team, model, family, role, task, metric, value, n) plus
`source` (file), `row` (1-based data row) and `note` (what the importer decided, e.g. a unit).
Malformed input raises EvalfleetError naming the file, the row and the column; nothing is dropped.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from evalfleet.errors import EvalfleetError
from evalfleet.scoring.frame import COLUMNS, SCORE

EXTRA = ("source", "row", "note")

# Kit CSV: normalized header (lowercase letters and digits only) -> canonical column.
KIT_ALIASES = {
    "commonsenseqa": "CommonsenseQA",
    "csqa": "CommonsenseQA",
    "bigbenchhard": "BIG-Bench-Hard",
    "bbh": "BIG-Bench-Hard",
    "gsm8k": "GSM8K",
    "longbench": "LongBench",
    "humaneval": "HumanEval",
    "chid": "CHID",
    "truthfulqa": "TruthfulQA",
    "throughput": "Throughput",
    "memoryusage": "Memory-Usage",
    "gpumemoryusage": "Memory-Usage",
    "memory": "Memory-Usage",
    "gpumemory": "Memory-Usage",
    "peakmemory": "Memory-Usage",
    "team": "team",
    "model": "model",
    "family": "family",
}
KIT_TASKS = {
    "CommonsenseQA": "commonsenseqa",
    "BIG-Bench-Hard": "bbh",
    "GSM8K": "gsm8k",
    "LongBench": "longbench",
    "HumanEval": "humaneval",
    "CHID": "chid",
    "TruthfulQA": "truthfulqa",
}
KIT_OPTIONAL = ("LongBench",)
GB_THRESHOLD = 100.0
"""A Memory-Usage value below this (with no unit in the header) is read as GB: no LLM fits in 100 MB."""


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(COLUMNS) + list(EXTRA))


# ---------------------------------------------------------------- HELM (2023)


def _helm_entries(path: Path) -> list:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvalfleetError(f"not a readable JSON file: {exc}", source=str(path)) from exc
    if not isinstance(data, list) or not data:
        raise EvalfleetError(
            "expected a non-empty JSON list of [submission_id, {metric: value}] pairs", source=str(path)
        )
    for i, entry in enumerate(data, 1):
        if not (
            isinstance(entry, list)
            and len(entry) == 2
            and isinstance(entry[0], str)
            and entry[0]
            and isinstance(entry[1], dict)
        ):
            raise EvalfleetError(
                "must be [submission_id (string), {metric: value}]", source=str(path), field=f"row {i}"
            )
        for metric, value in entry[1].items():
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value)
            ):
                raise EvalfleetError(
                    f"must be a number or null, got {value!r}",
                    source=str(path),
                    field=f"row {i} ({entry[0]}), column '{metric}'",
                )
    ids = [e[0] for e in data]
    dups = sorted({x for x in ids if ids.count(x) > 1})
    if dups:
        raise EvalfleetError(f"submission listed twice: {dups[0]}", source=str(path), field="row")
    return data


def _is_published(metric: str) -> bool:
    return metric.endswith(" Mean Win Rate") or metric.startswith("Score_")


def helm_scenario(metric: str, scenarios: list[str]) -> str:
    """Scenario of a HELM metric name: the longest known scenario it starts with, else the part before ' - '."""
    for name in sorted(scenarios, key=len, reverse=True):
        if metric.startswith(name):
            return name
    return metric.split(" - ")[0]


def read_helm_table(path: str | Path) -> pd.DataFrame:
    """HELM metric values, one row per submission and metric; a null value becomes NaN (kept).

    task = the scenario ('MMLU', 'sam_sum', 'ethics', ...), metric = HELM's metric name, team and
    model = the submission id. The organizers' derived columns ('<scenario> Mean Win Rate',
    'Score_*') are not metrics: read them with `read_helm_published`.
    """
    path = Path(path)
    rows = []
    for i, (sub, metrics) in enumerate(_helm_entries(path), 1):
        scenarios = [m[: -len(" Mean Win Rate")] for m in metrics if m.endswith(" Mean Win Rate")]
        for metric, value in metrics.items():
            if _is_published(metric):
                continue
            rows.append(
                dict(
                    team=sub,
                    model=sub,
                    family="",
                    role="submission",
                    task=helm_scenario(metric, scenarios),
                    metric=metric,
                    value=float("nan") if value is None else float(value),
                    n=0,
                    source=str(path),
                    row=i,
                    note="" if value is not None else "null in table",
                )
            )
    return _frame(rows)


def read_helm_published(path: str | Path) -> pd.DataFrame:
    """The organizers' own numbers in a 2023 table: team, Score_open, Score_hidden, Score_full and
    each '<scenario> Mean Win Rate' (what the official scorer must reproduce)."""
    path = Path(path)
    rows = [
        dict(team=sub, **{m: v for m, v in metrics.items() if _is_published(m)}) for sub, metrics in _helm_entries(path)
    ]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- kit CSV (edge-llm-2024)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _unit(header: str) -> str | None:
    m = re.search(r"\((mb|mib|gb|gib)\)|[_ ](mb|mib|gb|gib)$", header.strip().lower())
    return (m.group(1) or m.group(2)).replace("i", "") if m else None


def _number(text: str, path: Path, row: int, column: str) -> float:
    s = str(text).strip().rstrip("%").strip()
    try:
        value = float(s)
    except ValueError:
        value = float("nan")
    if not s or math.isnan(value) or math.isinf(value):
        raise EvalfleetError(f"must be a number, got {text!r}", source=str(path), field=f"row {row}, column '{column}'")
    return value


def read_kit_csv(path: str | Path, *, team: str | None = None) -> pd.DataFrame:
    """A participant's results CSV (header `CommonsenseQA,BIG-Bench-Hard,GSM8K,LongBench,HumanEval,CHID,
    TruthfulQA,Throughput,Memory-Usage`, one row per model or one row for the team).

    Header aliases (`BIG-Bench Hard`, `GPU Memory Usage`, ...) are accepted; LongBench may be absent.
    Memory is stored in MB: a header unit ('(GB)') is obeyed, otherwise a value below 100 is read as GB
    and converted (x 1024), and the `note` column says so. Team: the `team` argument, a `Team` column,
    or the file name (minus a `_results` suffix). Without a `Family` column the row is the team's
    already-averaged score (family ''). Tasks get metric 'score'; Throughput and Memory-Usage become
    task 'edge_probe', metrics 'throughput' and 'memory_mb'.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise EvalfleetError(f"not a readable CSV file: {exc}", source=str(path)) from exc
    columns: dict[str, str] = {}
    for header in raw.columns:
        base = re.sub(r"\s*\([^)]*\)\s*$|[_ ](mb|mib|gb|gib)$", "", str(header).strip(), flags=re.I)
        canonical = KIT_ALIASES.get(_norm(base))
        if canonical is None:
            raise EvalfleetError(
                f"unknown column (expected the kit's {', '.join(KIT_TASKS)}, Throughput, Memory-Usage)",
                source=str(path),
                field=f"column '{header}'",
            )
        if canonical in columns.values():
            raise EvalfleetError(f"column given twice (as '{canonical}')", source=str(path), field=f"column '{header}'")
        columns[header] = canonical
    by_canonical = {v: k for k, v in columns.items()}
    notes: list[str] = []
    for required in list(KIT_TASKS) + ["Throughput", "Memory-Usage"]:
        if required not in by_canonical:
            if required in KIT_OPTIONAL:
                notes.append(f"{required} omitted")
                continue
            raise EvalfleetError("required column missing", source=str(path), field=f"column '{required}'")
    if raw.empty:
        raise EvalfleetError("no data row", source=str(path))
    for header, canonical in columns.items():
        if canonical in KIT_TASKS and header != canonical:
            notes.append(f"'{header}' read as {canonical}")
    mem_header = by_canonical["Memory-Usage"]
    unit = _unit(mem_header)
    default_team = team or _team_from_name(path)

    rows = []
    for i, record in enumerate(raw.to_dict("records"), 1):
        row_team = (record.get(by_canonical.get("team", ""), "") or "").strip() or default_team
        if not row_team:
            raise EvalfleetError(
                "no team: add a Team column, name the file after the team, or pass the team",
                source=str(path),
                field=f"row {i}, column 'Team'",
            )
        family = (record.get(by_canonical.get("family", ""), "") or "").strip()
        model = (record.get(by_canonical.get("model", ""), "") or "").strip() or (
            f"{row_team}--{family}" if family else row_team
        )
        row_notes = list(notes)
        base = dict(team=row_team, model=model, family=family, role="submission", n=0, source=str(path), row=i)
        for canonical, task in KIT_TASKS.items():
            if canonical not in by_canonical:
                continue
            value = _number(record[by_canonical[canonical]], path, i, by_canonical[canonical])
            rows.append(dict(base, task=task, metric=SCORE, value=value, note=""))
        throughput = _number(record[by_canonical["Throughput"]], path, i, by_canonical["Throughput"])
        memory = _number(record[mem_header], path, i, mem_header)
        if unit == "gb" or (unit is None and memory < GB_THRESHOLD):
            why = "header unit GB" if unit == "gb" else f"below {GB_THRESHOLD:g}, read as GB"
            row_notes.append(f"memory {memory:g} ({why}) = {memory * 1024:g} MB")
            memory *= 1024
        rows.append(dict(base, task="edge_probe", metric="throughput", value=throughput, note=""))
        rows.append(dict(base, task="edge_probe", metric="memory_mb", value=memory, note="; ".join(row_notes)))
    return _frame(rows)


def _team_from_name(path: Path) -> str:
    stem = re.sub(r"[_\- ]?results?$", "", path.stem, flags=re.I)
    return stem.strip("_- ")


# ---------------------------------------------------------------- plain team/model/task/score

PLAIN_REQUIRED = ("team", "task", "score")


def read_score_table(path: str | Path) -> pd.DataFrame:
    """A plain CSV or Parquet with columns team, model, task, score (optional: family, role, metric, n).

    `model` defaults to the team (one model per team), `metric` to 'score', `role` to 'submission'.
    """
    path = Path(path)
    try:
        raw = (
            pd.read_parquet(path)
            if path.suffix.lower() == ".parquet"
            else pd.read_csv(path, dtype=str, keep_default_na=False)
        )
    except Exception as exc:  # pyarrow and pandas raise many types for unreadable files
        raise EvalfleetError(f"not a readable table: {exc}", source=str(path)) from exc
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    for col in PLAIN_REQUIRED:
        if col not in raw.columns:
            raise EvalfleetError(
                f"required column missing (need {', '.join(PLAIN_REQUIRED)})", source=str(path), field=f"column '{col}'"
            )
    known = {"team", "model", "family", "role", "task", "metric", "score", "n"}
    extra = sorted(set(raw.columns) - known)
    if extra:
        raise EvalfleetError(
            f"unknown column (known: {', '.join(sorted(known))})", source=str(path), field=f"column '{extra[0]}'"
        )
    if raw.empty:
        raise EvalfleetError("no data row", source=str(path))
    rows = []
    for i, rec in enumerate(raw.to_dict("records"), 1):

        def text(col: str, default: str = "") -> str:
            v = rec.get(col, default)
            return default if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip() or default

        for col in ("team", "task"):
            if not text(col):
                raise EvalfleetError("must not be empty", source=str(path), field=f"row {i}, column '{col}'")
        role = text("role", "submission")
        if role not in ("submission", "base"):
            raise EvalfleetError(
                f"must be 'submission' or 'base', got {role!r}", source=str(path), field=f"row {i}, column 'role'"
            )
        n_text = text("n", "0")
        try:
            n = int(float(n_text))
        except ValueError:
            raise EvalfleetError(
                f"must be an integer, got {n_text!r}", source=str(path), field=f"row {i}, column 'n'"
            ) from None
        rows.append(
            dict(
                team=text("team"),
                model=text("model", text("team")),
                family=text("family"),
                role=role,
                task=text("task"),
                metric=text("metric", SCORE),
                value=_number(rec["score"], path, i, "score"),
                n=n,
                source=str(path),
                row=i,
                note="",
            )
        )
    out = _frame(rows)
    dup = out.duplicated(["team", "model", "task", "metric"], keep=False)
    if dup.any():
        r = out[dup].iloc[1]
        raise EvalfleetError(
            f"duplicate of an earlier row (team {r.team}, model {r.model}, task {r.task}, metric {r.metric})",
            source=str(path),
            field=f"row {r.row}",
        )
    return out


# ---------------------------------------------------------------- dispatch


def table_kind(path: Path) -> str:
    """'helm', 'kit' or 'plain' for one table file."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "helm"
    if suffix == ".parquet":
        return "plain"
    if suffix == ".csv":
        try:
            header = path.read_text(encoding="utf-8-sig").splitlines()[0]
        except (OSError, UnicodeDecodeError, IndexError) as exc:
            raise EvalfleetError(f"not a readable CSV file: {exc}", source=str(path)) from exc
        names = {_norm(h) for h in header.split(",")}
        return "plain" if {"team", "task", "score"} <= names else "kit"
    raise EvalfleetError("unknown table type (expected .json HELM table, .csv or .parquet)", source=str(path))


def read_table(path: str | Path) -> pd.DataFrame:
    """Read one table, or every .json/.csv/.parquet table in a directory (sorted), into one frame."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".json", ".csv", ".parquet"))
        if not files:
            raise EvalfleetError("no .json, .csv or .parquet table in this directory", source=str(path))
        return pd.concat([read_table(p) for p in files], ignore_index=True)
    if not path.is_file():
        raise EvalfleetError("table file not found", source=str(path))
    kind = table_kind(path)
    reader = {"helm": read_helm_table, "kit": read_kit_csv, "plain": read_score_table}[kind]
    out = reader(path)
    out["note"] = out["note"].astype(str)
    return out
