"""The explorer's pages, one module each, each a pure function of a Snapshot (and rows) to HTML text.

layout.py   the page shell: CSS (the report's), navigation, live refresh
markup.py   small HTML helpers: tables, pagers, forms
board.py    the leaderboard: run progress, coverage, every view of the edition
task.py     one task: every model's scores and coverage, a compare form
items.py    one model's items of a task: filters, search, paging
item.py     one item: prompt (hash checked), output, answer, reference, metrics, log-likelihoods, shard
compare.py  two models, or two runs of one model, on the same items
"""
