"""evalfleet.jsonl: blank lines skipped, line numbers kept, errors naming file and line."""

import pytest

from evalfleet.errors import EvalfleetError
from evalfleet.jsonl import iter_jsonl, read_jsonl


def test_blank_lines_skipped_and_numbers_kept(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n\n  \n[2]\n"x"\n', encoding="utf-8")
    assert list(iter_jsonl(path)) == [(1, {"a": 1}), (4, [2]), (5, "x")]


def test_read_jsonl_objects(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n\n{"b": "é"}\n', encoding="utf-8")
    assert read_jsonl(path) == [{"a": 1}, {"b": "é"}]


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"a": 1}\n{"a": \n', "line 2: malformed JSON"),
        ('{"a": 1}\n\n[1, 2]\n', "line 3: expected a JSON object"),
    ],
)
def test_errors_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(EvalfleetError, match=message) as info:
        read_jsonl(path)
    assert "bad.jsonl" in str(info.value)
