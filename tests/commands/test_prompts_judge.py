"""The `prompts` and `judge` verbs, run as real subprocesses on the official files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evalfleet", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_prompts_base_and_chat(shared_data, tmp_path, capsys):
    from evalfleet.cli import main
    from evalfleet.demo.tiny import train_tokenizer

    base = cli("prompts", "commonsenseqa", "--data-dir", shared_data, "--limit", 2)
    assert base.returncode == 0, base.stderr
    rows = lines(base.stdout)
    assert [r["item_id"] for r in rows] == ["0000", "0001"]
    assert rows[0]["prompt"].startswith("\nQ: What do people use") and rows[0]["prompt"].endswith("E. new york\nA:")
    train_tokenizer().save_pretrained(tmp_path / "tok")
    # chat in-process (the subprocess above already proves the CLI wiring)
    argv = [
        "prompts",
        "bbh",
        "--data-dir",
        str(shared_data),
        "--style",
        "chat",
        "--tokenizer",
        str(tmp_path / "tok"),
        "--limit",
        "1",
    ]
    assert main(argv) == 0
    (row,) = lines(capsys.readouterr().out)
    assert row["item_id"] == "boolean_expressions/0000"  # sorted ids
    assert row["prompt"].startswith("<|user|>\nFollow the given examples") and row["prompt"].endswith(
        "<|end|>\n<|assistant|>\n"
    )


def test_prompts_chat_needs_tokenizer(shared_data, capsys):
    from evalfleet.cli import main

    assert main(["prompts", "gsm8k", "--data-dir", str(shared_data), "--style", "chat"]) == 2
    assert "--tokenizer" in capsys.readouterr().err


def test_judge_scores_and_summary(shared_data, tmp_path):
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        "\n".join(
            json.dumps(p)
            for p in [
                {"item_id": "0000", "prediction": "She makes 9 * 2 = 18 dollars.\nThe answer is 18"},
                {"item_id": "0001", "prediction": "The answer is 4\n\nQuestion: and 3?"},
                {"item_id": "0002", "prediction": ""},
            ]
        )
        + "\n"
    )
    out = cli("judge", "gsm8k", "--data-dir", shared_data, "--predictions", preds)
    assert out.returncode == 0, out.stderr
    rows = lines(out.stdout)
    assert rows[:3] == [
        {"item_id": "0000", "extracted": "18", "score": 1.0},
        {"item_id": "0001", "extracted": "4", "score": 0.0},  # gold is 3
        {"item_id": "0002", "extracted": "NULL", "score": 0.0},
    ]
    assert rows[3] == {"task": "gsm8k", "metric": "accuracy", "value": pytest.approx(100 / 3), "n": 3}


def test_judge_bbh_plain_mean(shared_data, tmp_path):
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        "\n".join(
            json.dumps(p)
            for p in [
                {"item_id": "navigate/0000", "prediction": "So the answer is No."},  # gold: No
                {"item_id": "snarks/0000", "prediction": "So the answer is (A)."},  # gold: (B)
                {"item_id": "snarks/0001", "prediction": "So the answer is (A)."},  # gold: (A)
            ]
        )
        + "\n"
    )
    out = cli("judge", "bbh", "--data-dir", shared_data, "--predictions", preds)
    assert out.returncode == 0, out.stderr
    # navigate 1/1, snarks 1/2: the plain mean over subtasks is 75, not 2/3.
    assert lines(out.stdout)[-1] == {"task": "bbh", "metric": "accuracy", "value": pytest.approx(75.0), "n": 3}


@pytest.mark.parametrize(
    "content,message",
    [
        (
            '{"item_id": "0000", "prediction": "1"}\n{"item_id": "nope", "prediction": "1"}\n',
            "line 2: unknown item_id 'nope'",
        ),
        ('{"item_id": "0000", "prediction": "1"}\nnot json\n', "line 2: malformed JSON"),
        ('{"item_id": "0000"}\n', "line 1: expected"),
        ('{"item_id": "0000", "prediction": "1"}\n{"item_id": "0000", "prediction": "2"}\n', "line 2: duplicate"),
    ],
)
def test_judge_bad_lines(shared_data, tmp_path, capsys, content, message):
    from evalfleet.cli import main

    preds = tmp_path / "preds.jsonl"
    preds.write_text(content)
    assert main(["judge", "gsm8k", "--data-dir", str(shared_data), "--predictions", str(preds)]) == 2
    err = capsys.readouterr().err
    assert str(preds) in err and message in err
