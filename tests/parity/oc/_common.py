"""Shared by the scripts that run INSIDE the parity venv (.venv-parity, OpenCompass 0.5.4).

Protocol: a script reads one JSON object on stdin and writes one JSON object on stdout (logs go to
stderr). Nothing here imports evalfleet: the core and OpenCompass never share a process.

The data cache: OpenCompass finds a dataset id such as 'opencompass/gsm8k' under
$COMPASS_DATA_CACHE/<its local path> (utils/datasets_info.py). `build_data_cache` lays the official
files of ../shared/data out that way in a temporary folder, by symlinks (or small conversions where
OpenCompass wants another file format). To add a dataset, add its entries to LAYOUT.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
from pathlib import Path


def _jsonl_to_index_dict(src: Path, dest: Path) -> None:
    """MATH: OpenCompass reads one JSON object {index: {problem, solution, ...}} (math.json)."""
    rows = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    dest.write_text(json.dumps({str(i): row for i, row in enumerate(rows)}), encoding="utf-8")


def _gunzip(src: Path, dest: Path) -> None:
    """HumanEval: OpenCompass reads the plain JSON Lines file; the shared copy is gzip-compressed."""
    import gzip

    dest.write_bytes(gzip.decompress(src.read_bytes()))


# dest (relative to the cache root) -> source (relative to the shared data dir), or (converter, source).
# A loader that insists on a split we do not have (a train file) gets the test file in its place:
# only the test split is ever rendered or scored.
LAYOUT: dict[str, object] = {
    "data/gsm8k/test.jsonl": "gsm8k/test.jsonl",
    "data/gsm8k/train.jsonl": "gsm8k/test.jsonl",
    "data/commonsenseqa/dev_rand_split.jsonl": "commonsenseqa/dev_rand_split.jsonl",
    "data/commonsenseqa/train_rand_split.jsonl": "commonsenseqa/dev_rand_split.jsonl",
    "data/BBH/data": "bbh/bbh",
    "data/math/math.json": (_jsonl_to_index_dict, "math/math_test_5000.jsonl"),
    # MATH-500 under a path of our own (pass dataset_overrides={"path": "math500"}).
    "math500/math.json": (_jsonl_to_index_dict, "math/math500_test.jsonl"),
    "data/humaneval/human-eval-v2-20210705.jsonl": (_gunzip, "humaneval/HumanEval.jsonl.gz"),
}


def build_data_cache(shared: Path, root: Path) -> Path:
    """Lay the shared data out under `root` as OpenCompass's COMPASS_DATA_CACHE expects; returns root."""
    for dest, source in LAYOUT.items():
        target = root / dest
        if target.exists() or target.is_symlink():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, tuple):
            convert, rel = source
            convert(shared / rel, target)
        else:
            target.symlink_to((shared / source).resolve())
    return root


def read_request() -> dict:
    return json.loads(sys.stdin.read())


def write_response(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False))
    sys.stdout.flush()


@contextlib.contextmanager
def quiet_stdout():
    """OpenCompass prints; keep stdout for the JSON answer."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def serve_offline(work) -> None:
    """One request in, `work(request)` (hub offline, OpenCompass's prints on stderr), one JSON answer out."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    request = read_request()
    with quiet_stdout():
        answer = work(request)
    write_response(answer)


def dataset_cfgs(config: str, abbrs: list[str] | None, overrides: dict | None = None) -> list:
    """The dataset configs of an OpenCompass config module (every `*_datasets` list), optionally by abbr."""
    from mmengine.config import ConfigDict

    module = importlib.import_module(config)
    cfgs = []
    for name in dir(module):
        if name.endswith("_datasets") and isinstance(getattr(module, name), list):
            cfgs += [ConfigDict(c) for c in getattr(module, name)]
    if abbrs is not None:
        by_abbr = {c.get("abbr", c.get("path")): c for c in cfgs}
        missing = [a for a in abbrs if a not in by_abbr]
        if missing:
            raise SystemExit(f"{config}: no dataset with abbr {missing} (have {sorted(by_abbr)})")
        cfgs = [by_abbr[a] for a in abbrs]
    for c in cfgs:
        c.update(overrides or {})
    return cfgs


def abbr_of(cfg) -> str:
    from opencompass.utils import dataset_abbr_from_cfg

    return dataset_abbr_from_cfg(cfg)


def setup_env(request: dict) -> None:
    """COMPASS_DATA_CACHE from the request (built from the shared data), offline flags."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    cache = build_data_cache(Path(request["shared_data"]), Path(request["data_cache"]))
    os.environ["COMPASS_DATA_CACHE"] = str(cache)
