"""prefix: the shared leading tokens a batch takes from the prefix cache."""

from evalfleet.backends.prefix import choose_prefix, common_prefix

HEAD = list(range(100, 140))  # 40 shared tokens


def test_common_prefix_leaves_every_row_a_token():
    assert common_prefix([[1, 2, 3], [1, 2, 4]]) == 2
    assert common_prefix([[1, 2, 3], [1, 2, 3]]) == 2
    assert common_prefix([[1, 2, 3], [1, 2]]) == 1
    assert common_prefix([[5], [5]]) == 0 and common_prefix([]) == 0


def test_a_batch_with_a_long_shared_head_gets_its_own_prefix():
    batch = [HEAD + [1, 2], HEAD + [3], HEAD + [1, 9]]
    assert choose_prefix(batch, []) == tuple(HEAD)
    assert choose_prefix(batch, [], min_tokens=41) is None
    assert choose_prefix([HEAD + [1]], []) is None  # one row gains nothing from a new entry


def test_a_cached_prefix_is_reused_while_it_saves_more_than_a_new_entry_costs():
    cached = [tuple(HEAD[:36]), (7,) * 40]
    assert choose_prefix([HEAD + [1], HEAD + [2]], cached) == tuple(HEAD[:36])  # 2 rows x 4 tokens <= 40
    wide = [HEAD + [k] for k in range(12)]
    assert choose_prefix(wide, cached) == tuple(HEAD)  # 12 rows x 4 tokens > 40: a new entry is cheaper
    assert choose_prefix([HEAD + [1]], cached) == tuple(HEAD[:36])  # a lone row uses what is cached
    assert choose_prefix([HEAD + [1], HEAD + [2]], [(7,) * 40]) == tuple(HEAD)  # no cached entry starts these rows
