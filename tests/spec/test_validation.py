"""The shared validation helpers, and the one wording every hand-written validator uses:
<file>: field '<path>': must be <what>, got <type> <value> / unknown key (known: ...) / required (<what>)."""

from __future__ import annotations

import pytest
import yaml

from evalfleet.checks.probe import make_settings
from evalfleet.errors import EvalfleetError
from evalfleet.scoring.rules import parse_rules
from evalfleet.spec import validation as v
from evalfleet.spec.config import load_config
from evalfleet.spec.edition import load_edition
from evalfleet.spec.taskspec import load_task


def message(fn, *args, **kw) -> str:
    with pytest.raises(EvalfleetError) as err:
        fn(*args, **kw)
    return str(err.value)


def test_helpers_return_what_they_accept():
    assert v.integer(3, source="f", field="x", minimum=1) == 3
    assert v.number("1/3", source="f", field="x", fractions=True) == pytest.approx(1 / 3)
    assert v.number(2, source="f", field="x") == 2.0 and isinstance(v.number(2, source="f", field="x"), float)
    assert v.choice(None, (None, "a"), source="f", field="x") is None
    assert v.mapping(None, source="f", field="x") == {}
    assert v.strings(["a", "b"], source="f", field="x") == ("a", "b")
    assert v.join("", "a") == "a" and v.join("a", "b") == "a.b"
    v.known_keys({"a": 1}, {"a", "b"}, source="f")


@pytest.mark.parametrize(
    "call, text",
    [
        (lambda: v.integer(True, source="f", field="n", minimum=1), "f: field 'n': must be int >= 1, got bool True"),
        (lambda: v.integer(0, source="f", field="n", minimum=1), "f: field 'n': must be int >= 1, got int 0"),
        (lambda: v.number("x", source="f", field="w"), "f: field 'w': must be a number, got str 'x'"),
        (lambda: v.number(-1, source="f", field="t", minimum=0), "f: field 't': must be a number >= 0, got int -1"),
        (
            lambda: v.choice("x", (None, "a"), source="f", field="c"),
            "f: field 'c': must be one of null, 'a', got str 'x'",
        ),
        (lambda: v.mapping([], source="f", field="m"), "f: field 'm': must be a mapping, got list []"),
        (lambda: v.string(None, source="f", field="s"), "f: field 's': must be a string, got null"),
        (
            lambda: v.known_keys({"z": 1, "y": 2}, {"a", "b"}, source="f", field="sec"),
            "f: field 'sec.y': unknown key (known: a, b)",
        ),
        (lambda: v.required("a string", source="f", field="r"), "f: field 'r': required (a string)"),
    ],
)
def test_helper_wording(call, text):
    assert message(call) == text


def test_the_four_validators_word_errors_alike(tmp_path):
    """Run config, task spec, edition rules and probe settings: the same 'must be' and 'unknown' phrasing."""
    cfg, task, rules = tmp_path / "finals.yaml", tmp_path / "t.yaml", tmp_path / "r.yaml"
    good = {"edition": "e", "submissions": [{"team": "a", "models": [{"path": "p", "family": "f"}]}]}
    cfg.write_text(yaml.safe_dump({**good, "shard_size": 0}))
    task.write_text("module: gsm8k\nmetric: accuracy\ngeneration: {max_new_tokens: 0}\n")
    rules.write_text(yaml.safe_dump({"tasks": [], "views": {"rank-points": {"show_top": 0}}}))
    texts = [
        message(load_config, cfg),
        message(load_task, "t", tmp_path),
        message(parse_rules, load_edition("r", tmp_path)),
        message(make_settings, "kit", {"repetitions": 0}, source=str(task), field="options"),
    ]
    assert texts == [
        f"{cfg}: field 'shard_size': must be int >= 1, got int 0",
        f"{task}: field 'generation.max_new_tokens': must be int >= 1, got int 0",
        "scoring/r.yaml: field 'views.rank-points.show_top': must be int >= 1, got int 0",
        f"{task}: field 'options.repetitions': must be int >= 1, got int 0",
    ]

    cfg.write_text(yaml.safe_dump({**good, "colour": 1}))
    task.write_text("module: gsm8k\nmetric: accuracy\noptions: {shots: 4}\n")
    rules.write_text(yaml.safe_dump({"tasks": [], "views": {"delta": {"use_cases": {"a": "t"}, "x": 1}}}))
    texts = [
        message(load_config, cfg),
        message(load_task, "t", tmp_path),
        message(parse_rules, load_edition("r", tmp_path)),
        message(make_settings, "kit", {"reps": 1}, source=str(task), field="options"),
    ]
    assert texts[0].startswith(f"{cfg}: field 'colour': unknown key (known: backend, backend_options, batch_size,")
    assert texts[1] == f"{task}: field 'options.shots': unknown gsm8k option (known: rounds)"
    assert texts[2] == "scoring/r.yaml: field 'views.delta.x': unknown key (known: metric, show_top, use_cases)"
    assert texts[3].startswith(f"{task}: field 'options.reps': unknown probe setting (known: batch_size, dtype,")
