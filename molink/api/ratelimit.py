"""Token-bucket rate limits per source address, in front of the federation and login endpoints.

A flood is refused before the application parses a header or reads a body: the
request's path and method pick a rule, the client address picks a bucket, and an
empty bucket answers an RFC 9457 429 with ``Retry-After``. Each bucket holds
``capacity`` tokens and refills ``per_second`` (the classic token bucket, as in
RFC 2697's committed burst); one request spends one token.

The defaults are loose enough never to slow honest traffic (the outbox posts
batches of up to 256 envelopes; a console logs in a few times a day) and tight
enough to make guessing and flooding slow. The login rule sits in front of the
per-source and per-operator limits of ``AccessService`` and does not replace them.

Buckets live in this process's memory (a bounded table; quiet sources are
forgotten). With several API workers each worker limits on its own.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["DEFAULT_RULES", "RateLimit", "RateRule", "TokenBuckets"]


@dataclass(frozen=True, slots=True)
class RateRule:
    """Which requests a rule limits (path prefix or exact path, methods) and how much."""

    name: str
    capacity: float
    per_second: float
    prefixes: tuple[str, ...] = ()
    paths: frozenset[str] = frozenset()
    methods: frozenset[str] | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        return path in self.paths or any(path.startswith(p) for p in self.prefixes)


DEFAULT_RULES: tuple[RateRule, ...] = (
    RateRule("federation", capacity=600, per_second=200, prefixes=("/federation/",)),
    RateRule(
        "login",
        capacity=60,
        per_second=1.0,
        paths=frozenset({"/api/v1/session", "/api/v1/session/challenge", "/api/v1/terminals"}),
        methods=frozenset({"POST"}),
    ),
)


class TokenBuckets:
    """Buckets keyed by (rule, source); thread-safe, at most ``max_keys`` remembered."""

    def __init__(self, *, max_keys: int = 10_000) -> None:
        self._max_keys = max_keys
        self._state: dict[tuple[str, str], tuple[float, float]] = {}  # tokens, at
        self._lock = threading.Lock()

    def take(self, rule: RateRule, source: str, now: float) -> float:
        """Spend one token; 0.0 if allowed, else the seconds until one is available."""
        key = (rule.name, source)
        with self._lock:
            tokens, at = self._state.get(key, (rule.capacity, now))
            tokens = min(rule.capacity, tokens + max(0.0, now - at) * rule.per_second)
            if tokens >= 1.0:
                self._remember(key, (tokens - 1.0, now))
                return 0.0
            self._remember(key, (tokens, now))
            return (1.0 - tokens) / rule.per_second if rule.per_second > 0 else math.inf

    def _remember(self, key: tuple[str, str], value: tuple[float, float]) -> None:
        if key not in self._state and len(self._state) >= self._max_keys:
            # Forget the quietest half: a full bucket is the same as no entry.
            quiet = sorted(self._state, key=lambda k: self._state[k][1])
            for old in quiet[: len(quiet) // 2]:
                del self._state[old]
        self._state[key] = value


class RateLimit:
    """Pure ASGI middleware: ``app.add_middleware(RateLimit)`` (outermost is best)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        rules: Iterable[RateRule] = DEFAULT_RULES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.rules = tuple(rules)
        self.buckets = TokenBuckets()
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope.get("method", "GET"), scope.get("path", "")
            source = scope["client"][0] if scope.get("client") else "unknown"
            for rule in self.rules:
                if rule.matches(method, path):
                    wait = self.buckets.take(rule, source, self._clock())
                    if wait > 0:
                        await _refuse(send, rule, source, wait)
                        return
                    break
        await self.app(scope, receive, send)


async def _refuse(send: Send, rule: RateRule, source: str, wait: float) -> None:
    retry = 3600 if math.isinf(wait) else max(1, math.ceil(wait))
    body = json.dumps(
        {
            "type": "https://molink.dev/problems/rate-limited",
            "title": "RateLimited",
            "status": 429,
            "detail": f"too many {rule.name} requests from {source}; try again in {retry} s",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
