"""Score given predictions with OpenCompass's own postprocessors and evaluator (runs INSIDE .venv-parity).

Request (stdin JSON):
  config, shared_data, data_cache, overrides   as for render.py
  datasets   {abbr: {"indices": [test-set indices] or null (all, in order), "predictions": [raw model output]}}
Response: {abbr: {"extracted": [...], "correct": [bool per item], "metrics": {name: value}}}
Several in one start: {"jobs": [request, ...], shared_data, data_cache} answers [response, ...].

The path is OpenCompass's OpenICLEvalTask: its dataset loader and `dataset_postprocessor` on the
references, `_process_predictions` (model/dataset `pred_postprocessor`), and `_evaluate_predictions`
(the configured evaluator through `evaluate()`), whose numeric results are `metrics`. Per-item
verdicts come from the evaluator's own `details` (`correct`) when it gives them in item order,
otherwise from scoring each item alone with the same evaluator (its headline metric > 0).
"""

from __future__ import annotations

import copy
import tempfile

from _common import abbr_of, dataset_cfgs, quiet_stdout, read_request, setup_env, write_response


def make_task(cfg):
    from mmengine.config import ConfigDict
    from opencompass.tasks.openicl_eval import OpenICLEvalTask
    from opencompass.utils import get_logger

    task = OpenICLEvalTask.__new__(OpenICLEvalTask)  # the per-dataset state `run()` would set
    task.logger = get_logger()
    task.model_cfg = ConfigDict(abbr="parity", type="HuggingFaceBaseModel")
    task.dataset_cfg = cfg
    task.eval_cfg = copy.deepcopy(cfg.get("eval_cfg"))
    task.output_column = copy.deepcopy(cfg["reader_cfg"]["output_column"])
    task.work_dir = tempfile.mkdtemp(prefix="oc-eval-")
    task.dump_details = False
    task.cal_extract_rate = False
    return task


def numeric(result: dict) -> dict:
    return {k: float(v) for k, v in result.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def per_item(task, extracted, test_set) -> list[bool]:
    from opencompass.registry import ICL_EVALUATORS

    ev_cfg = copy.deepcopy(task.eval_cfg["evaluator"])
    ev_type = ev_cfg.pop("type")
    evaluator = ICL_EVALUATORS.get(ev_type)(**ev_cfg) if isinstance(ev_type, str) else ev_type(**ev_cfg)
    refs = test_set[task.output_column]
    import inspect

    params = inspect.signature(evaluator.score).parameters
    kwargs = {"predictions": list(extracted), "references": list(refs)}
    if "test_set" in params:
        kwargs["test_set"] = test_set
    details = evaluator.score(**kwargs).get("details")
    if (
        isinstance(details, list)
        and len(details) == len(extracted)
        and all(isinstance(d, dict) and "correct" in d for d in details)
    ):
        return [bool(d["correct"]) for d in details]
    verdicts, cache = [], {}
    for i in range(len(extracted)):
        key = (repr(extracted[i]), repr(refs[i]))
        if key not in cache or "test_set" in params:  # same (prediction, reference): same verdict
            one = {"predictions": [extracted[i]], "references": [refs[i]]}
            if "test_set" in params:
                one["test_set"] = test_set.select([i])
            result = numeric(evaluator.score(**one))
            cache[key] = next(iter(result.values())) > 0
        verdicts.append(cache[key])
    return verdicts


def score_request(req: dict) -> dict:
    out = {}
    for cfg in dataset_cfgs(req["config"], list(req["datasets"]), req.get("overrides")):
        abbr = abbr_of(cfg)
        spec = req["datasets"][abbr]
        task = make_task(cfg)
        test_set = task._load_and_preprocess_test_data()
        if spec.get("indices") is not None:
            test_set = test_set.select(spec["indices"])
        predictions = list(spec["predictions"])
        extracted = task._process_predictions(copy.deepcopy(predictions))
        result = task._evaluate_predictions(extracted, test_set, [{"prediction": p} for p in predictions])
        out[abbr] = {"extracted": extracted, "correct": per_item(task, extracted, test_set), "metrics": numeric(result)}
    return out


def main() -> None:
    from opencompass.utils import build_dataset_from_cfg  # noqa: F401  (registers loaders)

    req = read_request()
    setup_env(req)
    with quiet_stdout():
        answer = [score_request(job) for job in req["jobs"]] if "jobs" in req else score_request(req)
    write_response(answer)


if __name__ == "__main__":
    main()
