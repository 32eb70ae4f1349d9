"""Shared fixtures: the official data beside the project, tiny real checkpoints, a local Ray."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("EVALFLEET_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: the real benchmark files (see its MANIFEST.md)."""
    assert SHARED_DATA.is_dir(), f"the shared data directory is expected at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Three tiny random-weight checkpoints, one per family: {'llama': path, 'qwen2': path, 'phi': path}."""
    from evalfleet.demo.tiny import FAMILIES, build_tiny_model

    base = tmp_path_factory.mktemp("tiny-models")
    return {family: build_tiny_model(base / family, family=family, seed=i) for i, family in enumerate(FAMILIES)}


@pytest.fixture(scope="session")
def ray_session():
    """A real local Ray for the whole test session (4 logical CPUs so 3 workers + a scoring task fit)."""
    import ray

    os.environ.setdefault("RAY_raylet_start_wait_time_s", "180")  # busy shared CI machines start slowly
    if not ray.is_initialized():
        ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
