"""The CLI's client for a node's operator API (pinned TLS, bearer token)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

from molink.config import NodeConfig
from molink.errors import ConfigError, MolinkError, NotAuthenticated, NotFound, PeerUnreachable
from molink.transport.http import pinned_context

__all__ = ["NodeClient"]


class NodeClient:
    """Talks to the node whose config lives in ``home`` (the running ``molink serve``)."""

    def __init__(self, home: Path, *, token: str | None = None, role: str = "duty") -> None:
        self.config = NodeConfig.load(home / "node.toml")
        self.base = self.config.api.public_url or (
            f"https://{self.config.api.host}:{self.config.api.port}"
        )
        self._token = token or os.environ.get("MOLINK_TOKEN") or self._token_file(home, role)
        cert = self.config.path(self.config.api.tls_cert).read_text(encoding="utf-8")
        self._http = httpx.Client(
            base_url=self.base,
            verify=pinned_context(cert),
            timeout=10.0,
            headers={"Authorization": f"Bearer {self._token}"},
        )

    @staticmethod
    def _token_file(home: Path, role: str) -> str:
        path = home / "tokens" / f"{role}.token"
        try:
            return path.read_text(encoding="utf-8").strip()
        except FileNotFoundError as exc:
            raise ConfigError(f"no token: pass --token, set MOLINK_TOKEN or create {path}") from exc

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self._send(method, path, **kwargs)
        if answer.headers.get("content-type", "").startswith("application/json"):
            return answer.json()
        return answer.text

    def download(self, method: str, path: str, **kwargs: Any) -> bytes:
        """Like :meth:`call`, but the raw body (e.g. an evidence bundle zip)."""
        return self._send(method, path, **kwargs).content

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            answer = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise PeerUnreachable(
                f"node at {self.base} is not answering ({exc!s}); is 'molink serve' running?"
            ) from exc
        if answer.status_code >= 400:
            try:
                detail = answer.json().get("detail", answer.text)
            except ValueError:
                detail = answer.text
            error: type[MolinkError] = {401: NotAuthenticated, 404: NotFound}.get(
                answer.status_code, MolinkError
            )
            raise error(f"HTTP {answer.status_code}: {detail}")
        return answer

    def close(self) -> None:
        self._http.close()
