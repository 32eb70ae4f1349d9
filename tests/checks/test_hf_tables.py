"""hf_tables: transformers' tables read from its source equal the imported ones; other shapes are refused."""

import pytest

from evalfleet.checks.hf_tables import Unreadable, _from_import, read_tables, tables


def test_source_tables_equal_the_imported_tables():
    model_types, causal_lm = tables()
    imported = _from_import()
    assert model_types == frozenset(imported["CONFIG_MAPPING_NAMES"])
    assert causal_lm == imported["MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"]
    assert {"llama", "qwen2", "gpt2"} <= model_types and causal_lm["llama"] == "LlamaForCausalLM"


def test_statements_apply_in_order_with_updates_and_double_star_merges():
    first = 'CONFIG_MAPPING_NAMES = OrderedDict([("a", "AConfig"), ("b", "BConfig")])\nOTHER = 1\n'
    second = (
        'CONFIG_MAPPING_NAMES.update({"c": "CConfig"})\n'
        'CONFIG_MAPPING_NAMES = OrderedDict(**{"z": "ZConfig"}, **CONFIG_MAPPING_NAMES)\n'
        'MODEL_FOR_CAUSAL_LM_MAPPING_NAMES = OrderedDict([("a", "AForCausalLM")])\n'
    )
    found = read_tables([first, second])
    assert list(found["CONFIG_MAPPING_NAMES"]) == ["z", "a", "b", "c"]
    assert found["MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"] == {"a": "AForCausalLM"}


def test_a_computed_table_is_refused_rather_than_guessed():
    with pytest.raises(Unreadable):
        read_tables(["CONFIG_MAPPING_NAMES = OrderedDict(make_pairs())\n"])
