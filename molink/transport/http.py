"""``PeerTransport`` over HTTPS with pinned certificates and RFC 9421 signatures."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from datetime import datetime

import httpx

from molink.core.httpsig import sign_request
from molink.core.keys import PartyKeys
from molink.errors import PeerUnreachable
from molink.storage.peers import Peer
from molink.transport.base import Response

__all__ = ["HttpTransport", "pinned_context"]


def pinned_context(cert_pem: str) -> ssl.SSLContext:
    """An SSL context that trusts exactly one self-signed certificate."""
    ctx = ssl.create_default_context(cadata=cert_pem)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class HttpTransport:
    """One ``httpx.AsyncClient`` per peer (pinned to its certificate)."""

    def __init__(
        self, keys: PartyKeys, now: Callable[[], datetime], *, timeout: float = 5.0
    ) -> None:
        self._keys = keys
        self._now = now
        self._timeout = timeout
        self._clients: dict[tuple[str, str], httpx.AsyncClient] = {}

    def _client(self, peer: Peer) -> httpx.AsyncClient:
        key = (peer.party, peer.tls_cert)
        client = self._clients.get(key)
        if client is None:
            client = httpx.AsyncClient(
                verify=pinned_context(peer.tls_cert),
                timeout=self._timeout,
                limits=httpx.Limits(max_connections=4, max_keepalive_connections=4),
            )
            self._clients[key] = client
        return client

    async def request(
        self, peer: Peer, method: str, path: str, body: bytes = b"", *, timeout: float | None = None
    ) -> Response:
        headers = sign_request(
            self._keys.sig_private,
            keyid=self._keys.public.sig_kid,
            method=method,
            path=path,
            body=body,
            now=self._now(),
        )
        headers["Content-Type"] = "application/json"
        errors = []
        for url in peer.urls:
            try:
                answer = await self._client(peer).request(
                    method,
                    url.rstrip("/") + path,
                    content=body,
                    headers=headers,
                    timeout=timeout or self._timeout,
                )
            except (httpx.TransportError, ssl.SSLError, OSError) as exc:
                errors.append(f"{url}: {type(exc).__name__}")
                continue
            return Response(
                status=answer.status_code,
                body=answer.content,
                headers=dict(answer.headers),
                route=url,
            )
        raise PeerUnreachable(f"{peer.party} unreachable ({'; '.join(errors) or 'no address'})")

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
