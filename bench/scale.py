"""The final-scale data path: synthetic final-shaped results roots, then `evalfleet score` / resume timed.

    python bench/scale.py build  --models 90 --root /tmp/scale90       # write the store (seeded)
    python bench/scale.py measure --root /tmp/scale90 [--old]          # time + peak RSS of each step
    python bench/scale.py compact --root /tmp/scale90                  # `evalfleet compact`, then measure again
    python bench/scale.py hash --root /tmp/ckpts --models 4            # checkpoint hashing: serial vs threads
    python bench/scale.py verify --root /tmp/scale90 --jobs 2 [--ray]  # verify alone: --jobs N (and --ray)

A store is shaped like a final of the edge-llm-2024 edition (its 7 open + 2 holdout tasks): the real
item ids (and subsets) of ../shared/data, 64 items per shard file as `evalfleet run` plans them, one
row per item, outputs cut from the data's own text (200-2,800 characters), metrics computed by each
benchmark module's `score` on a right or a wrong answer (HumanEval: a pass@1 draw, its checks need
the sandbox). Files are written in the store's layout by the store's own writer (`shardfile.write_file`:
page checksums, identity in the footer), the manifest once at the end (what `write_shard` appends).

Every measured step runs in a fresh subprocess; peak RSS is that child's ru_maxrss
(resource.getrusage(RUSAGE_CHILDREN) in a wrapper process that ran only it: the largest single process),
peak tree RSS the largest sum over the child and its descendants (psutil, sampled every 50 ms: `score`'s
worker processes, `verify --jobs`'s) — the figure to hold against a memory budget.
  pyarrow-only   read `model, task, score` of every file, per (model, task) means (the floor)
  score          `evalfleet score ROOT --no-confidence` (the bootstrap is measured in bench/confidence.py)
  score-old      --old: the previous path (read_records of every column, one frame, groupby)
  resume         a fresh ResultStore's `stored_ok` over every fingerprint (what a resumed run checks)
  compact        `evalfleet compact ROOT` (every shard read, verified, rewritten per (task, model), read back)
  verify         `evalfleet verify ROOT --jobs N` (every row re-extracted and re-scored, every page read);
                 the synthetic `extracted` values are placeholders, so every row is reported as a difference
                 (the work per row is the same). ../shared/data holds 3 of LongBench's 21 subsets: the
                 `longbench` task's items are those 3 (as the build takes them), patched in for this step only.
  verify-ray     `evalfleet verify ROOT --ray` (the `verify` step with --ray): every group a
                 Ray task on RAY_ADDRESS's cluster, else on an embedded local Ray (its start is timed too).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

from evalfleet import benchmarks
from evalfleet.plan.shards import task_items
from evalfleet.spec.edition import load_edition
from evalfleet.spec.taskspec import load_task
from evalfleet.store.manifest import MANIFEST, entry_line
from evalfleet.store.results import RECORD_SCHEMA, ResultStore, _safe
from evalfleet.store.shardfile import write_file

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
EDITION = "edge-llm-2024"
FAMILIES = ("phi-2", "llama-3-8b", "qwen2-7b")
SHARD_SIZE = 64
LONGBENCH_HERE = ("multi_news", "multifieldqa_zh", "passage_retrieval_zh")
"""The LongBench subsets ../shared/data holds (3 of 21): the `longbench` task's rows come from these."""
WRAP = (
    "import json, resource, subprocess, sys, threading, time, psutil\n"
    "t = time.perf_counter(); proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL); tree = [0]\n"
    "def sample():\n"
    "    while proc.poll() is None:\n"
    "        try:\n"
    "            p = psutil.Process(proc.pid); tree[0] = max(tree[0], sum(q.memory_info().rss for q in "
    "[p, *p.children(recursive=True)]))\n"
    "        except psutil.Error:\n"
    "            pass\n"
    "        time.sleep(0.05)\n"
    "threading.Thread(target=sample, daemon=True).start(); rc = proc.wait()\n"
    "s = time.perf_counter() - t; rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(json.dumps({'rc': rc, 'seconds': s, 'peak_rss_mib': rss / 1024, 'peak_tree_rss_mib': tree[0] / 2**20}))\n"
)
PYARROW_ONLY = """
import sys, json, pyarrow as pa, pyarrow.parquet as pq, pyarrow.compute as pc
root = sys.argv[1]
parts = []
for path in dict.fromkeys(json.loads(line)["path"] for line in open(f"{root}/manifest.jsonl")):  # compacted: once
    t = pq.read_table(f"{root}/" + path, columns=["model", "task", "score"])
    parts.append(t.group_by(["model", "task"]).aggregate([("score", "sum"), ("score", "count")]))
t = pa.concat_tables(parts).group_by(["model", "task"]).aggregate([("score_sum", "sum"), ("score_count", "sum")])
print(t.num_rows)
"""
RESUME = """
import sys; from evalfleet.store.results import ResultStore
s = ResultStore(sys.argv[1]); fps = [e["fingerprint"] for e in s.manifest()]
print(len(s.stored_ok(fps)), len(fps))
"""
VERIFY = """
import argparse, sys
from evalfleet.commands import verify
from evalfleet.plan import shards
from evalfleet.spec.taskspec import load_task
def task_items(spec, data_dir):
    if spec.id != "longbench":
        return shards.task_items(spec, data_dir)
    return [i for v in %r for i in shards.task_items(load_task("longbench:" + v), data_dir)]
verify.task_items = task_items  # before the workers fork (they load items themselves); Ray tasks get these
ray = "" if sys.argv[2] == "ray" else None  # "ray": RAY_ADDRESS, else an embedded local Ray
jobs = 1 if ray is not None else int(sys.argv[2])
args = argparse.Namespace(results=sys.argv[1], data_dir=None, code=False, max_report=0, jobs=jobs, ray=ray)
verify.main(args)
sys.exit(0)
""" % (LONGBENCH_HERE,)
OLD_SCORE = """
import sys; from evalfleet.store.results import ResultStore; from evalfleet.scoring.task_scores import task_scores
task_scores(ResultStore(sys.argv[1]).read_records()).to_csv(sys.argv[2], index=False)
"""
NEW_SCORES = """
import sys; from evalfleet.store.results import ResultStore; from evalfleet.scoring import task_scores as ts
ts.grouped_task_scores(ResultStore(sys.argv[1]).record_groups(ts.SCORING_COLUMNS)).to_csv(sys.argv[2], index=False)
"""


