"""Task spec loading: variants, validation errors that name the file and field, fingerprint inputs."""

from __future__ import annotations

import pytest

from evalfleet.errors import EvalfleetError
from evalfleet.spec.taskspec import load_task, parse_task, split_task_id

SPEC = """
version: 3
module: gsm8k
kind: generate
reference: opencompass gsm8k_gen_1d7fe4
data: [gsm8k/test.jsonl]
metric: accuracy
generation: {max_new_tokens: 512, stop: ["Question:"]}
options: {shots: 4, template: "Q: {question}"}
variants:
  short:
    generation: {max_new_tokens: 16}
    options: {shots: 0}
"""


def write(tmp_path, text=SPEC, name="demo"):
    (tmp_path / f"{name}.yaml").write_text(text)
    return tmp_path


def test_default_variant(tmp_path):
    spec = load_task("demo", write(tmp_path))
    assert (spec.id, spec.version, spec.kind, spec.metric) == ("demo", "3", "generate", "accuracy")
    assert spec.generation.max_new_tokens == 512 and spec.generation.stop == ("Question:",)
    assert spec.options == {"shots": 4, "template": "Q: {question}"}
    assert spec.data_files == ("gsm8k/test.jsonl",)


def test_variant_merges_generation_and_options(tmp_path):
    spec = load_task("demo:short", write(tmp_path))
    assert spec.id == "demo:short"
    assert spec.generation.max_new_tokens == 16 and spec.generation.stop == ("Question:",)
    assert spec.options == {"shots": 0, "template": "Q: {question}"}


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
    changed = with_options(spec, {"shots": 1})
    assert changed.options == {"shots": 1, "template": "Q: {question}"} and spec.options["shots"] == 4
    assert changed.spec_hash != spec.spec_hash != with_options(spec, {"shots": 2}).spec_hash


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
