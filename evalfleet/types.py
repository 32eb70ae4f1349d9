"""Core types of evalfleet: frozen dataclasses passed between plan, run, store and score.

Dicts appear only at the edges (YAML, JSON, Parquet). Every field is documented; nothing here
mutates itself after construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, get_args

TaskKind = Literal["generate", "loglikelihood", "measure"]
"""How a task asks the model: generated text, continuation log-likelihoods, or a measurement (probe)."""
Role = Literal["submission", "base"]
"""A competing model, or a reference model (ELMB's delta view subtracts it)."""
PromptStyle = Literal["base", "chat"]
"""Rounds concatenated as plain text, or rendered with the tokenizer's chat template."""
Dtype = Literal["float32", "float16", "bfloat16"]
"""Compute dtypes a model may be loaded in (torch attribute names)."""

TASK_KINDS: tuple[TaskKind, ...] = get_args(TaskKind)
ROLES: tuple[Role, ...] = get_args(Role)
PROMPT_STYLES: tuple[PromptStyle, ...] = get_args(PromptStyle)
DTYPES: tuple[Dtype, ...] = get_args(Dtype)


@dataclass(frozen=True)
class Message:
    """One turn of a prompt, in OpenCompass's round terms."""

    role: str
    """'system', 'user' (OpenCompass HUMAN), 'assistant' (OpenCompass BOT), or 'text' (a bare string of a
    config's begin/end section: printed in base style, ignored in chat style; see prompting.py)."""
    content: str
    """The text of the turn, already formatted from the task's template."""


@dataclass(frozen=True)
class Item:
    """One benchmark question, as the task module built it from the official file."""

    id: str
    """Stable identifier, unique within the task; shards slice the sorted ids."""
    messages: tuple[Message, ...]
    """The prompt as rounds (few-shot exemplars first); rendered per prompt style by `prompting.render`."""
    reference: Any = None
    """The gold answer in whatever JSON-able form the module's `score` expects."""
    subset: str = ""
    """Subtask (BBH task, LongBench dataset, TyDiQA language); '' when the task has none."""
    choices: tuple[str, ...] = ()
    """Continuations scored by log-likelihood (loglikelihood tasks only), in answer-index order."""
    meta: Mapping[str, Any] = field(default_factory=dict)
    """Extra per-item fields the module needs at score time (read-only by convention)."""


@dataclass(frozen=True)
class GenerationParams:
    """Decoding settings; every field changes results and so enters the shard fingerprint."""

    max_new_tokens: int = 512
    """Upper bound on generated tokens, >= 1."""
    stop: tuple[str, ...] = ()
    """Strings that end generation; the output is cut before the first one."""
    temperature: float = 0.0
    """0.0 means greedy decoding (the only mode the official editions use)."""
    num_samples: int = 1
    """Samples per item (> 1 only for pass@k); sample i is row `sample=i`."""
    max_prompt_tokens: int | str | None = None
    """Prompt budget in tokens; longer prompts are middle-truncated by the backend. None = no limit;
    'context' = the model's context length minus max_new_tokens (OpenCompass mode='mid', LongBench's pred.py)."""


@dataclass(frozen=True)
class TaskSpec:
    """A benchmark as declared by one YAML file in `tasks/`, with one variant applied."""

    name: str
    """The YAML's file stem, e.g. 'gsm8k'."""
    variant: str
    """The variant applied ('default' unless the config picked another)."""
    version: str
    """The task's version string; bump it when prompts or scoring change."""
    module: str
    """Module under evalfleet.benchmarks holding load_items / extract / score."""
    kind: TaskKind
    """'generate', 'loglikelihood', or 'measure' (the module's `measure(backend, item, spec)` probes the model)."""
    data_files: tuple[str, ...]
    """Official files, relative to the run's data directory."""
    generation: GenerationParams
    """Decoding settings for generate tasks."""
    metric: str
    """Name of the headline metric the module reports (e.g. 'accuracy', 'pass@1', 'bleu_acc')."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Module-specific settings from the YAML (templates, shots, subsets); read-only by convention."""
    reference: str = ""
    """The external config this spec reproduces, e.g. 'opencompass gsm8k_gen_1d7fe4'."""
    spec_hash: str = ""
    """sha256 of the YAML text plus the variant name; part of every shard fingerprint."""

    @property
    def id(self) -> str:
        """'name' for the default variant, else 'name:variant'."""
        return self.name if self.variant == "default" else f"{self.name}:{self.variant}"


@dataclass(frozen=True)
class ModelRef:
    """One checkpoint of one submission."""

    team: str
    """Team name as it appears on the leaderboard."""
    family: str
    """Base-model family (e.g. 'phi-2', 'llama-3-8b', 'qwen2-7b', 'scratch')."""
    path: str
    """Checkpoint directory (Hugging Face layout) on storage every worker can read."""
    dtype: Dtype = "float32"
    """Compute dtype: 'float32', 'float16' or 'bfloat16'."""
    prompt_style: PromptStyle = "base"
    """'base' (rounds concatenated) or 'chat' (the tokenizer's chat template)."""
    adapter: str | None = None
    """Optional PEFT adapter directory (ELMB DoRA) applied on top of `path`."""
    role: Role = "submission"
    """'submission', or 'base' for a reference model (ELMB's delta view subtracts it)."""

    @property
    def id(self) -> str:
        """Unique, path-safe name of this model within a run: 'team--family'."""
        return f"{self.team}--{self.family}"


@dataclass(frozen=True)
class Fingerprints:
    """A shard's generation and scoring fingerprints with the payloads they hash."""

    generation: str
    """sha256 of `generation_payload`: the store's key for the shard's outputs."""
    scoring: str
    """sha256 of `scoring_payload`: which extraction and scoring produced the stored scores."""
    generation_payload: Mapping[str, Any]
    """Components: model, task, data, generation, code, environment."""
    scoring_payload: Mapping[str, Any]
    """Components: code, task (metric, options, version), references."""


@dataclass(frozen=True)
class Shard:
    """A fixed, contiguous slice of one task's sorted item ids, for one model."""

    task: TaskSpec
    """The task (with variant) the items belong to."""
    model: ModelRef
    """The model that answers them."""
    index: int
    """Position of the slice in the task's shard list (0-based)."""
    item_ids: tuple[str, ...]
    """The ids, in sorted order."""
    fingerprint: str
    """hash(model, task spec + data, generation, item ids, code version, backend); the store's key."""
    cost: float = 0.0
    """Estimated work (prompt tokens + new tokens) for the scheduler."""
    fingerprints: Fingerprints | None = None
    """Both fingerprints with the payloads they hash (`fingerprint` is the generation one); None when imported."""


@dataclass(frozen=True)
class Generation:
    """What a backend returns for one prompt."""

    text: str
    """Generated text, cut before the first stop string."""
    n_prompt_tokens: int
    """Tokens in the rendered prompt."""
    n_output_tokens: int
    """Tokens generated (before stop-string cutting)."""


@dataclass(frozen=True)
class Loglik:
    """What a backend returns for one (context, continuation) request."""

    logprob: float
    """Sum of the continuation tokens' log-probabilities given the context."""
    is_greedy: bool
    """True if every continuation token is the argmax at its position."""
    n_tokens: int
    """Number of continuation tokens."""
    n_context_tokens: int = 0
    """Tokens before the continuation (BOS included) as the backend scored them; 0 = not reported. With
    an empty context the backends score tokens 2..n of the encoded text (first token = context), so
    -logprob / (n_tokens + n_context_tokens) is OpenCompass's get_ppl value with or without BOS."""


@dataclass(frozen=True)
class TaskScore:
    """One metric of one task for one model, aggregated from recorded items."""

    team: str
    """Team name."""
    model: str
    """ModelRef.id."""
    family: str
    """Base-model family."""
    role: Role
    """'submission' or 'base'."""
    task: str
    """TaskSpec.id."""
    metric: str
    """Metric name."""
    value: float
    """The aggregated value (percent for accuracies, as OpenCompass reports them)."""
    n: int
    """Items that went into it."""
