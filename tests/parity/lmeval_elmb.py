"""Run lm-evaluation-harness itself on ELMB-format JSON Lines files (executed inside .venv-lmeval).

    python lmeval_elmb.py MODEL_DIR OUT.json FILE.jsonl [FILE.jsonl ...]

Each file becomes a 0-shot multiple_choice task defined by a task YAML written to a temporary
directory (the ELMB prompt: `Question: {{question}}\\nAnswer:`, ChatRAG with `Context: {{ctx}}\\n`
first; choices `{{choices}}`, target `{{answer}}`, metrics acc and acc_norm), evaluated with
HFLM(pretrained=MODEL_DIR) on CPU in float32. OUT.json gets, per task, the per-document
log-likelihoods and acc / acc_norm lm-eval logged, the task-level metrics, and the wall time of
`simple_evaluate` (for bench/loglikelihood.py).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = """task: {task}
dataset_path: json
dataset_kwargs:
  data_files:
    validation: {path}
validation_split: validation
output_type: multiple_choice
num_fewshot: 0
doc_to_text: "{text}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{answer}}}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
"""


def main(model_dir: str, out: str, files: list[str]) -> None:
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    tmp = Path(tempfile.mkdtemp(prefix="lmeval-elmb-"))
    names = []
    for f in files:
        stem = Path(f).stem
        text = ("Context: {{ctx}}\\n" if stem == "chatrag" else "") + "Question: {{question}}\\nAnswer:"
        name = f"elmb_fixture_{stem}"
        (tmp / f"{name}.yaml").write_text(
            TEMPLATE.format(task=name, path=json.dumps(str(Path(f).resolve())), text=text)
        )
        names.append(name)
    lm = HFLM(
        pretrained=model_dir,
        device="cpu",
        dtype="float32",
        batch_size=int(__import__("os").environ.get("LMEVAL_BATCH", "1")),
    )
    start = time.perf_counter()
    results = simple_evaluate(
        model=lm,
        tasks=names,
        task_manager=TaskManager(include_path=str(tmp)),
        log_samples=True,
        num_fewshot=0,
        bootstrap_iters=0,
    )
    wall = time.perf_counter() - start
    report = {"wall_s": wall, "tasks": {}}
    for name in names:
        samples = sorted(results["samples"][name], key=lambda s: s["doc_id"])
        report["tasks"][name] = {
            "metrics": {
                k.split(",")[0]: v
                for k, v in results["results"][name].items()
                if k.split(",")[0] in ("acc", "acc_norm")
            },
            "docs": [
                {
                    "doc_id": s["doc_id"],
                    "context": s["arguments"][0][0]
                    if isinstance(s["arguments"][0], (list, tuple))
                    else s["arguments"]["gen_args_0"]["arg_0"],
                    "continuations": [a[1] for a in s["arguments"]]
                    if isinstance(s["arguments"], list)
                    else [
                        s["arguments"][k]["arg_1"] for k in sorted(s["arguments"], key=lambda k: int(k.split("_")[-1]))
                    ],
                    "logliks": [float(r[0][0]) for r in s["resps"]],
                    "acc": float(s["acc"]),
                    "acc_norm": float(s["acc_norm"]),
                }
                for s in samples
            ],
        }
    Path(out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
