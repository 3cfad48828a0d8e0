"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from molink import errors

__all__ = ["PROBLEM_BASE", "install_problem_handlers", "problem_response", "status_for"]

PROBLEM_BASE = "https://molink.dev/problems/"
_STATUS: list[tuple[type[errors.MolinkError], int]] = [
    (errors.OversizedInput, 413),
    (errors.InvalidInput, 422),
    (errors.NotFound, 404),
    (errors.NotAuthenticated, 401),
    (errors.Forbidden, 403),
    (errors.RateLimited, 429),
    (errors.StateConflict, 409),
    (errors.UnknownPeer, 401),
    (errors.PeerDataInvalid, 400),
    (errors.PeerUnreachable, 502),
    (errors.StorageError, 503),
    (errors.ConfigError, 500),
]


def status_for(exc: errors.MolinkError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(errors.MolinkError)
    async def _molink(_: Request, exc: errors.MolinkError) -> JSONResponse:
        status = status_for(exc)
        extra: dict[str, Any] = {}
        if exc.evidence and isinstance(exc, errors.PeerDataInvalid | errors.StateConflict):
            extra["evidence"] = exc.evidence
        if exc.evidence and isinstance(exc, errors.Forbidden):
            extra.update(exc.evidence)  # e.g. the missing permission (RFC 9457 §3.2)
        headers = None
        if isinstance(exc, errors.RateLimited):
            headers = {"Retry-After": str(exc.retry_after_s)}
        return problem_response(
            status, exc.code, type(exc).__name__, exc.message, headers=headers, **extra
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ())[1:]) or "body",
                "message": e.get("msg", ""),
            }
            for e in exc.errors()[:20]
        ]
        first = problems[0] if problems else {"field": "body", "message": "invalid"}
        return problem_response(
            422,
            "invalid-input",
            "InvalidInput",
            f"{first['field']}: {first['message']}",
            errors=problems,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            exc.status_code, f"http-{exc.status_code}", "HTTP error", str(exc.detail)
        )
