"""`evalfleet serve`'s web app (Starlette): the explorer's pages over one results root, read-only.

`create_app(root, token=...)` builds it; every page is rendered from the current Snapshot of the root
(live.py) by the modules of pages/. The first snapshot is built at start-up, so the first request of a
large final does not wait for it; later changes of the root are picked up in the background.
"""

from __future__ import annotations

import contextlib
import threading
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from evalfleet.explore.auth import ReadOnlyGate
from evalfleet.explore.catalog import Catalog
from evalfleet.explore.items import ItemQuery, page_number
from evalfleet.explore.links import Links, unslug
from evalfleet.explore.live import LiveResults
from evalfleet.explore.pages.board import cell_links, render_board
from evalfleet.explore.pages.compare import render_compare
from evalfleet.explore.pages.item import render_item
from evalfleet.explore.pages.items import render_items
from evalfleet.explore.pages.layout import page
from evalfleet.explore.pages.markup import esc
from evalfleet.explore.pages.task import render_task
from evalfleet.explore.prompt import Prompts
from evalfleet.explore.snapshot import Snapshot
from evalfleet.report.html import render_html


class Explorer:
    """The pages of one results root (what the routes call)."""

    def __init__(self, live: LiveResults):
        self.live = live
        self._prompts: tuple[Catalog, Prompts] | None = None
        self._report: tuple[str, str] | None = None
        self._lock = threading.Lock()

    def prompts(self, catalog: Catalog) -> Prompts:
        """The prompt renderer of this catalog (tokenizers kept while run.yaml is unchanged)."""
        with self._lock:
            if self._prompts is None or self._prompts[0] is not catalog:
                self._prompts = (catalog, Prompts(catalog))
            return self._prompts[1]

    def report(self, snap: Snapshot, links: Links) -> str:
        """The static report of the current board, its cells linked to the task pages (kept per snapshot)."""
        with self._lock:
            if self._report is not None and self._report[0] == snap.stamp:
                return self._report[1]
        if snap.board is None:
            return not_found(snap, links, f"no leaderboard yet: {snap.problem}")
        html = render_html(snap.board, link=cell_links(snap.tasks, links))
        with self._lock:
            self._report = (snap.stamp, html)
        return html


def not_found(snap: Snapshot, links: Links, what: str) -> str:
    """A page saying what is not there."""
    return page("not found", f"<h1>Not found</h1><p class='notes'>{esc(what)}</p>", links, stamp=snap.stamp)


def depth_links(depth: int) -> Links:
    """Links of a served page `depth` folders below the root."""
    return Links().at(depth)


def create_app(root: str, *, token: str | None = None, live: LiveResults | None = None) -> Starlette:
    """The explorer's app over results root `root`; `token` gates every request (auth.py)."""
    explorer = Explorer(live or LiveResults(root))

    def board(request: Request) -> Response:
        snap = explorer.live.snapshot()
        return HTMLResponse(render_board(snap, depth_links(0), page_number(request.query_params.get("page"))))

    def task(request: Request) -> Response:
        snap, links = explorer.live.snapshot(), depth_links(1)
        name = unslug(request.path_params["task"])
        if name not in snap.tasks:
            return HTMLResponse(not_found(snap, links, f"no task {name} in this results root"), 404)
        return HTMLResponse(render_task(snap, name, links, page_number(request.query_params.get("page"))))

    def items(request: Request) -> Response:
        snap, links = explorer.live.snapshot(), depth_links(2)
        name, model = unslug(request.path_params["task"]), unslug(request.path_params["model"])
        if name not in snap.tasks or model not in snap.models:
            return HTMLResponse(not_found(snap, links, f"no task {name} or model {model} here"), 404)
        rows = explorer.live.rows(name, model, snap)
        return HTMLResponse(render_items(snap, rows, name, model, ItemQuery.parse(request.query_params), links))

    def item(request: Request) -> Response:
        snap, links = explorer.live.snapshot(), depth_links(3)
        name, model = unslug(request.path_params["task"]), unslug(request.path_params["model"])
        item_id = unslug(request.path_params["item"])
        rows = explorer.live.rows(name, model, snap)
        rows = rows[rows["item_id"] == item_id]
        if rows.empty:
            return HTMLResponse(not_found(snap, links, f"no stored row of item {item_id} ({name}, {model})"), 404)
        first = rows.iloc[0]
        prompts = explorer.prompts(snap.catalog)
        check = prompts.check(name, model, item_id, str(first["prompt_style"]), str(first["prompt_hash"] or ""))
        body = render_item(snap, rows, name, model, item_id, prompts.item(name, item_id), check, links)
        return HTMLResponse(body)

    def compare(request: Request) -> Response:
        snap, links = explorer.live.snapshot(), depth_links(1)
        name = unslug(request.path_params["task"])
        params = dict(request.query_params)
        models = snap.models
        params.setdefault("a", models[0] if models else "")
        params.setdefault("b", models[1] if len(models) > 1 else params["a"])
        if name not in snap.tasks or params["a"] not in models or params["b"] not in models:
            return HTMLResponse(not_found(snap, links, f"no task {name} or models {params['a']}, {params['b']}"), 404)
        rows_a = explorer.live.rows(name, params["a"], snap)
        rows_b = explorer.live.rows(name, params["b"], snap)
        return HTMLResponse(render_compare(snap, name, rows_a, rows_b, params, links))

    def report(request: Request) -> Response:
        snap = explorer.live.snapshot()
        return HTMLResponse(explorer.report(snap, depth_links(0)))

    def state(request: Request) -> Response:
        snap = explorer.live.snapshot(wait=True)  # the refresh poll waits for a current snapshot
        scored, planned = snap.coverage.totals()
        run = snap.progress
        return JSONResponse(
            {
                "stamp": snap.stamp,
                "shards": len(snap.entries),
                "items_scored": scored,
                "items_planned": planned,
                "provisional": list(snap.coverage.provisional),
                "run": None
                if run is None
                else {
                    "id": run.run_id,
                    "done": run.done,
                    "to_run": run.to_run,
                    "planned": run.planned,
                    "failed": run.failed,
                    "retrying": run.retrying,
                    "finished": run.ended is not None,
                    "eta_s": run.eta(),
                },
            },
            headers={"Cache-Control": "no-store"},
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        explorer.live.snapshot()  # the first snapshot before the first request
        yield

    routes = [
        Route("/", lambda request: RedirectResponse("index.html")),
        Route("/index.html", board),
        Route("/report.html", report),
        Route("/tasks/{task}.html", task),
        Route("/items/{task}/{model}.html", items),
        Route("/item/{task}/{model}/{item}.html", item),
        Route("/compare/{task}.html", compare),
        Route("/api/state.json", state),
    ]
    return Starlette(routes=routes, middleware=[Middleware(ReadOnlyGate, token=token)], lifespan=lifespan)
