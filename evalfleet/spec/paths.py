"""Where evalfleet finds its data directories (`tasks/`, `scoring/`) at run time.

Both live inside the package (`evalfleet/home/tasks`, `evalfleet/home/scoring`), so a wheel or a
non-editable install carries them; the project's top-level `tasks/` and `scoring/` are links to them,
the documented entry points for reading and editing. `EVALFLEET_HOME` points elsewhere (an
organizer's own folder with `tasks/` and `scoring/`, or a container image that copies them). With
`ray job submit --working-dir .` the whole tree travels with the job, so the same lookup works on
every node.
"""

from __future__ import annotations

import os
from pathlib import Path

BUNDLED = Path(__file__).resolve().parent.parent / "home"
"""The task specs and edition rules shipped inside the package."""


def project_home() -> Path:
    """The directory holding tasks/ and scoring/: EVALFLEET_HOME, else the package's own."""
    env = os.environ.get("EVALFLEET_HOME")
    return Path(env) if env else BUNDLED


def tasks_dir() -> Path:
    """Directory of task specs (one YAML per benchmark)."""
    return project_home() / "tasks"


def scoring_dir() -> Path:
    """Directory of edition rule files (one YAML per edition)."""
    return project_home() / "scoring"
