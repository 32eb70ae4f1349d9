"""verify: recorded outputs re-scored with the current modules (GSM8K official answer key), manifest vs files."""

from __future__ import annotations

import json

import pyarrow as pa
from _verify_store import MODEL, record, verify_args, write, write_raising, write_shards, write_tampered
from store._damage import flip_data_page, truncate

from evalfleet.commands import verify
from evalfleet.spec.taskspec import load_task
from evalfleet.store.results import RECORD_SCHEMA, ResultStore
from evalfleet.types import Shard


def run(path, capsys) -> tuple[int, str]:
    status = verify.main(verify_args(path))
    return status, capsys.readouterr().out


def test_consistent_records_verify(tmp_path, shared_data, capsys):
    # Official answers: item 0000 (Janet's ducks) is 18, item 0001 (robe bolts) is 3.
    write(
        tmp_path,
        shared_data,
        [
            record("0000", "She makes 9 * 2 = 18 dollars. The answer is 18", "18", 1.0),
            record("0001", "It takes 2 + 1 = 4 bolts", "4", 0.0),
        ],
    )
    status, out = run(tmp_path, capsys)
    assert status == 0 and "2 rows re-scored: 0 file problems, 0 differences" in out


def test_tampered_score_and_missing_file_are_reported(tmp_path, shared_data, capsys):
    store = write(
        tmp_path, shared_data, [record("0000", "The answer is 18", "18", 1.0), record("0001", "so 4", "4", 1.0)]
    )
    status, out = run(tmp_path, capsys)
    assert status == 1 and "gsm8k t--llama item 0001 sample 0: score 1.0 recorded, 0.0 now" in out
    (tmp_path / store.manifest()[0]["path"]).unlink()
    status, out = run(tmp_path, capsys)
    assert status == 1 and "listed in the manifest but unreadable" in out


def test_perplexity_choice_is_re_derived_from_recorded_token_counts(tmp_path, shared_data, capsys):
    """chid:ppl picks the lowest loss per token (OpenCompass's get_ppl): verify needs the recorded counts."""
    from evalfleet.benchmarks import get_module
    from evalfleet.plan.shards import task_items

    spec = load_task("chid:ppl")
    item = task_items(spec, shared_data)[0]
    # Candidate 2: -12 over 12 + 1 tokens (loss 0.92); the others: -10 over 4 + 1 (loss 2.0).
    # A plain log-likelihood argmax would pick candidate 0 instead.
    logliks = [-12.0 if j == 2 else -10.0 for j in range(7)]
    tokens = [12 if j == 2 else 4 for j in range(7)]
    metrics = get_module(spec).score("2", item, spec)
    row = {
        "shard": "fp1",
        "task": spec.id,
        "model": MODEL.id,
        "team": "t",
        "family": "llama",
        "role": "submission",
        "item_id": item.id,
        "subset": item.subset,
        "sample": 0,
        "output": item.choices[2],
        "extracted": "2",
        "logliks": logliks,
        "loglik_tokens": tokens,
        "loglik_context_tokens": [1] * 7,
        "loglik_greedy": [False] * 7,
        "score": metrics[spec.metric],
        "metrics": json.dumps(metrics),
    }
    store = ResultStore(str(tmp_path))
    store.save_run_config({"edition": "edge-llm-2024", "track": "compression", "data_dir": str(shared_data)})
    shard = Shard(task=spec, model=MODEL, index=0, item_ids=(item.id,), fingerprint="fp1")
    store.write_shard(shard, pa.Table.from_pylist([row], schema=RECORD_SCHEMA), 1.0)
    status, out = run(tmp_path, capsys)
    assert status == 0 and "1 rows re-scored: 0 file problems, 0 differences" in out

    other = ResultStore(str(tmp_path / "without-counts"))
    other.save_run_config({"edition": "edge-llm-2024", "track": "compression", "data_dir": str(shared_data)})
    other.write_shard(shard, pa.Table.from_pylist([{**row, "loglik_tokens": [1] * 7}], schema=RECORD_SCHEMA), 1.0)
    status, out = run(tmp_path / "without-counts", capsys)
    assert status == 1 and "extracted '2' recorded, '0' now" in out


def test_every_damaged_file_is_named_and_the_others_still_verified(tmp_path, shared_data, capsys):
    write_shards(tmp_path, shared_data, 4)
    truncate(tmp_path / "shards/gsm8k/t--llama/fp1.parquet")
    flip_data_page(tmp_path / "shards/gsm8k/t--llama/fp2.parquet")
    (tmp_path / "shards/gsm8k/t--llama/fp3.parquet").unlink()
    status, out = run(tmp_path, capsys)
    assert status == 1
    assert "gsm8k t--llama #1 (shards/gsm8k/t--llama/fp1.parquet): truncated: " in out
    assert "gsm8k t--llama #2 (shards/gsm8k/t--llama/fp2.parquet): page checksum failed: " in out
    assert "gsm8k t--llama #3 (shards/gsm8k/t--llama/fp3.parquet): file missing" in out
    assert "verified 4 shards, 2 rows re-scored: 3 file problems, 0 differences" in out  # fp0 re-scored


def test_malformed_manifest_lines_are_reported_and_the_rest_verified(tmp_path, shared_data, capsys):
    write_shards(tmp_path, shared_data, 3)
    manifest = tmp_path / "manifest.jsonl"
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join(["{oops", *lines[1:]]) + "\n" + lines[0][:20])
    status, out = run(tmp_path, capsys)
    assert status == 1
    assert "manifest.jsonl: line 1: malformed manifest line (`evalfleet repair RESULTS`)" in out
    assert "manifest.jsonl: line 4: torn last line (an interrupted write)" in out
    assert "shards/gsm8k/t--llama/fp0.parquet: shard file not in the manifest" in out
    assert "verified 2 shards, 4 rows re-scored: 3 file problems, 0 differences" in out


def test_parallel_workers_report_exactly_what_one_process_reports(tmp_path, shared_data, capsys):
    """Groups of two models re-scored in 2 worker processes: same lines, same order, and a progress line."""
    store = write_shards(tmp_path, shared_data, 3)
    write_tampered(store)
    flip_data_page(tmp_path / "shards/gsm8k/t--llama/fp1.parquet")
    outs = []
    for jobs in (1, 2):
        status = verify.main(verify_args(tmp_path, jobs=jobs))
        captured = capsys.readouterr()
        outs.append((status, captured.out))
        assert "verify: 2/2 groups" in captured.err
    assert outs[0] == outs[1]
    status, out = outs[1]
    assert status == 1 and "gsm8k t--llama #1 (shards/gsm8k/t--llama/fp1.parquet): page checksum failed: " in out
    assert out.index("u--llama item 0001 sample 0: score 1.0 recorded, 0.0 now") > 0
    assert "verified 5 shards, 8 rows re-scored: 1 file problems, 2 differences" in out


def test_a_group_whose_rows_make_the_scorer_raise_is_reported_not_verified(tmp_path, shared_data, capsys):
    """A recorded row without an output (and no error) makes gsm8k's extractor raise: that group is reported as
    not verified (exit status 1), the other group is still verified."""
    store = write_shards(tmp_path, shared_data, 1)
    write_raising(store)
    status, out = run(tmp_path, capsys)
    assert status == 1
    assert "not verified: gsm8k u--llama: AttributeError: 'float' object has no attribute 'split'\n" in out
    assert "verified 2 shards, 2 rows re-scored: 0 file problems, 0 differences, 1 groups not verified" in out
