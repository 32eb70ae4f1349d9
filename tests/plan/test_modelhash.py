"""modelhash: content fingerprint of a checkpoint, cached by path/size/mtime."""

from __future__ import annotations

import hashlib
import os

import pytest

from evalfleet.errors import EvalfleetError
from evalfleet.plan import modelhash
from evalfleet.plan.modelhash import checkpoint_files, fingerprint, fingerprints


def make(tmp_path, weights=b"w" * 100):
    d = tmp_path / "ckpt"
    d.mkdir(parents=True, exist_ok=True)
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


def test_parallel_fingerprints_equal_the_serial_ones_and_reuse_the_cache(tiny_models, tmp_path, monkeypatch):
    paths = [*tiny_models.values(), tmp_path / "nope"]
    serial = {str(p): fingerprint(p) for p in tiny_models.values()}
    cache: dict = {}
    got = fingerprints(paths, cache, jobs=3)
    assert {p: got[p] for p in serial} == serial
    assert isinstance(got[str(tmp_path / "nope")], EvalfleetError)
    n_files = sum(len(checkpoint_files(p)) for p in tiny_models.values())
    assert len(cache) == n_files
    hashed = []
    monkeypatch.setattr(modelhash, "content_digest", lambda path: hashed.append(path) or "x")
    assert fingerprints(paths[:3], cache, jobs=2) == {p: serial[p] for p in serial}  # every digest from the cache
    assert hashed == [] and fingerprint(paths[0], cache) == serial[str(paths[0])]


def test_one_unreadable_file_fails_only_its_checkpoint(tmp_path):
    a, b = make(tmp_path / "a"), make(tmp_path / "b", weights=b"v" * 100)
    (b / "model.safetensors").chmod(0)
    got = fingerprints([a, b], {}, jobs=2)
    assert got[str(a)] == fingerprint(a)
    if os.access(b / "model.safetensors", os.R_OK):  # running as root: permissions do not apply
        return
    assert isinstance(got[str(b)], PermissionError)


def test_files_a_hasher_leaves_out_are_hashed_by_the_caller(tmp_path):
    """A Hasher answering None (a node without the mount, a lost task) costs time, never a wrong digest."""
    a, b = make(tmp_path / "a"), make(tmp_path / "b", weights=b"v" * 100)
    asked = []

    def half(files):
        asked.extend(files)
        return [None if n % 2 else hashlib.sha256(f.read_bytes()).hexdigest() for n, f in enumerate(files)]

    cache: dict = {}
    got = fingerprints([a, b, a], cache, hasher=half)
    assert got == {str(a): fingerprint(a), str(b): fingerprint(b)}
    assert sorted(asked) == sorted(checkpoint_files(a) + checkpoint_files(b))  # each file once, README left out
    assert len(cache) == len(asked)
    assert fingerprints([a, b], cache, hasher=lambda files: pytest.fail(f"cached, yet asked for {files}")) == got


def test_groups_are_ready_as_their_own_files_finish(tmp_path):
    """fingerprints_as_ready: a group whose files the cache holds comes first; the others as soon as the stream
    has finished their files (here it finishes b's before a's); each file asked once, digests cached."""
    a, b, c = make(tmp_path / "a"), make(tmp_path / "b", weights=b"v" * 100), make(tmp_path / "c", weights=b"u" * 9)
    cache: dict = {}
    fingerprints([c], cache)
    asked: list = []

    def b_first(files):
        asked.extend(files)
        order = sorted(range(len(files)), key=lambda n: tmp_path / "b" not in files[n].parents)
        for n in order:
            yield n, modelhash.content_digest(files[n])

    got = list(modelhash.fingerprints_as_ready([[a], [b, c], [c]], cache, b_first))
    assert [n for n, _ in got] == [2, 1, 0]
    assert dict(got)[0] == {str(a): fingerprint(a)}
    assert dict(got)[1] == {str(b): fingerprint(b), str(c): fingerprint(c)}
    assert sorted(asked) == sorted(checkpoint_files(a) + checkpoint_files(b))
    assert len(cache) == 9


def test_files_a_stream_leaves_out_are_hashed_at_the_end_and_errors_stay_per_group(tmp_path):
    a, b = make(tmp_path / "a"), make(tmp_path / "b", weights=b"v" * 100)
    got = dict(modelhash.fingerprints_as_ready([[a], [tmp_path / "nope"], [b]], {}, lambda files: iter(())))
    assert got[0] == {str(a): fingerprint(a)} and got[2] == {str(b): fingerprint(b)}
    assert isinstance(got[1][str(tmp_path / "nope")], EvalfleetError)


def test_thread_stream_yields_every_file_once(tmp_path):
    a = make(tmp_path / "a")
    files = [*checkpoint_files(a), tmp_path / "gone"]
    got = dict(modelhash.thread_stream(2)(files))
    assert got == {n: (hashlib.sha256(f.read_bytes()).hexdigest() if f.exists() else None) for n, f in enumerate(files)}
