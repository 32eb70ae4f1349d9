"""Where evalfleet finds its data directories (`tasks/`, `scoring/`) at run time.

They sit beside the package in the project tree; `EVALFLEET_HOME` overrides that (for example
inside a container image that copies them elsewhere). With `ray job submit --working-dir .`
the whole tree travels with the job, so the same lookup works on every node.
"""
from __future__ import annotations

import os
from pathlib import Path


def project_home() -> Path:
    """The directory holding tasks/ and scoring/."""
    env = os.environ.get("EVALFLEET_HOME")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent


def tasks_dir() -> Path:
    """Directory of task specs (one YAML per benchmark)."""
    return project_home() / "tasks"


def scoring_dir() -> Path:
    """Directory of edition rule files (one YAML per edition)."""
    return project_home() / "scoring"
