"""The console's static files: dictionaries agree, no inline code, router serves safely."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from molink.api.problems import install_problem_handlers
from molink.web.routes import CONSOLE_CSP, STATIC_DIR, install_console

JS = STATIC_DIR / "js"
LANGS = ("en", "ru", "uk")
_KEY = re.compile(r'^\s*"([a-z_]+(?:\.[a-z0-9_]+)+)":', re.MULTILINE)
_UNSAFE_JS = re.compile(
    r"\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function"
)
_LITERAL = re.compile(r'"([a-z]+(?:\.[a-z0-9_]+)+)"')


def _dictionary(lang: str) -> dict[str, str]:
    text = (JS / "lang" / f"{lang}.js").read_text(encoding="utf-8")
    keys = _KEY.findall(text)
    assert len(keys) == len(set(keys)), f"{lang}: duplicate keys"
    return {k: line for line in text.splitlines() for k in _KEY.findall(line)}


def _used_keys() -> set[str]:
    """String literals in the modules and data-i18n values that look like dictionary keys."""
    prefixes = {k.split(".")[0] for k in _dictionary("en")}
    found: set[str] = set()
    for path in JS.rglob("*.js"):
        if path.parent.name == "lang":
            continue
        for literal in _LITERAL.findall(path.read_text(encoding="utf-8")):
            if literal.split(".")[0] in prefixes and not literal.endswith(".js"):
                found.add(literal)
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    found.update(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', html))
    return found


def test_every_language_has_the_same_keys() -> None:
    english = set(_dictionary("en"))
    for lang in LANGS[1:]:
        other = set(_dictionary(lang))
        assert other == english, f"{lang}: missing {english - other}, extra {other - english}"


def test_every_key_the_console_uses_is_defined() -> None:
    defined = set(_dictionary("en"))
    missing = sorted(_used_keys() - defined)
    assert missing == []


@pytest.mark.parametrize("lang", LANGS[1:])
def test_translations_are_not_english_copies(lang: str) -> None:
    english, other = _dictionary("en"), _dictionary(lang)
    same = [k for k in english if english[k] == other[k] and re.search(r"[a-z]{4}", english[k])]
    allowed = {k for k in same if k.startswith("status.short.") or k == "col.dtg"}
    assert sorted(set(same) - allowed) == []


def test_no_inline_scripts_styles_or_handlers() -> None:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
    assert "<style" not in html
    assert re.search(r"\sstyle=", html) is None
    assert re.search(r"\son[a-z]+=", html) is None
    for path in JS.rglob("*.js"):
        text = path.read_text(encoding="utf-8")
        assert _UNSAFE_JS.search(text) is None, path


class _Client:
    """A synchronous face over httpx's ASGI transport (no server, no network)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def get(self, path: str) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://node") as c:
                answer = await c.get(path)
                await answer.aread()
                return answer

        return asyncio.run(go())


@pytest.fixture
def client() -> _Client:
    app = FastAPI()
    install_problem_handlers(app)
    install_console(app)
    install_console(app)  # idempotent
    return _Client(app)


def test_index_and_assets_are_served_with_a_strict_policy(client: _Client) -> None:
    index = client.get("/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert index.headers["content-security-policy"] == CONSOLE_CSP
    assert "'unsafe-inline'" not in CONSOLE_CSP
    assert "'unsafe-eval'" not in CONSOLE_CSP
    assert index.headers["x-frame-options"] == "DENY"
    assert index.headers["x-content-type-options"] == "nosniff"
    module = client.get("/ui/js/main.js")
    assert module.status_code == 200
    assert module.headers["content-type"].startswith("text/javascript")
    leaflet = client.get("/ui/vendor/leaflet/leaflet-src.esm.js")
    assert leaflet.status_code == 200


def test_basemap_is_the_shipped_boundaries(client: _Client) -> None:
    answer = client.get("/ui/basemap.geojson")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/geo+json"
    body = answer.json()
    assert body["type"] == "FeatureCollection"
    assert {f["id"] for f in body["features"]} >= {"UA", "RU", "US", "AE", "PL", "EE"}


@pytest.mark.parametrize(
    "path",
    ["/ui/../routes.py", "/ui/%2e%2e/routes.py", "/ui/..%2froutes.py", "/ui/js/", "/ui/nope.js"],
)
def test_nothing_outside_the_static_folder(client: _Client, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert "__all__" not in answer.text


def test_api_responses_get_a_deny_all_policy(client: _Client) -> None:
    answer = client.get("/api/v1/nothing-here")
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    assert answer.headers["x-frame-options"] == "DENY"


def test_static_tree_has_only_expected_file_types() -> None:
    allowed = {".html", ".js", ".css", ".png", ".txt", ""}
    odd = [p for p in STATIC_DIR.rglob("*") if p.is_file() and p.suffix not in allowed]
    assert odd == []
    assert (STATIC_DIR / "vendor" / "leaflet" / "LICENSE").is_file()
    assert Path(STATIC_DIR / "index.html").is_file()