def edition_tasks() -> list[str]:
    edition = load_edition(EDITION)
    return [t for t in (*edition.tasks, *edition.holdout) if t != "edge_probe"]


def candidate_metrics(spec, item) -> tuple[dict, dict]:
    """(right, wrong) metrics of one item by its module's `score` (a pass@1 draw where scoring runs code)."""
    module = benchmarks.get_module(spec)
    if getattr(module, "SCORE_ON_CPU_TASK", False):
        return {spec.metric: 1.0}, {spec.metric: 0.0}
    ref = item.reference
    right = ref[0] if isinstance(ref, (list, tuple)) and ref else ref
    out = []
    for extracted in (str(right), "zzz"):
        try:
            out.append({k: float(v) for k, v in module.score(extracted, item, spec).items() if k != "isolation"})
        except Exception:  # noqa: BLE001 - a reference the module cannot take as an answer: a plain draw
            out.append({spec.metric: 1.0 if extracted != "zzz" else 0.0})
    return out[0], out[1]


def task_material(task: str) -> dict:
    """Sorted items (id, subset, right and wrong metrics) and some of the task's own text."""
    spec = load_task(task)
    parts = [load_task(f"{task}:{v}") for v in LONGBENCH_HERE] if task == "longbench" else [spec]
    pairs = sorted(((p, i) for p in parts for i in task_items(p, DATA)), key=lambda pi: pi[1].id)
    items, rows = [i for _, i in pairs], []
    for part, item in pairs:
        right, wrong = candidate_metrics(part, item)
        metrics = (json.dumps(right, sort_keys=True), json.dumps(wrong, sort_keys=True))
        rows.append((item.id, item.subset or None, *metrics))
    text = " ".join(m.content for i in items[:400] for m in i.messages if isinstance(m.content, str))
    return {"task": spec.id, "version": str(spec.version), "rows": rows, "text": text}


