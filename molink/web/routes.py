"""The duty officers' console: static files at ``/`` and ``/ui/``, plus security headers.

The console is a static single-page app (plain ES modules, no build step) that talks to
the node's operator API from the same origin. Nothing here reads operator data: every
screen fetches ``/api/v1/...`` with the operator's bearer token.

Wire it into an app with :func:`install_console` (router + :class:`SecurityHeaders`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from molink.errors import NotFound

__all__ = [
    "CONSOLE_CSP",
    "STATIC_DIR",
    "SecurityHeaders",
    "install_console",
    "router",
]

STATIC_DIR = Path(__file__).resolve().parent / "static"
_NO_CACHE = "no-cache"
_BASEMAP_CACHE = "public, max-age=86400"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".geojson": "application/geo+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}

CONSOLE_CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "media-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# Everything else the node serves is data (JSON, JOSE, tiles): it may never run anything.
_API_CSP = "default-src 'none'; frame-ancestors 'none'"
_COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
)

router = APIRouter(include_in_schema=False)


def _static(relative: str) -> Path:
    """Resolve ``relative`` inside STATIC_DIR; anything outside (``..``, links) is 404."""
    if "\x00" in relative or relative.startswith(("/", "\\")):
        raise NotFound("no such console file")
    candidate = (STATIC_DIR / relative).resolve()
    if not candidate.is_relative_to(STATIC_DIR) or not candidate.is_file():
        raise NotFound("no such console file")
    return candidate


def _file(path: Path, cache: str = _NO_CACHE) -> FileResponse:
    media = _TYPES.get(path.suffix.lower(), "application/octet-stream")
    return FileResponse(path, media_type=media, headers={"Cache-Control": cache})


@router.get("/")
def console_index() -> FileResponse:
    """The console's single page."""
    return _file(_static("index.html"))


@router.get("/ui/basemap.geojson")
def basemap() -> Response:
    """The offline basemap: Natural Earth 1:50m boundaries shipped in ``molink/data``."""
    data = resources.files("molink").joinpath("data/boundaries.geojson").read_bytes()
    return Response(
        data, media_type="application/geo+json", headers={"Cache-Control": _BASEMAP_CACHE}
    )


@router.get("/ui/{path:path}")
def console_file(path: str) -> FileResponse:
    """A console asset (module, stylesheet, vendored Leaflet)."""
    return _file(_static(path))


def _is_console(path: str) -> bool:
    return path == "/" or path.startswith("/ui/")


class SecurityHeaders:
    """Adds security headers to every HTTP response: a strict CSP without inline scripts
    or styles for the console, ``default-src 'none'`` for API data, frame denial,
    ``nosniff`` and no referrer. Pure ASGI, so streamed responses (SSE) are untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = CONSOLE_CSP if _is_console(scope.get("path", "")) else _API_CSP

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [*_COMMON, (b"content-security-policy", csp.encode())]
                headers.extend(h for h in extra if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def install_console(app: FastAPI) -> None:
    """Serve the console at ``/`` and add :class:`SecurityHeaders` (idempotent)."""
    if getattr(app.state, "console_installed", False):
        return
    app.include_router(router)
    app.add_middleware(SecurityHeaders)
    app.state.console_installed = True
