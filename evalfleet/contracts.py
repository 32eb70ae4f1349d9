"""The two plug-in contracts, in code: an inference backend and a benchmark module.

Both are structural (`typing.Protocol`): a backend class or a benchmark module satisfies them by having
the members below, nothing to inherit or register. Both are runtime-checkable, so a test can assert
`isinstance(backend, Backend)` or `isinstance(module, GenerateModule)` (members present; signatures are
for readers and type checkers).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Protocol, Sequence, runtime_checkable

from evalfleet.types import Generation, GenerationParams, Item, Loglik, TaskKind, TaskSpec

if TYPE_CHECKING:
    import pandas as pd


@runtime_checkable
class Backend(Protocol):
    """A loaded model answering prompts (evalfleet/backends/hf.py, vllm.py), built by `load_backend`.

    Constructors take the ModelRef and then keyword-only options, exactly those named in `OPTIONS`;
    torch / vllm are imported inside the backend, so planning, the driver and scoring never need them.
    """

    OPTIONS: ClassVar[frozenset[str]]
    """Keyword options the constructor accepts: a run config's `backend_options` keys (plus batch_size)."""
    tokenizer: Any
    """The checkpoint's transformers tokenizer (chat templates, token counts)."""

    def generate(self, prompts: Sequence[str], params: GenerationParams) -> list[Generation]:
        """One Generation per prompt and sample, prompt-major, text cut before the first stop string."""
        ...

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[Loglik]:
        """log P(continuation | context) per (context, continuation) request, in request order."""
        ...

    def close(self) -> None:
        """Release the model (and device memory)."""
        ...


@runtime_checkable
class BenchmarkModule(Protocol):
    """What every module `evalfleet/benchmarks/<name>.py` named by a task spec's `module:` has.

    Optional members, read with getattr by the run and scoring layers:
      aggregate(rows, spec) -> dict[str, float]   task metrics from recorded rows (`Aggregate`);
                                                  default `evalfleet.benchmarks.default_aggregate`
      choose(logliks, item, spec) -> str          loglikelihood tasks: the chosen index (`Choose`);
                                                  default `evalfleet.benchmarks.default_choose`
      SCORE_ON_CPU_TASK = True                    `score` runs untrusted code: scored in Ray CPU tasks
      IMPORTED = True                             rows are imported results: nothing to re-score
    """

    OPTIONS: frozenset[str]
    """Keys the module reads from `spec.options`; a task YAML with any other key is rejected."""

    def load_items(self, spec: TaskSpec, data_dir: Path) -> list[Item]:
        """The items, built from the official files (spec.data_files, relative to data_dir)."""
        ...


@runtime_checkable
class ScoringModule(BenchmarkModule, Protocol):
    """A module whose items are scored one by one (generate and loglikelihood tasks)."""

    def score(self, extracted: str, item: Item, spec: TaskSpec) -> Mapping[str, Any]:
        """Per-item metrics, containing spec.metric (or the key `aggregate` turns into it). Loglikelihood
        modules may take `logliks=` (the item's Loglik results) as an extra keyword."""
        ...


@runtime_checkable
class GenerateModule(ScoringModule, Protocol):
    """kind 'generate': the model's text is extracted, then scored."""

    def extract(self, text: str, item: Item, spec: TaskSpec) -> str:
        """The answer as the reference implementation's postprocessor extracts it from the output."""
        ...


@runtime_checkable
class LoglikelihoodModule(ScoringModule, Protocol):
    """kind 'loglikelihood': `item.choices` are scored as continuations; the chosen index is scored."""


@runtime_checkable
class MeasureModule(BenchmarkModule, Protocol):
    """kind 'measure': the module probes the loaded model itself (edge_probe)."""

    def measure(self, backend: Backend, item: Item, spec: TaskSpec) -> Mapping[str, float]:
        """The item's metrics, measured with the worker's backend."""
        ...


class Choose(Protocol):
    """A loglikelihood module's optional `choose`."""

    def __call__(self, logliks: list[Loglik], item: Item, spec: TaskSpec) -> str:
        """The chosen choice index, as a string."""
        ...


class Aggregate(Protocol):
    """A module's optional `aggregate`."""

    def __call__(self, rows: pd.DataFrame, spec: TaskSpec) -> dict[str, float]:
        """Task-level metrics from the recorded rows (item_id, subset, sample, extracted, score, metrics)."""
        ...


KIND_CONTRACTS: Mapping[TaskKind, type[BenchmarkModule]] = {
    "generate": GenerateModule,
    "loglikelihood": LoglikelihoodModule,
    "measure": MeasureModule,
}
"""The contract a task's module meets, by the task's kind (an IMPORTED module needs only BenchmarkModule)."""


class Hasher(Protocol):
    """Content digests of many files at once: how `plan.modelhash.fingerprints` hashes the checkpoint files
    its cache lacks. `modelhash.thread_hasher` (threads in this process) is the default; `run.hashing.ray_hasher`
    hashes as Ray tasks spread over a cluster's nodes (the files on storage every node sees)."""

    def __call__(self, files: Sequence[Path]) -> list[str | None]:
        """sha256 hex digest of each file's content (`modelhash.content_digest`), in order; None for a file
        that could not be hashed (the caller then hashes it itself, or reports its OSError)."""
        ...
