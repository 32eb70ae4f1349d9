"""Task spec loading: variants, validation errors that name the file and field, fingerprint inputs."""

from __future__ import annotations

import pytest

from evalfleet.errors import EvalfleetError
from evalfleet.spec.taskspec import load_task, parse_task, split_task_id

SPEC = """
version: 3
module: tydiqa
kind: generate
reference: opencompass gsm8k_gen_1d7fe4
data: [gsm8k/test.jsonl]
metric: accuracy
generation: {max_new_tokens: 512, stop: ["Question:"]}
options: {lowercase_reference: true, template: "Q: {question}"}
variants:
  short:
    generation: {max_new_tokens: 16}
    options: {lowercase_reference: false}
"""


def write(tmp_path, text=SPEC, name="demo"):
    (tmp_path / f"{name}.yaml").write_text(text)
    return tmp_path


def test_default_variant(tmp_path):
    spec = load_task("demo", write(tmp_path))
    assert (spec.id, spec.version, spec.kind, spec.metric) == ("demo", "3", "generate", "accuracy")
    assert spec.generation.max_new_tokens == 512 and spec.generation.stop == ("Question:",)
    assert spec.options == {"lowercase_reference": True, "template": "Q: {question}"}
    assert spec.data_files == ("gsm8k/test.jsonl",)


def test_variant_merges_generation_and_options(tmp_path):
    spec = load_task("demo:short", write(tmp_path))
    assert spec.id == "demo:short"
    assert spec.generation.max_new_tokens == 16 and spec.generation.stop == ("Question:",)
    assert spec.options == {"lowercase_reference": False, "template": "Q: {question}"}


def test_spec_hash_changes_with_text_and_variant(tmp_path):
    a = load_task("demo", write(tmp_path))
    b = load_task("demo:short", tmp_path)
    c = load_task("demo", write(tmp_path, SPEC.replace("Q: {question}", "Question: {question}")))
    assert len({a.spec_hash, b.spec_hash, c.spec_hash}) == 3


def test_split_task_id():
    assert split_task_id("bbh") == ("bbh", "default")
    assert split_task_id("commonsenseqa:gen_c946f2") == ("commonsenseqa", "gen_c946f2")


@pytest.mark.parametrize(
    "text, field",
    [
        ("module: m\nmetric: a\nkind: chat\n", "kind"),
        ("module: m\nmetric: a\nbogus: 1\n", "bogus"),
        ("metric: a\n", "module"),
        ("module: m\nmetric: a\ngeneration: {max_new_tokens: 0}\n", "generation.max_new_tokens"),
        ("module: m\nmetric: a\ngeneration: {stop: [1]}\n", "generation.stop"),
        ("module: m\nmetric: a\ndata: 3\n", "data"),
    ],
)
def test_bad_specs_name_the_field(tmp_path, text, field):
    write(tmp_path, text, "bad")
    with pytest.raises(EvalfleetError) as err:
        load_task("bad", tmp_path)
    assert err.value.field == field and "bad.yaml" in str(err.value)


def test_unknown_task_and_variant_and_malformed_yaml(tmp_path):
    write(tmp_path)
    with pytest.raises(EvalfleetError, match="unknown task 'nope'.*known: demo"):
        load_task("nope", tmp_path)
    with pytest.raises(EvalfleetError, match="unknown variant 'long'"):
        load_task("demo:long", tmp_path)
    write(tmp_path, "module: [unclosed\n", "broken")
    with pytest.raises(EvalfleetError, match="broken.yaml: malformed YAML"):
        load_task("broken", tmp_path)


def test_parse_task_requires_mapping():
    with pytest.raises(EvalfleetError, match="must be a mapping"):
        parse_task(["x"], name="x")


def test_with_options_merges_and_changes_the_hash(tmp_path):
    from evalfleet.spec.taskspec import with_options

    spec = load_task("demo", write(tmp_path))
    assert with_options(spec, None) is spec
    changed = with_options(spec, {"template": "A: {question}"})
    assert changed.options == {"lowercase_reference": True, "template": "A: {question}"}
    assert spec.options["template"] == "Q: {question}"
    assert changed.spec_hash != spec.spec_hash != with_options(spec, {"template": "B: {question}"}).spec_hash


@pytest.mark.parametrize(
    "value, ok", [("context", True), (1024, True), (0, False), ("model", False), (True, False), (1.5, False)]
)
def test_max_prompt_tokens_is_a_positive_count_or_context(tmp_path, value, ok):
    text = SPEC.replace(
        'stop: ["Question:"]}', f'stop: ["Question:"], max_prompt_tokens: {value!r}}}'.replace("'", '"')
    )
    if ok:
        assert load_task("demo", write(tmp_path, text)).generation.max_prompt_tokens == value
    else:
        with pytest.raises(EvalfleetError, match="generation.max_prompt_tokens"):
            load_task("demo", write(tmp_path, text))


@pytest.mark.parametrize(
    "text, field, message",
    [
        (SPEC.replace("lowercase_reference: true,", "shots: 4,"), "options.shots", "unknown tydiqa option (known: "),
        (
            SPEC.replace("options: {lowercase_reference: false}", "options: {lowercase_referenc: false}"),
            "variants.short.options.lowercase_referenc",  # every variant is checked, not only the one loaded
            "unknown tydiqa option",
        ),
        (SPEC.replace("    generation: {max_new_tokens: 16}", "    kindd: x"), "variants.short.kindd", "unknown key"),
        (SPEC.replace("module: tydiqa", "module: nosuch"), "module", "no benchmark module"),
    ],
)
def test_unknown_options_name_the_task_file_and_field(tmp_path, text, field, message):
    write(tmp_path, text)
    with pytest.raises(EvalfleetError) as err:
        load_task("demo", tmp_path)
    assert err.value.field == field and err.value.source == str(tmp_path / "demo.yaml")
    assert f"demo.yaml: field '{field}': {message}" in str(err.value)


def test_every_shipped_task_variant_uses_only_declared_options():
    import yaml

    from evalfleet.benchmarks import module_options
    from evalfleet.spec.paths import tasks_dir
    from evalfleet.spec.taskspec import available_tasks

    for name in available_tasks():
        raw = yaml.safe_load((tasks_dir() / f"{name}.yaml").read_text())
        for variant in ["default", *(raw.get("variants") or {})]:
            spec = load_task(name if variant == "default" else f"{name}:{variant}")
            assert set(spec.options) <= module_options(spec.module), spec.id


def test_errors_share_one_wording(tmp_path):
    cases = [
        ("module: m\nmetric: a\nkind: chat\n", "kind", "must be one of 'generate', 'loglikelihood', 'measure'"),
        ("metric: a\n", "module", "required (a string)"),
        ("module: m\nmetric: a\ngeneration: {max_new_tokens: 0}\n", "generation.max_new_tokens", "must be int >= 1"),
        ("module: m\nmetric: a\ngeneration: {top_k: 1}\n", "generation.top_k", "unknown key (known: max_new_tokens"),
        ("module: m\nmetric: a\ndata: 3\n", "data", "must be a list of file paths, got int 3"),
    ]
    for text, field, message in cases:
        write(tmp_path, text, "bad")
        with pytest.raises(EvalfleetError) as err:
            load_task("bad", tmp_path)
        assert str(err.value).startswith(f"{tmp_path / 'bad.yaml'}: field '{field}': {message}")
