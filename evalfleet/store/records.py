"""Stored rows as pandas: what scoring and verify read (`ResultStore.record_groups` hands out these frames).

`records_frame` converts an Arrow table of record rows (`metrics` parsed into a dict per row, list columns
as lists), `parsed_metrics` parses each distinct metrics text once, `item_order` orders a group's rows by
(item_id, sample) in Arrow before the conversion.
"""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

LIST_COLUMNS = ("logliks", "loglik_tokens", "loglik_context_tokens", "loglik_greedy")
"""Record columns holding one list per row."""


def records_frame(table: pa.Table) -> pd.DataFrame:
    """Stored rows as a DataFrame: `metrics` parsed into a dict per row ({} when empty), list columns as lists."""
    frame = table.to_pandas()
    if "metrics" in frame:
        frame["metrics"] = parsed_metrics(table.column("metrics"))
    for column in (c for c in LIST_COLUMNS if c in frame):
        frame[column] = [list(v) if v is not None else None for v in frame[column]]
    return frame


def parsed_metrics(column: pa.ChunkedArray) -> list[dict]:
    """Each row's metrics JSON as a dict of its own ({} when empty), every distinct text parsed once: most rows
    of a task repeat a few texts ({"accuracy": 1.0}), and json.loads per row was score's largest cost."""
    encoded = column.combine_chunks().dictionary_encode()
    if len(encoded.dictionary) * 2 > len(encoded):  # mostly distinct texts (F1 scores): parse each row
        return [json.loads(text) if text else {} for text in column.to_pylist()]
    parsed = [json.loads(text) if text else {} for text in encoded.dictionary.to_pylist()]
    return [dict(parsed[i]) if i is not None else {} for i in encoded.indices.to_pylist()]


def item_order(table: pa.Table) -> pa.Table:
    """`table`'s rows by (item_id, sample), as `DataFrame.sort_values` orders them (sorted in Arrow: faster),
    unchanged when it lacks either column."""
    if not {"item_id", "sample"} <= set(table.column_names) or table.num_rows < 2:
        return table
    return table.take(pc.sort_indices(table, sort_keys=[("item_id", "ascending"), ("sample", "ascending")]))
