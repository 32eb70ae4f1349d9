"""Render OpenCompass's own prompts for a dataset config (runs INSIDE .venv-parity).

Request (stdin JSON):
  config         OpenCompass config module, e.g. "opencompass.configs.datasets.gsm8k.gsm8k_gen_1d7fe4"
  datasets       list of dataset abbrs to render (null: every dataset of the config)
  style          "base" (HuggingFaceBaseModel) or "chat" (HuggingFacewithChatTemplate + tokenizer's template),
                 or a list of them: the answer is then {style: {abbr: [...]}}
  mode           "gen" (GenInferencer, default) or "ppl" (one prompt per label, PPLInferencer's prompts)
  tokenizer      checkpoint dir whose tokenizer/chat template to use (required for chat)
  shared_data    the shared data dir;  data_cache: a scratch dir for the COMPASS_DATA_CACHE layout
  overrides      optional dict merged into every dataset config (e.g. {"path": "math500"})
  limit          optional: only the first N items of each dataset
  retriever      optional retriever config replacing the config's (e.g. {"type": "ZeroRetriever"})
Response: {abbr: [{"index": i, "prompt": str}]}  (ppl mode: {"index", "label", "prompt"}).
Several renders in one start (OpenCompass's import is slow): {"jobs": [request, ...], shared_data,
data_cache} answers [response, ...].

The prompts come from OpenCompass's code path: its dataset loader, retriever, prompt templates,
GenInferencer.get_generation_prompt_list_from_retriever_indices, the model's template parser
(`parse_template(..., mode)`), then the model-side conversion of `generate`
(`_convert_base_messages`, or `_convert_chat_messages` + `apply_chat_template`).
"""

from __future__ import annotations

import types

from _common import abbr_of, dataset_cfgs, quiet_stdout, read_request, setup_env, write_response


def loadable_tokenizer_dir(path: str) -> str:
    """The tokenizer dir, or a copy this transformers (4.x) can load.

    Checkpoints saved by transformers 5 name the class 'TokenizersBackend', unknown to 4.x; the copy
    names the equivalent 'PreTrainedTokenizerFast'. tokenizer.json and the chat template are unchanged.
    """
    import json
    import shutil
    import tempfile
    from pathlib import Path

    import transformers

    config_path = Path(path) / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if hasattr(transformers, str(config.get("tokenizer_class"))):
        return path
    copy = Path(tempfile.mkdtemp(prefix="oc-tok-"))
    for f in Path(path).iterdir():
        if f.is_file() and not f.name.endswith((".safetensors", ".bin")):
            shutil.copy(f, copy / f.name)
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    (copy / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return str(copy)


def build_model(style: str, tokenizer: str | None):
    from opencompass.models import HuggingFacewithChatTemplate
    from opencompass.models.base import LMTemplateParser

    if style == "base":
        # HuggingFaceBaseModel parses with a bare LMTemplateParser; no tokenizer is involved.
        return types.SimpleNamespace(
            template_parser=LMTemplateParser(), parse=lambda p, mode: LMTemplateParser().parse_template(p, mode)
        )
    if style == "chat":
        if not tokenizer:
            raise SystemExit("style 'chat' needs a tokenizer path")
        model = HuggingFacewithChatTemplate(
            path=loadable_tokenizer_dir(tokenizer), tokenizer_only=True, max_seq_len=1 << 20
        )
        model.parse = model.parse_template
        return model
    raise SystemExit(f"unknown style {style!r}")


def to_text(model, style: str, parsed) -> str:
    from opencompass.models.huggingface_above_v4_33 import _convert_base_messages, _convert_chat_messages

    if style == "base":
        return _convert_base_messages([parsed])[0]
    messages = _convert_chat_messages([parsed])[0]
    return model.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def oc_prompts(
    cfg, mode: str, limit: int | None, retriever: dict | None = None
) -> list[tuple[int, str | None, object]]:
    """(index, label, OpenCompass prompt before the model's template parser) for each item (and label)."""
    from opencompass.openicl.icl_inferencer import GenInferencer
    from opencompass.registry import ICL_PROMPT_TEMPLATES, ICL_RETRIEVERS
    from opencompass.utils import build_dataset_from_cfg

    dataset = build_dataset_from_cfg(cfg)
    infer_cfg = cfg["infer_cfg"]
    ice_template = ICL_PROMPT_TEMPLATES.build(infer_cfg["ice_template"]) if "ice_template" in infer_cfg else None
    prompt_template = (
        ICL_PROMPT_TEMPLATES.build(infer_cfg["prompt_template"]) if "prompt_template" in infer_cfg else None
    )
    retriever_cfg = dict(retriever or infer_cfg["retriever"])
    retriever_cfg["dataset"] = dataset
    retriever = ICL_RETRIEVERS.build(retriever_cfg)
    ice_idx_list = retriever.retrieve()
    if limit is not None:
        ice_idx_list = ice_idx_list[:limit]
    if mode == "gen":
        inferencer = GenInferencer.__new__(GenInferencer)  # only its prompt-list method is used
        replace = infer_cfg["inferencer"].get("gen_field_replace_token", "")
        prompts = GenInferencer.get_generation_prompt_list_from_retriever_indices(
            inferencer,
            ice_idx_list,
            retriever,
            replace,
            max_seq_len=None,
            ice_template=ice_template,
            prompt_template=prompt_template,
        )
        return [(i, None, p) for i, p in enumerate(prompts)]
    if mode == "ppl":
        labels = retriever.get_labels(ice_template=ice_template, prompt_template=prompt_template)
        out = []
        for i, ice_idx in enumerate(ice_idx_list):
            ice = retriever.generate_ice(ice_idx, ice_template=ice_template)
            for label in labels:
                out.append(
                    (
                        i,
                        str(label),
                        retriever.generate_label_prompt(
                            i, ice, label, ice_template=ice_template, prompt_template=prompt_template
                        ),
                    )
                )
        return out
    raise SystemExit(f"unknown mode {mode!r}")


def render_request(req: dict):
    styles = req.get("style", "base")
    style_list = styles if isinstance(styles, list) else [styles]
    mode = req.get("mode", "gen")
    models = {style: build_model(style, req.get("tokenizer")) for style in style_list}
    result = {style: {} for style in style_list}
    for cfg in dataset_cfgs(req["config"], req.get("datasets"), req.get("overrides")):
        prompts = oc_prompts(cfg, mode, req.get("limit"), req.get("retriever"))
        for style, model in models.items():
            rows = []
            for index, label, prompt in prompts:
                row = {"index": index, "prompt": to_text(model, style, model.parse(prompt, mode))}
                if label is not None:
                    row["label"] = label
                rows.append(row)
            result[style][abbr_of(cfg)] = rows
    return result if isinstance(styles, list) else result[styles]


def main() -> None:
    req = read_request()
    setup_env(req)
    with quiet_stdout():
        answer = [render_request(job) for job in req["jobs"]] if "jobs" in req else render_request(req)
    write_response(answer)


if __name__ == "__main__":
    main()
