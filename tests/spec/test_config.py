"""Run config parsing: defaults, path resolution, per-submission problems vs whole-file errors."""

from __future__ import annotations

import pytest
import yaml

from evalfleet.errors import EvalfleetError
from evalfleet.spec.config import load_config

GOOD = {
    "edition": "edge-llm-2024",
    "track": "compression",
    "data_dir": "data",
    "results": "out",
    "submissions": [
        {
            "team": "alpha",
            "models": [
                {"path": "ckpt/a-llama", "family": "llama", "dtype": "float16", "prompt_style": "chat"},
                {"path": "ckpt/a-phi", "family": "phi"},
            ],
        },
        {"team": "beta", "models": [{"path": "/abs/b", "family": "qwen2", "adapter": "dora"}]},
    ],
}


def write(tmp_path, raw):
    path = tmp_path / "finals.yaml"
    path.write_text(yaml.safe_dump(raw) if not isinstance(raw, str) else raw)
    return path


def test_good_config(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.edition == "edge-llm-2024" and cfg.track == "compression" and cfg.problems == ()
    assert [m.id for m in cfg.submissions] == ["alpha--llama", "alpha--phi", "beta--qwen2"]
    a = cfg.submissions[0]
    assert (a.dtype, a.prompt_style, a.role) == ("float16", "chat", "submission")
    assert a.path == str(tmp_path / "ckpt" / "a-llama")
    assert cfg.submissions[2].adapter == str(tmp_path / "dora")
    assert cfg.data_dir == str(tmp_path / "data") and cfg.results == str(tmp_path / "out")
    assert (cfg.backend, cfg.shard_size, cfg.batch_size, cfg.max_retries) == ("hf", 64, 8, 2)


def test_results_override_and_uri(tmp_path):
    assert load_config(write(tmp_path, GOOD), results="s3://bucket/x").results == "s3://bucket/x"


def test_bad_submission_is_skipped_not_fatal(tmp_path):
    raw = {
        **GOOD,
        "submissions": GOOD["submissions"]
        + [
            {"team": "gamma", "models": [{"path": "x", "family": "llama", "dtype": "int8"}]},
            {"team": "delta", "models": [{"path": 42, "family": "llama"}]},
            {"team": "eps"},
        ],
    }
    cfg = load_config(write(tmp_path, raw))
    assert len(cfg.submissions) == 3
    assert len(cfg.problems) == 3
    assert "finals.yaml" in cfg.problems[0] and "submissions[2].models[0].dtype" in cfg.problems[0]
    assert "submissions[3].models[0].path" in cfg.problems[1]
    assert "submissions[4]" in cfg.problems[2]


def test_compact_is_off_unless_asked(tmp_path):
    assert load_config(write(tmp_path, GOOD)).compact is False
    assert load_config(write(tmp_path, {**GOOD, "compact": True})).compact is True


@pytest.mark.parametrize(
    "change, field",
    [
        ({"shard_size": "big"}, "shard_size"),
        ({"shard_size": 0}, "shard_size"),
        ({"backend": "tgi"}, "backend"),
        ({"tasks": "gsm8k"}, "tasks"),
        ({"color": "red"}, "color"),
        ({"edition": None}, "edition"),
        ({"batch_size": True}, "batch_size"),
        ({"compact": "yes"}, "compact"),
    ],
)
def test_structural_errors_name_file_and_field(tmp_path, change, field):
    with pytest.raises(EvalfleetError) as err:
        load_config(write(tmp_path, {**GOOD, **change}))
    assert err.value.field == field and "finals.yaml" in str(err.value)


def test_malformed_and_missing(tmp_path):
    with pytest.raises(EvalfleetError, match="finals.yaml: malformed YAML"):
        load_config(write(tmp_path, "edition: [x\n"))
    with pytest.raises(EvalfleetError, match="config file not found"):
        load_config(tmp_path / "none.yaml")


def test_backend_options_are_checked_against_the_backends_declared_options(tmp_path):
    cfg = load_config(write(tmp_path, {**GOOD, "backend_options": {"prefix_cache": False, "max_length": 4096}}))
    assert cfg.backend_options == {"prefix_cache": False, "max_length": 4096}
    vllm = {**GOOD, "backend": "vllm", "backend_options": {"tensor_parallel_size": 2, "enforce_eager": True}}
    assert load_config(write(tmp_path, vllm)).backend_options["tensor_parallel_size"] == 2
    assert load_config(write(tmp_path, GOOD)).backend_options is None


@pytest.mark.parametrize(
    "backend, options, field, message",
    [
        ("hf", {"prefix_cach": False}, "backend_options.prefix_cach", "unknown hf backend option (known: device,"),
        ("hf", {"tensor_parallel_size": 2}, "backend_options.tensor_parallel_size", "unknown hf backend option"),
        ("vllm", {"prefix_cache": False}, "backend_options.prefix_cache", "unknown vllm backend option"),
        ("hf", {"batch_size": 4}, "backend_options.batch_size", "set the top-level 'batch_size' instead"),
        ("hf", ["prefix_cache"], "backend_options", "must be a mapping, got list"),
    ],
)
def test_unknown_backend_option_names_the_config_file_and_field(tmp_path, backend, options, field, message):
    with pytest.raises(EvalfleetError) as err:
        load_config(write(tmp_path, {**GOOD, "backend": backend, "backend_options": options}))
    assert err.value.field == field and err.value.source == str(tmp_path / "finals.yaml")
    assert f"finals.yaml: field '{field}': {message}" in str(err.value)


@pytest.mark.parametrize("name", ["hf", "vllm"])
def test_declared_backend_options_are_the_constructors_keywords(name):
    import inspect

    from evalfleet.backends import backend_class

    cls = backend_class(name)  # importable without torch / vllm
    params = inspect.signature(cls.__init__).parameters.values()
    assert cls.OPTIONS == {p.name for p in params if p.kind is p.KEYWORD_ONLY}
    assert not any(p.kind is p.VAR_KEYWORD for p in params)  # nothing swallowed


def test_load_backend_rejects_unknown_options_before_loading():
    from evalfleet.backends import load_backend
    from evalfleet.types import ModelRef

    with pytest.raises(EvalfleetError, match="field 'backend_options.colour': unknown hf backend option"):
        load_backend("hf", ModelRef(team="t", family="f", path="/nowhere"), colour="red")


@pytest.mark.parametrize(
    "probe, field",
    [({"repetitions": 0}, "probe.repetitions"), ({"reps": 3}, "probe.reps"), ({"mode": "fast"}, "probe.mode")],
)
def test_probe_overrides_are_checked_as_probe_settings(tmp_path, probe, field):
    assert load_config(write(tmp_path, {**GOOD, "probe": {"mode": "kit", "repetitions": 3}})).probe["repetitions"] == 3
    with pytest.raises(EvalfleetError) as err:
        load_config(write(tmp_path, {**GOOD, "probe": probe}))
    assert err.value.field == field and "finals.yaml" in str(err.value)


def test_errors_share_one_wording(tmp_path):
    cases = [
        ({"shard_size": "big"}, "field 'shard_size': must be int >= 1, got str 'big'"),
        ({"backend": "tgi"}, "field 'backend': must be one of 'hf', 'vllm', got str 'tgi'"),
        ({"color": "red"}, "field 'color': unknown key (known: backend,"),
        ({"edition": None}, "field 'edition': required (an edition name)"),
        ({"tasks": "gsm8k"}, "field 'tasks': must be a list of task ids, got str 'gsm8k'"),
    ]
    for change, message in cases:
        with pytest.raises(EvalfleetError) as err:
            load_config(write(tmp_path, {**GOOD, **change}))
        assert str(err.value).startswith(f"{tmp_path / 'finals.yaml'}: {message}")
