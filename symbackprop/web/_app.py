"""The web application (Starlette): the page, its script and style, and the JSON API the page calls.

The server's process only routes: every derivation, check and export runs in the worker pool
(:mod:`._pool`) within its time budget. Request bodies are limited in size, the Host header must name
this machine (a page on another site cannot reach the server through DNS rebinding), and every answer
is JSON with a message, never a stack trace.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
from importlib import resources

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._pool import JobFailed, WorkerPool

#: the largest request body accepted: a whole nnCostFunction.m, or a layer text, fits many times over
MAX_BODY = 256 * 1024
#: the most lines one check request judges (each is a job of its own, with its own budget)
MAX_LINES = 60
_STATIC = {"page.js": "text/javascript; charset=utf-8", "page.css": "text/css; charset=utf-8"}
_SECURITY = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
                                        "base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
             "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


def _error(message: str, status: int = 400, **extra) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=_SECURITY)


def _answer(reply: dict) -> JSONResponse:
    if "error" in reply:
        return _error(reply["error"], 500 if reply.get("internal") else 400, field=reply.get("field"))
    return JSONResponse(reply, headers=_SECURITY)


class BodyLimit:
    """Refuse a request body over ``limit`` bytes with 413, whether it says its length or streams it."""

    def __init__(self, app, limit: int = MAX_BODY):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_large = _error(f"the request is larger than {self.limit // 1024} KiB", 413)
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await too_large(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await too_large(scope, receive, send)


class _TooLarge(Exception):
    pass


def create_app(pool: WorkerPool, allowed_hosts=("127.0.0.1", "localhost", "::1"), on_ready=None) -> Starlette:
    """The application over ``pool`` (started and closed with the application); ``on_ready()`` is called once
    the workers are ready to answer."""
    options_cache = {}

    async def _json(request: Request) -> dict:
        try:
            data = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise _BadRequest("the request body is not JSON") from None
        if not isinstance(data, dict):
            raise _BadRequest("the request body must be a JSON object")
        return data

    def _job_id(data) -> str | None:
        job = data.get("job")
        return job if isinstance(job, str) and 0 < len(job) <= 64 else None

    async def _run(kind, payload, job=None) -> JSONResponse:
        try:
            return _answer(await pool.run(kind, payload, job))
        except JobFailed as failure:
            return _error(failure.message, failure.status)

    async def page(request):
        return Response(_asset("index.html"), media_type="text/html; charset=utf-8", headers=_SECURITY)

    async def static(request):
        name = request.path_params["name"]
        if name not in _STATIC:
            return _error(f"no such file: {name}", 404)
        text = _asset(name)
        if name == "page.css":
            from ..rendering.html import CSS     # the HTML export's style: the page shows what the export shows
            text = CSS + "\n" + text
        return Response(text, media_type=_STATIC[name], headers=_SECURITY)

    async def options(request):
        if not options_cache:
            reply = await pool.run("options", {})
            options_cache.update(reply, budget=pool.budget, max_lines=MAX_LINES)
        return JSONResponse(options_cache, headers=_SECURITY)

    async def derive(request):
        data = await _json(request)
        return await _run("derive", {"setup": data.get("setup", {})}, _job_id(data))

    async def export(request):
        data = await _json(request)
        return await _run("export", {"setup": data.get("setup", {}), "what": data.get("what")}, _job_id(data))

    async def check(request):
        data = await _json(request)
        text = data.get("text")
        if not isinstance(text, str):
            return _error("give the formulas to check as text, one per line")
        lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1)
                 if line.strip() and not line.strip().startswith(("#", "%"))]
        if not lines:
            return _error("give a formula to check, e.g. delta^(L) = a^(L) - y")
        if len(lines) > MAX_LINES:
            return _error(f"{len(lines)} lines to check; at most {MAX_LINES} at once")
        job = _job_id(data)
        setup = data.get("setup", {})

        async def one(number, line):
            try:
                reply = await pool.run("check", {"setup": setup, "formula": line}, f"{job}:{number}" if job else None)
            except JobFailed as failure:
                return {"line": number, "formula": line, "verdict": "failed", "error": failure.message}
            if "error" in reply:   # the setup itself is wrong: the same for every line
                return {"line": number, "formula": line, "verdict": "failed", "error": reply["error"],
                        "field": reply.get("field")}
            return {"line": number, **reply["result"]}

        results = await asyncio.gather(*(one(number, line) for number, line in lines))
        counts = {kind: sum(1 for r in results if r["verdict"] == kind)
                  for kind in ("correct", "incorrect", "undecided", "unreadable", "failed")}
        return JSONResponse({"results": results, "summary": counts}, headers=_SECURITY)

    async def cancel(request):
        data = await _json(request)
        job = _job_id(data)
        if job is None:
            return _error("give the job to cancel")
        return JSONResponse({"cancelled": pool.cancel(job)}, headers=_SECURITY)

    async def bad_request(request, error):
        return _error(str(error))

    async def not_found(request, error):
        return _error(f"no such page: {request.url.path}", getattr(error, "status_code", 404))

    async def unexpected(request, error):   # the server's own bug: a message, never a traceback
        return _error(f"internal error in the server: {type(error).__name__}", 500)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await pool.start()
        if on_ready is not None:
            on_ready()
        try:
            yield
        finally:
            await pool.close()

    routes = [Route("/", page), Route("/static/{name}", static), Route("/api/options", options),
              Route("/api/derive", derive, methods=["POST"]), Route("/api/check", check, methods=["POST"]),
              Route("/api/export", export, methods=["POST"]), Route("/api/cancel", cancel, methods=["POST"])]
    handlers = {_BadRequest: bad_request, 404: not_found, 405: not_found, Exception: unexpected}
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)), Middleware(BodyLimit)]
    return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers, lifespan=lifespan)


class _BadRequest(Exception):
    pass