def shard_table(material: dict, rows: list, model: str, team: str, family: str, fp: str, rng: random.Random):
    text = material["text"]
    n = len(rows)
    right = [rng.random() < 0.55 for _ in rows]
    outputs = []
    for _ in rows:
        size = rng.randint(200, 2800)
        start = rng.randint(0, max(0, len(text) - size))
        outputs.append((text[start : start + size] * (1 + size // max(1, len(text))))[:size])
    cols = {
        "shard": [fp] * n,
        "task": [material["task"]] * n,
        "task_version": [material["version"]] * n,
        "model": [model] * n,
        "team": [team] * n,
        "family": [family] * n,
        "role": ["submission"] * n,
        "prompt_style": ["base"] * n,
        "backend": ["vllm"] * n,
        "item_id": [r[0] for r in rows],
        "subset": [r[1] for r in rows],
        "sample": [0] * n,
        "prompt_hash": [f"{rng.getrandbits(64):016x}" for _ in rows],
        "output": outputs,
        "n_prompt_tokens": [rng.randint(50, 3000) for _ in rows],
        "n_output_tokens": [len(o) // 4 for o in outputs],
        "extracted": ["right" if ok else "zzz" for ok in right],
        "score": [json.loads(r[2] if ok else r[3]).get("accuracy", 1.0 if ok else 0.0) for r, ok in zip(rows, right)],
        "metrics": [r[2] if ok else r[3] for r, ok in zip(rows, right)],
        "latency_s": [rng.random() for _ in rows],
    }
    return pa.table({f.name: cols.get(f.name, [None] * n) for f in RECORD_SCHEMA}, schema=RECORD_SCHEMA)


def write_model(args) -> list[dict]:
    """Every shard file of model number `m`; returns their manifest entries."""
    root, m, materials, seed = args
    rng = random.Random(seed * 100_003 + m)
    team, family = f"team{m // 3:03d}", FAMILIES[m % 3]
    model = f"{team}--{family}"
    fs, entries = pafs.LocalFileSystem(), []
    for material in materials:
        rows = material["rows"]
        for index, start in enumerate(range(0, len(rows), SHARD_SIZE)):
            fp = f"{rng.getrandbits(128):032x}"
            table = shard_table(material, rows[start : start + SHARD_SIZE], model, team, family, fp, rng)
            rel = f"shards/{_safe(material['task'])}/{_safe(model)}/{fp}.parquet"
            entry = {"fingerprint": fp, "task": material["task"], "model": model, "index": index}
            entry.update(n_rows=table.num_rows, n_errors=0, path=rel, seconds=1.0)
            os.makedirs(os.path.dirname(f"{root}/{rel}"), exist_ok=True)
            write_file(fs, f"{root}/{rel}", table, entry)
            entry["bytes"] = os.path.getsize(f"{root}/{rel}")
            entries.append(entry)
    return entries


def build(root: Path, models: int, seed: int, jobs: int) -> None:
    t = time.perf_counter()
    materials = [task_material(task) for task in edition_tasks()]
    print(f"items of {len(materials)} tasks in {time.perf_counter() - t:.1f}s", flush=True)
    root.mkdir(parents=True, exist_ok=True)
    store = ResultStore(str(root))
    store.save_run_config({"edition": EDITION, "track": "compression", "data_dir": str(DATA)})
    with Pool(jobs) as pool, open(root / MANIFEST, "w") as manifest:
        for n, entries in enumerate(pool.imap(write_model, [(str(root), m, materials, seed) for m in range(models)])):
            manifest.writelines(entry_line(e) for e in entries)
            print(f"model {n + 1}/{models}: {len(entries)} files", flush=True)
    print(f"built {root} in {time.perf_counter() - t:.1f}s", flush=True)


def timed(cmd: list[str]) -> dict:
    """{'rc', 'seconds', 'peak_rss_mib'} of `cmd` run alone in a fresh wrapper process."""
    done = subprocess.run([sys.executable, "-c", WRAP, *cmd], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def store_size(root: Path) -> dict:
    shards, rows, sizes = 0, 0, {}
    for line in open(root / MANIFEST):
        entry = json.loads(line)
        shards, rows, sizes[entry["path"]] = shards + 1, rows + entry["n_rows"], entry["bytes"]
    return {"shards": shards, "files": len(sizes), "rows": rows, "gib": sum(sizes.values()) / 2**30}


def measure(root: Path, old: bool, verify_jobs: int, verify: bool = True) -> dict:
    py = sys.executable
    out = {"store": store_size(root)}
    out["pyarrow-only"] = timed([py, "-c", PYARROW_ONLY, str(root)])
    out["score"] = timed([py, "-m", "evalfleet", "score", str(root), "--out", str(root / "report"), "--no-confidence"])
    out["resume"] = timed([py, "-c", RESUME, str(root)])
    for jobs in dict.fromkeys((1, verify_jobs)) if verify else ():
        out[f"verify-jobs{jobs}"] = timed([py, "-c", VERIFY, str(root), str(jobs)])
        out[f"verify-jobs{jobs}"]["rows_per_s"] = round(out["store"]["rows"] / out[f"verify-jobs{jobs}"]["seconds"])
    if old:
        out["score-old"] = timed([py, "-c", OLD_SCORE, str(root), str(root / "old.csv")])
        timed([py, "-c", NEW_SCORES, str(root), str(root / "new.csv")])
        out["equal"] = (root / "old.csv").read_text() == (root / "new.csv").read_text()
    return out


def measure_verify(root: Path, verify_jobs: int, ray: bool) -> dict:
    """`evalfleet verify` alone: with `--jobs verify_jobs` and, when `ray`, with `--ray`."""
    rows = store_size(root)["rows"]
    out = {}
    for name, arg in ((f"verify-jobs{verify_jobs}", str(verify_jobs)), *((("verify-ray", "ray"),) if ray else ())):
        out[name] = timed([sys.executable, "-c", VERIFY, str(root), arg])
        out[name]["rows_per_s"] = round(rows / out[name]["seconds"])
    return out


def compact_then_measure(root: Path, verify_jobs: int, verify: bool) -> dict:
    """`evalfleet compact` timed, task scores before and after compared, then every step measured again."""
    py = sys.executable
    timed([py, "-c", NEW_SCORES, str(root), str(root / "before.csv")])
    out = {"compact": timed([py, "-m", "evalfleet", "compact", str(root)])}
    timed([py, "-c", NEW_SCORES, str(root), str(root / "after.csv")])
    out["equal"] = (root / "before.csv").read_text() == (root / "after.csv").read_text()
    return {**out, **measure(root, False, verify_jobs, verify)}


def hash_bench(root: Path, models: int, mib: int) -> dict:
    """Seconds to fingerprint `models` checkpoints of 2 x `mib` MiB weights: serial `fingerprint` and
    `fingerprints` with 1, 2 and 4 threads, each with an empty cache (the files are in the page cache:
    this measures hashing, not the disks), then the cached pass."""
    from evalfleet.plan.modelhash import fingerprint, fingerprints

    rng = random.Random(0)
    paths = []
    for m in range(models):
        d = root / f"model{m}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "config.json").write_text("{}")
        for part in range(2):
            if not (d / f"model-{part}.safetensors").exists():
                (d / f"model-{part}.safetensors").write_bytes(b"".join(rng.randbytes(1 << 20) for _ in range(mib)))
        paths.append(d)
    out = {"gib": models * 2 * mib / 1024}
    t = time.perf_counter()
    serial = [fingerprint(p, {}) for p in paths]
    out["serial"] = round(time.perf_counter() - t, 2)
    cache: dict = {}
    for jobs in (1, 2, 4):
        cache = {}
        t = time.perf_counter()
        assert list(fingerprints(paths, cache, jobs).values()) == serial
        out[f"threads-{jobs}"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    fingerprints(paths, cache)
    out["cached"] = round(time.perf_counter() - t, 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("build", "measure", "compact", "hash", "verify"))
    parser.add_argument("--root", required=True)
    parser.add_argument("--models", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--old", action="store_true", help="also time the previous whole-store path and compare")
    parser.add_argument("--mib", type=int, default=512, help="hash: MiB per weight file (2 per checkpoint)")
    parser.add_argument("--no-verify", action="store_true", help="measure: leave out verify (the longest step)")
    parser.add_argument("--ray", action="store_true", help="verify: also time `verify --ray`")
    args = parser.parse_args()
    if args.step == "build":
        build(Path(args.root), args.models, args.seed, args.jobs)
    elif args.step == "hash":
        print(json.dumps(hash_bench(Path(args.root), args.models, args.mib), indent=1))
    elif args.step == "verify":
        print(json.dumps(measure_verify(Path(args.root), args.jobs, args.ray), indent=1))
    elif args.step == "compact":
        print(json.dumps(compact_then_measure(Path(args.root), args.jobs, not args.no_verify), indent=1))
    else:
        print(json.dumps(measure(Path(args.root), args.old, args.jobs, not args.no_verify), indent=1))


if __name__ == "__main__":
    main()
