"""Access to `evalfleet serve`: read-only, and behind a token when it listens beyond this machine.

Every request but GET and HEAD is refused (405): the explorer has no write endpoint. With a token set,
each request must carry it — header `Authorization: Bearer TOKEN` or `X-Evalfleet-Token: TOKEN`, or the
cookie `evalfleet_token`, which a first visit with `?token=TOKEN` sets (the token is then dropped from the
address by a redirect). No token offered: 401; a wrong one: 403. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlencode

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp

COOKIE = "evalfleet_token"
"""The cookie a visit with ?token= sets."""
HEADER = "x-evalfleet-token"
"""The explorer's own token header (besides `Authorization: Bearer`)."""
READ_METHODS = ("GET", "HEAD")
"""The only methods served."""
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
"""Hosts that bind to this machine only: no token needed."""


def needs_token(host: str) -> bool:
    """True when binding `host` exposes the explorer beyond this machine."""
    return host not in LOCAL_HOSTS


def offered_token(request: Request) -> tuple[str, str]:
    """(token the request carries, where: 'header', 'query', 'cookie' or '')."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), "header"
    if request.headers.get(HEADER):
        return request.headers[HEADER].strip(), "header"
    if "token" in request.query_params:
        return request.query_params["token"], "query"
    return request.cookies.get(COOKIE, ""), "cookie" if COOKIE in request.cookies else ""


class ReadOnlyGate(BaseHTTPMiddleware):
    """Refuses writes, and requests without the right token when one is set."""

    def __init__(self, app: ASGIApp, token: str | None = None):
        super().__init__(app)
        self.token = token or None

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method not in READ_METHODS:
            return PlainTextResponse("read-only: evalfleet serve has no write endpoint\n", 405, {"Allow": "GET, HEAD"})
        if self.token is None:
            return await call_next(request)
        offered, where = offered_token(request)
        if not where:
            return PlainTextResponse(
                "token required: open the address with ?token=TOKEN once, or send 'Authorization: Bearer TOKEN'\n",
                401,
                {"WWW-Authenticate": 'Bearer realm="evalfleet"'},
            )
        if not hmac.compare_digest(offered.encode(), self.token.encode()):
            return PlainTextResponse("wrong token\n", 403)
        if where == "query":
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            response = RedirectResponse(request.url.path + (f"?{urlencode(rest)}" if rest else ""), 303)
            response.set_cookie(COOKIE, offered, httponly=True, samesite="strict")
            return response
        return await call_next(request)
