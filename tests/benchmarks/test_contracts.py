"""Every shipped task's module meets the contract of the task's kind (evalfleet.contracts), and the default choose."""

from __future__ import annotations

import pytest

from evalfleet import benchmarks
from evalfleet.contracts import KIND_CONTRACTS, BenchmarkModule, Choose
from evalfleet.spec.taskspec import available_tasks, load_task
from evalfleet.types import Item, Loglik, Message


@pytest.mark.parametrize("name", available_tasks())
def test_module_meets_the_contract_of_its_kind(name):
    spec = load_task(name)
    module = benchmarks.get_module(spec)
    contract = BenchmarkModule if getattr(module, "IMPORTED", False) else KIND_CONTRACTS[spec.kind]
    assert isinstance(module, contract), f"{spec.module} lacks a member of {contract.__name__}"
    assert isinstance(module.OPTIONS, frozenset)


def test_default_choose_is_the_first_highest_logprob():
    item = Item(id="0", messages=(Message("user", "q"),), choices=(" a", " b", " c"))
    lls = [Loglik(-2.0, False, 1), Loglik(-1.0, False, 1), Loglik(-1.0, False, 1)]
    choose: Choose = benchmarks.default_choose
    assert choose(lls, item, load_task("elmb_roleplay")) == "1"
    assert benchmarks.choose(lls, item, load_task("elmb_roleplay")) == "1"  # elmb has no choose of its own
    chid = load_task("chid")  # chid has: lowest OpenCompass perplexity
    assert benchmarks.choose(lls, item, chid) == benchmarks.get_module(chid).choose(lls, item, chid)
