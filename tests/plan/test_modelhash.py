"""modelhash: content fingerprint of a checkpoint, cached by path/size/mtime."""

from __future__ import annotations

import os

import pytest

from evalfleet.errors import EvalfleetError
from evalfleet.plan.modelhash import fingerprint


def make(tmp_path, weights=b"w" * 100):
    d = tmp_path / "ckpt"
    d.mkdir(exist_ok=True)
    (d / "config.json").write_text('{"model_type": "llama"}')
    (d / "model.safetensors").write_bytes(weights)
    (d / "tokenizer.json").write_text("{}")
    (d / "README.md").write_text("not hashed")
    return d


def test_content_changes_change_the_fingerprint_and_readme_does_not(tmp_path):
    d = make(tmp_path)
    a = fingerprint(d)
    (d / "README.md").write_text("edited")
    assert fingerprint(d) == a
    (d / "model.safetensors").write_bytes(b"x" * 100)
    assert fingerprint(d) != a


def test_cache_is_used_and_invalidated_by_mtime(tmp_path):
    d = make(tmp_path)
    cache: dict = {}
    a = fingerprint(d, cache)
    assert len(cache) == 2 + 1  # config, weights, tokenizer
    key = next(k for k in cache if k.split("|")[0].endswith("model.safetensors"))
    cache[key] = "forged"  # a cached digest is trusted while path, size, mtime match
    assert fingerprint(d, cache) != a
    st = (d / "model.safetensors").stat()
    os.utime(d / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert fingerprint(d, cache) == a


def test_missing_dir_names_the_path(tmp_path):
    with pytest.raises(EvalfleetError, match="not found"):
        fingerprint(tmp_path / "nope")
